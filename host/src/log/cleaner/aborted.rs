//! The aborted transactions a pass must know of: their records are dropped from
//! the cleaned log, and they never count as a key's latest value, since a
//! `read_committed` reader skips them and would otherwise lose the committed value
//! they shadow (Kafka's cleaner does the same with the `.txnindex`).
//!
//! The log knows nothing of which transactions aborted (markers say so, and the
//! broker keeps the list); the broker hands it to the pass as this set.

use std::collections::HashMap;

use crate::log::batch::BatchHeader;

/// Aborted transactions by producer: `[first_offset, marker_offset]` ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AbortedSet {
    by_producer: HashMap<i64, Vec<(i64, i64)>>,
}

impl AbortedSet {
    /// Notes that `producer_id`'s transaction from `first_offset` to its abort
    /// marker at `marker_offset` aborted.
    pub fn insert(&mut self, producer_id: i64, first_offset: i64, marker_offset: i64) {
        self.by_producer
            .entry(producer_id)
            .or_default()
            .push((first_offset, marker_offset));
    }

    /// Whether `header` is a data batch of an aborted transaction. A producer has
    /// one transaction open at a time, so a transactional batch of the producer
    /// inside one of its aborted ranges belongs to that transaction.
    pub fn holds(&self, header: &BatchHeader) -> bool {
        header.is_transactional()
            && !header.is_control()
            && self
                .by_producer
                .get(&header.producer_id)
                .is_some_and(|ranges| {
                    ranges.iter().any(|&(first, marker)| {
                        first <= header.base_offset && header.base_offset < marker
                    })
                })
    }

    /// Whether no transaction aborted.
    pub fn is_empty(&self) -> bool {
        self.by_producer.is_empty()
    }
}
