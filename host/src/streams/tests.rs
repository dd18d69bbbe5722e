//! The aggregation against a reference written for obviousness (every window start
//! tried, every record checked against every window), over random out-of-order input
//! cut into random batches, for both emit modes; and the pieces Kafka documents.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::record::Record;
use crate::runtime::{Body, MemoryState, StateBackend};

use super::aggregate::Kind;
use super::*;

/// A small deterministic generator (xorshift64*), so every seed replays exactly.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

pub(super) fn record(key: &str, value: &str, ts: i64) -> Record {
    Record {
        key: Some(Bytes::from(key.to_string())),
        value: Some(Bytes::from(value.to_string())),
        headers: Vec::new(),
        timestamp: ts,
    }
}

/// (window start, key) → (value, largest timestamp), and how many records were late.
type Windows = BTreeMap<(i64, String), (i64, i64)>;

/// Kafka's rules, spelled out: stream time is the largest timestamp so far; a record
/// goes into every window `[start, start + size)` holding it (starts are multiples of the
/// advance, from 0) whose `start + size + grace > stream time`; late when none is.
fn reference(input: &[(String, i64, i64)], w: TimeWindows) -> (Windows, u64) {
    let mut state = Windows::new();
    let mut stream_time = i64::MIN;
    let mut late = 0;
    for (key, value, ts) in input {
        stream_time = stream_time.max(*ts);
        let mut taken = false;
        let mut start = 0;
        while start <= *ts {
            let holds = start <= *ts && *ts < start + w.size_ms;
            let open = start + w.size_ms + w.grace_ms > stream_time;
            if holds && open {
                let e = state.entry((start, key.clone())).or_insert((0, *ts));
                e.0 += value;
                e.1 = e.1.max(*ts);
                taken = true;
            }
            start += w.advance_ms;
        }
        if !taken {
            late += 1;
        }
    }
    (state, late)
}

/// A result as (window start, key, value, timestamp), checking its headers.
fn read(r: &crate::runtime::OutputRecord, w: TimeWindows) -> (i64, String, i64, i64) {
    let Body::New(rec) = &r.body else {
        panic!("an aggregation makes new records")
    };
    let header = |name: &str| -> i64 {
        let v = rec.headers.iter().find(|(k, _)| k == name).unwrap();
        std::str::from_utf8(v.1.as_ref().unwrap())
            .unwrap()
            .parse()
            .unwrap()
    };
    let (start, end) = (header(WINDOW_START_HEADER), header(WINDOW_END_HEADER));
    assert_eq!(end, start + w.size_ms);
    let value = std::str::from_utf8(rec.value.as_ref().unwrap())
        .unwrap()
        .parse()
        .unwrap();
    let key = String::from_utf8(rec.key.as_ref().unwrap().to_vec()).unwrap();
    (start, key, value, rec.timestamp)
}

fn aggregation(kind: Kind, w: TimeWindows, emit: Emit) -> Aggregation {
    Aggregation {
        kind,
        grouping: Grouping::Time(w),
        emit,
        value_format: ValueFormat::Text,
        key_format: KeyFormat::Plain,
        retention_ms: w.size_ms + w.grace_ms,
        close_idle_after_ms: None,
        max_open_windows: crate::streams::open::DEFAULT_MAX_OPEN_WINDOWS,
        late: crate::streams::Late::Drop,
    }
}

/// Random input: keys a–e, timestamps drifting forward with jitter back (out of order),
/// values 1–9 (or -5..5 for sums).
pub(super) fn random_input(rng: &mut Rng, n: usize, sum: bool) -> Vec<(String, i64, i64)> {
    let mut clock = 0i64;
    (0..n)
        .map(|_| {
            clock += rng.below(40) as i64;
            let ts = (clock - rng.below(300) as i64).max(0);
            let key = ((b'a' + rng.below(5) as u8) as char).to_string();
            let value = if sum { rng.below(11) as i64 - 5 } else { 1 };
            (key, value, ts)
        })
        .collect()
}

