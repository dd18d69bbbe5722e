//! [`CachedState`]: a table's state (the rows of a `table` or `global_table` source, or a
//! `to_table` step) with a bounded in-memory copy of what was read and written in front
//! of the task's overlay and sled tree.
//!
//! A stream–table join looks every stream record's key up in the table: through the
//! overlay's lock and a sled read, that lookup was most of a join's cost. Every reader
//! and writer of one table slot in a task shares one cache (the chain builds one per
//! slot), and every write goes through it, so the copy is never stale within the task.
//! Writes undone (a failed round discarded, a record retried) change the overlay's
//! generation, and the whole copy is dropped; a crash loses it with the rest of memory,
//! and the replay reads the committed rows anew. Misses are kept too (a key the table
//! does not have), since inner and left joins look those up as often as hits.

use std::collections::HashMap;
use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

use crate::runtime::state::{Entries, StateBackend, StateError};

use super::state::StepState;

/// The default of `pipelines.max_table_cache_bytes`: 64 MiB a table per task.
pub const DEFAULT_MAX_TABLE_CACHE_BYTES: usize = 64 << 20;

/// What one cached entry costs beyond its key and value bytes (the map's slot, the two
/// vectors' headers), bytes.
const ENTRY_OVERHEAD: usize = 64;

/// The cached rows of one table slot.
#[derive(Debug, Default)]
struct Rows {
    /// The overlay generation the entries were read or written at.
    generation: u64,
    /// Key to value (`None`: the table has no such key); shared, so that a join's
    /// lookup takes the value without copying it.
    entries: HashMap<Vec<u8>, Option<Bytes>>,
    /// What the entries cost, bytes ([`ENTRY_OVERHEAD`] each plus key and value).
    bytes: usize,
}

/// Cost of one entry, bytes.
fn cost(key: &[u8], value: Option<&[u8]>) -> usize {
    ENTRY_OVERHEAD + key.len() + value.map_or(0, <[u8]>::len)
}

impl Rows {
    /// Drops everything if writes were undone since the entries were made.
    fn check(&mut self, generation: u64) {
        if self.generation != generation {
            self.entries.clear();
            self.bytes = 0;
            self.generation = generation;
        }
    }

    /// Sets `key`'s entry, keeping the total within `max` bytes: an entry that does not
    /// fit empties the cache first (a table larger than the cache refills it from the
    /// store; a bounded cost, where a recency order would cost every hit).
    fn set(&mut self, key: &[u8], value: Option<Bytes>, max: usize) {
        let added = cost(key, value.as_deref());
        if let Some(old) = self.entries.remove(key) {
            self.bytes -= cost(key, old.as_deref());
        }
        if added > max {
            return;
        }
        if self.bytes + added > max {
            self.entries.clear();
            self.bytes = 0;
        }
        self.entries.insert(key.to_vec(), value);
        self.bytes += added;
    }
}

/// A table slot's state with its cache; clones share the cache.
#[derive(Debug, Clone)]
pub struct CachedState {
    inner: StepState,
    rows: Arc<Mutex<Rows>>,
    /// `pipelines.max_table_cache_bytes`.
    max_bytes: usize,
}

impl CachedState {
    /// `inner` with an empty cache of at most `max_bytes`.
    pub fn new(inner: StepState, max_bytes: usize) -> CachedState {
        CachedState {
            inner,
            rows: Arc::new(Mutex::new(Rows::default())),
            max_bytes,
        }
    }

    /// Bytes the cache holds (tests).
    #[cfg(test)]
    pub fn cached_bytes(&self) -> usize {
        self.rows.lock().bytes
    }
}

