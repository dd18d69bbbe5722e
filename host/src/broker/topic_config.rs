//! Per-topic configuration with Kafka's names, defaults and validation.
//!
//! - [`stored`]: the configs Kafka knows that weir stores and describes but
//!   does not apply, each with Kafka's validation.

mod stored;

use std::collections::BTreeMap;

use crate::log::batch::TimestampType;
use crate::log::{Cleanup, Compaction, FlushPolicy, LogConfig};

/// Why a topic config entry is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Not one of the configs weir knows.
    #[error("unknown topic config {key:?}; known: {known}")]
    Unknown { key: String, known: String },
    /// The value does not parse or is out of range.
    #[error("invalid value {value:?} for topic config {key}: {reason}")]
    Invalid {
        key: String,
        value: String,
        reason: String,
    },
}

/// `cleanup.policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CleanupPolicy {
    /// Delete old segments by time and size.
    Delete,
    /// Keep the latest record of every key (log compaction).
    Compact,
    /// Both: compacted, and old segments deleted by time and size.
    CompactDelete,
}

impl CleanupPolicy {
    /// Kafka's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CleanupPolicy::Delete => "delete",
            CleanupPolicy::Compact => "compact",
            CleanupPolicy::CompactDelete => "compact,delete",
        }
    }
}

/// A topic's effective configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicConfig {
    /// `retention.ms` (-1: forever).
    pub retention_ms: i64,
    /// `retention.bytes` (-1: no limit), per partition as in Kafka.
    pub retention_bytes: i64,
    /// `segment.bytes`.
    pub segment_bytes: i64,
    /// `segment.ms`.
    pub segment_ms: i64,
    /// `cleanup.policy`.
    pub cleanup_policy: CleanupPolicy,
    /// `message.timestamp.type`.
    pub timestamp_type: TimestampType,
    /// `max.message.bytes`.
    pub max_message_bytes: i64,
    /// `message.timestamp.after.max.ms` (Kafka 4's default: one hour).
    pub timestamp_after_max_ms: i64,
    /// `delete.retention.ms`: how long tombstones stay after compaction first sees them.
    pub delete_retention_ms: i64,
    /// `min.cleanable.dirty.ratio`, as given (Kafka prints it back as set).
    pub min_cleanable_dirty_ratio: f64,
    /// `min.compaction.lag.ms`.
    pub min_compaction_lag_ms: i64,
    /// `max.compaction.lag.ms`.
    pub max_compaction_lag_ms: i64,
    /// Values of the [`stored`] configs set for this topic: kept and
    /// described, not applied.
    pub stored: BTreeMap<String, String>,
}

/// The ratio is validated finite (0 to 1), so equality is total.
impl Eq for TopicConfig {}

/// The config names weir understands, in Kafka's spelling.
pub const KNOWN_KEYS: [&str; 12] = [
    "cleanup.policy",
    "delete.retention.ms",
    "max.compaction.lag.ms",
    "max.message.bytes",
    "message.timestamp.after.max.ms",
    "message.timestamp.type",
    "min.cleanable.dirty.ratio",
    "min.compaction.lag.ms",
    "retention.bytes",
    "retention.ms",
    "segment.bytes",
    "segment.ms",
];

/// Refuses a config name neither weir nor Kafka knows.
pub fn check_key(key: &str) -> Result<(), ConfigError> {
    if KNOWN_KEYS.contains(&key) || stored::find(key).is_some() {
        Ok(())
    } else {
        let mut known: Vec<&str> = KNOWN_KEYS.to_vec();
        known.extend(stored::STORED.iter().map(|(name, _, _)| *name));
        known.sort_unstable();
        Err(ConfigError::Unknown {
            key: key.to_string(),
            known: known.join(", "),
        })
    }
}

/// Whether weir applies a known config (rather than only storing it).
pub fn is_applied(key: &str) -> bool {
    KNOWN_KEYS.contains(&key)
}

impl Default for TopicConfig {
    /// Kafka's defaults.
    fn default() -> Self {
        TopicConfig {
            retention_ms: 604_800_000,
            retention_bytes: -1,
            segment_bytes: 1_073_741_824,
            segment_ms: 604_800_000,
            cleanup_policy: CleanupPolicy::Delete,
            timestamp_type: TimestampType::CreateTime,
            max_message_bytes: 1_048_588,
            timestamp_after_max_ms: 3_600_000,
            delete_retention_ms: 86_400_000,
            min_cleanable_dirty_ratio: 0.5,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
            stored: BTreeMap::new(),
        }
    }
}

