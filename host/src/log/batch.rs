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

use std::borrow::Cow;
use std::fmt;
use std::iter::FusedIterator;

use bytes::Bytes;

use super::varint::{get_varint, get_varlong, put_varint, put_varlong};

/// Bytes before the part that batchLength counts: baseOffset and batchLength itself.
pub const LOG_OVERHEAD: usize = 12;
/// Size of the fixed v2 batch header, up to and including recordCount.
pub const BATCH_HEADER_LEN: usize = 61;
/// The only batch format accepted: record batch v2 (Kafka 0.11+).
pub const MAGIC_V2: i8 = 2;

const BASE_OFFSET_AT: usize = 0;
const BATCH_LENGTH_AT: usize = 8;
const PARTITION_LEADER_EPOCH_AT: usize = 12;
const MAGIC_AT: usize = 16;
const CRC_AT: usize = 17;
const ATTRIBUTES_AT: usize = 21;
const LAST_OFFSET_DELTA_AT: usize = 23;
const BASE_TIMESTAMP_AT: usize = 27;
const MAX_TIMESTAMP_AT: usize = 35;
const PRODUCER_ID_AT: usize = 43;
const PRODUCER_EPOCH_AT: usize = 51;
const BASE_SEQUENCE_AT: usize = 53;
const RECORD_COUNT_AT: usize = 57;

/// Smallest legal batchLength: a header with no records.
const MIN_BATCH_LENGTH: i32 = (BATCH_HEADER_LEN - LOG_OVERHEAD) as i32;

const COMPRESSION_MASK: i16 = 0x07;
const TIMESTAMP_TYPE_BIT: i16 = 0x08;
const TRANSACTIONAL_BIT: i16 = 0x10;
const CONTROL_BIT: i16 = 0x20;

/// Smallest encoded record (length, attributes, timestampDelta, offsetDelta, key, value and
/// header count, one byte each); bounds preallocation driven by untrusted counts.
const MIN_RECORD_LEN: usize = 7;
/// Smallest encoded header: an empty key length and a null value length.
const MIN_HEADER_LEN: usize = 2;
/// Longest varint and varlong encodings, to tell a truncated varint from a malformed one.
const MAX_VARINT_LEN: usize = 5;
const MAX_VARLONG_LEN: usize = 10;

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
}

/// Codec of the records section, from attribute bits 0-2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Records are stored as is.
    None,
    /// gzip (code 1).
    Gzip,
    /// Snappy, in Kafka's xerial framing (code 2).
    Snappy,
    /// LZ4 frame format (code 3).
    Lz4,
    /// Zstandard (code 4).
    Zstd,
}

impl Compression {
    fn from_code(code: i16) -> Result<Self, BatchError> {
        match code {
            0 => Ok(Self::None),
            1 => Ok(Self::Gzip),
            2 => Ok(Self::Snappy),
            3 => Ok(Self::Lz4),
            4 => Ok(Self::Zstd),
            _ => Err(BatchError::InvalidCompression { code }),
        }
    }
}

impl fmt::Display for Compression {
    /// Kafka's own names (`compression.type` values).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::None => "none",
            Self::Gzip => "gzip",
            Self::Snappy => "snappy",
            Self::Lz4 => "lz4",
            Self::Zstd => "zstd",
        })
    }
}

/// Whose clock the record timestamps come from, from attribute bit 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampType {
    /// The producer's timestamps, as sent.
    CreateTime,
    /// The broker's append time, stored once as maxTimestamp for the whole batch.
    LogAppendTime,
}

/// The fixed 61-byte header of a v2 record batch, field for field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    /// Offset of the first record; assigned by the broker on append.
    pub base_offset: i64,
    /// Bytes after this field, up to the end of the batch.
    pub batch_length: i32,
    /// Leader epoch at append time; outside the CRC so the leader can set it.
    pub partition_leader_epoch: i32,
    /// Format version, always [`MAGIC_V2`] once parsed.
    pub magic: i8,
    /// CRC-32C of everything from attributes to the end.
    pub crc: u32,
    /// Compression, timestamp type, transactional and control bits.
    pub attributes: i16,
    /// Offset of the last record minus `base_offset`.
    pub last_offset_delta: i32,
    /// Timestamp of the first record; record timestamps are deltas from it.
    pub base_timestamp: i64,
    /// Largest record timestamp, or the broker's time under LogAppendTime.
    pub max_timestamp: i64,
    /// Idempotent producer id, -1 when not idempotent.
    pub producer_id: i64,
    /// Idempotent producer epoch, -1 when not idempotent.
    pub producer_epoch: i16,
    /// Sequence number of the first record, -1 when not idempotent.
    pub base_sequence: i32,
    /// Number of records in the batch.
    pub record_count: i32,
}

impl BatchHeader {
    /// Reads the header at the start of `buf`, checking the magic byte and that batchLength
    /// covers the header; the CRC is not checked (see [`validate`]).
    pub fn parse(buf: &[u8]) -> Result<BatchHeader, BatchError> {
        // Report a wrong format before a short buffer: old message sets can be tiny.
        if let Some(&magic) = buf.get(MAGIC_AT) {
            let magic = magic as i8;
            if magic != MAGIC_V2 {
                return Err(BatchError::UnsupportedMagic { magic });
            }
        }
        let h: &[u8; BATCH_HEADER_LEN] = buf
            .first_chunk()
            .ok_or(BatchError::TooShort { len: buf.len() })?;
        let header = BatchHeader {
            base_offset: i64::from_be_bytes(field(h, BASE_OFFSET_AT)),
            batch_length: i32::from_be_bytes(field(h, BATCH_LENGTH_AT)),
            partition_leader_epoch: i32::from_be_bytes(field(h, PARTITION_LEADER_EPOCH_AT)),
            magic: i8::from_be_bytes(field(h, MAGIC_AT)),
            crc: u32::from_be_bytes(field(h, CRC_AT)),
            attributes: i16::from_be_bytes(field(h, ATTRIBUTES_AT)),
            last_offset_delta: i32::from_be_bytes(field(h, LAST_OFFSET_DELTA_AT)),
            base_timestamp: i64::from_be_bytes(field(h, BASE_TIMESTAMP_AT)),
            max_timestamp: i64::from_be_bytes(field(h, MAX_TIMESTAMP_AT)),
            producer_id: i64::from_be_bytes(field(h, PRODUCER_ID_AT)),
            producer_epoch: i16::from_be_bytes(field(h, PRODUCER_EPOCH_AT)),
            base_sequence: i32::from_be_bytes(field(h, BASE_SEQUENCE_AT)),
            record_count: i32::from_be_bytes(field(h, RECORD_COUNT_AT)),
        };
        if header.batch_length < MIN_BATCH_LENGTH {
            return Err(BatchError::BatchLengthTooSmall {
                declared: header.batch_length,
            });
        }
        Ok(header)
    }

