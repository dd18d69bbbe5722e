//! What one stored batch becomes in the cleaned log, by Kafka's rules: a record is
//! dropped when the offset map holds a later record of its key, when it has no key,
//! or when it is a tombstone whose batch's delete horizon has passed. A tombstone
//! kept for the first time marks its batch with a horizon `delete.retention.ms`
//! ahead (KIP-534), so it stays readable that long after the first cleaning that saw it.
//! A data batch of an aborted transaction is dropped whole; its markers stay (a
//! marker with no data before it closes nothing when the broker rebuilds its state).

use std::collections::HashMap;

use crate::log::batch::{self, BatchError, BatchHeader};

use super::aborted::AbortedSet;
use super::offset_map::OffsetMap;

/// The fate of one batch.
#[derive(Debug, PartialEq, Eq)]
pub enum Retained {
    /// Copied unchanged.
    Whole,
    /// Replaced by these bytes (fewer records, or a new delete horizon).
    Rewritten(Vec<u8>),
    /// Gone from the cleaned log.
    Dropped,
}

/// The rules of one pass.
#[derive(Debug)]
pub struct Retainer<'a> {
    /// Latest offset of each key in the dirty section.
    pub map: &'a OffsetMap,
    /// Base offset of each idempotent producer's last batch in the log: that batch
    /// keeps its header even when emptied, so the producer's sequence survives.
    pub producer_last: &'a HashMap<i64, i64>,
    /// The pass's clock.
    pub now: i64,
    /// `delete.retention.ms`.
    pub delete_retention_ms: i64,
    /// Transactions that aborted: their data batches go.
    pub aborted: &'a AbortedSet,
}

impl Retainer<'_> {
    /// Decides what `bytes` (one whole stored batch) becomes; returns it and how
    /// many records were dropped.
    pub fn batch(&self, header: &BatchHeader, bytes: &[u8]) -> Result<(Retained, u64), BatchError> {
        // Transaction markers are not compacted (transactions own their life cycle).
        if header.is_control() {
            return Ok((Retained::Whole, 0));
        }
        let last_of_producer = header.producer_id >= 0
            && self.producer_last.get(&header.producer_id) == Some(&header.base_offset);
        if self.aborted.holds(header) {
            let removed = u64::from(header.record_count.max(0).unsigned_abs());
            return Ok(if last_of_producer {
                (
                    Retained::Rewritten(batch::rebuild_batch(header, &[], None)?),
                    removed,
                )
            } else {
                (Retained::Dropped, removed)
            });
        }
        let records = batch::decode_records(bytes)?;
        let tombstones_expired = header.delete_horizon().is_some_and(|h| self.now >= h);
        let total = records.len();
        let kept: Vec<_> = records
            .into_iter()
            .filter(|r| {
                let Some(key) = &r.key else { return false };
                if self.map.get(key).is_some_and(|latest| r.offset < latest) {
                    return false;
                }
                r.value.is_some() || !tombstones_expired
            })
            .collect();
        let removed = (total - kept.len()) as u64;
        let needs_horizon =
            header.delete_horizon().is_none() && kept.iter().any(|r| r.value.is_none());
        let horizon = needs_horizon.then(|| self.now.saturating_add(self.delete_retention_ms));
        if removed == 0 && horizon.is_none() {
            return Ok((Retained::Whole, 0));
        }
        if kept.is_empty() && !last_of_producer {
            return Ok((Retained::Dropped, removed));
        }
        let rebuilt = batch::rebuild_batch(header, &kept, horizon)?;
        Ok((Retained::Rewritten(rebuilt), removed))
    }
}
