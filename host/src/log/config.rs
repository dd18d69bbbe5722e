//! Runtime settings of one partition log, already validated by the broker.

use super::batch::TimestampType;

/// When appended bytes are forced to disk with fsync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushPolicy {
    /// fsync before a write is acknowledged (group commit across concurrent writers).
    /// Survives power loss; consumers only see fsynced records.
    EveryBatch,
    /// fsync in the background every this many milliseconds. A power loss (not a
    /// process crash) can lose up to that much acknowledged data.
    Interval { ms: u64 },
    /// Never fsync explicitly; the kernel writes back when it likes (Kafka's default).
    /// A process crash loses nothing, a power loss can lose ~30 s.
    Os,
}

/// What happens to old data: Kafka's `cleanup.policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cleanup {
    /// `delete`: retention removes whole old segments.
    Delete,
    /// `compact`: the cleaner keeps the latest record per key; retention does nothing.
    Compact(Compaction),
    /// `compact,delete`: both.
    CompactDelete(Compaction),
}

impl Cleanup {
    /// The compaction settings, when the log is compacted.
    pub fn compaction(&self) -> Option<&Compaction> {
        match self {
            Cleanup::Delete => None,
            Cleanup::Compact(c) | Cleanup::CompactDelete(c) => Some(c),
        }
    }

    /// Whether `retention.ms` / `retention.bytes` delete old segments.
    pub fn deletes(&self) -> bool {
        matches!(self, Cleanup::Delete | Cleanup::CompactDelete(_))
    }
}

/// The compaction settings of a compacted log (Kafka's topic-level names).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Compaction {
    /// `delete.retention.ms`: how long a tombstone outlives the first cleaning that saw it.
    pub delete_retention_ms: i64,
    /// `min.cleanable.dirty.ratio`: clean once dirty bytes / cleanable bytes reach this.
    pub min_cleanable_dirty_ratio: f64,
    /// `min.compaction.lag.ms`: records younger than this are not compacted.
    pub min_compaction_lag_ms: i64,
    /// `max.compaction.lag.ms`: dirty records older than this are cleaned whatever the ratio.
    pub max_compaction_lag_ms: i64,
}

/// The ratio is validated finite (0 to 1) by the broker, so equality is total.
impl Eq for Compaction {}

impl Default for Compaction {
    /// Kafka's defaults.
    fn default() -> Self {
        Compaction {
            delete_retention_ms: 86_400_000,
            min_cleanable_dirty_ratio: 0.5,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
        }
    }
}

/// Per-partition log settings (from the topic's Kafka-named configs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// `segment.bytes`: roll to a new segment once the active one would pass this size.
    pub segment_bytes: u64,
    /// `segment.ms`: roll once the active segment is older than this.
    pub segment_ms: i64,
    /// `retention.ms`: delete sealed segments whose newest record is older; `None` = forever.
    pub retention_ms: Option<i64>,
    /// `retention.bytes`: delete oldest sealed segments while the log is larger; `None` = no limit.
    pub retention_bytes: Option<u64>,
    /// `max.message.bytes`: the largest record batch accepted.
    pub max_message_bytes: u32,
    /// `message.timestamp.type`: whether the broker overwrites timestamps on append.
    pub timestamp_type: TimestampType,
    /// `message.timestamp.after.max.ms`: how far in the future a CreateTime batch's
    /// timestamps may be; `None` = no limit. Far-future timestamps would stall
    /// time-based retention.
    pub max_future_ms: Option<i64>,
    /// `index.interval.bytes`: bytes of log between two sparse index entries.
    pub index_interval_bytes: u32,
    /// Server-wide fsync policy.
    pub flush: FlushPolicy,
    /// `cleanup.policy` and, when compacted, the cleaner's settings.
    pub cleanup: Cleanup,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: 1 << 30,
            segment_ms: 7 * 24 * 3600 * 1000,
            retention_ms: Some(7 * 24 * 3600 * 1000),
            retention_bytes: None,
            max_message_bytes: 1_048_588,
            timestamp_type: TimestampType::CreateTime,
            max_future_ms: Some(3_600_000),
            index_interval_bytes: 4096,
            flush: FlushPolicy::EveryBatch,
            cleanup: Cleanup::Delete,
        }
    }
}
