//! The one error type of the log layer.

use std::path::PathBuf;

use super::batch::BatchError;

/// Everything that can go wrong reading or writing a partition log.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// A file operation failed; `path` names the file and `action` what we were doing.
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The producer's batch is malformed (bad CRC, wrong magic, truncated, ...).
    #[error("invalid record batch: {0}")]
    InvalidBatch(#[from] BatchError),
    /// A record without a key sent to a compacted topic (Kafka's wording).
    #[error("Compacted topic cannot accept message without key (record {index} of the batch)")]
    KeylessRecord { index: usize },
    /// The batch is larger than the topic's `max.message.bytes`.
    #[error("record batch is {size} bytes, larger than max.message.bytes = {max}")]
    BatchTooLarge { size: usize, max: u32 },
    /// A CreateTime batch carries a timestamp too far in the future.
    #[error(
        "record timestamp {timestamp} is more than message.timestamp.after.max.ms = {max_future_ms} ms ahead of the broker's clock ({now})"
    )]
    TimestampTooFarAhead {
        timestamp: i64,
        now: i64,
        max_future_ms: i64,
    },
    /// A read asked for an offset outside `[log_start_offset, high_watermark]`.
    #[error(
        "offset {offset} is out of range: the partition holds offsets {log_start} to {high_watermark}"
    )]
    OffsetOutOfRange {
        offset: i64,
        log_start: i64,
        high_watermark: i64,
    },
    /// Stored data does not parse: a fault of the disk or of ours, never the client's.
    #[error("stored data in {path} at byte {position} is unreadable: {reason}")]
    Corrupt {
        path: PathBuf,
        position: u64,
        reason: String,
    },
    /// The scrubber found these offsets of a sealed segment unreadable (see
    /// `/v1/health`); reads elsewhere go on. `segment` is the segment's base
    /// offset, which names its data file.
    #[error(
        "offsets {offset} to {end} are unreadable: segment {segment:020}.log is damaged ({reason}); \
         reads from offset {end} on are served"
    )]
    Damaged {
        segment: i64,
        offset: i64,
        end: i64,
        reason: String,
    },
    /// The partition was deleted while the caller held on to it.
    #[error("the partition has been deleted")]
    Deleted,
    /// An earlier write or fsync failed; the partition refuses writes until restart,
    /// because the file may hold bytes that were never acknowledged.
    #[error("the partition is read-only after an earlier write failure: {reason}")]
    Fenced { reason: String },
}

impl LogError {
    /// Wraps an I/O error with what was being done to which file.
    pub fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> LogError {
        let path = path.into();
        move |source| LogError::Io {
            action,
            path,
            source,
        }
    }
}
