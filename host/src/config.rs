//! Server configuration: `weir.toml`, validated once and turned into runtime values.
//!
//! The commented `host/weir.toml` is embedded and is the one source of every
//! default. A user's file is merged over it key by key, then the whole is
//! deserialised with unknown keys refused.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::auth::AuthSettings;
use crate::auth::scram::MIN_ITERATIONS;
use crate::broker::BrokerConfig;
use crate::broker::TopicLimits;
use crate::broker::topic_config::TopicConfig;
use crate::kafka::KafkaSettings;
use crate::kafka::settings::{ConnectionLimits, GroupSettings};
use crate::log::FlushPolicy;
use crate::pipeline::PipelinesConfig;

/// The embedded default configuration.
pub const DEFAULT_CONFIG: &str = include_str!("../weir.toml");

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
    /// Authentication settings.
    pub auth: AuthSection,
}

/// `[auth]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSection {
    /// PBKDF2 iterations of new SCRAM credentials (≥ 4096).
    pub scram_iterations: u32,
    /// Kafka's `connection.failed.authentication.delay.ms`, ms.
    pub failed_authentication_delay_ms: u64,
    /// Kafka's `sasl.server.max.receive.size`: largest frame before SASL, bytes.
    pub max_unauthenticated_frame_bytes: usize,
    /// Accept passwords in clear (SASL PLAIN, HTTP basic) from non-loopback peers.
    pub plain_without_tls: bool,
    /// Most users.
    pub max_users: usize,
    /// Most HTTP tokens.
    pub max_tokens: usize,
    /// Users allowed everything whatever the ACLs say, as `User:NAME`.
    pub super_users: Vec<String>,
    /// Most ACLs.
    pub max_acls: usize,
}

/// `[pipelines]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelinesSection {
    /// Threads running pipeline tasks; 0 = one per core.
    pub worker_threads: usize,
    /// Largest module upload, bytes.
    pub max_module_bytes: usize,
    /// Wasm instances alive at once (one per step per task).
    pub max_instances: u32,
    /// Directory of the built-in plugins; empty: `plugins/` beside the binary's directory.
    pub plugins_dir: PathBuf,
}

/// Limits of the HTTP listener.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// Open connections in all.
    pub max_connections: usize,
    /// Open connections from one address.
    pub max_connections_per_ip: usize,
    /// A request's headers must arrive within this (and an idle connection lives this long).
    pub header_read_timeout: Duration,
}

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
    /// Kafka's `max.connections`.
    pub max_connections: usize,
    /// Kafka's `max.connections.per.ip`.
    pub max_connections_per_ip: usize,
    /// Kafka's `connections.max.idle.ms`.
    pub connections_max_idle_ms: u64,
    /// How long a request may take to arrive once its size prefix has, ms.
    pub request_read_timeout_ms: u64,
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    /// "every-batch", "interval" or "os".
    pub flush: String,
    /// Interval for flush = "interval", ms.
    pub flush_interval_ms: u64,
    /// Retention check period, ms.
    pub retention_check_interval_ms: u64,
    /// Compaction check period, ms.
    pub cleaner_check_interval_ms: u64,
    /// Bytes between offset index entries.
    pub index_interval_bytes: u32,
}

/// `[http]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    /// Largest request body, bytes.
    pub max_body_bytes: usize,
    /// Longest long-poll, ms.
    pub max_poll_ms: u64,
    /// Open connections in all.
    pub max_connections: usize,
    /// Open connections from one address.
    pub max_connections_per_ip: usize,
    /// Time a request's headers may take to arrive (and an idle connection lives), ms.
    pub header_read_timeout_ms: u64,
    /// Most records in one produce request.
    pub max_produce_records: usize,
    /// Most headers on one produced record.
    pub max_headers_per_record: usize,
}

