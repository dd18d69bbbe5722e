//! The offset map: for every key in the dirty section, the offset of its last record.
//!
//! Kafka keys it by a hash of fixed size to bound memory; weir keeps the keys
//! themselves (no collision can make it drop a live record) and bounds memory
//! instead by mapping less of the dirty section per pass ([`OffsetMap::is_full`]):
//! a pass stops mapping after the batch that fills the map, even inside a
//! segment, and the next pass goes on from there.

use std::collections::HashMap;

use bytes::Bytes;

/// Memory a pass's map may use before the pass stops taking more segments
/// (Kafka's `log.cleaner.dedupe.buffer.size` default).
pub const MAP_BUDGET_BYTES: usize = 128 << 20;

/// Per-entry overhead counted against the budget besides the key bytes.
const ENTRY_OVERHEAD: usize = 48;

/// Key → offset of its latest record in the dirty section.
#[derive(Debug)]
pub struct OffsetMap {
    latest: HashMap<Bytes, i64>,
    bytes: usize,
    budget: usize,
}

impl OffsetMap {
    /// An empty map that is full once its keys take about `budget` bytes.
    pub fn new(budget: usize) -> OffsetMap {
        OffsetMap {
            latest: HashMap::new(),
            bytes: 0,
            budget,
        }
    }

    /// Records that `key`'s latest record so far is at `offset` (offsets come in order).
    pub fn put(&mut self, key: Bytes, offset: i64) {
        let len = key.len();
        if self.latest.insert(key, offset).is_none() {
            self.bytes += len + ENTRY_OVERHEAD;
        }
    }

    /// The offset of `key`'s latest record in the dirty section, if it has one there.
    pub fn get(&self, key: &[u8]) -> Option<i64> {
        self.latest.get(key).copied()
    }

    /// Whether the map has used its memory budget.
    pub fn is_full(&self) -> bool {
        self.bytes >= self.budget
    }

    /// Number of distinct keys.
    pub fn len(&self) -> usize {
        self.latest.len()
    }

    /// True when no key was put.
    pub fn is_empty(&self) -> bool {
        self.latest.is_empty()
    }
}
