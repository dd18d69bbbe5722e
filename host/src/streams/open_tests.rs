//! The operator over open windows in memory against its store-only twin: over random
//! out-of-order input in random batches, with memory lost (a crash: the task rebuilt),
//! rounds discarded (their writes undone under the memory), idle timers, and a limit
//! small enough to spill, both give the same results in the same order and leave the
//! same store after every batch. The store path itself is checked against a reference
//! in `tests.rs`.

use std::ops::Bound;

use bytes::Bytes;

use crate::record::Record;
use crate::runtime::{Entries, MemoryState, StateBackend, StateError};

use super::aggregate::Kind;
use super::*;

/// A store whose writes can be undone, as a task's overlay undoes a discarded round's.
#[derive(Debug, Default, Clone)]
struct Undoable {
    state: MemoryState,
    generation: u64,
}

impl Undoable {
    /// Goes back to `earlier`, as a discarded round does.
    fn undo_to(&mut self, earlier: MemoryState) {
        self.state = earlier;
        self.generation += 1;
    }
}

impl StateBackend for Undoable {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.state.get(key)
    }
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StateError> {
        self.state.put(key, value)
    }
    fn delete(&mut self, key: &[u8]) -> Result<(), StateError> {
        self.state.delete(key)
    }
    fn range(
        &self,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        limit: usize,
    ) -> Result<Entries, StateError> {
        self.state.range(start, end, limit)
    }
    fn generation(&self) -> u64 {
        self.generation
    }
}

fn everything(store: &dyn StateBackend) -> Entries {
    store
        .range(Bound::Unbounded, Bound::Unbounded, usize::MAX)
        .unwrap()
}

/// A small deterministic generator (xorshift64*).
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// Random records over `keys` keys, timestamps drifting forward with jitter back; a
/// few without a key, and for sums a few values that are no number.
pub(super) fn random_input(rng: &mut Rng, n: usize, keys: u64, sum: bool) -> Vec<Record> {
    let mut clock = 0i64;
    (0..n)
        .map(|_| {
            clock += rng.below(40) as i64;
            let ts = (clock - rng.below(300) as i64).max(0);
            let key = (rng.below(50) != 0).then(|| Bytes::from(format!("k{}", rng.below(keys))));
            let value = match (sum, rng.below(40)) {
                (true, 0) => "x".to_string(),
                (true, _) => (rng.below(11) as i64 - 5).to_string(),
                (false, _) => "v".to_string(),
            };
            Record {
                key,
                value: Some(Bytes::from(value)),
                headers: Vec::new(),
                timestamp: ts,
            }
        })
        .collect()
}

/// What one twin run saw of the memory.
#[derive(Default)]
struct Seen {
    loaded: usize,
    spilled: usize,
}

fn twin(seed: u64, kind: Kind, emit: Emit, keys: u64, limit: usize) -> Seen {
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
        grouping: aggregate::Grouping::Time(w),
        emit,
        value_format: ValueFormat::Text,
        key_format: KeyFormat::Plain,
        // Sometimes kept past closing: then the store path's expiry deletes them.
        retention_ms: w.size_ms + w.grace_ms + [0, 0, 300][rng.below(3) as usize],
        close_idle_after_ms: None,
        max_open_windows: limit,
        late: crate::streams::Late::Drop,
    };
    let input = random_input(&mut rng, 1500, keys, kind == Kind::Sum);
    let (mut plain, mut stored) = (MemoryState::default(), Undoable::default());
    let mut open = OpenWindows::new(limit);
    let mut seen = Seen::default();
    let mut at = 0;
    let mut clock = 0;
    while at < input.len() {
        let n = (1 + rng.below(80) as usize).min(input.len() - at);
        let batch = &input[at..at + n];
        match rng.below(12) {
            // A crash: the task starts again from its store.
            0 => open = OpenWindows::new(limit),
            // A round that runs and is then discarded (a later step failed it).
            1 => {
                let before = stored.state.clone();
                agg.process_open(&mut stored, &mut open, batch).unwrap();
                stored.undo_to(before);
            }
            // An idle timer moves stream time on.
            2 if emit == Emit::OnClose => {
                clock += rng.below(400) as i64;
                let a = agg.advance_to(&mut plain, clock).unwrap();
                let b = agg.advance_open(&mut stored, &mut open, clock).unwrap();
                assert_eq!(a, b, "seed {seed}: timer at {clock}");
            }
            _ => {}
        }
        let a = agg.process(&mut plain, batch).unwrap();
        let b = agg.process_open(&mut stored, &mut open, batch).unwrap();
        assert_eq!(a.output, b.output, "seed {seed}: batch at {at}, {w:?}");
        assert_eq!(a.late, b.late, "seed {seed}: late at {at}");
        assert_eq!(
            everything(&plain),
            everything(&stored),
            "seed {seed}: store after the batch at {at}"
        );
        clock = clock.max(batch.iter().map(|r| r.timestamp).max().unwrap_or(0));
        if open.is_loaded() {
            seen.loaded += 1;
            assert!(open.len() <= limit);
        } else {
            seen.spilled += 1;
        }
        at += n;
    }
    seen
}