/// `[topics]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicsSection {
    /// Partitions when none are given.
    pub default_partitions: u32,
    /// Most topics.
    pub max_topics: usize,
    /// Most partitions of one topic.
    pub max_partitions_per_topic: u32,
    /// Most partitions of all topics.
    pub max_partitions: u64,
    /// Topic config defaults by Kafka name.
    pub defaults: BTreeMap<String, toml::Value>,
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
    /// The HTTP listener's limits.
    pub http_limits: HttpLimits,
    /// Most records in one produce request, most headers on one record.
    pub produce_limits: (usize, usize),
    /// The pipeline service's settings.
    pub pipelines: PipelinesConfig,
    /// Authentication on both listeners (`allow_anonymous` comes from `weir serve`).
    pub auth: AuthSettings,
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
        toml::Value::Table(table)
            .try_into()
            .map_err(|source| ConfigError::Parse { origin, source })
    }

    /// Validates everything and produces the runtime settings.
    pub fn build(&self) -> Result<Settings, ConfigError> {
        let addr = |what: &str, s: &str| -> Result<SocketAddr, ConfigError> {
            s.parse()
                .map_err(|e| ConfigError::Invalid(format!("{what} {s:?} is not host:port: {e}")))
        };
        let flush = match self.log.flush.as_str() {
            "every-batch" => FlushPolicy::EveryBatch,
            "interval" => FlushPolicy::Interval {
                ms: self.log.flush_interval_ms,
            },
            "os" => FlushPolicy::Os,
            other => {
                return Err(ConfigError::Invalid(format!(
                    "log.flush = {other:?}; expected \"every-batch\", \"interval\" or \"os\""
                )));
            }
        };
        if self.log.flush_interval_ms == 0
            || self.log.retention_check_interval_ms == 0
            || self.log.cleaner_check_interval_ms == 0
        {
            return Err(ConfigError::Invalid(
                "log.flush_interval_ms, log.retention_check_interval_ms and log.cleaner_check_interval_ms must be > 0".into(),
            ));
        }
        if self.topics.default_partitions == 0 {
            return Err(ConfigError::Invalid(
                "topics.default_partitions must be ≥ 1".into(),
            ));
        }
        let overrides = self
            .topics
            .defaults
            .iter()
            .map(|(k, v)| {
                let s = match v {
                    toml::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), s)
            })
            .collect();
        let topic_defaults = TopicConfig::default()
            .with_overrides(&overrides)
            .map_err(|e| ConfigError::Invalid(format!("topics.defaults: {e}")))?;
        let kafka_addr = addr("kafka_addr", &self.kafka_addr)?;
        let advertised = match self.kafka.advertised_addr.as_str() {
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
        if self.kafka.max_frame_bytes < 1024 {
            return Err(ConfigError::Invalid(
                "kafka.max_frame_bytes must be ≥ 1024".into(),
            ));
        }
        if self.http.max_connections == 0
            || self.http.max_connections_per_ip == 0
            || self.http.header_read_timeout_ms == 0
            || self.http.max_produce_records == 0
        {
            return Err(ConfigError::Invalid(
                "http.max_connections, max_connections_per_ip, header_read_timeout_ms and max_produce_records must be > 0"
                    .into(),
            ));
        }
        if self.kafka.max_connections == 0
            || self.kafka.max_connections_per_ip == 0
            || self.kafka.connections_max_idle_ms == 0
            || self.kafka.request_read_timeout_ms == 0
        {
            return Err(ConfigError::Invalid(
                "kafka.max_connections, max_connections_per_ip, connections_max_idle_ms and \
                 request_read_timeout_ms must be > 0"
                    .into(),
            ));
        }
        if self.kafka.fetch_max_bytes < 1024 {
            return Err(ConfigError::Invalid(
                "kafka.fetch_max_bytes must be ≥ 1024".into(),
            ));
        }
        let (min_session, max_session) = (
            self.kafka.group_min_session_timeout_ms,
            self.kafka.group_max_session_timeout_ms,
        );
        if min_session > max_session {
            return Err(ConfigError::Invalid(
                "kafka.group_min_session_timeout_ms exceeds group_max_session_timeout_ms".into(),
            ));
        }
        if self.auth.scram_iterations < MIN_ITERATIONS {
            return Err(ConfigError::Invalid(format!(
                "auth.scram_iterations = {} is below RFC 7677's minimum of {MIN_ITERATIONS}",
                self.auth.scram_iterations
            )));
        }
        if self.auth.max_unauthenticated_frame_bytes < 1024 {
            return Err(ConfigError::Invalid(
                "auth.max_unauthenticated_frame_bytes must be ≥ 1024".into(),
            ));
        }
        if self.auth.max_users == 0 {
            return Err(ConfigError::Invalid("auth.max_users must be ≥ 1".into()));
        }
        if self.auth.max_acls == 0 {
            return Err(ConfigError::Invalid("auth.max_acls must be ≥ 1".into()));
        }
        if let Some(bad) = self
            .auth
            .super_users
            .iter()
            .find(|u| u.strip_prefix("User:").is_none_or(str::is_empty))
        {
            return Err(ConfigError::Invalid(format!(
                "auth.super_users: {bad:?} is not a principal (write User:NAME)"
            )));
        }
        let auth = AuthSettings {
            scram_iterations: self.auth.scram_iterations,
            failure_delay: Duration::from_millis(self.auth.failed_authentication_delay_ms),
            max_unauthenticated_frame_bytes: self.auth.max_unauthenticated_frame_bytes,
            plain_without_tls: self.auth.plain_without_tls,
            max_users: self.auth.max_users,
            max_tokens: self.auth.max_tokens,
            super_users: self.auth.super_users.clone(),
            max_acls: self.auth.max_acls,
            allow_anonymous: false,
        };
        let kafka = KafkaSettings {
            addr: kafka_addr,
            advertised,
            max_frame_bytes: self.kafka.max_frame_bytes,
            fetch_max_bytes: self.kafka.fetch_max_bytes,
            auto_create_topics: self.kafka.auto_create_topics,
            default_partitions: self.topics.default_partitions,
            group: GroupSettings {
                min_session_timeout: Duration::from_millis(min_session),
                max_session_timeout: Duration::from_millis(max_session),
            },
            limits: ConnectionLimits {
                max_connections: self.kafka.max_connections,
                max_connections_per_ip: self.kafka.max_connections_per_ip,
                idle_timeout: Duration::from_millis(self.kafka.connections_max_idle_ms),
                request_read_timeout: Duration::from_millis(self.kafka.request_read_timeout_ms),
            },
        };
        Ok(Settings {
            kafka,
            auth,
            broker: BrokerConfig {
                data_dir: self.data_dir.clone(),
                flush,
                index_interval_bytes: self.log.index_interval_bytes.max(1),
                topic_defaults,
                limits: TopicLimits {
                    max_topics: self.topics.max_topics,
                    max_partitions_per_topic: self.topics.max_partitions_per_topic,
                    max_partitions: self.topics.max_partitions,
                },
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
            produce_limits: (
                self.http.max_produce_records,
                self.http.max_headers_per_record,
            ),
            http_limits: HttpLimits {
                max_connections: self.http.max_connections,
                max_connections_per_ip: self.http.max_connections_per_ip,
                header_read_timeout: Duration::from_millis(self.http.header_read_timeout_ms),
            },
            pipelines: PipelinesConfig {
                dir: self.data_dir.join("pipelines"),
                worker_threads: self.pipelines.worker_threads,
                max_module_bytes: self.pipelines.max_module_bytes,
                max_instances: self.pipelines.max_instances.max(1),
                plugins_dir: match &self.pipelines.plugins_dir {
                    d if d.as_os_str().is_empty() => default_plugins_dir(),
                    d => d.clone(),
                },
                natives: BTreeMap::new(),
            },
        })
    }
}

