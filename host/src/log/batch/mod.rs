//! Kafka record batch v2 codec.
//!
//! The log stores batches exactly as producers send them and consumers fetch them, so this one
//! format is both the wire and the disk layout (Kafka's `DefaultRecordBatch`/`DefaultRecord`).
//! All fixed-width fields are big-endian:
//!
//! ```text
//! offset  field                  offset  field
//!      0  baseOffset      i64        27  baseTimestamp   i64
//!      8  batchLength     i32        35  maxTimestamp    i64
//!     12  partitionLeaderEpoch i32   43  producerId      i64
//!     16  magic (2)       i8         51  producerEpoch   i16
//!     17  crc (CRC-32C)   u32        53  baseSequence    i32
//!     21  attributes      i16        57  recordCount     i32
//!     23  lastOffsetDelta i32        61  records...
//! ```
//!
//! The CRC covers attributes through the end, so the broker can rewrite baseOffset and
//! partitionLeaderEpoch without recomputing it.
//!
//! - `header`: the fixed 61-byte header, validation and in-place rewrites.
//! - `checked`: [`Checked`], a batch that passed validation, as the log appends it.
//! - `record`: encoding records into a batch and decoding them back.
//! - `iter`: walking consecutive batches in a buffer.
//! - `view`: records as borrowed slices, the one record parser, and produce's
//!   allocation-free check ([`check_produced`]).
//! - `limits`: [`DecodeLimits`], what decoding one batch may cost.
//! - `rewrite`: a stored batch with fewer records (log compaction).
//! - `error`: [`BatchError`].

mod checked;
mod error;
mod header;
mod iter;
mod limits;
mod record;
mod rewrite;
#[cfg(test)]
mod tests;
mod view;

pub use checked::Checked;
pub use error::BatchError;
pub use header::{
    BATCH_HEADER_LEN, BatchHeader, Compression, LOG_OVERHEAD, MAGIC_V2, TimestampType, restamp,
    set_base_offset, set_log_append_time, set_producer, set_transactional_control, validate,
    validate_stored,
};
pub use iter::BatchIter;
pub use limits::DecodeLimits;
pub use record::{Record, StoredRecord, decode_records, encode_batch};
pub use rewrite::rebuild_batch;
pub use view::{ProducedBatch, check_produced};
