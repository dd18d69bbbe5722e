//! The Kafka listener's runtime settings, built from `[kafka]` in `weir.toml`.

use std::net::SocketAddr;
use std::time::Duration;

use crate::log::batch::DecodeLimits;

/// Validated settings of the Kafka listener.
#[derive(Debug, Clone)]
pub struct KafkaSettings {
    /// Address to bind.
    pub addr: SocketAddr,
    /// Host and port clients are told to connect to; `None` = the bound address.
    pub advertised: Option<(String, u16)>,
    /// Largest request frame accepted, bytes; larger closes the connection.
    pub max_frame_bytes: usize,
    /// Cap on a Fetch response's `max_bytes` and each partition's
    /// `partition_max_bytes`, bytes (the first batch found is still sent whole).
    pub fetch_max_bytes: usize,
    /// Create unknown topics on Metadata and Produce (`auto.create.topics.enable`).
    pub auto_create_topics: bool,
    /// Partitions of an auto-created topic.
    pub default_partitions: u32,
    /// Consumer group coordinator settings.
    pub group: GroupSettings,
    /// What one client may make the listener hold.
    pub limits: ConnectionLimits,
    /// How much one request may name.
    pub requests: RequestLimits,
    /// What decoding one produced batch may cost.
    pub produce: ProduceLimits,
    /// TLS (`[tls]` in weir.toml); `None`: plain TCP.
    pub tls: Option<super::tls::Tls>,
}

impl KafkaSettings {
    /// A plaintext listener on 127.0.0.1, port 0, with the default limits of
    /// `weir.toml`: what benchmarks and in-process tests start (`..` the fields
    /// they change).
    pub fn loopback() -> KafkaSettings {
        KafkaSettings {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            advertised: None,
            max_frame_bytes: 100 << 20,
            fetch_max_bytes: 55 << 20,
            auto_create_topics: true,
            default_partitions: 1,
            group: GroupSettings::default(),
            limits: ConnectionLimits::default(),
            requests: RequestLimits::default(),
            produce: ProduceLimits::default(),
            tls: None,
        }
    }
}

/// Caps on what one request may name, so a small request cannot make the
/// broker build a large answer: duplicates are folded before these count.
#[derive(Debug, Clone)]
pub struct RequestLimits {
    /// Most partitions one Fetch, ListOffsets or OffsetFetch request names, over
    /// all its topics (and groups); more is refused with INVALID_REQUEST, or the
    /// connection closed where the response has no top-level error code.
    pub max_partitions_per_request: usize,
    /// Most topics one Metadata request names; more is refused the same way.
    pub metadata_max_topics: usize,
}

impl Default for RequestLimits {
    fn default() -> Self {
        RequestLimits {
            max_partitions_per_request: 100_000,
            metadata_max_topics: 10_000,
        }
    }
}

/// Bounds on decoding a produced batch (`[kafka]` in `weir.toml`): a batch's wire
/// size says little about what it inflates to or how many records and headers it
/// holds, and validation must decode every record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProduceLimits {
    /// A compressed batch inflates to at most this many times its topic's
    /// `max.message.bytes` (`kafka.max_decompressed_multiple`).
    pub max_decompressed_multiple: u32,
    /// Most records in one batch (`kafka.max_records_per_batch`).
    pub max_records_per_batch: usize,
    /// Most headers on one record (`kafka.max_headers_per_record`).
    pub max_headers_per_record: usize,
}

impl Default for ProduceLimits {
    fn default() -> Self {
        ProduceLimits {
            max_decompressed_multiple: 32,
            max_records_per_batch: 1_000_000,
            max_headers_per_record: 1_000,
        }
    }
}

impl ProduceLimits {
    /// The bounds for a batch sent to a topic whose `max.message.bytes` is given.
    pub fn for_topic(&self, max_message_bytes: i64) -> DecodeLimits {
        let max_message_bytes = usize::try_from(max_message_bytes).unwrap_or(0);
        DecodeLimits {
            max_decoded_bytes: max_message_bytes
                .saturating_mul(self.max_decompressed_multiple as usize),
            max_records: self.max_records_per_batch,
            max_headers_per_record: self.max_headers_per_record,
        }
    }
}

/// Caps on connections and the time they may hold the broker's resources.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Open connections in all (Kafka's `max.connections`).
    pub max_connections: usize,
    /// Open connections from one address (Kafka's `max.connections.per.ip`).
    pub max_connections_per_ip: usize,
    /// A connection with no request for this long is closed (Kafka's
    /// `connections.max.idle.ms`).
    pub idle_timeout: Duration,
    /// Once a request's size prefix arrived, the whole request must arrive within this.
    pub request_read_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: 10_000,
            max_connections_per_ip: 1_000,
            idle_timeout: Duration::from_millis(600_000),
            request_read_timeout: Duration::from_millis(30_000),
        }
    }
}

/// Consumer group timeouts (Kafka's `group.*` broker configs).
#[derive(Debug, Clone)]
pub struct GroupSettings {
    /// Smallest session timeout a member may ask for.
    pub min_session_timeout: Duration,
    /// Largest session timeout a member may ask for.
    pub max_session_timeout: Duration,
    /// Kafka's `group.initial.rebalance.delay.ms`: how long a join into an
    /// Empty group waits for more members before the first generation forms.
    pub initial_rebalance_delay: Duration,
}

impl Default for GroupSettings {
    fn default() -> Self {
        GroupSettings {
            min_session_timeout: Duration::from_millis(6_000),
            max_session_timeout: Duration::from_millis(1_800_000),
            initial_rebalance_delay: Duration::from_millis(3_000),
        }
    }
}
