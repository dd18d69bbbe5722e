//! Why a batch could not be parsed, validated, encoded or decoded.

use super::Compression;
use super::header::{BATCH_HEADER_LEN, MIN_BATCH_LENGTH};

/// Why a batch could not be parsed, validated, encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// The buffer cannot hold even the fixed header.
    #[error("batch is {len} bytes, shorter than the {BATCH_HEADER_LEN}-byte v2 header")]
    TooShort { len: usize },
    /// A pre-0.11 message set or garbage: only v2 batches are understood.
    #[error("unsupported magic byte {magic}: only record batch v2 is accepted")]
    UnsupportedMagic { magic: i8 },
    /// batchLength is too small to cover the rest of the header.
    #[error(
        "batch length field says {declared}, less than the {MIN_BATCH_LENGTH} bytes of header that follow it"
    )]
    BatchLengthTooSmall { declared: i32 },
    /// The buffer is not exactly one batch long.
    #[error("batch length field says {declared} but {actual} bytes were given")]
    LengthMismatch { declared: i32, actual: usize },
    /// The bytes were damaged after the producer wrote them.
    #[error("CRC-32C mismatch: batch says {stored:#010x}, bytes give {computed:#010x}")]
    CrcMismatch { stored: u32, computed: u32 },
    /// recordCount is below zero.
    #[error("record count {count} is negative")]
    NegativeRecordCount { count: i32 },
    /// lastOffsetDelta is below zero.
    #[error("last offset delta {delta} is negative")]
    NegativeLastOffsetDelta { delta: i32 },
    /// An uncompressed batch whose offsets do not number its records 0..count.
    #[error(
        "last offset delta {delta} does not match record count {count}: uncompressed records are numbered 0 to count - 1"
    )]
    OffsetDeltaMismatch { delta: i32, count: i32 },
    /// An offset would not fit in an i64.
    #[error("base offset {base_offset} plus offset delta {delta} overflows")]
    OffsetOverflow { base_offset: i64, delta: i32 },
    /// Attribute bits 0-2 hold a code Kafka does not define.
    #[error("invalid compression code {code} in batch attributes: 0 to 4 are defined")]
    InvalidCompression { code: i16 },
    /// The compressed records section does not decompress.
    #[error("{codec}-compressed records do not decompress: {reason}")]
    Decompress { codec: Compression, reason: String },
    /// A batch must carry at least one record.
    #[error("cannot encode an empty batch: at least one record is needed")]
    Empty,
    /// A record or one of its fields runs past the record's declared length or the batch end.
    #[error("record {index} is truncated")]
    RecordTruncated { index: usize },
    /// A varint inside a record is longer than its type allows.
    #[error("record {index} has a malformed varint in its {field}")]
    MalformedVarint { index: usize, field: &'static str },
    /// A length below -1 (or below 0 where null is not allowed).
    #[error("record {index} has an invalid {field} of {len}")]
    InvalidLength {
        index: usize,
        field: &'static str,
        len: i32,
    },
    /// The record's length prefix disagrees with the fields it holds.
    #[error("record {index} declares {declared} bytes but its fields take {parsed}")]
    RecordLengthMismatch {
        index: usize,
        declared: usize,
        parsed: usize,
    },
    /// Header keys are strings in Kafka's model.
    #[error("header {header} of record {index} has a key that is not UTF-8")]
    HeaderKeyNotUtf8 { index: usize, header: usize },
    /// Bytes left over after recordCount records.
    #[error("batch declares {count} records but {trailing} bytes follow the last one")]
    TrailingBytes { count: i32, trailing: usize },
    /// Something to encode does not fit in the i32 lengths and counts of the format.
    #[error("{what} of {len} does not fit in a record batch")]
    TooLarge { what: &'static str, len: usize },
    /// The batch carries no records: a producer's batch must hold at least one.
    #[error("the batch holds no records")]
    NoRecords,
    /// recordCount is more than the records section could hold at the smallest record size.
    #[error("record count {count} cannot fit in a records section of {len} bytes")]
    CountExceedsSection { count: usize, len: usize },
    /// A record's offset delta is not its position: a producer's records are numbered 0..n-1.
    #[error(
        "record {index} has offset delta {delta}; a producer's records are numbered 0 to n - 1"
    )]
    OffsetDeltaOutOfOrder { index: usize, delta: i32 },
    /// The compressed records section inflates past the bound (counted while inflating).
    #[error("{codec}-compressed records decompress to more than {max} bytes")]
    DecodedTooLarge { codec: Compression, max: usize },
    /// More records than a batch may hold.
    #[error("the batch holds {count} records, more than the {max} allowed")]
    TooManyRecords { count: usize, max: usize },
    /// More headers on one record than allowed.
    #[error("record {index} has {count} headers, more than the {max} allowed")]
    TooManyHeaders {
        index: usize,
        count: usize,
        max: usize,
    },
}
