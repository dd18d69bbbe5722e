//! Records inside a batch: encoding a producer's records and decoding stored ones.

use std::borrow::Cow;

use bytes::Bytes;

use super::BatchError;
use super::header::*;
use crate::log::varint::{get_varint, get_varlong, put_varint, put_varlong};

pub use crate::record::Record;

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
        // Java wraps on overflow; the decoder's wrapping add undoes it exactly.
        put_record(
            &mut out,
            &mut body,
            record.timestamp.wrapping_sub(base_timestamp),
            offset_delta,
            (record.key.as_deref(), record.value.as_deref()),
            &record.headers,
        )?;
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

/// Appends one v2 record to `out`: its length, then attributes, timestamp and offset
/// deltas, key, value and headers (`body` is scratch space, reused across records).
pub(super) fn put_record(
    out: &mut Vec<u8>,
    body: &mut Vec<u8>,
    timestamp_delta: i64,
    offset_delta: i32,
    (key, value): (Option<&[u8]>, Option<&[u8]>),
    headers: &[(String, Option<Bytes>)],
) -> Result<(), BatchError> {
    body.clear();
    body.push(0); // record attributes: unused in v2
    put_varlong(body, timestamp_delta);
    put_varint(body, offset_delta);
    put_nullable(body, key, "key")?;
    put_nullable(body, value, "value")?;
    put_varint(body, to_i32(headers.len(), "header count")?);
    for (k, v) in headers {
        put_nullable(body, Some(k.as_bytes()), "header key")?;
        put_nullable(body, v.as_deref(), "header value")?;
    }
    put_varint(out, to_i32(body.len(), "record")?);
    out.extend_from_slice(body);
    Ok(())
}

pub(super) fn to_i32(len: usize, what: &'static str) -> Result<i32, BatchError> {
    i32::try_from(len).map_err(|_| BatchError::TooLarge { what, len })
}

/// Writes a varint length (-1 for null) followed by the bytes.
pub(super) fn put_nullable(
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
/// Records may leave offset gaps (a compacted batch).
pub fn decode_records(batch: &[u8]) -> Result<Vec<StoredRecord>, BatchError> {
    let header = validate_stored(batch)?;
    if header.is_control() {
        return Ok(Vec::new());
    }
    let records = records_section(&header, batch)?;
    parse_records(&header, &records)
}

/// The uncompressed records section, decompressed if the batch is compressed.
pub(super) fn records_section<'b>(
    header: &BatchHeader,
    batch: &'b [u8],
) -> Result<Cow<'b, [u8]>, BatchError> {
    let raw = batch.get(BATCH_HEADER_LEN..).unwrap_or_default();
    match header.compression()? {
        Compression::None => Ok(Cow::Borrowed(raw)),
        codec => crate::log::compression::decompress(codec, raw).map(Cow::Owned),
    }
}

pub(super) fn parse_records(
    header: &BatchHeader,
    section: &[u8],
) -> Result<Vec<StoredRecord>, BatchError> {
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
