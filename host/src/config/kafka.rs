//! `[kafka]`: the Kafka listener, its limits, and idempotent producers' state.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use super::ConfigError;
use crate::broker::producer::ProducerLimits;
use crate::kafka::KafkaSettings;
use crate::kafka::settings::{ConnectionLimits, GroupSettings, ProduceLimits, RequestLimits};
use crate::kafka::tls::Tls;

/// `[kafka]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSection {
    /// host:port told to clients; "" = the bound address.
    pub advertised_addr: String,
    /// Largest request frame, bytes.
    pub max_frame_bytes: usize,
    /// Largest Fetch response and per-partition share, bytes (Kafka's
    /// `fetch.max.bytes`); clients' larger limits are cut to it.
    pub fetch_max_bytes: usize,
    /// Kafka's `auto.create.topics.enable`.
    pub auto_create_topics: bool,
    /// Kafka's `group.min.session.timeout.ms`.
    pub group_min_session_timeout_ms: u64,
    /// Kafka's `group.max.session.timeout.ms`.
    pub group_max_session_timeout_ms: u64,
    /// Kafka's `group.initial.rebalance.delay.ms`.
    pub group_initial_rebalance_delay_ms: u64,
    /// Kafka's `max.connections`.
    pub max_connections: usize,
    /// Kafka's `max.connections.per.ip`.
    pub max_connections_per_ip: usize,
    /// Kafka's `connections.max.idle.ms`.
    pub connections_max_idle_ms: u64,
    /// How long a request may take to arrive once its size prefix has, ms.
    pub request_read_timeout_ms: u64,
    /// Most partitions one Fetch, ListOffsets or OffsetFetch request names.
    pub max_partitions_per_request: usize,
    /// Most topics one Metadata request names.
    pub metadata_max_topics: usize,
    /// Kafka's `producer.id.expiration.ms`.
    pub producer_id_expiration_ms: u64,
    /// Most idempotent producers one partition remembers.
    pub max_producers_per_partition: usize,
    /// A compressed produced batch inflates to at most this × `max.message.bytes`.
    pub max_decompressed_multiple: u32,
    /// Most records in one produced batch.
    pub max_records_per_batch: usize,
    /// Most headers on one produced record.
    pub max_headers_per_record: usize,
}

impl KafkaSection {
    /// The listener's settings for `addr`, or which key is unusable.
    pub(super) fn build(
        &self,
        addr: SocketAddr,
        default_partitions: u32,
        tls: Option<Tls>,
    ) -> Result<KafkaSettings, ConfigError> {
        let advertised = match self.advertised_addr.as_str() {
            "" => None,
            a => {
                let bad = || {
                    ConfigError::Invalid(format!("kafka.advertised_addr {a:?} is not host:port"))
                };
                let (host, port) = a.rsplit_once(':').ok_or_else(bad)?;
                let port: u16 = port.parse().map_err(|_| bad())?;
                if host.is_empty() {
                    return Err(bad());
                }
                Some((host.trim_matches(['[', ']']).to_string(), port))
            }
        };
        if self.max_frame_bytes < 1024 {
            return Err(ConfigError::Invalid(
                "kafka.max_frame_bytes must be ≥ 1024".into(),
            ));
        }
        if self.fetch_max_bytes < 1024 {
            return Err(ConfigError::Invalid(
                "kafka.fetch_max_bytes must be ≥ 1024".into(),
            ));
        }
        positive(&[
            ("max_connections", self.max_connections as u64),
            ("max_connections_per_ip", self.max_connections_per_ip as u64),
            ("connections_max_idle_ms", self.connections_max_idle_ms),
            ("request_read_timeout_ms", self.request_read_timeout_ms),
            (
                "max_partitions_per_request",
                self.max_partitions_per_request as u64,
            ),
            ("metadata_max_topics", self.metadata_max_topics as u64),
            (
                "max_decompressed_multiple",
                u64::from(self.max_decompressed_multiple),
            ),
            ("max_records_per_batch", self.max_records_per_batch as u64),
            ("max_headers_per_record", self.max_headers_per_record as u64),
        ])?;
        let (min_session, max_session) = (
            self.group_min_session_timeout_ms,
            self.group_max_session_timeout_ms,
        );
        if min_session > max_session {
            return Err(ConfigError::Invalid(
                "kafka.group_min_session_timeout_ms exceeds group_max_session_timeout_ms".into(),
            ));
        }
        // Kafka's key is an int of ms; a larger delay would overflow the clock.
        if self.group_initial_rebalance_delay_ms > i32::MAX as u64 {
            return Err(ConfigError::Invalid(format!(
                "kafka.group_initial_rebalance_delay_ms must be ≤ {} (about 24 days)",
                i32::MAX
            )));
        }
        Ok(KafkaSettings {
            tls,
            addr,
            advertised,
            max_frame_bytes: self.max_frame_bytes,
            fetch_max_bytes: self.fetch_max_bytes,
            auto_create_topics: self.auto_create_topics,
            default_partitions,
            group: GroupSettings {
                min_session_timeout: Duration::from_millis(min_session),
                max_session_timeout: Duration::from_millis(max_session),
                initial_rebalance_delay: Duration::from_millis(
                    self.group_initial_rebalance_delay_ms,
                ),
            },
            limits: ConnectionLimits {
                max_connections: self.max_connections,
                max_connections_per_ip: self.max_connections_per_ip,
                idle_timeout: Duration::from_millis(self.connections_max_idle_ms),
                request_read_timeout: Duration::from_millis(self.request_read_timeout_ms),
            },
            requests: RequestLimits {
                max_partitions_per_request: self.max_partitions_per_request,
                metadata_max_topics: self.metadata_max_topics,
            },
            produce: ProduceLimits {
                max_decompressed_multiple: self.max_decompressed_multiple,
                max_records_per_batch: self.max_records_per_batch,
                max_headers_per_record: self.max_headers_per_record,
            },
        })
    }

    /// How much idempotent producer state each partition keeps.
    pub(super) fn producers(&self) -> Result<ProducerLimits, ConfigError> {
        let expiration_ms = i64::try_from(self.producer_id_expiration_ms)
            .ok()
            .filter(|&ms| ms > 0)
            .ok_or_else(|| {
                ConfigError::Invalid(
                    "kafka.producer_id_expiration_ms must be > 0 and < 2^63".into(),
                )
            })?;
        positive(&[(
            "max_producers_per_partition",
            self.max_producers_per_partition as u64,
        )])?;
        Ok(ProducerLimits {
            expiration_ms,
            max_per_partition: self.max_producers_per_partition,
        })
    }
}

/// Refuses the first of `[kafka]`'s `keys` that is 0, naming it.
fn positive(keys: &[(&str, u64)]) -> Result<(), ConfigError> {
    match keys.iter().find(|(_, v)| *v == 0) {
        Some((key, _)) => Err(ConfigError::Invalid(format!("kafka.{key} must be > 0"))),
        None => Ok(()),
    }
}
