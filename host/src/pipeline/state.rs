//! A task's state: every step's keys in the task's sled tree, with the writes of rounds not
//! yet committed held in an overlay until the task commits them together with its input
//! offsets.
//!
//! Key layout of a task tree: `[0, step_hi, step_lo] ++ user key` for step state,
//! `[2, step_hi, step_lo] ++ key` for a processor's window and session stores and its
//! stream clock ([`StateBackend::windows`]), and [`CHECKPOINT_KEY`] for the task's
//! checkpoint, so none collides with another and one `sled::Batch` commits all atomically.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::runtime::state::{Entries, StateBackend, StateError, Uncommitted, check_sizes};

/// Where the task's checkpoint lives in its tree (outside every step's key space).
pub const CHECKPOINT_KEY: &[u8] = &[1];

/// Writes not yet committed: full keys (with the step prefix) to a value or a deletion.
pub type Writes = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// Two layers of writes not yet in the tree: the running round's on top of those of
/// rounds already run but held for a later commit (`commit_interval_ms`).
#[derive(Debug, Default)]
struct Layers {
    /// The running round's writes: discarded if the round fails.
    round: Writes,
    /// Finished rounds' writes, waiting for the task's next commit.
    held: Writes,
    /// Bumped whenever writes are undone (a round discarded or restored), so a step's
    /// in-memory copy of its state knows it has to be read again.
    generation: u64,
}

/// The overlay one task's steps write into; the task holds, commits or discards each
/// round's writes.
#[derive(Debug, Clone, Default)]
pub struct Overlay(Arc<Mutex<Layers>>);

impl Overlay {
    /// Takes every pending write (held rounds', then the running round's over them) to
    /// commit, leaving the overlay empty.
    pub fn take(&self) -> Writes {
        let mut layers = self.0.lock();
        let round = std::mem::take(&mut layers.round);
        let mut all = std::mem::take(&mut layers.held);
        all.extend(round);
        all
    }

    /// Returns writes [`Overlay::take`] took to a commit that failed, under any made since.
    pub fn put_back(&self, mut writes: Writes) {
        let mut layers = self.0.lock();
        writes.extend(std::mem::take(&mut layers.held));
        layers.held = writes;
    }

    /// Drops the running round's writes (it failed); held rounds' stay.
    pub fn discard_round(&self) {
        let mut layers = self.0.lock();
        layers.round.clear();
        layers.generation += 1;
    }

    /// Keeps the finished round's writes for a later commit.
    pub fn hold_round(&self) {
        let mut layers = self.0.lock();
        let round = std::mem::take(&mut layers.round);
        layers.held.extend(round);
    }

    /// Whether the running round wrote nothing.
    pub fn round_is_empty(&self) -> bool {
        self.0.lock().round.is_empty()
    }

    /// A copy of the running round's writes (to restore after a failed record).
    pub fn snapshot(&self) -> Writes {
        self.0.lock().round.clone()
    }

    /// Replaces the running round's writes.
    pub fn restore(&self, writes: Writes) {
        let mut layers = self.0.lock();
        layers.round = writes;
        layers.generation += 1;
    }

    /// How many times writes were undone (see [`StateBackend::generation`]).
    pub fn generation(&self) -> u64 {
        self.0.lock().generation
    }

    /// The pending value of `key`: the running round's, else a held round's.
    fn get(&self, key: &[u8]) -> Option<Option<Vec<u8>>> {
        let layers = self.0.lock();
        layers
            .round
            .get(key)
            .or_else(|| layers.held.get(key))
            .cloned()
    }