fn invalid(key: &str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        value: value.to_string(),
        reason: reason.into(),
    }
}

fn parse_long(key: &str, value: &str, min: i64, max: i64) -> Result<i64, ConfigError> {
    let n: i64 = value
        .trim()
        .parse()
        .map_err(|_| invalid(key, value, "not a whole number"))?;
    if n < min || n > max {
        return Err(invalid(
            key,
            value,
            format!("must be between {min} and {max}"),
        ));
    }
    Ok(n)
}

impl TopicConfig {
    /// Applies `overrides` (Kafka config names → values) on top of `self`.
    pub fn with_overrides(
        &self,
        overrides: &BTreeMap<String, String>,
    ) -> Result<TopicConfig, ConfigError> {
        let mut config = self.clone();
        for (key, value) in overrides {
            config.set(key, value)?;
        }
        Ok(config)
    }

    /// Sets one entry by its Kafka name.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        match key {
            "retention.ms" => self.retention_ms = parse_long(key, value, -1, i64::MAX)?,
            "retention.bytes" => self.retention_bytes = parse_long(key, value, -1, i64::MAX)?,
            "segment.bytes" => {
                self.segment_bytes = parse_long(key, value, 14, i64::from(i32::MAX))?
            }
            "segment.ms" => self.segment_ms = parse_long(key, value, 1, i64::MAX)?,
            "max.message.bytes" => {
                self.max_message_bytes = parse_long(key, value, 0, i64::from(i32::MAX))?
            }
            "message.timestamp.after.max.ms" => {
                self.timestamp_after_max_ms = parse_long(key, value, 0, i64::MAX)?
            }
            "cleanup.policy" => {
                // Kafka takes a list: "compact,delete" in either order, spaces allowed.
                let mut items: Vec<&str> = value.split(',').map(str::trim).collect();
                items.sort_unstable();
                items.dedup();
                self.cleanup_policy = match items.as_slice() {
                    ["delete"] => CleanupPolicy::Delete,
                    ["compact"] => CleanupPolicy::Compact,
                    ["compact", "delete"] => CleanupPolicy::CompactDelete,
                    _ => {
                        return Err(invalid(
                            key,
                            value,
                            "must be \"delete\", \"compact\" or \"compact,delete\"",
                        ));
                    }
                };
            }
            "delete.retention.ms" => {
                self.delete_retention_ms = parse_long(key, value, 0, i64::MAX)?
            }
            "min.compaction.lag.ms" => {
                self.min_compaction_lag_ms = parse_long(key, value, 0, i64::MAX)?
            }
            "max.compaction.lag.ms" => {
                self.max_compaction_lag_ms = parse_long(key, value, 1, i64::MAX)?
            }
            "min.cleanable.dirty.ratio" => {
                let ratio: f64 = value
                    .trim()
                    .parse()
                    .map_err(|_| invalid(key, value, "not a number"))?;
                if !(0.0..=1.0).contains(&ratio) {
                    return Err(invalid(key, value, "must be between 0 and 1"));
                }
                self.min_cleanable_dirty_ratio = ratio;
            }
            "message.timestamp.type" => match value.trim() {
                "CreateTime" => self.timestamp_type = TimestampType::CreateTime,
                "LogAppendTime" => self.timestamp_type = TimestampType::LogAppendTime,
                _ => {
                    return Err(invalid(
                        key,
                        value,
                        "must be \"CreateTime\" or \"LogAppendTime\"",
                    ));
                }
            },
            _ => self.store(key, value)?,
        }
        Ok(())
    }

    /// Validates and keeps a config that is stored, not applied.
    fn store(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        check_key(key)?;
        if let Some((name, _, valid)) = stored::find(key) {
            stored::check(*valid, value).map_err(|reason| invalid(key, value, reason))?;
            self.stored
                .insert(name.to_string(), value.trim().to_string());
        }
        Ok(())
    }

    /// Every entry by its Kafka name, values as Kafka prints them.
    pub fn entries(&self) -> BTreeMap<&'static str, String> {
        let mut entries = BTreeMap::from([
            ("cleanup.policy", self.cleanup_policy.as_str().to_string()),
            ("delete.retention.ms", self.delete_retention_ms.to_string()),
            (
                "max.compaction.lag.ms",
                self.max_compaction_lag_ms.to_string(),
            ),
            (
                "min.cleanable.dirty.ratio",
                self.min_cleanable_dirty_ratio.to_string(),
            ),
            (
                "min.compaction.lag.ms",
                self.min_compaction_lag_ms.to_string(),
            ),
            ("max.message.bytes", self.max_message_bytes.to_string()),
            (
                "message.timestamp.after.max.ms",
                self.timestamp_after_max_ms.to_string(),
            ),
            (
                "message.timestamp.type",
                match self.timestamp_type {
                    TimestampType::CreateTime => "CreateTime",
                    TimestampType::LogAppendTime => "LogAppendTime",
                }
                .to_string(),
            ),
            ("retention.bytes", self.retention_bytes.to_string()),
            ("retention.ms", self.retention_ms.to_string()),
            ("segment.bytes", self.segment_bytes.to_string()),
            ("segment.ms", self.segment_ms.to_string()),
        ]);
        for (name, default, _) in stored::STORED {
            let value = self.stored.get(*name).map_or(*default, String::as_str);
            entries.entry(*name).or_insert_with(|| value.to_string());
        }
        entries
    }

    /// The log layer's settings for a partition of this topic.
    pub fn log_config(&self, flush: FlushPolicy, index_interval_bytes: u32) -> LogConfig {
        let compaction = Compaction {
            delete_retention_ms: self.delete_retention_ms,
            min_cleanable_dirty_ratio: self.min_cleanable_dirty_ratio,
            min_compaction_lag_ms: self.min_compaction_lag_ms,
            max_compaction_lag_ms: self.max_compaction_lag_ms,
        };
        let cleanup = match self.cleanup_policy {
            CleanupPolicy::Delete => Cleanup::Delete,
            CleanupPolicy::Compact => Cleanup::Compact(compaction),
            CleanupPolicy::CompactDelete => Cleanup::CompactDelete(compaction),
        };
        // Kafka's LogConfig.maxSegmentMs: a compacted log rolls by
        // max.compaction.lag.ms too, since the active segment is never cleaned.
        let segment_ms = match cleanup {
            Cleanup::Delete => self.segment_ms,
            _ => self.segment_ms.min(self.max_compaction_lag_ms),
        };
        LogConfig {
            segment_bytes: self.segment_bytes.max(14) as u64,
            segment_ms,
            retention_ms: (self.retention_ms >= 0).then_some(self.retention_ms),
            retention_bytes: (self.retention_bytes >= 0).then_some(self.retention_bytes as u64),
            max_message_bytes: self.max_message_bytes.clamp(0, i64::from(u32::MAX)) as u32,
            timestamp_type: self.timestamp_type,
            max_future_ms: (self.timestamp_after_max_ms < i64::MAX)
                .then_some(self.timestamp_after_max_ms),
            index_interval_bytes,
            flush,
            cleanup,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_kafkas() {
        let c = TopicConfig::default();
        assert_eq!(c.retention_ms, 7 * 24 * 3600 * 1000);
        assert_eq!(c.segment_bytes, 1 << 30);
        assert_eq!(c.max_message_bytes, 1_048_588);
        let stored_only = stored::STORED.iter().filter(|(n, _, _)| !is_applied(n));
        assert_eq!(c.entries().len(), KNOWN_KEYS.len() + stored_only.count());
    }

    #[test]
    fn stored_defaults_are_valid_and_applied_names_win() {
        for (name, default, valid) in stored::STORED {
            assert_eq!(stored::check(*valid, default), Ok(()), "{name}'s default");
        }
        for key in KNOWN_KEYS {
            assert!(
                stored::find(key).is_none(),
                "{key} is applied, never stored"
            );
        }
    }

    #[test]
    fn stored_configs_are_validated_kept_and_described() {
        let c = TopicConfig::default()
            .with_overrides(&map(&[
                ("compression.type", "zstd"),
                ("min.insync.replicas", "2"),
                ("unclean.leader.election.enable", "TRUE"),
                ("min.cleanable.dirty.ratio", "0.1"),
                ("leader.replication.throttled.replicas", "0:1,1:1"),
                ("message.format.version", "2.8-IV1"),
            ]))
            .unwrap();
        let e = c.entries();
        assert_eq!(e["compression.type"], "zstd");
        assert_eq!(e["min.insync.replicas"], "2");
        assert_eq!(e["preallocate"], "false", "the default when not set");
        assert_eq!(e["leader.replication.throttled.replicas"], "0:1,1:1");
        for (k, v) in [
            ("compression.type", "brotli"),
            ("min.insync.replicas", "0"),
            ("min.insync.replicas", "3000000000"),
            ("preallocate", "yes"),
            ("min.cleanable.dirty.ratio", "1.5"),
            ("compression.gzip.level", "0"),
            ("leader.replication.throttled.replicas", "0-1"),
            ("message.format.version", "new"),
            ("remote.storage.enable", "true"),
        ] {
            let got = TopicConfig::default().with_overrides(&map(&[(k, v)]));
            assert!(
                matches!(got, Err(ConfigError::Invalid { .. })),
                "{k}={v}: {got:?}"
            );
        }
    }

    #[test]
    fn overrides_apply_and_round_trip() {
        let c = TopicConfig::default()
            .with_overrides(&map(&[
                ("retention.ms", "-1"),
                ("segment.bytes", "1024"),
                ("message.timestamp.type", "LogAppendTime"),
            ]))
            .unwrap();
        assert_eq!(c.retention_ms, -1);
        assert_eq!(c.log_config(FlushPolicy::Os, 4096).retention_ms, None);
        assert_eq!(c.entries()["segment.bytes"], "1024");
        assert_eq!(c.timestamp_type, TimestampType::LogAppendTime);
    }

    #[test]
    fn compaction_configs_parse_and_reach_the_log() {
        let c = TopicConfig::default()
            .with_overrides(&map(&[
                ("cleanup.policy", "delete, compact"),
                ("min.cleanable.dirty.ratio", "0.1"),
                ("delete.retention.ms", "5"),
                ("max.compaction.lag.ms", "1000"),
            ]))
            .unwrap();
        assert_eq!(c.cleanup_policy, CleanupPolicy::CompactDelete);
        assert_eq!(c.entries()["cleanup.policy"], "compact,delete");
        assert_eq!(c.entries()["min.cleanable.dirty.ratio"], "0.1");
        let log = c.log_config(FlushPolicy::Os, 4096);
        assert!(log.cleanup.deletes());
        let compaction = log.cleanup.compaction().unwrap();
        assert_eq!(compaction.delete_retention_ms, 5);
        assert_eq!(compaction.min_cleanable_dirty_ratio, 0.1);
        // The lag bounds how long a record may wait in the never-cleaned active segment.
        assert_eq!(log.segment_ms, 1000);
        let compact = TopicConfig::default()
            .with_overrides(&map(&[("cleanup.policy", "compact")]))
            .unwrap()
            .log_config(FlushPolicy::Os, 4096);
        assert!(!compact.cleanup.deletes());
        assert_eq!(
            TopicConfig::default()
                .log_config(FlushPolicy::Os, 4096)
                .cleanup,
            Cleanup::Delete
        );
    }

    #[test]
    fn refuses_unknown_and_invalid_values() {
        let d = TopicConfig::default();
        assert!(matches!(
            d.with_overrides(&map(&[("retention.msx", "1")])),
            Err(ConfigError::Unknown { .. })
        ));
        for (k, v) in [
            ("retention.ms", "soon"),
            ("retention.ms", "-2"),
            ("segment.bytes", "10"),
            ("cleanup.policy", "compact,forever"),
            ("min.cleanable.dirty.ratio", "1.5"),
            ("min.cleanable.dirty.ratio", "half"),
            ("delete.retention.ms", "-1"),
            ("message.timestamp.type", "Now"),
        ] {
            assert!(
                matches!(
                    d.with_overrides(&map(&[(k, v)])),
                    Err(ConfigError::Invalid { .. })
                ),
                "{k}={v}"
            );
        }
    }
}
