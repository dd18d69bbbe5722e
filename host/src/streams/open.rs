//! [`OpenWindows`]: one task's open tumbling and hopping windows in memory, between
//! batches, in front of the step's state store.
//!
//! The store stays the truth: at the end of every batch the aggregates it changed are
//! written to the store (the task's overlay, which commits them with the round's outputs
//! and input offsets, once per commit interval), so a crash loses nothing the memory
//! held that a commit had not. What memory saves is every read: a record's windows are
//! found in a hash map instead of through the overlay and the sled tree, windows that
//! close are emitted from memory instead of a range scan, and a window that opens and
//! closes within a batch never reaches the store at all.
//!
//! The memory is valid while the store's [`StateBackend::generation`] is the one it was
//! read at: a round the task discards (a failure) undoes writes the memory already
//! holds, so it is dropped and read again. Past its limit of (window, key) aggregates
//! it is dropped too, and the step reads and writes the store as before until every
//! window open then has closed.

use std::collections::BTreeMap;
use std::ops::Bound;

use indexmap::IndexMap;

use crate::runtime::StateBackend;

use super::aggregate::Kind;
use super::error::StreamsError;
use super::store::{self, Aggregate, split_window_key, window_key};
use super::window::TimeWindows;

/// (Window, key) aggregates a task keeps in memory unless configured otherwise
/// (`pipelines.max_open_windows`).
pub const DEFAULT_MAX_OPEN_WINDOWS: usize = 1_000_000;

/// One (window, key)'s aggregate in memory.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    /// The aggregate.
    pub agg: Aggregate,
    /// Whether the store holds it (read from it, or written since): only then does
    /// the window's expiry delete it there.
    pub stored: bool,
    /// The input record of the running batch that last changed it, if one did.
    pub touched: Option<u32>,
}

/// One window's keys, in insertion order: entries are never removed one by one (a
/// window goes whole), so an index names an entry for the batch.
pub(super) type Keys = IndexMap<Box<[u8]>, Entry>;

/// Every open window of a step, as read from the store and changed since.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Window start → its keys' aggregates.
    pub(super) windows: BTreeMap<i64, Keys>,
    /// (Window, key) aggregates held.
    pub(super) len: usize,
    /// Entries the running batch changed: (window start, index in its keys).
    pub(super) dirty: Vec<(i64, usize)>,
    /// The store's generation the memory matches.
    generation: u64,
}

impl Loaded {
    /// The aggregate of `key` in the window starting at `start`, if it has one.
    pub(super) fn get(&self, start: i64, key: &[u8]) -> Option<&Aggregate> {
        self.windows.get(&start)?.get(key).map(|e| &e.agg)
    }

    /// Sets `key`'s aggregate in the window starting at `start`, changed by input
    /// record `source` of the running batch.
    pub(super) fn set(&mut self, start: i64, key: &[u8], agg: Aggregate, source: u32) {
        let keys = self.windows.entry(start).or_default();
        // Looked up by the borrowed key first: a boxed copy is made only for a new entry.
        let index = match keys.get_index_of(key) {
            Some(i) => {
                if let Some((_, e)) = keys.get_index_mut(i) {
                    e.agg = agg;
                }
                i
            }
            None => {
                self.len += 1;
                keys.insert_full(
                    key.into(),
                    Entry {
                        agg,
                        stored: false,
                        touched: None,
                    },
                )
                .0
            }
        };
        if let Some((_, e)) = keys.get_index_mut(index) {
            if e.touched.is_none() {
                self.dirty.push((start, index));
            }
            e.touched = Some(source);
        }
    }

    /// Takes the running batch's changed entries, in (start, key) order: (start, key,
    /// the record that last changed it, its aggregate), marking each unchanged again.
    pub(super) fn take_dirty(&mut self) -> Vec<(i64, Box<[u8]>, u32, Aggregate)> {
        let mut out = Vec::with_capacity(self.dirty.len());
        for (start, index) in self.dirty.drain(..) {
            if let Some((k, e)) = self
                .windows
                .get_mut(&start)
                .and_then(|keys| keys.get_index_mut(index))
                && let Some(source) = e.touched.take()
            {
                out.push((start, k.clone(), source, e.agg.clone()));
            }
        }
        out.sort_unstable_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        out
    }

