//! Records inside a batch: encoding a producer's records and decoding stored ones.

use bytes::Bytes;

use super::header::*;
use super::view::{RecordView, RecordWalk, records_section};
use super::{BatchError, DecodeLimits};
use crate::log::varint::{put_varint, put_varlong};

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
/// Records may leave offset gaps (a compacted batch). Readers' bounds
/// ([`DecodeLimits::READER`]) apply: what produce let in always decodes.
pub fn decode_records(batch: &[u8]) -> Result<Vec<StoredRecord>, BatchError> {
    let header = validate_stored(batch)?;
    if header.is_control() {
        return Ok(Vec::new());
    }
    let limits = DecodeLimits::READER;
    let section = records_section(&header, batch, limits.max_decoded_bytes)?;
    let mut walk = RecordWalk::new(&header, &section, &limits)?;
    // RecordWalk::new checked the count against the section's length.
    let mut records = Vec::with_capacity(walk.declared());
    for view in &mut walk {
        records.push(owned(&header, view?)?);
    }
    walk.finish()?;
    Ok(records)
}

/// An owned record from a view of one of `header`'s records.
fn owned(header: &BatchHeader, view: RecordView<'_>) -> Result<StoredRecord, BatchError> {
    let offset = header
        .base_offset
        .checked_add(i64::from(view.offset_delta))
        .ok_or(BatchError::OffsetOverflow {
            base_offset: header.base_offset,
            delta: view.offset_delta,
        })?;
    let timestamp = match header.timestamp_type() {
        TimestampType::LogAppendTime => header.max_timestamp,
        TimestampType::CreateTime => header.base_timestamp.wrapping_add(view.timestamp_delta),
    };
    let mut headers = Vec::with_capacity(view.headers.len());
    headers.extend(
        view.headers
            .map(|(k, v)| (k.to_owned(), v.map(Bytes::copy_from_slice))),
    );
    Ok(StoredRecord {
        offset,
        timestamp,
        key: view.key.map(Bytes::copy_from_slice),
        value: view.value.map(Bytes::copy_from_slice),
        headers,
    })
}