    /// Size of the whole batch in bytes, including baseOffset and batchLength.
    pub fn total_len(&self) -> usize {
        // A hand-built header may hold a negative length; count it as no body, not a panic.
        LOG_OVERHEAD + usize::try_from(self.batch_length).unwrap_or(0)
    }

    /// Offset of the batch's last record (saturating, so garbage headers cannot panic).
    pub fn last_offset(&self) -> i64 {
        self.base_offset
            .saturating_add(i64::from(self.last_offset_delta))
    }

    /// Offset the next batch in the log starts at.
    pub fn next_offset(&self) -> i64 {
        self.last_offset().saturating_add(1)
    }

    /// Codec of the records section; errors on the undefined codes 5-7.
    pub fn compression(&self) -> Result<Compression, BatchError> {
        Compression::from_code(self.attributes & COMPRESSION_MASK)
    }

    /// Whether record timestamps are the producer's or the broker's.
    pub fn timestamp_type(&self) -> TimestampType {
        if self.attributes & TIMESTAMP_TYPE_BIT != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }

    /// Whether the batch belongs to a transaction.
    pub fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_BIT != 0
    }

    /// Whether the batch holds transaction markers rather than user records.
    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_BIT != 0
    }

    /// The header's 61 bytes as they appear on the wire.
    fn to_bytes(self) -> [u8; BATCH_HEADER_LEN] {
        let mut h = [0u8; BATCH_HEADER_LEN];
        put_field(&mut h, BASE_OFFSET_AT, self.base_offset.to_be_bytes());
        put_field(&mut h, BATCH_LENGTH_AT, self.batch_length.to_be_bytes());
        put_field(
            &mut h,
            PARTITION_LEADER_EPOCH_AT,
            self.partition_leader_epoch.to_be_bytes(),
        );
        put_field(&mut h, MAGIC_AT, self.magic.to_be_bytes());
        put_field(&mut h, CRC_AT, self.crc.to_be_bytes());
        put_field(&mut h, ATTRIBUTES_AT, self.attributes.to_be_bytes());
        put_field(
            &mut h,
            LAST_OFFSET_DELTA_AT,
            self.last_offset_delta.to_be_bytes(),
        );
        put_field(&mut h, BASE_TIMESTAMP_AT, self.base_timestamp.to_be_bytes());
        put_field(&mut h, MAX_TIMESTAMP_AT, self.max_timestamp.to_be_bytes());
        put_field(&mut h, PRODUCER_ID_AT, self.producer_id.to_be_bytes());
        put_field(&mut h, PRODUCER_EPOCH_AT, self.producer_epoch.to_be_bytes());
        put_field(&mut h, BASE_SEQUENCE_AT, self.base_sequence.to_be_bytes());
        put_field(&mut h, RECORD_COUNT_AT, self.record_count.to_be_bytes());
        h
    }
}

/// Copies the `N` bytes of a header field; offsets are constants inside the 61-byte array.
fn field<const N: usize>(h: &[u8; BATCH_HEADER_LEN], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&h[at..at + N]);
    out
}

fn put_field<const N: usize>(h: &mut [u8; BATCH_HEADER_LEN], at: usize, bytes: [u8; N]) {
    h[at..at + N].copy_from_slice(&bytes);
}

/// CRC-32C over the part of a batch the CRC field covers.
fn compute_crc(batch: &[u8]) -> u32 {
    crc32c::crc32c(batch.get(ATTRIBUTES_AT..).unwrap_or_default())
}

/// Checks a complete batch (buf must be exactly one batch): header, length, magic, CRC-32C,
/// record count and offset deltas. Returns the header.
pub fn validate(buf: &[u8]) -> Result<BatchHeader, BatchError> {
    let header = BatchHeader::parse(buf)?;
    if buf.len() != header.total_len() {
        return Err(BatchError::LengthMismatch {
            declared: header.batch_length,
            actual: buf.len().saturating_sub(LOG_OVERHEAD),
        });
    }
    let computed = compute_crc(buf);
    if computed != header.crc {
        return Err(BatchError::CrcMismatch {
            stored: header.crc,
            computed,
        });
    }
    if header.record_count < 0 {
        return Err(BatchError::NegativeRecordCount {
            count: header.record_count,
        });
    }
    if header.last_offset_delta < 0 {
        return Err(BatchError::NegativeLastOffsetDelta {
            delta: header.last_offset_delta,
        });
    }
    // next_offset must exist, or offsets after this batch would wrap.
    if header
        .base_offset
        .checked_add(i64::from(header.last_offset_delta) + 1)
        .is_none()
    {
        return Err(BatchError::OffsetOverflow {
            base_offset: header.base_offset,
            delta: header.last_offset_delta,
        });
    }
    let compression = header.compression()?;
    if compression == Compression::None
        && header.record_count > 0
        && header.last_offset_delta != header.record_count - 1
    {
        return Err(BatchError::OffsetDeltaMismatch {
            delta: header.last_offset_delta,
            count: header.record_count,
        });
    }
    Ok(header)
}

