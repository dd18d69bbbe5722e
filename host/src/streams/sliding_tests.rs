//! Sliding windows against a reference that keeps every accepted record and applies
//! Kafka's rules one record at a time in the plainest way: the windows a record
//! creates are summed from all accepted records in them, the open windows holding it
//! get it added; over random out-of-order input in random batches, both emit modes.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::record::Record;
use crate::runtime::{Body, MemoryState};

use super::aggregate::Kind;
use super::*;

/// (window start, key) → (value, largest timestamp).
type Windows = BTreeMap<(i64, String), (i64, i64)>;

/// Kafka's `SlidingWindows` rules for `input` (key, value, ts): the windows and how
/// many records were late.
fn reference(input: &[(String, i64, i64)], d: i64, grace: i64) -> (Windows, u64) {
    let mut windows = Windows::new();
    let mut accepted: Vec<(String, i64, i64)> = Vec::new();
    let mut stream_time = i64::MIN;
    let mut late = 0;
    for (key, v, t) in input {
        let (t, v) = (*t, *v);
        stream_time = stream_time.max(t);
        let close = stream_time - grace;
        if t + 1 + d <= close {
            late += 1;
            continue;
        }
        let mine: Vec<(i64, i64)> = accepted
            .iter()
            .filter(|(k, ..)| k == key)
            .map(|(_, v, ts)| (*v, *ts))
            .collect();
        // Open windows of the key holding t get it.
        for ((start, k), (value, ts)) in windows.iter_mut() {
            if k == key && *start <= t && t <= start + d && start + d >= close {
                *value += v;
                *ts = (*ts).max(t);
            }
        }
        accepted.push((key.clone(), v, t));
        let previous = mine.iter().map(|r| r.1).filter(|&r| r < t).max();
        let mut new = vec![(t - d).max(0)];
        if mine.iter().any(|&(_, r)| r > t && r <= t + d) {
            new.push(t + 1);
        }
        if let Some(p) = previous.filter(|&p| p + 1 + d >= t) {
            new.push(p + 1);
        }
        for s in new {
            if s + d < close || windows.contains_key(&(s, key.clone())) {
                continue;
            }
            let held: Vec<(i64, i64)> = accepted
                .iter()
                .filter(|(k, _, ts)| k == key && s <= *ts && *ts <= s + d)
                .map(|(_, v, ts)| (*v, *ts))
                .collect();
            if let Some(ts) = held.iter().map(|h| h.1).max() {
                windows.insert((s, key.clone()), (held.iter().map(|h| h.0).sum(), ts));
            }
        }
    }
    (windows, late)
}

fn read(r: &crate::runtime::OutputRecord, d: i64) -> (i64, String, i64, i64) {
    let Body::New(r) = &r.body else { panic!() };
    let header = |name: &str| -> i64 {
        let (_, v) = r.headers.iter().find(|(n, _)| n == name).unwrap();
        std::str::from_utf8(v.as_ref().unwrap())
            .unwrap()
            .parse()
            .unwrap()
    };
    let start = header(WINDOW_START_HEADER);
    assert_eq!(header(WINDOW_END_HEADER), start + d, "both ends inclusive");
    let text = |b: &Option<Bytes>| String::from_utf8(b.clone().unwrap().to_vec()).unwrap();
    (
        start,
        text(&r.key),
        text(&r.value).parse().unwrap(),
        r.timestamp,
    )
}

