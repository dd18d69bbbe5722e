//! The fixed 61-byte batch header: parsing, validation (CRC-32C) and the
//! in-place rewrites the broker makes (base offset, LogAppendTime).

use std::fmt;

use super::BatchError;

/// Codec of the records section, from attribute bits 0-2.
/// Bytes before the part that batchLength counts: baseOffset and batchLength itself.
pub const LOG_OVERHEAD: usize = 12;
/// Size of the fixed v2 batch header, up to and including recordCount.
pub const BATCH_HEADER_LEN: usize = 61;
/// The only batch format accepted: record batch v2 (Kafka 0.11+).
pub const MAGIC_V2: i8 = 2;

pub(super) const BASE_OFFSET_AT: usize = 0;
pub(super) const BATCH_LENGTH_AT: usize = 8;
pub(super) const PARTITION_LEADER_EPOCH_AT: usize = 12;
pub(super) const MAGIC_AT: usize = 16;
pub(super) const CRC_AT: usize = 17;
pub(super) const ATTRIBUTES_AT: usize = 21;
pub(super) const LAST_OFFSET_DELTA_AT: usize = 23;
pub(super) const BASE_TIMESTAMP_AT: usize = 27;
pub(super) const MAX_TIMESTAMP_AT: usize = 35;
pub(super) const PRODUCER_ID_AT: usize = 43;
pub(super) const PRODUCER_EPOCH_AT: usize = 51;
pub(super) const BASE_SEQUENCE_AT: usize = 53;
pub(super) const RECORD_COUNT_AT: usize = 57;

/// Smallest legal batchLength: a header with no records.
pub(super) const MIN_BATCH_LENGTH: i32 = (BATCH_HEADER_LEN - LOG_OVERHEAD) as i32;

pub(super) const COMPRESSION_MASK: i16 = 0x07;
pub(super) const TIMESTAMP_TYPE_BIT: i16 = 0x08;
pub(super) const TRANSACTIONAL_BIT: i16 = 0x10;
pub(super) const CONTROL_BIT: i16 = 0x20;
/// KIP-534: baseTimestamp holds the time after which the cleaner may drop the
/// batch's tombstones, set the first time compaction rewrites the batch.
pub(super) const DELETE_HORIZON_BIT: i16 = 0x40;

/// Smallest encoded record (length, attributes, timestampDelta, offsetDelta, key, value and
/// header count, one byte each); bounds preallocation driven by untrusted counts.
pub(super) const MIN_RECORD_LEN: usize = 7;
/// Longest varint and varlong encodings, to tell a truncated varint from a malformed one.
pub(super) const MAX_VARINT_LEN: usize = 5;
pub(super) const MAX_VARLONG_LEN: usize = 10;

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
    pub(super) fn from_code(code: i16) -> Result<Self, BatchError> {
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

    /// When compaction may drop this batch's tombstones (KIP-534), if a cleaner set it.
    pub fn delete_horizon(&self) -> Option<i64> {
        (self.attributes & DELETE_HORIZON_BIT != 0).then_some(self.base_timestamp)
    }

    /// The header's 61 bytes as they appear on the wire.
    pub(super) fn to_bytes(self) -> [u8; BATCH_HEADER_LEN] {
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
pub(super) fn field<const N: usize>(h: &[u8; BATCH_HEADER_LEN], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&h[at..at + N]);
    out
}

pub(super) fn put_field<const N: usize>(h: &mut [u8; BATCH_HEADER_LEN], at: usize, bytes: [u8; N]) {
    h[at..at + N].copy_from_slice(&bytes);
}

/// CRC-32C over the part of a batch the CRC field covers.
pub(super) fn compute_crc(batch: &[u8]) -> u32 {
    crc32c::crc32c(batch.get(ATTRIBUTES_AT..).unwrap_or_default())
}

/// Checks a complete batch (buf must be exactly one batch): header, length, magic, CRC-32C,
/// record count and offset deltas. Returns the header. This is the rule for a batch a
/// producer sends: its records' offsets are dense.
pub fn validate(buf: &[u8]) -> Result<BatchHeader, BatchError> {
    let header = validate_stored(buf)?;
    if header.compression()? == Compression::None
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

/// Checks a complete batch as [`validate`] does, except that its records may leave
/// gaps: compaction keeps a batch's base and last offsets while dropping records.
pub fn validate_stored(buf: &[u8]) -> Result<BatchHeader, BatchError> {
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
    if header.compression()? == Compression::None
        && header.record_count > 0
        && header.last_offset_delta < header.record_count - 1
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

/// The header a batch is stored with, built beside the batch instead of in it, so
/// the producer's bytes (shared with the request they came in) are written as they
/// are: `head` is the batch's first [`BATCH_HEADER_LEN`] bytes, `records` the rest.
/// Sets baseOffset and, under LogAppendTime, the timestamp type and maxTimestamp,
/// with the CRC computed over the new header's part and `records`.
pub fn restamp(
    head: &mut [u8; BATCH_HEADER_LEN],
    records: &[u8],
    base_offset: i64,
    log_append_time: Option<i64>,
) {
    put_field(head, BASE_OFFSET_AT, base_offset.to_be_bytes());
    if let Some(timestamp) = log_append_time {
        let attributes = i16::from_be_bytes(field(head, ATTRIBUTES_AT)) | TIMESTAMP_TYPE_BIT;
        put_field(head, ATTRIBUTES_AT, attributes.to_be_bytes());
        put_field(head, MAX_TIMESTAMP_AT, timestamp.to_be_bytes());
        let crc = crc32c::crc32c_append(crc32c::crc32c(&head[ATTRIBUTES_AT..]), records);
        put_field(head, CRC_AT, crc.to_be_bytes());
    }
}

/// Stamps an idempotent producer's identity on a batch: producerId, producerEpoch and
/// baseSequence, then recomputes the CRC. Buffers shorter than a header are untouched.
pub fn set_producer(buf: &mut [u8], producer_id: i64, epoch: i16, base_sequence: i32) {
    if buf.len() < BATCH_HEADER_LEN {
        return;
    }
    buf[PRODUCER_ID_AT..PRODUCER_ID_AT + 8].copy_from_slice(&producer_id.to_be_bytes());
    buf[PRODUCER_EPOCH_AT..PRODUCER_EPOCH_AT + 2].copy_from_slice(&epoch.to_be_bytes());
    buf[BASE_SEQUENCE_AT..BASE_SEQUENCE_AT + 4].copy_from_slice(&base_sequence.to_be_bytes());
    write_crc(buf);
}

/// Marks a broker-built batch as a transaction's control batch (attribute bits 4
/// and 5), then recomputes the CRC: how commit and abort markers are written.
/// Buffers shorter than a header are untouched.
pub fn set_transactional_control(buf: &mut [u8]) {
    if buf.len() < BATCH_HEADER_LEN {
        return;
    }
    let attributes = i16::from_be_bytes([buf[ATTRIBUTES_AT], buf[ATTRIBUTES_AT + 1]]);
    let attributes = attributes | TRANSACTIONAL_BIT | CONTROL_BIT;
    buf[ATTRIBUTES_AT..ATTRIBUTES_AT + 2].copy_from_slice(&attributes.to_be_bytes());
    write_crc(buf);
}

/// Recomputes and stores the CRC of a batch at least a header long.
pub(super) fn write_crc(buf: &mut [u8]) {
    let crc = compute_crc(buf);
    buf[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
}