/// Overwrites baseOffset in place (not covered by the CRC).
/// A buffer too short to hold a header is left untouched: callers validate first.
pub fn set_base_offset(buf: &mut [u8], base_offset: i64) {
    if buf.len() < BATCH_HEADER_LEN {
        return;
    }
    buf[BASE_OFFSET_AT..BASE_OFFSET_AT + 8].copy_from_slice(&base_offset.to_be_bytes());
}

/// Marks the batch LogAppendTime with the given broker time: sets attribute bit 3 and
/// maxTimestamp, recomputes the CRC. `buf` must be exactly one batch; shorter ones are untouched.
pub fn set_log_append_time(buf: &mut [u8], timestamp: i64) {
    if buf.len() < BATCH_HEADER_LEN {
        return;
    }
    let attributes = i16::from_be_bytes([buf[ATTRIBUTES_AT], buf[ATTRIBUTES_AT + 1]]);
    let attributes = attributes | TIMESTAMP_TYPE_BIT;
    buf[ATTRIBUTES_AT..ATTRIBUTES_AT + 2].copy_from_slice(&attributes.to_be_bytes());
    buf[MAX_TIMESTAMP_AT..MAX_TIMESTAMP_AT + 8].copy_from_slice(&timestamp.to_be_bytes());
    write_crc(buf);
}

/// Recomputes and stores the CRC of a batch at least a header long.
fn write_crc(buf: &mut [u8]) {
    let crc = compute_crc(buf);
    buf[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
}

/// A record to write (producer side).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    /// Partitioning and compaction key; `None` is a null key.
    pub key: Option<Bytes>,
    /// Payload; `None` is a tombstone.
    pub value: Option<Bytes>,
    /// Headers in order, duplicates allowed as in Kafka.
    pub headers: Vec<(String, Option<Bytes>)>,
    /// Create time in milliseconds since the Unix epoch.
    pub timestamp: i64,
}

/// Encodes records into one uncompressed CreateTime batch (no producer id, leader epoch 0).
/// baseTimestamp is the first record's timestamp, maxTimestamp the largest; errors if empty.
pub fn encode_batch(records: &[Record], base_offset: i64) -> Result<Vec<u8>, BatchError> {
    let first = records.first().ok_or(BatchError::Empty)?;
    let count = i32::try_from(records.len()).map_err(|_| BatchError::TooLarge {
        what: "record count",
        len: records.len(),
    })?;
    let base_timestamp = first.timestamp;
    let max_timestamp = records
        .iter()
        .map(|r| r.timestamp)
        .max()
        .unwrap_or(base_timestamp);

    let mut out = vec![0u8; BATCH_HEADER_LEN];
    let mut body = Vec::new();
    for (offset_delta, record) in (0..count).zip(records) {
        body.clear();
        body.push(0); // record attributes: unused in v2
        // Java wraps on overflow; the decoder's wrapping add undoes it exactly.
        put_varlong(&mut body, record.timestamp.wrapping_sub(base_timestamp));
        put_varint(&mut body, offset_delta);
        put_nullable(&mut body, record.key.as_deref(), "key")?;
        put_nullable(&mut body, record.value.as_deref(), "value")?;
        put_varint(&mut body, to_i32(record.headers.len(), "header count")?);
        for (key, value) in &record.headers {
            put_nullable(&mut body, Some(key.as_bytes()), "header key")?;
            put_nullable(&mut body, value.as_deref(), "header value")?;
        }
        put_varint(&mut out, to_i32(body.len(), "record")?);
        out.extend_from_slice(&body);
    }

    let header = BatchHeader {
        base_offset,
        batch_length: to_i32(out.len() - LOG_OVERHEAD, "batch")?,
        partition_leader_epoch: 0,
        magic: MAGIC_V2,
        crc: 0,
        attributes: 0,
        last_offset_delta: count - 1,
        base_timestamp,
        max_timestamp,
        producer_id: -1,
        producer_epoch: -1,
        base_sequence: -1,
        record_count: count,
    };
    out[..BATCH_HEADER_LEN].copy_from_slice(&header.to_bytes());
    write_crc(&mut out);
    Ok(out)
}

fn to_i32(len: usize, what: &'static str) -> Result<i32, BatchError> {
    i32::try_from(len).map_err(|_| BatchError::TooLarge { what, len })
}

/// Writes a varint length (-1 for null) followed by the bytes.
fn put_nullable(
    buf: &mut Vec<u8>,
    bytes: Option<&[u8]>,
    what: &'static str,
) -> Result<(), BatchError> {
    match bytes {
        None => put_varint(buf, -1),
        Some(bytes) => {
            put_varint(buf, to_i32(bytes.len(), what)?);
            buf.extend_from_slice(bytes);
        }
    }
    Ok(())
}

/// A record read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    /// Absolute offset in the partition.
    pub offset: i64,
    /// Create time, or the broker's append time under LogAppendTime.
    pub timestamp: i64,
    /// Key; `None` is a null key.
    pub key: Option<Bytes>,
    /// Value; `None` is a tombstone.
    pub value: Option<Bytes>,
    /// Headers in stored order.
    pub headers: Vec<(String, Option<Bytes>)>,
}

/// Decodes every record of one complete, validated batch. Control batches give no records;
/// under LogAppendTime every record carries the batch's maxTimestamp.
pub fn decode_records(batch: &[u8]) -> Result<Vec<StoredRecord>, BatchError> {
    let header = validate(batch)?;
    if header.is_control() {
        return Ok(Vec::new());
    }
    let records = records_section(&header, batch)?;
    parse_records(&header, &records)
}

/// The uncompressed records section, decompressed if the batch is compressed.
fn records_section<'b>(header: &BatchHeader, batch: &'b [u8]) -> Result<Cow<'b, [u8]>, BatchError> {
    let raw = batch.get(BATCH_HEADER_LEN..).unwrap_or_default();
    match header.compression()? {
        Compression::None => Ok(Cow::Borrowed(raw)),
        codec => super::compression::decompress(codec, raw).map(Cow::Owned),
    }
}

