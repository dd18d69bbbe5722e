//! `on_update` results built at the commit ([`Aggregation::uncommitted_updates`], with
//! the windows in memory deferring theirs) against the store path's results of every
//! batch, of which a task keeps the latest per window and key until its commit: over
//! random out-of-order input in random batches, with rounds discarded, crashes (the
//! uncommitted state and held results lost, the input since the last commit read
//! again in other batches) and a limit small enough to spill, both give the same
//! results at every commit.

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::record::Record;
use crate::runtime::{
    Body, Entries, MemoryState, OutputRecord, StateBackend, StateError, Uncommitted,
};

use super::aggregate::{Grouping, Kind};
use super::open_tests::{Rng, random_input};
use super::*;

/// A store whose writes wait apart until [`Committing::commit`], as a task's overlay
/// holds them, and can be undone.
#[derive(Debug, Default, Clone)]
struct Committing {
    committed: MemoryState,
    pending: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    generation: u64,
}

impl Committing {
    fn commit(&mut self) {
        for (k, v) in std::mem::take(&mut self.pending) {
            match v {
                Some(v) => self.committed.put(&k, &v).unwrap(),
                None => self.committed.delete(&k).unwrap(),
            }
        }
    }

    /// Back to the pending writes `earlier` (a discarded round, or a crash: none).
    fn undo_to(&mut self, earlier: BTreeMap<Vec<u8>, Option<Vec<u8>>>) {
        self.pending = earlier;
        self.generation += 1;
    }
}

fn owned(b: Bound<&[u8]>) -> Bound<Vec<u8>> {
    b.map(<[u8]>::to_vec)
}

impl StateBackend for Committing {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        match self.pending.get(key) {
            Some(v) => Ok(v.clone()),
            None => self.committed.get(key),
        }
    }
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StateError> {
        self.pending.insert(key.to_vec(), Some(value.to_vec()));
        Ok(())
    }
    fn delete(&mut self, key: &[u8]) -> Result<(), StateError> {
        self.pending.insert(key.to_vec(), None);
        Ok(())
    }
    fn range(
        &self,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        limit: usize,
    ) -> Result<Entries, StateError> {
        let mut all: BTreeMap<Vec<u8>, Vec<u8>> = self
            .committed
            .range(start, end, usize::MAX)?
            .into_iter()
            .collect();
        for (k, v) in self.pending.range((owned(start), owned(end))) {
            match v {
                Some(v) => all.insert(k.clone(), v.clone()),
                None => all.remove(k),
            };
        }
        Ok(all.into_iter().take(limit).collect())
    }
    fn uncommitted(
        &self,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
    ) -> Result<Option<Uncommitted>, StateError> {
        Ok(Some(
            self.pending
                .range((owned(start), owned(end)))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ))
    }
    fn generation(&self) -> u64 {
        self.generation
    }
}

/// A result as the task keeps it: (window start, key) → (value, timestamp).
type Latest = BTreeMap<(i64, Vec<u8>), (Vec<u8>, i64)>;

fn keep(latest: &mut Latest, records: Vec<OutputRecord>) {
    for r in records {
        let Body::New(r) = r.body else {
            panic!("a result is a new record")
        };
        let start = r
            .headers
            .iter()
            .find(|(k, _)| k == WINDOW_START_HEADER)
            .and_then(|(_, v)| std::str::from_utf8(v.as_deref()?).ok()?.parse().ok())
            .expect("a window start");
        let key = r.key.unwrap_or_default().to_vec();
        latest.insert(
            (start, key),
            (r.value.unwrap_or_default().to_vec(), r.timestamp),
        );
    }
}

/// One side of the comparison: its store, the results it holds for the commit, and
/// what it committed.
#[derive(Default)]
struct Side {
    store: Committing,
    held: Latest,
    commits: Vec<Latest>,
}

