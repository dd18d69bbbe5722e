//! Server configuration: `weir.toml`, validated once and turned into runtime values.
//!
//! The commented `host/weir.toml` is embedded and is the one source of every
//! default. A user's file is merged over it key by key, then the whole is
//! deserialised with unknown keys refused. Each section owns its checks and
//! builds its part of the runtime [`Settings`]:
//!
//! - [`auth`]: `[auth]`, authentication on both listeners.
//! - [`http`]: `[http]`, the HTTP listener.
//! - [`kafka`]: `[kafka]`, the Kafka listener and producer state.
//! - [`log`]: `[log]`, flushing, retention, compaction, the scrubber.
//! - [`pipelines`]: `[pipelines]`, the pipeline service.
//! - [`playground`]: `[playground]`, the caps of a module's test runs.
//! - [`sandbox`]: `[sandbox]`, what plugins may do.
//! - [`topics`]: `[topics]`, topic defaults and caps.

mod auth;
mod cluster;
mod connect;
mod http;
mod kafka;
mod log;
mod pipelines;
mod playground;
mod sandbox;
#[cfg(test)]
mod tests;
mod topics;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use self::auth::AuthSection;
pub use self::cluster::ClusterSection;
pub use self::connect::{ConnectSection, ConnectSettings, DEFAULT_CONNECT_ADDR};
pub use self::http::{HttpLimits, HttpSection};
pub use self::kafka::KafkaSection;
pub use self::log::LogSection;
pub use self::pipelines::PipelinesSection;
pub use self::playground::PlaygroundSection;
pub use self::sandbox::SandboxSection;
pub use self::topics::TopicsSection;
use crate::auth::AuthSettings;
use crate::broker::producer::ProducerLimits;
use crate::broker::{BrokerConfig, ScrubConfig};
use crate::kafka::KafkaSettings;
use crate::kafka::tls::{Tls, TlsConfig, TlsError};
use crate::log::FlushPolicy;
use crate::pipeline::PipelinesConfig;

/// The embedded default configuration.
pub const DEFAULT_CONFIG: &str = include_str!("../../weir.toml");

/// Why a configuration is refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Not valid TOML or wrong keys/types.
    #[error("config {origin}: {source}")]
    Parse {
        origin: String,
        #[source]
        source: toml::de::Error,
    },
    /// A value is out of range or inconsistent.
    #[error("config: {0}")]
    Invalid(String),
    /// A `[tls]` file is missing, unreadable or does not fit.
    #[error("config: {0}")]
    Tls(#[from] TlsError),
}

/// The whole server configuration, as in `weir.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Where data lives.
    pub data_dir: PathBuf,
    /// HTTP API listen address.
    pub http_addr: String,
    /// Kafka protocol listen address.
    pub kafka_addr: String,
    /// Log settings.
    pub log: LogSection,
    /// HTTP settings.
    pub http: HttpSection,
    /// Topic defaults.
    pub topics: TopicsSection,
    /// Kafka listener settings.
    pub kafka: KafkaSection,
    /// Pipeline settings.
    pub pipelines: PipelinesSection,
    /// Kafka Connect's REST API.
    pub connect: ConnectSection,
    /// Authentication settings.
    pub auth: AuthSection,
    /// What plugins may do: per-call caps, compile concurrency.
    pub sandbox: SandboxSection,
    /// The playground's caps.
    pub playground: PlaygroundSection,
    /// TLS on both listeners.
    pub tls: TlsConfig,
    /// Attached mode: the cluster pipelines run on instead of an embedded broker.
    #[serde(default)]
    pub cluster: ClusterSection,
    /// The directory relative `[tls]` paths are read from: the config file's, or the
    /// working directory for the defaults alone.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// Validated runtime settings for `weir serve`.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Broker settings.
    pub broker: BrokerConfig,
    /// HTTP listen address.
    pub http_addr: SocketAddr,
    /// Kafka listen address.
    pub kafka_addr: SocketAddr,
    /// The Kafka listener's settings (its `addr` is `kafka_addr`).
    pub kafka: KafkaSettings,
    /// Partitions when none are given.
    pub default_partitions: u32,
    /// Interval flush period, when the policy is "interval".
    pub flush_interval: Option<Duration>,
    /// Retention check period.
    pub retention_check_interval: Duration,
    /// How often compacted partitions are checked for a cleaning pass.
    pub cleaner_check_interval: Duration,
    /// Largest HTTP body.
    pub max_body_bytes: usize,
    /// Longest long-poll.
    pub max_poll: Duration,
    /// Longest records search (`http.max_search_ms`).
    pub max_search: Duration,
    /// The HTTP listener's limits.
    pub http_limits: HttpLimits,
    /// Most records in one produce request, most headers on one record.
    pub produce_limits: (usize, usize),
    /// The pipeline service's settings.
    pub pipelines: PipelinesConfig,
    /// Where Connect's REST API listens.
    pub connect: ConnectSettings,
    /// Authentication on both listeners (`allow_anonymous` comes from `weir serve`).
    pub auth: AuthSettings,
    /// How much idempotent producer state each partition keeps.
    pub producers: ProducerLimits,
    /// The scrubber's pace.
    pub scrub: ScrubConfig,
    /// TLS on both listeners, when `[tls]` names a certificate.
    pub tls: Option<Tls>,
    /// Attached mode's settings (`None`: embedded).
    pub attached: Option<crate::cluster::attached::AttachedConfig>,
}

fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

fn parse_table(text: &str, origin: &str) -> Result<toml::Table, ConfigError> {
    text.parse::<toml::Table>()
        .map_err(|source| ConfigError::Parse {
            origin: origin.to_string(),
            source,
        })
}

impl ServerConfig {
    /// The embedded defaults merged with an optional user file.
    pub fn load(path: Option<&Path>) -> Result<ServerConfig, ConfigError> {
        let mut table = parse_table(DEFAULT_CONFIG, "defaults")?;
        if let Some(path) = path {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            merge(&mut table, parse_table(&text, &path.display().to_string())?);
        }
        let origin = path.map_or("defaults".to_string(), |p| p.display().to_string());
        let mut config: ServerConfig = toml::Value::Table(table)
            .try_into()
            .map_err(|source| ConfigError::Parse { origin, source })?;
        config.base_dir = path
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        Ok(config)
    }

    /// Validates everything and produces the runtime settings.
    pub fn build(&self) -> Result<Settings, ConfigError> {
        let addr = |what: &str, s: &str| -> Result<SocketAddr, ConfigError> {
            s.parse()
                .map_err(|e| ConfigError::Invalid(format!("{what} {s:?} is not host:port: {e}")))
        };
        let flush = self.log.flush_policy()?;
        let kafka_addr = addr("kafka_addr", &self.kafka_addr)?;
        let tls = self.tls.build(&self.base_dir)?;
        Ok(Settings {
            kafka: self
                .kafka
                .build(kafka_addr, self.topics.default_partitions, tls.clone())?,
            tls,
            auth: self.auth.build()?,
            producers: self.kafka.producers()?,
            scrub: self.log.scrub(),
            broker: BrokerConfig {
                data_dir: self.data_dir.clone(),
                flush,
                index_interval_bytes: self.log.index_interval_bytes.max(1),
                topic_defaults: self.topics.topic_defaults()?,
                limits: self.topics.limits(),
            },
            http_addr: addr("http_addr", &self.http_addr)?,
            kafka_addr,
            default_partitions: self.topics.default_partitions,
            flush_interval: matches!(flush, FlushPolicy::Interval { .. })
                .then(|| Duration::from_millis(self.log.flush_interval_ms)),
            retention_check_interval: Duration::from_millis(self.log.retention_check_interval_ms),
            cleaner_check_interval: Duration::from_millis(self.log.cleaner_check_interval_ms),
            max_body_bytes: self.http.max_body_bytes,
            max_poll: Duration::from_millis(self.http.max_poll_ms),
            max_search: Duration::from_millis(self.http.max_search_ms),
            produce_limits: (
                self.http.max_produce_records,
                self.http.max_headers_per_record,
            ),
            http_limits: self.http.limits()?,
            pipelines: self.pipelines.build(
                &self.data_dir,
                &self.sandbox,
                self.playground.build()?,
            )?,
            connect: self.connect.build()?,
            attached: self.cluster.build(&self.data_dir)?,
        })
    }
}