    /// Pending writes between `lo` and `hi`, the running round's over held rounds'.
    fn range(&self, lo: Bound<Vec<u8>>, hi: Bound<Vec<u8>>) -> Writes {
        let layers = self.0.lock();
        let mut pending: Writes = layers
            .held
            .range((lo.clone(), hi.clone()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        pending.extend(
            layers
                .round
                .range((lo, hi))
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        pending
    }
}

/// The first byte of a step's window key space (a processor's window and session stores
/// and its stream clock), beside its plain state's 0.
pub const WINDOWS_SPACE: u8 = 2;

/// The prefix of step `step`'s keys in a task tree.
pub fn step_prefix(step: usize) -> [u8; 3] {
    let s = u16::try_from(step).unwrap_or(u16::MAX).to_be_bytes();
    [0, s[0], s[1]]
}

/// One step's view of its task's state: committed values in the tree, pending ones in
/// the overlay. Handed to the runtime as the processor's state backend.
#[derive(Debug, Clone)]
pub struct StepState {
    tree: sled::Tree,
    prefix: [u8; 3],
    overlay: Overlay,
}

fn unavailable(source: sled::Error) -> StateError {
    StateError::Unavailable { source }
}

impl StepState {
    /// Step `step`'s state in `tree`, writing into `overlay`.
    pub fn new(tree: sled::Tree, step: usize, overlay: Overlay) -> StepState {
        StepState {
            tree,
            prefix: step_prefix(step),
            overlay,
        }
    }

    /// The bounds of a scan of this step's keys between `start` and `end`, as full keys.
    fn bounds(&self, start: Bound<&[u8]>, end: Bound<&[u8]>) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
        let lo = match full_bound(&self.prefix, start) {
            Bound::Unbounded => Bound::Included(self.prefix.to_vec()),
            b => b,
        };
        let hi = match full_bound(&self.prefix, end) {
            Bound::Unbounded => match crate::runtime::state::prefix_end(&self.prefix) {
                Some(e) => Bound::Excluded(e),
                None => Bound::Unbounded,
            },
            b => b,
        };
        (lo, hi)
    }

    fn full(&self, key: &[u8]) -> Vec<u8> {
        let mut k = Vec::with_capacity(3 + key.len());
        k.extend_from_slice(&self.prefix);
        k.extend_from_slice(key);
        k
    }
}

fn full_bound(prefix: &[u8; 3], b: Bound<&[u8]>) -> Bound<Vec<u8>> {
    let join = |k: &[u8]| [prefix.as_slice(), k].concat();
    match b {
        Bound::Included(k) => Bound::Included(join(k)),
        Bound::Excluded(k) => Bound::Excluded(join(k)),
        Bound::Unbounded => Bound::Unbounded,
    }
}

impl StateBackend for StepState {
    fn generation(&self) -> u64 {
        self.overlay.generation()
    }

    fn windows(&self) -> Option<Box<dyn StateBackend>> {
        let mut prefix = self.prefix;
        prefix[0] = WINDOWS_SPACE;
        Some(Box::new(StepState {
            tree: self.tree.clone(),
            prefix,
            overlay: self.overlay.clone(),
        }))
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        let full = self.full(key);
        if let Some(pending) = self.overlay.get(&full) {
            return Ok(pending);
        }
        Ok(self
            .tree
            .get(&full)
            .map_err(unavailable)?
            .map(|v| v.to_vec()))
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StateError> {
        check_sizes(key, Some(value))?;
        let full = self.full(key);
        self.overlay
            .0
            .lock()
            .round
            .insert(full, Some(value.to_vec()));
        Ok(())
    }

    fn delete(&mut self, key: &[u8]) -> Result<(), StateError> {
        let full = self.full(key);
        self.overlay.0.lock().round.insert(full, None);
        Ok(())
    }

    fn uncommitted(
        &self,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
    ) -> Result<Option<Uncommitted>, StateError> {
        if crate::runtime::state::nothing_to_scan(start, end, 1) {
            return Ok(Some(Vec::new()));
        }
        let (lo, hi) = self.bounds(start, end);
        Ok(Some(
            self.overlay
                .range(lo, hi)
                .into_iter()
                .map(|(k, v)| (k[3..].to_vec(), v))
                .collect(),
        ))
    }

    fn range(
        &self,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        limit: usize,
    ) -> Result<Entries, StateError> {
        if crate::runtime::state::nothing_to_scan(start, end, limit) {
            return Ok(Vec::new());
        }
        let (lo, hi) = self.bounds(start, end);
        let pending = self.overlay.range(lo.clone(), hi.clone());
        // Enough committed entries that deletions in the overlay cannot starve the answer:
        // at least `limit` survive, all at or before the last one read, so pending keys
        // past it never reach the first `limit` either.
        let mut merged: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        for item in self.tree.range((lo, hi)).take(limit + pending.len()) {
            let (k, v) = item.map_err(unavailable)?;
            merged.insert(k.to_vec(), v.to_vec());
        }
        for (k, v) in pending {
            match v {
                Some(v) => merged.insert(k, v),
                None => merged.remove(&k),
            };
        }
        Ok(merged
            .into_iter()
            .take(limit)
            .map(|(k, v)| (k[3..].to_vec(), v))
            .collect())
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A task tree in a temp dir (dropped with it), for this layer's state tests.
    pub(in crate::pipeline) fn tree() -> (tempfile::TempDir, sled::Tree) {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        let tree = db.open_tree("t").unwrap();
        (dir, tree)
    }

    #[test]
    fn reads_see_pending_writes_and_steps_do_not_see_each_other() {
        let (_d, tree) = tree();
        let overlay = Overlay::default();
        let mut a = StepState::new(tree.clone(), 0, overlay.clone());
        let mut b = StepState::new(tree.clone(), 1, overlay.clone());
        tree.insert([&step_prefix(0)[..], b"k1"].concat(), b"old".as_slice())
            .unwrap();
        tree.insert([&step_prefix(0)[..], b"k2"].concat(), b"two".as_slice())
            .unwrap();
        a.put(b"k1", b"new").unwrap();
        a.delete(b"k2").unwrap();
        a.put(b"k3", b"three").unwrap();
        b.put(b"k1", b"other").unwrap();
        assert_eq!(a.get(b"k1").unwrap().unwrap(), b"new");
        assert_eq!(a.get(b"k2").unwrap(), None);
        let all = a.prefix(b"k", 10).unwrap();
        assert_eq!(
            all,
            vec![
                (b"k1".to_vec(), b"new".to_vec()),
                (b"k3".to_vec(), b"three".to_vec())
            ]
        );
        assert_eq!(a.prefix(b"", 1).unwrap().len(), 1);
        assert_eq!(b.prefix(b"", 10).unwrap().len(), 1);
        // Nothing reached the tree until the task commits.
        assert_eq!(
            tree.get([&step_prefix(0)[..], b"k1"].concat())
                .unwrap()
                .unwrap(),
            b"old"
        );
        let writes = overlay.take();
        assert_eq!(writes.len(), 4);
        assert_eq!(a.get(b"k1").unwrap().unwrap(), b"old");
    }

    #[test]
    fn undoing_writes_changes_the_generation_and_nothing_else_does() {
        let (_d, tree) = tree();
        let overlay = Overlay::default();
        let mut a = StepState::new(tree.clone(), 0, overlay.clone());
        let g0 = a.generation();
        a.put(b"k", b"v").unwrap();
        overlay.hold_round();
        let snapshot = overlay.snapshot();
        a.put(b"k", b"w").unwrap();
        let _ = overlay.take();
        assert_eq!(
            a.generation(),
            g0,
            "writes, holds and commits keep what was read valid"
        );
        overlay.restore(snapshot);
        let g1 = a.generation();
        assert_ne!(g1, g0, "a restore undoes writes");
        overlay.discard_round();
        assert_ne!(a.generation(), g1, "so does a discarded round");
    }

    #[test]
    fn held_rounds_stay_readable_and_survive_a_failed_round() {
        let (_d, tree) = tree();
        let overlay = Overlay::default();
        let mut a = StepState::new(tree.clone(), 0, overlay.clone());
        a.put(b"k1", b"first").unwrap();
        a.put(b"k2", b"kept").unwrap();
        overlay.hold_round();
        assert!(overlay.round_is_empty());
        // The next round overwrites one held key and deletes the other, then fails.
        a.put(b"k1", b"second").unwrap();
        a.delete(b"k2").unwrap();
        assert_eq!(a.get(b"k1").unwrap().unwrap(), b"second");
        assert_eq!(a.get(b"k2").unwrap(), None);
        assert_eq!(a.prefix(b"k", 10).unwrap().len(), 1);
        overlay.discard_round();
        // The held round's writes are what a read sees again, and what a commit takes.
        assert_eq!(a.get(b"k1").unwrap().unwrap(), b"first");
        assert_eq!(a.get(b"k2").unwrap().unwrap(), b"kept");
        assert_eq!(a.prefix(b"k", 10).unwrap().len(), 2);
        a.put(b"k1", b"third").unwrap();
        let writes = overlay.take();
        assert_eq!(writes.len(), 2);
        assert_eq!(
            writes[&[&step_prefix(0)[..], b"k1"].concat()].as_deref(),
            Some(&b"third"[..])
        );
        assert_eq!(a.get(b"k1").unwrap(), None);
    }
}