fn parse_records(header: &BatchHeader, section: &[u8]) -> Result<Vec<StoredRecord>, BatchError> {
    let count = usize::try_from(header.record_count).unwrap_or(0);
    let mut records = Vec::with_capacity(count.min(section.len() / MIN_RECORD_LEN));
    let mut outer = Reader {
        buf: section,
        pos: 0,
        index: 0,
    };
    for index in 0..count {
        outer.index = index;
        let declared = outer.varint("record length")?;
        let declared = usize::try_from(declared).map_err(|_| BatchError::InvalidLength {
            index,
            field: "record length",
            len: declared,
        })?;
        let body = outer.bytes(declared)?;
        let mut reader = Reader {
            buf: body,
            pos: 0,
            index,
        };
        records.push(reader.record(header)?);
        if reader.pos != declared {
            return Err(BatchError::RecordLengthMismatch {
                index,
                declared,
                parsed: reader.pos,
            });
        }
    }
    if outer.pos != section.len() {
        return Err(BatchError::TrailingBytes {
            count: header.record_count,
            trailing: section.len() - outer.pos,
        });
    }
    Ok(records)
}

/// A bounds-checked cursor over one record (or the records section), naming the record in errors.
struct Reader<'b> {
    buf: &'b [u8],
    pos: usize,
    index: usize,
}

impl<'b> Reader<'b> {
    fn record(&mut self, header: &BatchHeader) -> Result<StoredRecord, BatchError> {
        let index = self.index;
        self.bytes(1)?; // record attributes: unused in v2
        let timestamp_delta = self.varlong("timestamp delta")?;
        let offset_delta = self.varint("offset delta")?;
        let key = self.nullable("key length")?;
        let value = self.nullable("value length")?;
        let header_count = self.varint("header count")?;
        let header_count =
            usize::try_from(header_count).map_err(|_| BatchError::InvalidLength {
                index,
                field: "header count",
                len: header_count,
            })?;
        let remaining = self.buf.len() - self.pos;
        let mut headers = Vec::with_capacity(header_count.min(remaining / MIN_HEADER_LEN));
        for h in 0..header_count {
            let key_len = self.varint("header key length")?;
            let key_len = usize::try_from(key_len).map_err(|_| BatchError::InvalidLength {
                index,
                field: "header key length",
                len: key_len,
            })?;
            let key = std::str::from_utf8(self.bytes(key_len)?)
                .map_err(|_| BatchError::HeaderKeyNotUtf8 { index, header: h })?;
            let value = self.nullable("header value length")?;
            headers.push((key.to_owned(), value));
        }

        let offset = header
            .base_offset
            .checked_add(i64::from(offset_delta))
            .ok_or(BatchError::OffsetOverflow {
                base_offset: header.base_offset,
                delta: offset_delta,
            })?;
        let timestamp = match header.timestamp_type() {
            TimestampType::LogAppendTime => header.max_timestamp,
            TimestampType::CreateTime => header.base_timestamp.wrapping_add(timestamp_delta),
        };
        Ok(StoredRecord {
            offset,
            timestamp,
            key,
            value,
            headers,
        })
    }

    fn bytes(&mut self, len: usize) -> Result<&'b [u8], BatchError> {
        let bytes = self
            .buf
            .get(self.pos..)
            .and_then(|rest| rest.get(..len))
            .ok_or(BatchError::RecordTruncated { index: self.index })?;
        self.pos += len;
        Ok(bytes)
    }

    /// A varint length followed by that many bytes, or null for -1.
    fn nullable(&mut self, field: &'static str) -> Result<Option<Bytes>, BatchError> {
        let len = self.varint(field)?;
        if len == -1 {
            return Ok(None);
        }
        let len = usize::try_from(len).map_err(|_| BatchError::InvalidLength {
            index: self.index,
            field,
            len,
        })?;
        Ok(Some(Bytes::copy_from_slice(self.bytes(len)?)))
    }

    fn varint(&mut self, field: &'static str) -> Result<i32, BatchError> {
        get_varint(self.buf, &mut self.pos).ok_or_else(|| self.varint_error(field, MAX_VARINT_LEN))
    }

    fn varlong(&mut self, field: &'static str) -> Result<i64, BatchError> {
        get_varlong(self.buf, &mut self.pos)
            .ok_or_else(|| self.varint_error(field, MAX_VARLONG_LEN))
    }

    /// A varint that fails with fewer than its maximum bytes left ran out of input; with more,
    /// it was malformed.
    fn varint_error(&self, field: &'static str, max_len: usize) -> BatchError {
        if self.buf.len().saturating_sub(self.pos) < max_len {
            BatchError::RecordTruncated { index: self.index }
        } else {
            BatchError::MalformedVarint {
                index: self.index,
                field,
            }
        }
    }
}

/// Walks consecutive batches in a buffer, yielding (header, bytes of that whole batch); stops
/// (None) at an incomplete batch at the end, and after the first Err for an unparsable header.
#[derive(Debug, Clone)]
pub struct BatchIter<'a> {
    buf: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> BatchIter<'a> {
    /// Starts at the beginning of `buf`; CRCs are not checked (use [`validate`] per batch).
    pub fn new(buf: &'a [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            failed: false,
        }
    }

    /// Bytes consumed so far: the end of the last complete batch yielded, which is where a
    /// recovering log truncates.
    pub fn position(&self) -> usize {
        self.pos
    }

    fn fail(&mut self, err: BatchError) -> Option<<Self as Iterator>::Item> {
        self.failed = true;
        Some(Err(err))
    }
}