fn run_against_reference(seed: u64, kind: Kind, emit: Emit) {
    let mut rng = Rng(seed);
    let sum = kind == Kind::Sum;
    let size = [100, 250, 500][rng.below(3) as usize];
    let advance = if rng.below(2) == 0 {
        size
    } else {
        size / [2, 5][rng.below(2) as usize]
    };
    let w = TimeWindows {
        size_ms: size,
        advance_ms: advance,
        grace_ms: [0, 50, 200][rng.below(3) as usize],
    };
    let input = random_input(&mut rng, 2000, sum);
    let (expected, expected_late) = reference(&input, w);
    let agg = aggregation(kind, w, emit);
    let mut store = MemoryState::default();
    let mut late = 0;
    let mut outputs = Vec::new();
    let mut at = 0;
    while at < input.len() {
        let n = (1 + rng.below(60) as usize).min(input.len() - at);
        let batch: Vec<Record> = input[at..at + n]
            .iter()
            .map(|(k, v, ts)| record(k, &v.to_string(), *ts))
            .collect();
        let done = agg.process(&mut store, &batch).unwrap();
        assert!(done.output.failures.is_empty());
        late += done.late.len() as u64;
        let results: Vec<_> = done.output.records.iter().map(|r| read(r, w)).collect();
        if emit == Emit::OnUpdate {
            let mut seen = std::collections::BTreeSet::new();
            for (start, key, ..) in &results {
                assert!(
                    seen.insert((*start, key.clone())),
                    "seed {seed}: one update per window and key per batch"
                );
            }
        }
        outputs.extend(results);
        at += n;
    }
    assert_eq!(late, expected_late, "seed {seed}: late records");
    let stream_time = input.iter().map(|r| r.2).max().unwrap();
    let mut got: BTreeMap<(i64, String), (i64, i64)> = BTreeMap::new();
    for (start, key, value, ts) in outputs {
        let previous = got.insert((start, key.clone()), (value, ts));
        if emit == Emit::OnClose {
            assert!(
                previous.is_none(),
                "seed {seed}: [{start}) {key} emitted twice"
            );
        }
    }
    let want: Windows = match emit {
        Emit::OnUpdate => expected,
        // Exactly the windows stream time has closed, each with its final value.
        Emit::OnClose => expected
            .into_iter()
            .filter(|((start, _), _)| start + w.size_ms + w.grace_ms <= stream_time)
            .collect(),
    };
    assert_eq!(got, want, "seed {seed}: {w:?} {emit:?} {kind:?}");
}

#[test]
fn tumbling_and_hopping_counts_and_sums_match_the_reference() {
    for seed in 1..=12u64 {
        for kind in [Kind::Count, Kind::Sum] {
            for emit in [Emit::OnUpdate, Emit::OnClose] {
                run_against_reference(seed * 7919, kind, emit);
            }
        }
    }
}

#[test]
fn windows_past_retention_are_deleted() {
    let w = TimeWindows {
        size_ms: 10,
        advance_ms: 10,
        grace_ms: 5,
    };
    for emit in [Emit::OnUpdate, Emit::OnClose] {
        let agg = aggregation(Kind::Count, w, emit);
        let mut store = MemoryState::default();
        agg.process(&mut store, &[record("k", "x", 3), record("j", "x", 12)])
            .unwrap();
        assert_eq!(
            store::windows_between(&store, None, i64::MAX)
                .unwrap()
                .len(),
            2
        );
        // Stream time 15 = end 10 + grace 5: [0,10) closes and goes; [10,20) stays.
        let done = agg.process(&mut store, &[record("j", "x", 15)]).unwrap();
        let left = store::windows_between(&store, None, i64::MAX).unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(store::split_window_key(&left[0].0).unwrap().0, 10);
        if emit == Emit::OnClose {
            assert_eq!(done.output.records.len(), 1);
            assert_eq!(read(&done.output.records[0], w), (0, "k".into(), 1, 3));
        }
    }
}

#[test]
fn late_records_are_dropped_and_counted() {
    let w = TimeWindows {
        size_ms: 1000,
        advance_ms: 1000,
        grace_ms: 100,
    };
    let agg = aggregation(Kind::Count, w, Emit::OnUpdate);
    let mut store = MemoryState::default();
    let batch = [
        record("k", "x", 500),
        record("k", "x", 1099),
        // Stream time 1099: [0,1000) is open until 1000 + 100 grace.
        record("k", "x", 999),
        record("k", "x", 1100),
        // Stream time 1100 closed it: both are late.
        record("k", "x", 999),
        record("k", "x", 0),
    ];
    let done = agg.process(&mut store, &batch).unwrap();
    let late = |index| LateRecord {
        index,
        stream_time: 1100,
    };
    assert_eq!(done.late, vec![late(4), late(5)]);
    let got: Vec<_> = done.output.records.iter().map(|r| read(r, w)).collect();
    assert_eq!(
        got,
        vec![(0, "k".into(), 2, 999), (1000, "k".into(), 2, 1100)]
    );
    // The open-windows operator finds the same ones, and says why for a dead letter.
    let mut open = OpenWindows::new(100);
    let done = agg
        .process_open(&mut MemoryState::default(), &mut open, &batch)
        .unwrap();
    assert_eq!(done.late, vec![late(4), late(5)]);
    assert_eq!(
        agg.late_message(999, 1100),
        "late record: timestamp 999 falls only in windows already closed at stream time \
         1100 (grace 100 ms)"
    );
}

