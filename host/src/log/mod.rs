//! The durable partition log. Knows nothing of topics, HTTP, Kafka or Wasm.
//!
//! - [`batch`]: Kafka record batch v2 codec (the on-disk and on-wire format).
//! - [`compression`]: decompressing gzip, snappy, lz4 and zstd records sections.
//! - [`varint`]: zig-zag varints used inside records.
//! - [`index`], [`time_index`]: sparse per-segment indexes.
//! - [`segment`]: active and sealed segments.
//! - [`segment_view`]: reading a segment outside the partition lock.
//! - [`scan`]: the recovery scan that rebuilds indexes and finds torn tails.
//! - [`partition`]: one partition's log (append, read, retention, compaction, recovery).
//! - [`cleaner`]: log compaction's rules and its crash-safe segment swap.
//! - [`config`]: per-partition settings and the flush policy.
//! - [`error`]: [`LogError`], the layer's one error type.
pub mod batch;
pub mod cleaner;
pub mod compression;
pub mod config;
pub mod error;
pub mod index;
pub mod partition;
pub mod scan;
pub mod segment;
pub mod segment_view;
pub mod time_index;
pub mod varint;

pub use config::{Cleanup, Compaction, FlushPolicy, LogConfig};
pub use error::LogError;
pub use partition::{
    AppendInfo, Checked, Damage, DamageKind, FirstBatch, PartitionLog, PartitionStats, ReadResult,
    SealedCursor,
};