impl StateBackend for CachedState {
    fn generation(&self) -> u64 {
        self.inner.generation()
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.get_shared(key)?.map(|v| v.to_vec()))
    }

    fn get_shared(&self, key: &[u8]) -> Result<Option<Bytes>, StateError> {
        let generation = self.inner.generation();
        {
            let mut rows = self.rows.lock();
            rows.check(generation);
            if let Some(found) = rows.entries.get(key) {
                return Ok(found.clone());
            }
        }
        let found = self.inner.get(key)?.map(Bytes::from);
        let mut rows = self.rows.lock();
        rows.check(generation);
        rows.set(key, found.clone(), self.max_bytes);
        Ok(found)
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StateError> {
        self.inner.put(key, value)?;
        let generation = self.inner.generation();
        let mut rows = self.rows.lock();
        rows.check(generation);
        rows.set(key, Some(Bytes::copy_from_slice(value)), self.max_bytes);
        Ok(())
    }

    fn delete(&mut self, key: &[u8]) -> Result<(), StateError> {
        self.inner.delete(key)?;
        let generation = self.inner.generation();
        let mut rows = self.rows.lock();
        rows.check(generation);
        rows.set(key, None, self.max_bytes);
        Ok(())
    }

    fn range(
        &self,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        limit: usize,
    ) -> Result<Entries, StateError> {
        self.inner.range(start, end, limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::state::Overlay;
    use crate::pipeline::state::tests::tree;

    #[test]
    fn writes_through_one_clone_are_read_through_another() {
        let (_d, tree) = tree();
        let overlay = Overlay::default();
        let mut writer =
            CachedState::new(StepState::new(tree.clone(), 0, overlay.clone()), 1 << 20);
        let reader = writer.clone();
        assert_eq!(reader.get(b"k").unwrap(), None, "a miss is cached");
        writer.put(b"k", b"v1").unwrap();
        assert_eq!(reader.get(b"k").unwrap().as_deref(), Some(&b"v1"[..]));
        writer.delete(b"k").unwrap();
        assert_eq!(reader.get(b"k").unwrap(), None);
    }

    #[test]
    fn undone_writes_drop_the_cache() {
        let (_d, tree) = tree();
        let overlay = Overlay::default();
        let mut t = CachedState::new(StepState::new(tree.clone(), 0, overlay.clone()), 1 << 20);
        t.put(b"k", b"held").unwrap();
        overlay.hold_round();
        t.put(b"k", b"discarded").unwrap();
        assert_eq!(t.get(b"k").unwrap().as_deref(), Some(&b"discarded"[..]));
        overlay.discard_round();
        assert_eq!(
            t.get(b"k").unwrap().as_deref(),
            Some(&b"held"[..]),
            "the failed round's write is not served from memory"
        );
        let snapshot = overlay.snapshot();
        t.put(b"k", b"retried").unwrap();
        overlay.restore(snapshot);
        assert_eq!(t.get(b"k").unwrap().as_deref(), Some(&b"held"[..]));
    }

    #[test]
    fn the_cache_stays_within_its_bytes() {
        let (_d, tree) = tree();
        let overlay = Overlay::default();
        let max = 10 * (ENTRY_OVERHEAD + 8);
        let mut t = CachedState::new(StepState::new(tree.clone(), 0, overlay.clone()), max);
        for i in 0..1000u32 {
            t.put(&i.to_be_bytes(), b"four").unwrap();
            assert!(t.cached_bytes() <= max, "{} > {max}", t.cached_bytes());
        }
        // Every row is still there: the cache only forgot.
        for i in 0..1000u32 {
            assert_eq!(
                t.get(&i.to_be_bytes()).unwrap().as_deref(),
                Some(&b"four"[..])
            );
        }
        let big = vec![0u8; max];
        t.put(b"big", &big).unwrap();
        assert!(t.cached_bytes() <= max);
        assert_eq!(t.get(b"big").unwrap().unwrap().len(), max);
    }

    /// Random writes, reads, held, discarded and retried rounds, commits and crashes
    /// (memory lost, the committed tree kept), with caches small enough to empty often:
    /// every read through the cache equals the same read through the overlay and tree.
    #[test]
    fn the_cache_reads_what_the_store_holds_through_rounds_and_crashes() {
        use rand::{Rng, SeedableRng};
        for seed in 0..20u64 {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let (_d, tree) = tree();
            let max = [0, 200, 1000, 1 << 20][seed as usize % 4];
            let mut overlay = Overlay::default();
            let mut cached =
                CachedState::new(StepState::new(tree.clone(), 0, overlay.clone()), max);
            let mut reader = cached.clone();
            let mut plain = StepState::new(tree.clone(), 0, overlay.clone());
            let mut snapshot = None;
            for step in 0..2000 {
                let key = [b'k', rng.random_range(0..24u8)];
                match rng.random_range(0..100) {
                    0..40 => {
                        let value = vec![step as u8; rng.random_range(0..40)];
                        cached.put(&key, &value).unwrap();
                    }
                    40..50 => cached.delete(&key).unwrap(),
                    50..85 => assert_eq!(
                        reader.get(&key).unwrap(),
                        plain.get(&key).unwrap(),
                        "seed {seed} step {step}"
                    ),
                    85..89 => overlay.hold_round(),
                    89..92 => overlay.discard_round(),
                    92..94 => snapshot = Some(overlay.snapshot()),
                    94..96 => {
                        if let Some(s) = snapshot.take() {
                            overlay.restore(s);
                        }
                    }
                    96..99 => {
                        let writes = overlay.take();
                        for (k, v) in writes {
                            match v {
                                Some(v) => tree.insert(k, v).unwrap(),
                                None => tree.remove(k).unwrap(),
                            };
                        }
                    }
                    _ => {
                        // A crash: uncommitted writes and every cache are gone.
                        overlay = Overlay::default();
                        snapshot = None;
                        cached =
                            CachedState::new(StepState::new(tree.clone(), 0, overlay.clone()), max);
                        reader = cached.clone();
                        plain = StepState::new(tree.clone(), 0, overlay.clone());
                    }
                }
                assert!(cached.cached_bytes() <= max);
            }
        }
    }
}