#[test]
fn sums_fail_records_that_are_not_numbers_and_skip_null_keys_and_values() {
    let agg = Aggregation {
        kind: Kind::Sum,
        grouping: Grouping::Running,
        emit: Emit::OnUpdate,
        value_format: ValueFormat::Text,
        key_format: KeyFormat::Plain,
        retention_ms: 0,
        close_idle_after_ms: None,
        max_open_windows: crate::streams::open::DEFAULT_MAX_OPEN_WINDOWS,
        late: crate::streams::Late::Drop,
    };
    let mut store = MemoryState::default();
    let mut no_key = record("k", "5", 1);
    no_key.key = None;
    let mut no_value = record("k", "5", 1);
    no_value.value = None;
    let done = agg
        .process(
            &mut store,
            &[
                record("k", "1.5", 1),
                record("k", "ten", 2),
                no_key,
                no_value,
                record("k", "2.25", 7),
            ],
        )
        .unwrap();
    assert_eq!(done.output.failures.len(), 1);
    assert_eq!(done.output.failures[0].index, 1);
    assert!(done.output.failures[0].message.contains("ten"));
    assert_eq!(done.output.records.len(), 1);
    let Body::New(r) = &done.output.records[0].body else {
        panic!()
    };
    assert_eq!(r.value.as_deref(), Some(&b"3.75"[..]));
    assert_eq!(r.timestamp, 7);
    assert!(r.headers.is_empty(), "a running aggregate has no window");
    assert_eq!(done.output.records[0].source, Some(4));
}

#[test]
fn long_values_and_windowed_keys_are_kafkas_layouts() {
    let w = TimeWindows {
        size_ms: 5000,
        advance_ms: 3000,
        grace_ms: 0,
    };
    let agg = Aggregation {
        kind: Kind::Count,
        grouping: Grouping::Time(w),
        emit: Emit::OnUpdate,
        value_format: ValueFormat::Long,
        key_format: KeyFormat::Windowed,
        retention_ms: 5000,
        close_idle_after_ms: None,
        max_open_windows: crate::streams::open::DEFAULT_MAX_OPEN_WINDOWS,
        late: crate::streams::Late::Drop,
    };
    let mut store = MemoryState::default();
    let done = agg
        .process(&mut store, &[record("user", "x", 3500)])
        .unwrap();
    let keys: Vec<(Vec<u8>, Vec<u8>)> = done
        .output
        .records
        .iter()
        .map(|r| {
            let Body::New(r) = &r.body else { panic!() };
            (
                r.key.clone().unwrap().to_vec(),
                r.value.clone().unwrap().to_vec(),
            )
        })
        .collect();
    // Kafka's documented hopping windows for size 5000, advance 3000: [0,5000), [3000,8000).
    assert_eq!(
        keys,
        vec![
            (
                [&b"user"[..], &0i64.to_be_bytes()].concat(),
                1i64.to_be_bytes().to_vec()
            ),
            (
                [&b"user"[..], &3000i64.to_be_bytes()].concat(),
                1i64.to_be_bytes().to_vec()
            ),
        ]
    );
    let _ = store.get(b"");
}

/// A record before 1970 fails alone under every windowed grouping (windows and
/// sessions start at 0), naming its timestamp; a running aggregate takes it.
#[test]
fn records_before_the_epoch_fail_windows_but_not_running_aggregates() {
    let time = TimeWindows {
        size_ms: 1000,
        advance_ms: 1000,
        grace_ms: 0,
    };
    let cases = [
        (Grouping::Time(time), Some("windows")),
        (
            Grouping::Session(SessionWindows {
                gap_ms: 100,
                grace_ms: 0,
            }),
            Some("sessions"),
        ),
        (
            Grouping::Sliding(super::sliding::SlidingWindows {
                max_diff_ms: 100,
                grace_ms: 0,
            }),
            Some("windows"),
        ),
        (Grouping::Running, None),
    ];
    for (grouping, noun) in cases {
        let agg = Aggregation {
            grouping,
            ..aggregation(Kind::Count, time, Emit::OnUpdate)
        };
        let mut store = MemoryState::default();
        let done = agg
            .process(&mut store, &[record("k", "x", -5), record("k", "x", 5)])
            .unwrap();
        match noun {
            Some(noun) => {
                let [failure] = &done.output.failures[..] else {
                    panic!("{grouping:?}: {:?}", done.output.failures)
                };
                assert_eq!(failure.index, 0);
                assert_eq!(
                    failure.message,
                    format!("timestamp -5 is before the epoch; {noun} start at 0")
                );
            }
            None => assert!(done.output.failures.is_empty(), "{grouping:?}"),
        }
    }
}
