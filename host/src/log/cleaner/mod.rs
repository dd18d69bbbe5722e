//! Log compaction (Kafka's log cleaner): keeps the latest record of every key in
//! a partition's sealed segments, preserving offsets.
//!
//! One pass ([`crate::log::PartitionLog::compact`]) reads sealed segments outside the
//! partition lock, writes cleaned copies aside and swaps them in under the lock.
//!
//! - [`aborted`]: the aborted transactions whose records a pass drops.
//! - [`plan`]: which segments a pass cleans, and whether the log is dirty enough.
//! - [`offset_map`]: the latest offset of every key in the dirty section.
//! - [`retain`]: what a batch becomes: kept as is, rewritten, or dropped.
//! - [`writer`]: writing one cleaned segment and its indexes.
//! - [`swap`]: the `.cleaned` / `.swap` files and finishing a swap after a crash.
//! - [`checkpoint`]: the durable first dirty offset.
pub mod aborted;
pub mod checkpoint;
pub mod offset_map;
pub mod plan;
pub mod retain;
pub mod swap;
pub mod writer;

/// What one pass did, for logs and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CleanStats {
    /// Segments read and rewritten.
    pub segments: usize,
    /// Bytes of log read.
    pub bytes_read: u64,
    /// Bytes of log written (what remains).
    pub bytes_written: u64,
    /// Records dropped (superseded, expired tombstones, aborted).
    pub records_removed: u64,
}
