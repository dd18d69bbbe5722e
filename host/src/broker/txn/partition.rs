//! One partition's view of transactions: which producers have a transaction
//! open on it (the first offset of each bounds the last stable offset) and the
//! aborted transactions `read_committed` readers must drop (Kafka's `.txnindex`).
//!
//! Both follow from the log alone (transactional batches open a transaction,
//! markers close it), so the state is rebuilt by a header scan of the whole
//! partition on first use after a start and can never disagree with the log.
//! Partitions that never held a transactional batch (no `has-transactions`
//! file) skip the scan.

use std::collections::BTreeMap;
use std::path::Path;

use crate::log::batch::BatchHeader;
use crate::log::segment::sync_dir;
use crate::log::{LogError, PartitionLog};

/// An empty file in a partition's directory, made durable before the
/// partition's first transactional batch: a partition without it never held
/// one, so its state is empty without the scan (most partitions, and every
/// partition of a data directory from before transactions).
const HAS_TRANSACTIONS: &str = "has-transactions";

/// Makes sure the partition in `dir` is marked as holding transactions.
pub fn mark(dir: &Path) -> Result<(), LogError> {
    let path = dir.join(HAS_TRANSACTIONS);
    if path.exists() {
        return Ok(());
    }
    std::fs::File::create(&path)
        .and_then(|f| f.sync_all())
        .map_err(LogError::io("creating", &path))?;
    sync_dir(dir)
}

use super::marker::{self, Marker};

/// An aborted transaction as a fetch response lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTxn {
    /// The producer whose records from `first_offset` on are dropped.
    pub producer_id: i64,
    /// Offset of the transaction's first record on this partition.
    pub first_offset: i64,
    /// Offset of its abort marker.
    pub last_offset: i64,
}

/// Open transactions and aborted ones of one partition.
#[derive(Debug, Default)]
pub struct PartitionTxns {
    /// Producer id → offset of its open transaction's first batch here.
    open: BTreeMap<i64, i64>,
    /// In marker order (so by `last_offset`).
    aborted: Vec<AbortedTxn>,
}

impl PartitionTxns {
    /// Notes an appended batch: a transactional data batch opens (or continues)
    /// its producer's transaction here. Applying a batch twice changes nothing.
    pub fn on_batch(&mut self, header: &BatchHeader) {
        if header.is_transactional() && !header.is_control() && header.producer_id >= 0 {
            self.open
                .entry(header.producer_id)
                .or_insert(header.base_offset);
        }
    }

    /// Notes an appended marker at `offset`: the producer's open transaction
    /// ends; an aborted one is remembered. A marker with no open transaction
    /// (a partition added but never written, or a marker rewritten by recovery)
    /// changes nothing.
    pub fn on_marker(&mut self, producer_id: i64, marker: Marker, offset: i64) {
        let Some(first_offset) = self.open.remove(&producer_id) else {
            return;
        };
        if marker == Marker::Abort {
            self.aborted.push(AbortedTxn {
                producer_id,
                first_offset,
                last_offset: offset,
            });
        }
    }

    /// The first offset of the oldest open transaction: nothing at or after it
    /// is stable. `None` when no transaction is open.
    pub fn first_unstable(&self) -> Option<i64> {
        self.open.values().min().copied()
    }

    /// The last stable offset under `high_watermark`: the first offset of the oldest
    /// open transaction, or the high watermark when none is open.
    pub fn last_stable(&self, high_watermark: i64) -> i64 {
        self.first_unstable()
            .map_or(high_watermark, |f| f.min(high_watermark))
    }

    /// Producer ids with a transaction open here.
    pub fn open_producers(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.open.iter().map(|(&p, &o)| (p, o))
    }

    /// Aborted transactions a reader of `[from, below)` must know of: those
    /// ending at or after `from` and starting before `below`.
    pub fn aborted_between(&self, from: i64, below: i64) -> Vec<AbortedTxn> {
        let start = self.aborted.partition_point(|a| a.last_offset < from);
        self.aborted[start..]
            .iter()
            .filter(|a| a.first_offset < below)
            .copied()
            .collect()
    }

    /// Forgets aborted transactions wholly before `log_start` (retention or
    /// DeleteRecords removed their records), so the list is bounded by the log.
    pub fn forget_before(&mut self, log_start: i64) {
        let gone = self.aborted.partition_point(|a| a.last_offset < log_start);
        if gone > 0 {
            self.aborted.drain(..gone);
        }
    }

    /// Rebuilds the state from every batch header of `log`, reading the
    /// (one-record) control batches whole to learn commit from abort.
    /// Batches wholly before the log start (DeleteRecords can move it inside a
    /// segment) are left out: they cannot be read, and a transaction whose
    /// first batches went opens at its first batch still there.
    pub fn rebuild(log: &PartitionLog) -> Result<PartitionTxns, LogError> {
        if !log.dir().join(HAS_TRANSACTIONS).exists() {
            return Ok(PartitionTxns::default());
        }
        let log_start = log.stats().log_start_offset;
        let mut seen: Vec<BatchHeader> = Vec::new();
        log.for_each_tail_header(usize::MAX, |h| {
            if h.is_transactional() && h.producer_id >= 0 && h.last_offset() >= log_start {
                seen.push(*h);
            }
        })?;
        let mut txns = PartitionTxns::default();
        for h in seen {
            if !h.is_control() {
                txns.on_batch(&h);
                continue;
            }
            let read = log.read(h.base_offset, h.total_len())?;
            if let Some(m) = marker::decode(&read.bytes) {
                txns.on_marker(h.producer_id, m, h.base_offset);
            }
        }
        Ok(txns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pid: i64, base: i64) -> BatchHeader {
        let mut h = BatchHeader::parse(
            &crate::log::batch::encode_batch(&[crate::log::batch::Record::default()], base)
                .unwrap(),
        )
        .unwrap();
        h.producer_id = pid;
        h.attributes |= 0x10;
        h
    }

    #[test]
    fn open_transactions_bound_stability_and_aborts_are_listed() {
        let mut t = PartitionTxns::default();
        t.on_batch(&data(1, 10));
        t.on_batch(&data(2, 12));
        t.on_batch(&data(1, 14));
        assert_eq!(t.first_unstable(), Some(10));
        t.on_marker(1, Marker::Abort, 15);
        assert_eq!(t.first_unstable(), Some(12));
        t.on_marker(2, Marker::Commit, 16);
        assert_eq!(t.first_unstable(), None);
        // A repeated marker is a no-op.
        t.on_marker(1, Marker::Abort, 17);
        let one = AbortedTxn {
            producer_id: 1,
            first_offset: 10,
            last_offset: 15,
        };
        assert_eq!(t.aborted_between(0, 100), vec![one]);
        assert_eq!(t.aborted_between(15, 100), vec![one]);
        assert!(t.aborted_between(16, 100).is_empty());
        assert!(t.aborted_between(0, 10).is_empty());
        t.forget_before(16);
        assert!(t.aborted_between(0, 100).is_empty());
    }

    #[test]
    fn plain_batches_open_nothing() {
        let mut t = PartitionTxns::default();
        let mut h = data(1, 0);
        h.attributes = 0;
        t.on_batch(&h);
        assert_eq!(t.first_unstable(), None);
    }
}