fn differential(seed: u64, kind: Kind, keys: u64, limit: usize) -> usize {
    let mut rng = Rng(seed);
    let size = [100, 250, 500][rng.below(3) as usize];
    let advance = match rng.below(2) {
        0 => size,
        _ => size / [2, 5][rng.below(2) as usize],
    };
    let w = TimeWindows {
        size_ms: size,
        advance_ms: advance,
        grace_ms: [0, 50, 200][rng.below(3) as usize],
    };
    let agg = Aggregation {
        kind,
        grouping: Grouping::Time(w),
        emit: Emit::OnUpdate,
        value_format: ValueFormat::Text,
        key_format: KeyFormat::Plain,
        retention_ms: w.size_ms + w.grace_ms + [0, 0, 300][rng.below(3) as usize],
        close_idle_after_ms: None,
        max_open_windows: limit,
        late: crate::streams::Late::Drop,
    };
    let input = random_input(&mut rng, 1500, keys, kind == Kind::Sum);
    let deferring = || {
        let mut open = OpenWindows::new(limit);
        open.defer_updates();
        open
    };
    // The reference: the store path, every batch's results kept as the latest.
    let (mut reference, mut tested) = (Side::default(), Side::default());
    let mut open = deferring();
    let (mut at, mut committed_at) = (0, 0);
    let mut nonempty = 0;
    while at < input.len() {
        let n = (1 + rng.below(80) as usize).min(input.len() - at);
        let batch = &input[at..at + n];
        match rng.below(14) {
            // A round run and then discarded (a later step failed it).
            0 => {
                let before = tested.store.pending.clone();
                agg.process_open(&mut tested.store, &mut open, batch)
                    .unwrap();
                tested.store.undo_to(before);
            }
            // A crash: what was not committed is lost, and the input since the last
            // commit is read again (in other batches).
            1 => {
                for side in [&mut reference, &mut tested] {
                    side.store.undo_to(BTreeMap::new());
                    side.held.clear();
                }
                open = deferring();
                at = committed_at;
                continue;
            }
            _ => {}
        }
        let a = agg.process(&mut reference.store, batch).unwrap();
        keep(&mut reference.held, a.output.records);
        let b = agg
            .process_open(&mut tested.store, &mut open, batch)
            .unwrap();
        assert_eq!(a.late, b.late, "seed {seed}: late at {at}");
        assert!(b.output.failures.len() == a.output.failures.len());
        keep(&mut tested.held, b.output.records);
        at += n;
        // A commit, now and then and at the end.
        if rng.below(4) == 0 || at == input.len() {
            let built = agg.uncommitted_updates(&tested.store).unwrap();
            keep(&mut tested.held, built);
            for side in [&mut reference, &mut tested] {
                side.commits.push(std::mem::take(&mut side.held));
                side.store.commit();
            }
            committed_at = at;
            let (a, b) = (&reference.commits, &tested.commits);
            let (a, b) = (a.last().unwrap(), b.last().unwrap());
            let only = |x: &Latest, y: &Latest| -> Vec<String> {
                x.iter()
                    .filter(|(k, v)| y.get(k) != Some(v))
                    .map(|(k, v)| {
                        format!(
                            "{}@{} = {} ts {}",
                            String::from_utf8_lossy(&k.1),
                            k.0,
                            String::from_utf8_lossy(&v.0),
                            v.1
                        )
                    })
                    .collect()
            };
            assert!(
                a == b,
                "seed {seed}: commit {} at {at}, {w:?}: the store path's only {:?}, built at the commit only {:?}",
                reference.commits.len(),
                only(a, b),
                only(b, a)
            );
            nonempty += usize::from(!b.is_empty());
            assert_eq!(
                reference
                    .store
                    .committed
                    .range(Bound::Unbounded, Bound::Unbounded, usize::MAX)
                    .unwrap(),
                tested
                    .store
                    .committed
                    .range(Bound::Unbounded, Bound::Unbounded, usize::MAX)
                    .unwrap(),
                "seed {seed}: state at the commit at {at}"
            );
        }
    }
    nonempty
}

#[test]
fn results_built_at_the_commit_equal_the_latest_of_every_batch() {
    let mut nonempty = 0;
    for seed in 1..=12u64 {
        for kind in [Kind::Count, Kind::Sum] {
            nonempty += differential(seed * 6151, kind, 5, DEFAULT_MAX_OPEN_WINDOWS);
            // Past a limit of 30: through the store and back.
            nonempty += differential(seed * 3571, kind, 40, 30);
        }
    }
    assert!(nonempty > 100, "commits had results: {nonempty}");
}

#[test]
fn a_deferring_step_emits_only_the_windows_it_closes() {
    let w = TimeWindows {
        size_ms: 100,
        advance_ms: 100,
        grace_ms: 0,
    };
    let agg = Aggregation {
        kind: Kind::Count,
        grouping: Grouping::Time(w),
        emit: Emit::OnUpdate,
        value_format: ValueFormat::Text,
        key_format: KeyFormat::Plain,
        retention_ms: 100,
        close_idle_after_ms: None,
        max_open_windows: 10,
        late: crate::streams::Late::Drop,
    };
    let rec = |key: &str, ts: i64| Record {
        key: Some(bytes::Bytes::from(key.to_string())),
        value: None,
        headers: Vec::new(),
        timestamp: ts,
    };
    let mut store = Committing::default();
    let mut open = OpenWindows::new(10);
    open.defer_updates();
    let done = agg
        .process_open(
            &mut store,
            &mut open,
            &[rec("a", 10), rec("b", 20), rec("a", 30)],
        )
        .unwrap();
    assert!(done.output.records.is_empty(), "{:?}", done.output);
    let mut at_commit = Latest::new();
    keep(&mut at_commit, agg.uncommitted_updates(&store).unwrap());
    let want = |v: &[(&str, &str)]| -> Latest {
        v.iter()
            .map(|(k, n)| {
                (
                    (0, k.as_bytes().to_vec()),
                    (n.as_bytes().to_vec(), if *k == "a" { 30 } else { 20 }),
                )
            })
            .collect()
    };
    assert_eq!(at_commit, want(&[("a", "2"), ("b", "1")]));
    store.commit();
    assert!(
        agg.uncommitted_updates(&store).unwrap().is_empty(),
        "nothing changed since"
    );
    // a changes again, then its window closes: only a's result, as it closes.
    let done = agg
        .process_open(&mut store, &mut open, &[rec("a", 40), rec("c", 150)])
        .unwrap();
    let mut closing = Latest::new();
    keep(&mut closing, done.output.records);
    let mut a = want(&[("a", "3")]);
    a.values_mut().for_each(|v| v.1 = 40);
    assert_eq!(closing, a);
    let mut at_commit = Latest::new();
    keep(&mut at_commit, agg.uncommitted_updates(&store).unwrap());
    assert_eq!(
        at_commit,
        [((100, b"c".to_vec()), (b"1".to_vec(), 150))]
            .into_iter()
            .collect()
    );
}
