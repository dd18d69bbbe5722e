//! Rewriting a stored batch with fewer records, for log compaction.
//!
//! Like Kafka's `MemoryRecords.filterTo`, the rewritten batch keeps the original's
//! base offset, last offset delta, producer id, epoch, base sequence and attributes, so
//! offsets keep their meaning (records keep theirs, leaving gaps) and an idempotent
//! producer's last sequence survives even when no record does.

use super::BatchError;
use super::header::*;
use super::record::{StoredRecord, put_record, to_i32};

/// Builds the batch `original` becomes when only `records` (a subset of its own, in
/// order) are kept. The records section is compressed again with the original's codec.
/// With `delete_horizon`,
/// the batch is marked with it (KIP-534): baseTimestamp holds the horizon and record
/// timestamps become deltas from it. An empty `records` gives a header-only batch.
pub fn rebuild_batch(
    original: &BatchHeader,
    records: &[StoredRecord],
    delete_horizon: Option<i64>,
) -> Result<Vec<u8>, BatchError> {
    let base_timestamp = delete_horizon
        .or(original.delete_horizon())
        .unwrap_or(original.base_timestamp);
    let mut out = vec![0u8; BATCH_HEADER_LEN];
    let mut body = Vec::new();
    for record in records {
        let delta = record
            .offset
            .checked_sub(original.base_offset)
            .and_then(|d| i32::try_from(d).ok())
            .filter(|d| (0..=original.last_offset_delta).contains(d))
            .ok_or(BatchError::OffsetOverflow {
                base_offset: original.base_offset,
                delta: original.last_offset_delta,
            })?;
        put_record(
            &mut out,
            &mut body,
            record.timestamp.wrapping_sub(base_timestamp),
            delta,
            (record.key.as_deref(), record.value.as_deref()),
            &record.headers,
        )?;
    }
    let codec = original.compression()?;
    if codec != Compression::None && !records.is_empty() {
        let packed = crate::log::compression::compress(codec, &out[BATCH_HEADER_LEN..])?;
        out.truncate(BATCH_HEADER_LEN);
        out.extend_from_slice(&packed);
    }
    // An empty batch has no records section to compress.
    let mut attributes = if records.is_empty() {
        original.attributes & !COMPRESSION_MASK
    } else {
        original.attributes
    };
    if delete_horizon.is_some() {
        attributes |= DELETE_HORIZON_BIT;
    }
    let header = BatchHeader {
        batch_length: to_i32(out.len() - LOG_OVERHEAD, "batch")?,
        crc: 0,
        attributes,
        base_timestamp,
        record_count: to_i32(records.len(), "record count")?,
        ..*original
    };
    out[..BATCH_HEADER_LEN].copy_from_slice(&header.to_bytes());
    write_crc(&mut out);
    Ok(out)
}