fn run(seed: u64, kind: Kind, emit: Emit) {
    let mut rng = seed;
    let mut below = |n: u64| {
        rng ^= rng >> 12;
        rng ^= rng << 25;
        rng ^= rng >> 27;
        rng.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    };
    let d = [10, 100, 250][below(3) as usize];
    let grace = [0, 50, 200][below(3) as usize];
    let mut clock = 0i64;
    let input: Vec<(String, i64, i64)> = (0..1500)
        .map(|_| {
            clock += below(40) as i64;
            let ts = (clock - below(300) as i64).max(0);
            let key = ((b'a' + below(4) as u8) as char).to_string();
            let v = if kind == Kind::Sum {
                below(11) as i64 - 5
            } else {
                1
            };
            (key, v, ts)
        })
        .collect();
    let (expected, expected_late) = reference(&input, d, grace);
    let agg = Aggregation {
        kind,
        grouping: Grouping::Sliding(SlidingWindows {
            max_diff_ms: d,
            grace_ms: grace,
        }),
        emit,
        value_format: ValueFormat::Text,
        key_format: KeyFormat::Plain,
        retention_ms: d + 1 + grace,
        close_idle_after_ms: None,
        max_open_windows: crate::streams::open::DEFAULT_MAX_OPEN_WINDOWS,
        late: crate::streams::Late::Drop,
    };
    let mut store = MemoryState::default();
    let (mut late, mut outputs, mut at) = (0, Vec::new(), 0);
    while at < input.len() {
        let n = (1 + below(60) as usize).min(input.len() - at);
        let batch: Vec<Record> = input[at..at + n]
            .iter()
            .map(|(k, v, ts)| Record {
                key: Some(Bytes::from(k.clone())),
                value: Some(Bytes::from(v.to_string())),
                headers: Vec::new(),
                timestamp: *ts,
            })
            .collect();
        let done = agg.process(&mut store, &batch).unwrap();
        assert!(done.output.failures.is_empty());
        late += done.late.len() as u64;
        outputs.extend(done.output.records.iter().map(|r| read(r, d)));
        at += n;
    }
    assert_eq!(late, expected_late, "seed {seed}: late records");
    let stream_time = input.iter().map(|r| r.2).max().unwrap();
    let mut got = Windows::new();
    for (start, key, value, ts) in outputs {
        let previous = got.insert((start, key.clone()), (value, ts));
        if emit == Emit::OnClose {
            assert!(
                previous.is_none(),
                "seed {seed}: [{start}] {key} emitted twice"
            );
        }
    }
    let want: Windows = match emit {
        Emit::OnUpdate => expected,
        Emit::OnClose => expected
            .into_iter()
            .filter(|((start, _), _)| start + d < stream_time - grace)
            .collect(),
    };
    assert_eq!(
        got, want,
        "seed {seed}: d {d} grace {grace} {emit:?} {kind:?}"
    );
}

#[test]
fn sliding_counts_and_sums_match_the_reference() {
    for seed in 1..=12u64 {
        for kind in [Kind::Count, Kind::Sum] {
            for emit in [Emit::OnUpdate, Emit::OnClose] {
                run(seed * 7919, kind, emit);
            }
        }
    }
}

/// Kafka's documented example (`SlidingWindows` javadoc, time difference 10): records
/// at 8 and 15 make windows [0, 8]... here: [0,10] holds 8, [5,15] both, [9,19] 15.
#[test]
fn a_later_record_makes_the_previous_records_right_window() {
    let agg = Aggregation {
        kind: Kind::Count,
        grouping: Grouping::Sliding(SlidingWindows {
            max_diff_ms: 10,
            grace_ms: 0,
        }),
        emit: Emit::OnUpdate,
        value_format: ValueFormat::Text,
        key_format: KeyFormat::Plain,
        retention_ms: 1000,
        close_idle_after_ms: None,
        max_open_windows: crate::streams::open::DEFAULT_MAX_OPEN_WINDOWS,
        late: crate::streams::Late::Drop,
    };
    let mut store = MemoryState::default();
    let rec = |ts| Record {
        key: Some(Bytes::from_static(b"k")),
        value: None,
        headers: Vec::new(),
        timestamp: ts,
    };
    let done = agg.process(&mut store, &[rec(8), rec(15)]).unwrap();
    let got: Vec<_> = done.output.records.iter().map(|r| read(r, 10)).collect();
    assert_eq!(
        got,
        vec![
            (0, "k".into(), 1, 8),
            (5, "k".into(), 2, 15),
            (9, "k".into(), 1, 15),
        ]
    );
}