#[test]
fn open_windows_give_the_store_paths_results_and_state() {
    for seed in 1..=12u64 {
        for kind in [Kind::Count, Kind::Sum] {
            for emit in [Emit::OnClose, Emit::OnUpdate] {
                let seen = twin(seed * 7919, kind, emit, 5, DEFAULT_MAX_OPEN_WINDOWS);
                assert_eq!(
                    seen.spilled, 0,
                    "seed {seed}: under the limit, never spilled"
                );
            }
        }
    }
}

#[test]
fn past_the_limit_the_step_goes_through_the_store_and_comes_back() {
    let mut total = Seen::default();
    for seed in 1..=12u64 {
        for emit in [Emit::OnClose, Emit::OnUpdate] {
            // 40 keys in windows of at least 100 ms, records ~20 ms apart: a few windows
            // of up to 40 keys each are open at once, around the limit of 30.
            let seen = twin(seed * 104_729, Kind::Count, emit, 40, 30);
            total.loaded += seen.loaded;
            total.spilled += seen.spilled;
        }
    }
    assert!(total.spilled > 0, "the limit was crossed");
    assert!(total.loaded > 0, "memory was used again after spilling");
}

#[test]
fn a_crash_rebuilds_the_open_windows_from_the_store() {
    let w = TimeWindows {
        size_ms: 100,
        advance_ms: 100,
        grace_ms: 0,
    };
    let agg = Aggregation {
        kind: Kind::Count,
        grouping: aggregate::Grouping::Time(w),
        emit: Emit::OnClose,
        value_format: ValueFormat::Text,
        key_format: KeyFormat::Plain,
        retention_ms: 100,
        close_idle_after_ms: None,
        max_open_windows: 10,
        late: crate::streams::Late::Drop,
    };
    let rec = |key: &str, ts: i64| Record {
        key: Some(Bytes::from(key.to_string())),
        value: None,
        headers: Vec::new(),
        timestamp: ts,
    };
    let mut store = MemoryState::default();
    let mut open = OpenWindows::new(10);
    let batch = [rec("a", 10), rec("b", 20), rec("a", 30)];
    assert!(
        agg.process_open(&mut store, &mut open, &batch)
            .unwrap()
            .output
            .records
            .is_empty()
    );
    assert_eq!(open.len(), 2);
    // The task dies; a new one reads the two open aggregates back from the store.
    let mut open = OpenWindows::new(10);
    let done = agg
        .process_open(&mut store, &mut open, &[rec("a", 40), rec("c", 150)])
        .unwrap();
    let got: Vec<(Vec<u8>, Vec<u8>)> = done
        .output
        .records
        .iter()
        .map(|r| match &r.body {
            crate::runtime::Body::New(r) => (
                r.key.clone().unwrap().to_vec(),
                r.value.clone().unwrap().to_vec(),
            ),
            crate::runtime::Body::Input => panic!("new records"),
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (b"a".to_vec(), b"3".to_vec()),
            (b"b".to_vec(), b"1".to_vec())
        ]
    );
    // The closed window is gone from memory and store; c's is in both.
    assert_eq!(open.len(), 1);
    let entries = everything(&store);
    assert_eq!(
        entries.len(),
        2,
        "c's window and the stream time: {entries:?}"
    );
}

#[test]
fn a_limit_of_one_spills_at_once_and_keeps_counting() {
    let w = TimeWindows {
        size_ms: 1000,
        advance_ms: 1000,
        grace_ms: 0,
    };
    let agg = Aggregation {
        kind: Kind::Count,
        grouping: aggregate::Grouping::Time(w),
        emit: Emit::OnUpdate,
        value_format: ValueFormat::Text,
        key_format: KeyFormat::Plain,
        retention_ms: 1000,
        close_idle_after_ms: None,
        max_open_windows: 1,
        late: crate::streams::Late::Drop,
    };
    let rec = |key: &str| Record {
        key: Some(Bytes::from(key.to_string())),
        value: None,
        headers: Vec::new(),
        timestamp: 5,
    };
    let mut store = MemoryState::default();
    let mut open = OpenWindows::new(1);
    agg.process_open(&mut store, &mut open, &[rec("a")])
        .unwrap();
    assert!(open.is_loaded());
    agg.process_open(&mut store, &mut open, &[rec("b"), rec("a")])
        .unwrap();
    assert!(!open.is_loaded(), "two open aggregates past a limit of one");
    let done = agg
        .process_open(&mut store, &mut open, &[rec("a")])
        .unwrap();
    let [r] = &done.output.records[..] else {
        panic!("{:?}", done.output)
    };
    let crate::runtime::Body::New(r) = &r.body else {
        panic!("a new record")
    };
    assert_eq!(r.value.as_deref(), Some(&b"3"[..]));
}