/// `plugins/` beside the directory of the running binary (`target/plugins` for
/// `target/release/weir`, `/usr/lib/weir/plugins` for `/usr/lib/weir/bin/weir`).
fn default_plugins_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("plugins")))
        .unwrap_or_else(|| PathBuf::from("plugins"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_defaults_build() {
        let s = ServerConfig::load(None).unwrap().build().unwrap();
        assert_eq!(s.http_addr.port(), 9080);
        assert_eq!(s.broker.flush, FlushPolicy::EveryBatch);
        assert_eq!(s.broker.topic_defaults, TopicConfig::default());
        assert_eq!(s.auth.scram_iterations, 4096);
        assert!(!s.auth.allow_anonymous && !s.auth.plain_without_tls);
    }

    #[test]
    fn auth_limits_are_checked_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.toml");
        std::fs::write(&path, "[auth]\nscram_iterations = 1000\n").unwrap();
        let err = ServerConfig::load(Some(&path))
            .unwrap()
            .build()
            .unwrap_err()
            .to_string();
        assert!(err.contains("auth.scram_iterations"), "{err}");
        std::fs::write(&path, "[auth]\nmax_users = 3\nplain_without_tls = true\n").unwrap();
        let s = ServerConfig::load(Some(&path)).unwrap().build().unwrap();
        assert_eq!(s.auth.max_users, 3);
        assert!(s.auth.plain_without_tls);
        std::fs::write(&path, "[auth]\nsuper_users = [\"alice\"]\n").unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(
            err.contains("auth.super_users") && err.contains("User:NAME"),
            "{err}"
        );
        std::fs::write(&path, "[auth]\nmax_acls = 0\n").unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains("auth.max_acls"), "{err}");
        std::fs::write(&path, "[auth]\nsuper_users = [\"User:root\"]\n").unwrap();
        let s = load(&path).unwrap();
        assert_eq!(s.auth.super_users, vec!["User:root".to_string()]);
        assert_eq!(s.auth.max_acls, 10_000);
    }

    fn load(path: &std::path::Path) -> Result<Settings, ConfigError> {
        ServerConfig::load(Some(path))?.build()
    }

    #[test]
    fn user_file_merges_and_unknown_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.toml");
        std::fs::write(
            &path,
            "[log]\nflush = \"os\"\n[topics.defaults]\n\"retention.ms\" = 5\n",
        )
        .unwrap();
        let s = ServerConfig::load(Some(&path)).unwrap().build().unwrap();
        assert_eq!(s.broker.flush, FlushPolicy::Os);
        assert_eq!(s.broker.topic_defaults.retention_ms, 5);
        assert_eq!(s.broker.topic_defaults.segment_bytes, 1 << 30);

        std::fs::write(
            &path,
            "[kafka]\nadvertised_addr = \"broker.example:19092\"\nauto_create_topics = false\n",
        )
        .unwrap();
        let s = ServerConfig::load(Some(&path)).unwrap().build().unwrap();
        assert_eq!(
            s.kafka.advertised,
            Some(("broker.example".to_string(), 19092))
        );
        assert!(!s.kafka.auto_create_topics);
        assert_eq!(s.kafka.addr, s.kafka_addr);
        std::fs::write(&path, "[kafka]\nadvertised_addr = \"no-port\"\n").unwrap();
        let err = ServerConfig::load(Some(&path))
            .unwrap()
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("no-port"), "{err}");

        std::fs::write(&path, "[log]\nflsh = \"os\"\n").unwrap();
        let err = ServerConfig::load(Some(&path)).unwrap_err().to_string();
        assert!(err.contains("flsh"), "{err}");
        std::fs::write(&path, "[log]\nflush = \"sometimes\"\n").unwrap();
        let err = ServerConfig::load(Some(&path))
            .unwrap()
            .build()
            .unwrap_err()
            .to_string();
        assert!(err.contains("sometimes"), "{err}");
    }
}