impl<'a> Iterator for BatchIter<'a> {
    type Item = Result<(BatchHeader, &'a [u8]), BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let rest = self.buf.get(self.pos..)?;
        let length_bytes: [u8; 4] = rest.get(BATCH_LENGTH_AT..LOG_OVERHEAD)?.try_into().ok()?;
        let batch_length = i32::from_be_bytes(length_bytes);
        if batch_length < MIN_BATCH_LENGTH {
            return self.fail(BatchError::BatchLengthTooSmall {
                declared: batch_length,
            });
        }
        let total = LOG_OVERHEAD + usize::try_from(batch_length).unwrap_or(0);
        let Some(batch) = rest.get(..total) else {
            // A torn tail, unless what is there already shows it is not a v2 batch.
            if let Some(&magic) = rest.get(MAGIC_AT)
                && magic as i8 != MAGIC_V2
            {
                return self.fail(BatchError::UnsupportedMagic { magic: magic as i8 });
            }
            return None;
        };
        match BatchHeader::parse(batch) {
            Ok(header) => {
                self.pos += total;
                Some(Ok((header, batch)))
            }
            Err(err) => self.fail(err),
        }
    }
}

impl FusedIterator for BatchIter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(key: Option<&[u8]>, value: Option<&[u8]>, timestamp: i64) -> Record {
        Record {
            key: key.map(Bytes::copy_from_slice),
            value: value.map(Bytes::copy_from_slice),
            headers: Vec::new(),
            timestamp,
        }
    }

    /// Deterministic xorshift64 so failures reproduce without a rand dependency.
    struct Prng(u64);

    impl Prng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn bytes(&mut self, len: usize) -> Vec<u8> {
            (0..len).map(|_| self.next() as u8).collect()
        }
    }

    fn sample_records() -> Vec<Record> {
        let binary: Vec<u8> = (0..=255).collect();
        vec![
            rec(Some(b"k1"), Some(b"hello"), 1_000),
            rec(None, Some(b"null key"), 900),
            rec(Some(b"gone"), None, 5_000_000_000_000),
            rec(Some(&binary), Some(&binary[..100]), -17),
            Record {
                key: Some(Bytes::from_static(b"h")),
                value: Some(Bytes::new()),
                headers: vec![
                    ("trace".to_owned(), Some(Bytes::from_static(b"abc"))),
                    ("empty".to_owned(), Some(Bytes::new())),
                    ("nothing".to_owned(), None),
                    ("trace".to_owned(), Some(Bytes::from_static(&[0, 255]))),
                    (String::new(), None),
                    ("ünïcødé".to_owned(), Some(Bytes::from_static(b"x"))),
                ],
                timestamp: 1_001,
            },
        ]
    }

    fn assert_matches(stored: &[StoredRecord], written: &[Record], base_offset: i64) {
        assert_eq!(stored.len(), written.len());
        for (i, (s, w)) in stored.iter().zip(written).enumerate() {
            assert_eq!(s.offset, base_offset + i as i64);
            assert_eq!(s.timestamp, w.timestamp, "record {i}");
            assert_eq!(s.key, w.key, "record {i}");
            assert_eq!(s.value, w.value, "record {i}");
            assert_eq!(s.headers, w.headers, "record {i}");
        }
    }

    #[test]
    fn encode_validate_decode_round_trip() {
        let records = sample_records();
        let batch = encode_batch(&records, 42).unwrap();
        let header = validate(&batch).unwrap();
        assert_eq!(header.base_offset, 42);
        assert_eq!(header.total_len(), batch.len());
        assert_eq!(header.magic, MAGIC_V2);
        assert_eq!(header.record_count, 5);
        assert_eq!(header.last_offset_delta, 4);
        assert_eq!(header.last_offset(), 46);
        assert_eq!(header.next_offset(), 47);
        assert_eq!(header.base_timestamp, 1_000);
        assert_eq!(header.max_timestamp, 5_000_000_000_000);
        assert_eq!(header.producer_id, -1);
        assert_eq!(header.producer_epoch, -1);
        assert_eq!(header.base_sequence, -1);
        assert_eq!(header.partition_leader_epoch, 0);
        assert_eq!(header.compression(), Ok(Compression::None));
        assert_eq!(header.timestamp_type(), TimestampType::CreateTime);
        assert!(!header.is_transactional());
        assert!(!header.is_control());
        assert_eq!(BatchHeader::parse(&batch), Ok(header));
        assert_matches(&decode_records(&batch).unwrap(), &records, 42);
    }

    #[test]
    fn timestamp_deltas_beyond_i32_use_a_varlong() {
        let base = 1_700_000_000_000;
        let far = base + i64::from(i32::MAX) + 12_345;
        let records = vec![
            rec(Some(b"a"), Some(b"1"), base),
            rec(Some(b"b"), Some(b"2"), far),
            rec(Some(b"c"), Some(b"3"), base - i64::from(i32::MAX) - 9),
            rec(Some(b"d"), Some(b"4"), i64::MIN),
            rec(Some(b"e"), Some(b"5"), i64::MAX),
        ];
        let batch = encode_batch(&records, 0).unwrap();
        let header = validate(&batch).unwrap();
        assert_eq!(header.max_timestamp, i64::MAX);
        assert_matches(&decode_records(&batch).unwrap(), &records, 0);
    }

    #[test]
    fn golden_batch_is_byte_exact() {
        let mut expected: Vec<u8> = Vec::new();
        expected.extend_from_slice(&0i64.to_be_bytes()); // baseOffset
        expected.extend_from_slice(&58i32.to_be_bytes()); // batchLength = 70 - 12
        expected.extend_from_slice(&0i32.to_be_bytes()); // partitionLeaderEpoch
        expected.push(2); // magic
        expected.extend_from_slice(&[0; 4]); // crc, filled below
        expected.extend_from_slice(&0i16.to_be_bytes()); // attributes
        expected.extend_from_slice(&0i32.to_be_bytes()); // lastOffsetDelta
        expected.extend_from_slice(&1000i64.to_be_bytes()); // baseTimestamp
        expected.extend_from_slice(&1000i64.to_be_bytes()); // maxTimestamp
        expected.extend_from_slice(&(-1i64).to_be_bytes()); // producerId
        expected.extend_from_slice(&(-1i16).to_be_bytes()); // producerEpoch
        expected.extend_from_slice(&(-1i32).to_be_bytes()); // baseSequence
        expected.extend_from_slice(&1i32.to_be_bytes()); // recordCount
        assert_eq!(expected.len(), 61);
        expected.extend_from_slice(&[
            0x10, // length 8, zig-zagged
            0x00, // attributes
            0x00, // timestampDelta 0
            0x00, // offsetDelta 0
            0x02, b'k', // key
            0x02, b'v', // value
            0x00, // no headers
        ]);
        let crc = crc32c::crc32c(&expected[21..]);
        expected[17..21].copy_from_slice(&crc.to_be_bytes());

        let encoded = encode_batch(&[rec(Some(b"k"), Some(b"v"), 1000)], 0).unwrap();
        assert_eq!(encoded, expected);
    }

    /// "uncompressed record" from IBM/sarama's record_test.go: bytes another client produced.
    const SARAMA_UNCOMPRESSED: [u8; 82] = [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 70, 0, 0, 0, 0, 2, 84, 121, 97, 253, 0, 0, 0, 0, 0, 0, 0,
        0, 1, 88, 141, 205, 89, 56, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 1, 40, 0, 10, 0, 8, 1, 2, 3, 4, 6, 5, 6, 7, 2, 6, 8, 9, 10, 4, 11, 12,
    ];

    #[test]
    fn decodes_a_batch_written_by_another_client() {
        let header = validate(&SARAMA_UNCOMPRESSED).unwrap();
        assert_eq!(header.base_timestamp, 1_479_847_795_000);
        let records = decode_records(&SARAMA_UNCOMPRESSED).unwrap();
        assert_eq!(
            records,
            vec![StoredRecord {
                offset: 0,
                timestamp: 1_479_847_795_005,
                key: Some(Bytes::from_static(&[1, 2, 3, 4])),
                value: Some(Bytes::from_static(&[5, 6, 7])),
                headers: vec![("\u{8}\t\n".to_owned(), Some(Bytes::from_static(&[11, 12])))],
            }]
        );
    }

    #[test]
    fn compressed_and_control_batches() {
        // sarama's "gzipped record": a real client's gzip batch decodes.
        let mut gzipped = SARAMA_UNCOMPRESSED[..61].to_vec();
        gzipped.extend_from_slice(&[
            31, 139, 8, 0, 0, 9, 110, 136, 0, 255, 0, 21, 0, 234, 255, 40, 0, 10, 0, 8, 1, 2, 3, 4,
            6, 5, 6, 7, 2, 6, 8, 9, 10, 4, 11, 12, 3, 0, 173, 201, 88, 103, 21, 0, 0, 0,
        ]);
        gzipped[8..12].copy_from_slice(&95i32.to_be_bytes());
        gzipped[17..21].copy_from_slice(&[231, 74, 206, 165]);
        gzipped[21..23].copy_from_slice(&1i16.to_be_bytes());
        let header = validate(&gzipped).unwrap();
        assert_eq!(header.compression(), Ok(Compression::Gzip));
        let records = decode_records(&gzipped).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].key.as_deref(), Some(&[1u8, 2, 3, 4][..]));
        assert_eq!(records[0].value.as_deref(), Some(&[5u8, 6, 7][..]));

        let mut batch = encode_batch(&[rec(None, Some(b"v"), 1)], 0).unwrap();
        batch[22] = 0x07;
        write_crc(&mut batch);
        assert_eq!(
            validate(&batch),
            Err(BatchError::InvalidCompression { code: 7 })
        );

        // A control batch decodes to nothing, whatever its payload.
        batch[22] = CONTROL_BIT as u8;
        write_crc(&mut batch);
        assert!(validate(&batch).unwrap().is_control());
        assert_eq!(decode_records(&batch), Ok(Vec::new()));
    }

    #[test]
    fn empty_input_is_rejected() {
        assert_eq!(encode_batch(&[], 0), Err(BatchError::Empty));
    }

    #[test]
    fn flipped_byte_fails_the_crc() {
        let batch = encode_batch(&sample_records(), 0).unwrap();
        for at in [ATTRIBUTES_AT, 40, BATCH_HEADER_LEN + 3, batch.len() - 1] {
            let mut bad = batch.clone();
            bad[at] ^= 0x01;
            let err = validate(&bad).unwrap_err();
            assert!(
                matches!(err, BatchError::CrcMismatch { stored, computed } if stored != computed),
                "byte {at}: {err}"
            );
            assert!(decode_records(&bad).is_err());
        }
        let mut bad = batch.clone();
        bad[CRC_AT] ^= 0x80;
        assert!(matches!(
            validate(&bad),
            Err(BatchError::CrcMismatch { .. })
        ));
    }

    #[test]
    fn set_base_offset_keeps_the_crc() {
        let records = sample_records();
        let mut batch = encode_batch(&records, 0).unwrap();
        let crc_before = validate(&batch).unwrap().crc;
        set_base_offset(&mut batch, 1_000_000);
        let header = validate(&batch).unwrap();
        assert_eq!(header.crc, crc_before);
        assert_eq!(header.base_offset, 1_000_000);
        assert_matches(&decode_records(&batch).unwrap(), &records, 1_000_000);

        let mut short = vec![7u8; 10];
        set_base_offset(&mut short, 5);
        assert_eq!(short, vec![7u8; 10]);
    }

    #[test]
    fn set_log_append_time_overrides_record_timestamps() {
        let records = sample_records();
        let mut batch = encode_batch(&records, 7).unwrap();
        set_log_append_time(&mut batch, 1_234_567);
        let header = validate(&batch).unwrap();
        assert_eq!(header.timestamp_type(), TimestampType::LogAppendTime);
        assert_eq!(header.max_timestamp, 1_234_567);
        assert_eq!(header.compression(), Ok(Compression::None));
        let stored = decode_records(&batch).unwrap();
        assert_eq!(stored.len(), records.len());
        for (i, (s, w)) in stored.iter().zip(&records).enumerate() {
            assert_eq!(s.timestamp, 1_234_567);
            assert_eq!(s.offset, 7 + i as i64);
            assert_eq!((&s.key, &s.value), (&w.key, &w.value));
        }
    }

    #[test]
    fn header_errors_name_the_problem() {
        let batch = encode_batch(&[rec(Some(b"k"), Some(b"v"), 1)], 0).unwrap();
        assert_eq!(
            BatchHeader::parse(&batch[..40]),
            Err(BatchError::TooShort { len: 40 })
        );
        assert_eq!(
            BatchError::TooShort { len: 40 }.to_string(),
            "batch is 40 bytes, shorter than the 61-byte v2 header"
        );

        let mut v1 = batch.clone();
        v1[MAGIC_AT] = 1;
        assert_eq!(
            BatchHeader::parse(&v1[..30]),
            Err(BatchError::UnsupportedMagic { magic: 1 })
        );
        assert_eq!(
            validate(&v1).unwrap_err().to_string(),
            "unsupported magic byte 1: only record batch v2 is accepted"
        );

        let mut tiny = batch.clone();
        tiny[BATCH_LENGTH_AT..LOG_OVERHEAD].copy_from_slice(&48i32.to_be_bytes());
        assert_eq!(
            BatchHeader::parse(&tiny),
            Err(BatchError::BatchLengthTooSmall { declared: 48 })
        );

        let mut longer = batch.clone();
        longer.push(0);
        let err = validate(&longer).unwrap_err();
        assert_eq!(
            err,
            BatchError::LengthMismatch {
                declared: 58,
                actual: 59
            }
        );
        assert_eq!(
            err.to_string(),
            "batch length field says 58 but 59 bytes were given"
        );
        assert!(matches!(
            validate(&batch[..batch.len() - 1]),
            Err(BatchError::LengthMismatch { .. })
        ));

        let stored = 0x0102_0304;
        let err = BatchError::CrcMismatch {
            stored,
            computed: 0xdead_beef,
        };
        assert_eq!(
            err.to_string(),
            "CRC-32C mismatch: batch says 0x01020304, bytes give 0xdeadbeef"
        );
    }

    #[test]
    fn count_and_delta_checks() {
        let batch = encode_batch(&[rec(None, Some(b"a"), 1), rec(None, Some(b"b"), 2)], 0).unwrap();
        let with = |at: usize, value: i32| {
            let mut b = batch.clone();
            b[at..at + 4].copy_from_slice(&value.to_be_bytes());
            write_crc(&mut b);
            b
        };
        assert_eq!(
            validate(&with(RECORD_COUNT_AT, -1)),
            Err(BatchError::NegativeRecordCount { count: -1 })
        );
        assert_eq!(
            validate(&with(LAST_OFFSET_DELTA_AT, -1)),
            Err(BatchError::NegativeLastOffsetDelta { delta: -1 })
        );
        assert_eq!(
            validate(&with(LAST_OFFSET_DELTA_AT, 5)),
            Err(BatchError::OffsetDeltaMismatch { delta: 5, count: 2 })
        );
        // One record fewer than the batch holds: the parser finds the extra bytes.
        let short_count = with(RECORD_COUNT_AT, 1);
        let short_count = {
            let mut b = short_count;
            b[LAST_OFFSET_DELTA_AT..LAST_OFFSET_DELTA_AT + 4].copy_from_slice(&0i32.to_be_bytes());
            write_crc(&mut b);
            b
        };
        assert!(matches!(
            decode_records(&short_count),
            Err(BatchError::TrailingBytes { count: 1, .. })
        ));
        // One record more than the batch holds.
        let mut long_count = with(RECORD_COUNT_AT, 3);
        long_count[LAST_OFFSET_DELTA_AT..LAST_OFFSET_DELTA_AT + 4]
            .copy_from_slice(&2i32.to_be_bytes());
        write_crc(&mut long_count);
        assert_eq!(
            decode_records(&long_count),
            Err(BatchError::RecordTruncated { index: 2 })
        );
        // Offsets after the batch would not fit in an i64.
        let mut late = batch.clone();
        set_base_offset(&mut late, i64::MAX - 1);
        assert!(matches!(
            validate(&late),
            Err(BatchError::OffsetOverflow { .. })
        ));
    }

    #[test]
    fn record_length_must_match_its_fields() {
        let batch = encode_batch(&[rec(Some(b"k"), Some(b"v"), 1000)], 0).unwrap();
        // Record length 8 -> 7: the value runs past the declared end.
        let mut shorter = batch.clone();
        shorter[BATCH_HEADER_LEN] = 0x0e;
        write_crc(&mut shorter);
        assert_eq!(
            decode_records(&shorter),
            Err(BatchError::RecordTruncated { index: 0 })
        );
        // Record length 8 -> 9 and one spare byte appended: fields end early.
        let mut longer = batch.clone();
        longer[BATCH_HEADER_LEN] = 0x12;
        longer.push(0);
        longer[BATCH_LENGTH_AT..LOG_OVERHEAD].copy_from_slice(&59i32.to_be_bytes());
        write_crc(&mut longer);
        assert_eq!(
            decode_records(&longer),
            Err(BatchError::RecordLengthMismatch {
                index: 0,
                declared: 9,
                parsed: 8
            })
        );
        // Key length -2 is neither null nor a length.
        let mut bad_key = batch.clone();
        bad_key[BATCH_HEADER_LEN + 4] = 0x03;
        write_crc(&mut bad_key);
        assert!(matches!(
            decode_records(&bad_key),
            Err(BatchError::InvalidLength {
                index: 0,
                len: -2,
                ..
            })
        ));
    }

    #[test]
    fn header_key_must_be_utf8() {
        let record = Record {
            headers: vec![("ab".to_owned(), None)],
            ..rec(None, None, 0)
        };
        let mut batch = encode_batch(&[record], 0).unwrap();
        let at = batch.len() - 3; // header key bytes "ab", then the null value length
        assert_eq!(&batch[at..at + 2], b"ab");
        batch[at] = 0xff;
        write_crc(&mut batch);
        assert_eq!(
            decode_records(&batch),
            Err(BatchError::HeaderKeyNotUtf8 {
                index: 0,
                header: 0
            })
        );
    }

    #[test]
    fn truncations_never_panic() {
        let batch = encode_batch(&sample_records(), 0).unwrap();
        for cut in 0..batch.len() {
            let part = &batch[..cut];
            assert!(validate(part).is_err(), "cut at {cut}");
            assert!(decode_records(part).is_err(), "cut at {cut}");
            let _ = BatchHeader::parse(part);
            assert_eq!(BatchIter::new(part).count(), 0, "cut at {cut}");
        }
    }

    #[test]
    fn garbage_never_panics() {
        let mut rng = Prng(0x9e37_79b9_7f4a_7c15);
        let valid = encode_batch(&sample_records(), 0).unwrap();
        for round in 0..20_000 {
            let input = match round % 3 {
                // Pure noise, sometimes with a plausible header in front.
                0 => {
                    let len = rng.below(200);
                    rng.bytes(len)
                }
                1 => {
                    let mut b = valid[..BATCH_HEADER_LEN].to_vec();
                    let len = rng.below(120);
                    b.extend(rng.bytes(len));
                    let batch_length = (b.len() - LOG_OVERHEAD) as i32;
                    b[BATCH_LENGTH_AT..LOG_OVERHEAD].copy_from_slice(&batch_length.to_be_bytes());
                    b[RECORD_COUNT_AT..BATCH_HEADER_LEN]
                        .copy_from_slice(&(rng.below(6) as i32).to_be_bytes());
                    write_crc(&mut b);
                    b
                }
                // A valid batch with a few bytes changed and the CRC fixed, so the record
                // parser itself meets the damage.
                _ => {
                    let mut b = valid.clone();
                    for _ in 0..1 + rng.below(4) {
                        let at = BATCH_HEADER_LEN + rng.below(b.len() - BATCH_HEADER_LEN);
                        b[at] = rng.next() as u8;
                    }
                    write_crc(&mut b);
                    b
                }
            };
            let _ = BatchHeader::parse(&input);
            let _ = validate(&input);
            if let Ok(records) = decode_records(&input) {
                let header = validate(&input).unwrap();
                assert_eq!(records.len(), header.record_count as usize);
            }
            let mut iter = BatchIter::new(&input);
            for (header, bytes) in iter.by_ref().flatten() {
                assert_eq!(bytes.len(), header.total_len());
            }
            assert!(iter.position() <= input.len());
        }
    }

    #[test]
    fn batch_iter_stops_at_a_partial_tail() {
        let first = encode_batch(&sample_records(), 0).unwrap();
        let second = encode_batch(&[rec(Some(b"k"), Some(b"v"), 9)], 5).unwrap();
        let third = encode_batch(&[rec(Some(b"x"), Some(b"y"), 10)], 6).unwrap();
        let mut log = first.clone();
        log.extend_from_slice(&second);
        for partial in [0, 5, LOG_OVERHEAD, 20, BATCH_HEADER_LEN, third.len() - 1] {
            let mut buf = log.clone();
            buf.extend_from_slice(&third[..partial]);
            let mut iter = BatchIter::new(&buf);
            let batches: Vec<_> = iter.by_ref().collect::<Result<_, _>>().unwrap();
            assert_eq!(batches.len(), 2, "partial {partial}");
            assert_eq!(batches[0].1, &first[..]);
            assert_eq!(batches[1].1, &second[..]);
            assert_eq!(batches[1].0.base_offset, 5);
            assert_eq!(iter.position(), log.len());
            assert!(iter.next().is_none());
        }
    }

    #[test]
    fn batch_iter_reports_corruption_once() {
        let first = encode_batch(&[rec(Some(b"k"), Some(b"v"), 9)], 0).unwrap();
        let mut buf = first.clone();
        buf.extend_from_slice(&first);
        buf[first.len() + BATCH_LENGTH_AT..first.len() + LOG_OVERHEAD]
            .copy_from_slice(&3i32.to_be_bytes());
        let mut iter = BatchIter::new(&buf);
        assert!(iter.next().unwrap().is_ok());
        assert_eq!(
            iter.next(),
            Some(Err(BatchError::BatchLengthTooSmall { declared: 3 }))
        );
        assert_eq!(iter.next(), None);
        assert_eq!(iter.position(), first.len());

        // A torn tail that is visibly not v2 is corruption, not an incomplete write.
        let mut buf = first.clone();
        buf.extend_from_slice(&first[..30]);
        buf[first.len() + MAGIC_AT] = 0;
        let mut iter = BatchIter::new(&buf);
        assert!(iter.next().unwrap().is_ok());
        assert_eq!(
            iter.next(),
            Some(Err(BatchError::UnsupportedMagic { magic: 0 }))
        );
    }

    #[test]
    fn random_records_round_trip() {
        let mut rng = Prng(42);
        for _ in 0..200 {
            let n = 1 + rng.below(20);
            let base_ts = rng.next() as i64 >> 20;
            let records: Vec<Record> = (0..n)
                .map(|_| {
                    let opt = |rng: &mut Prng, max: usize| {
                        (rng.below(5) != 0).then(|| {
                            let len = rng.below(max);
                            Bytes::from(rng.bytes(len))
                        })
                    };
                    let headers = (0..rng.below(4))
                        .map(|h| (format!("h{h}"), opt(&mut rng, 10)))
                        .collect();
                    Record {
                        key: opt(&mut rng, 30),
                        value: opt(&mut rng, 300),
                        headers,
                        timestamp: base_ts + (rng.next() as i64 >> 30),
                    }
                })
                .collect();
            let base_offset = (rng.next() >> 2) as i64;
            let batch = encode_batch(&records, base_offset).unwrap();
            assert_matches(&decode_records(&batch).unwrap(), &records, base_offset);
        }
    }
}
