//! `[log]`: flushing, retention, compaction and the scrubber.

use std::time::Duration;

use serde::Deserialize;

use super::ConfigError;
use crate::broker::ScrubConfig;
use crate::log::FlushPolicy;

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
    /// Bytes of sealed segments the scrubber checks per second; 0 = off.
    pub scrub_bytes_per_sec: u64,
    /// Rest between two scrub passes, ms.
    pub scrub_interval_ms: u64,
}

impl LogSection {
    /// The flush policy, or why `flush` is unusable.
    pub(super) fn flush_policy(&self) -> Result<FlushPolicy, ConfigError> {
        if self.flush_interval_ms == 0
            || self.retention_check_interval_ms == 0
            || self.cleaner_check_interval_ms == 0
        {
            return Err(ConfigError::Invalid(
                "log.flush_interval_ms, log.retention_check_interval_ms and log.cleaner_check_interval_ms must be > 0".into(),
            ));
        }
        match self.flush.as_str() {
            "every-batch" => Ok(FlushPolicy::EveryBatch),
            "interval" => Ok(FlushPolicy::Interval {
                ms: self.flush_interval_ms,
            }),
            "os" => Ok(FlushPolicy::Os),
            other => Err(ConfigError::Invalid(format!(
                "log.flush = {other:?}; expected \"every-batch\", \"interval\" or \"os\""
            ))),
        }
    }

    /// The scrubber's pace.
    pub(super) fn scrub(&self) -> ScrubConfig {
        ScrubConfig {
            bytes_per_step: self.scrub_bytes_per_sec,
            interval: Duration::from_millis(self.scrub_interval_ms.max(1)),
        }
    }
}