    /// Marks `key`'s entry in the window starting at `start` as held by the store.
    pub(super) fn mark_stored(&mut self, start: i64, key: &[u8]) {
        if let Some(e) = self
            .windows
            .get_mut(&start)
            .and_then(|keys| keys.get_mut(key))
        {
            e.stored = true;
        }
    }

    /// Removes and returns every window starting at or before `through`.
    pub(super) fn take_through(&mut self, through: i64) -> Vec<(i64, Keys)> {
        let later = match through.checked_add(1) {
            Some(next) => self.windows.split_off(&next),
            None => BTreeMap::new(),
        };
        let taken = std::mem::replace(&mut self.windows, later);
        let taken: Vec<(i64, Keys)> = taken.into_iter().collect();
        self.len -= taken.iter().map(|(_, k)| k.len()).sum::<usize>();
        taken
    }

    /// The windows starting in `(after, through]`, oldest first.
    pub(super) fn between(&self, after: Option<i64>, through: i64) -> Vec<(i64, &Keys)> {
        if after.is_some_and(|a| a >= through) {
            return Vec::new();
        }
        let lo = after.map_or(Bound::Unbounded, Bound::Excluded);
        self.windows
            .range((lo, Bound::Included(through)))
            .map(|(start, keys)| (*start, keys))
            .collect()
    }
}

/// Where a task's windows are.
#[derive(Debug, Default)]
enum Phase {
    /// Not read from the store yet, or dropped since (a discarded round).
    #[default]
    Cold,
    /// Every open window of the step is in memory.
    Loaded(Loaded),
    /// More (window, key) aggregates were open than the limit: the step reads and
    /// writes the store until stream time reaches `retry_at`, when every window open
    /// then has closed, and memory is tried again.
    Spilled {
        /// Stream time at which loading is tried again.
        retry_at: i64,
        /// The store's generation when the `on_update` results memory left to the
        /// commit were last emitted ([`OpenWindows::owes_updates`]), if they were.
        paid: Option<u64>,
    },
}

/// One task's open windows in memory, at most `limit` (window, key) aggregates.
#[derive(Debug)]
pub struct OpenWindows {
    limit: usize,
    phase: Phase,
    /// Whether `on_update` results are built at the commit (see [`super::pending`]).
    defer: bool,
}

impl OpenWindows {
    /// Nothing in memory yet; at most `limit` (window, key) aggregates once loaded.
    pub fn new(limit: usize) -> OpenWindows {
        OpenWindows {
            limit,
            phase: Phase::Cold,
            defer: false,
        }
    }

    /// Leaves the `on_update` results of windows still open to be built at the
    /// commit, from the store's uncommitted writes
    /// ([`super::Aggregation::uncommitted_updates`]): the store must tell them
    /// ([`StateBackend::uncommitted`]).
    pub fn defer_updates(&mut self) {
        self.defer = true;
    }

    /// Whether [`OpenWindows::defer_updates`] was asked for.
    pub fn defers_updates(&self) -> bool {
        self.defer
    }

    /// Whether the windows are in memory now (not cold, not spilled).
    pub fn is_loaded(&self) -> bool {
        matches!(self.phase, Phase::Loaded(_))
    }

    /// (Window, key) aggregates in memory.
    pub fn len(&self) -> usize {
        match &self.phase {
            Phase::Loaded(l) => l.len,
            _ => 0,
        }
    }

    /// Whether no aggregate is in memory.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The windows in memory for a batch at `stream_time`, read from the store if they
    /// are not yet (or no longer) valid; `None` while spilled: use the store.
    pub(super) fn ready(
        &mut self,
        store: &dyn StateBackend,
        windows: TimeWindows,
        stream_time: Option<i64>,
        kind: Kind,
    ) -> Result<Option<&mut Loaded>, StreamsError> {
        let generation = store.generation();
        let stale = match &self.phase {
            Phase::Cold => true,
            Phase::Loaded(l) => l.generation != generation,
            Phase::Spilled { retry_at, .. } => stream_time.is_some_and(|t| t >= *retry_at),
        };
        if stale {
            self.phase = match load(store, windows, stream_time, kind, self.limit)? {
                Some(mut loaded) => {
                    loaded.generation = generation;
                    Phase::Loaded(loaded)
                }
                None => Phase::Spilled {
                    retry_at: spill_until(windows, stream_time),
                    paid: None,
                },
            };
        }
        Ok(match &mut self.phase {
            Phase::Loaded(l) => Some(l),
            _ => None,
        })
    }

    /// Drops the memory if it holds more than the limit (its changes are in the store):
    /// the step goes on through the store until every window open now has closed.
    pub(super) fn spill_if_over(&mut self, windows: TimeWindows, stream_time: Option<i64>) {
        if let Phase::Loaded(l) = &self.phase
            && l.len > self.limit
        {
            tracing::warn!(
                open = l.len,
                limit = self.limit,
                "more open windows than pipelines.max_open_windows: this task's windowed \
                 step reads and writes its state store until they close"
            );
            self.phase = Phase::Spilled {
                retry_at: spill_until(windows, stream_time),
                paid: None,
            };
        }
    }

    /// Whether a batch going through the store (spilled) must first emit the results
    /// of open windows that memory left to the commit (see [`super::pending`]): the
    /// store path closes windows emitting only what its own batches changed. Once per
    /// spill, and again after a discarded round undid that batch (the store's
    /// `generation` moved).
    pub(super) fn owes_updates(&mut self, generation: u64) -> bool {
        match &mut self.phase {
            Phase::Spilled { paid, .. } if self.defer && *paid != Some(generation) => {
                *paid = Some(generation);
                true
            }
            _ => false,
        }
    }

    /// Forgets what memory holds (the store has all of it): read again at the next use.
    pub fn forget(&mut self) {
        self.phase = Phase::Cold;
    }
}

/// When every window open at `stream_time` has closed.
fn spill_until(windows: TimeWindows, stream_time: Option<i64>) -> i64 {
    stream_time
        .unwrap_or(0)
        .saturating_add(windows.size_ms)
        .saturating_add(windows.grace_ms)
}

/// Entries read per page while loading.
const PAGE: usize = 1024;

/// Every window entry of `store` still open at `stream_time`, or `None` if there are
/// more than `limit`.
fn load(
    store: &dyn StateBackend,
    windows: TimeWindows,
    stream_time: Option<i64>,
    kind: Kind,
    limit: usize,
) -> Result<Option<Loaded>, StreamsError> {
    let mut loaded = Loaded::default();
    let lo = match stream_time {
        Some(t) => {
            match crate::runtime::state::prefix_end(&window_key(windows.last_closed_start(t), &[]))
            {
                Some(lo) => lo,
                None => return Ok(Some(loaded)),
            }
        }
        None => vec![store::WINDOW_TAG],
    };
    let hi = [store::WINDOW_TAG + 1];
    let mut lo = lo;
    loop {
        if lo.as_slice() >= hi.as_slice() {
            break;
        }
        let page = store.range(Bound::Included(&lo), Bound::Excluded(&hi), PAGE)?;
        let full = page.len() == PAGE;
        if let Some((last, _)) = page.last() {
            lo = [last.as_slice(), &[0]].concat();
        }
        for (k, b) in page {
            let Some((start, key)) = split_window_key(&k) else {
                continue;
            };
            let agg = Aggregate::decode(&k, &b, kind)?;
            loaded.windows.entry(start).or_default().insert(
                key.into(),
                Entry {
                    agg,
                    stored: true,
                    touched: None,
                },
            );
            loaded.len += 1;
            if loaded.len > limit {
                return Ok(None);
            }
        }
        if !full {
            break;
        }
    }
    Ok(Some(loaded))
}
