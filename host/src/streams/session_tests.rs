//! Session windows against a reference written for obviousness (Kafka's merge rules over
//! every key's list of sessions), over random out-of-order input, for both emit modes; and
//! Kafka's documented example of a merge on an out-of-order record.

use std::collections::BTreeMap;

use crate::record::Record;
use crate::runtime::{Body, MemoryState};

use super::aggregate::Kind;
use super::tests::{Rng, random_input, record};
use super::*;

/// Kafka's session rules, spelled out over every key's list of sessions: a record within
/// the gap of sessions merges them (and itself) into one; late when the merged session
/// ends before `stream time - grace - gap`; on close, sessions ending in
/// `[previous close, close)` are emitted when the close time moves.
#[allow(clippy::type_complexity)]
fn session_reference(
    input: &[(String, i64, i64)],
    s: SessionWindows,
) -> (
    BTreeMap<(String, i64, i64), i64>,
    Vec<(String, i64, i64, i64)>,
    u64,
) {
    let mut sessions: BTreeMap<String, Vec<(i64, i64, i64)>> = BTreeMap::new();
    let mut stream_time: Option<i64> = None;
    let mut emitted = Vec::new();
    let mut forgotten = BTreeMap::new();
    let mut late = 0;
    for (key, value, ts) in input {
        let previous = stream_time.map(|t| t - s.grace_ms - s.gap_ms);
        let now = stream_time.map_or(*ts, |t| t.max(*ts));
        stream_time = Some(now);
        let close = now - s.grace_ms - s.gap_ms;
        let list = sessions.entry(key.clone()).or_default();
        let (touching, rest): (Vec<(i64, i64, i64)>, Vec<(i64, i64, i64)>) = list
            .iter()
            .partition(|(start, end, _)| *end >= ts - s.gap_ms && *start <= ts + s.gap_ms);
        let start = touching.iter().map(|t| t.0).fold(*ts, i64::min);
        let end = touching.iter().map(|t| t.1).fold(*ts, i64::max);
        if end < close {
            late += 1;
        } else {
            let total = value + touching.iter().map(|t| t.2).sum::<i64>();
            *list = rest;
            list.push((start, end, total));
        }
        if previous.is_none_or(|p| p < close) {
            // Emitted together, in (end, key, start) order.
            let mut now_closed = Vec::new();
            for (k, list) in &sessions {
                for (start, end, v) in list {
                    if previous.is_none_or(|p| *end >= p) && *end < close {
                        now_closed.push((*end, k.clone(), *start, *v));
                    }
                }
            }
            now_closed.sort();
            emitted.extend(now_closed.into_iter().map(|(en, k, st, v)| (k, st, en, v)));
        }
        // Forgotten once stream time passes end + retention (gap + grace here); its last
        // result stays what it was.
        for (k, list) in sessions.iter_mut() {
            for (st, en, v) in list.iter() {
                if *en < now - s.gap_ms - s.grace_ms {
                    forgotten.insert((k.clone(), *st, *en), *v);
                }
            }
            list.retain(|(_, end, _)| *end >= now - s.gap_ms - s.grace_ms);
        }
    }
    let mut all = forgotten;
    all.extend(sessions.into_iter().flat_map(|(k, list)| {
        list.into_iter()
            .map(move |(st, en, v)| ((k.clone(), st, en), v))
    }));
    (all, emitted, late)
}

/// A session result as (key, start, end, value or tombstone), its timestamp the end.
fn read_session(r: &crate::runtime::OutputRecord) -> (String, i64, i64, Option<i64>) {
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
    assert_eq!(
        rec.timestamp, end,
        "a session result is stamped with its end"
    );
    let value = rec
        .value
        .as_ref()
        .map(|v| std::str::from_utf8(v).unwrap().parse().unwrap());
    let key = String::from_utf8(rec.key.as_ref().unwrap().to_vec()).unwrap();
    (key, start, end, value)
}

#[test]
fn session_counts_and_sums_match_the_reference() {
    for seed in 1..=10u64 {
        for kind in [Kind::Count, Kind::Sum] {
            for emit in [Emit::OnUpdate, Emit::OnClose] {
                let mut rng = Rng(seed * 104_729);
                let s = SessionWindows {
                    gap_ms: [30, 80, 200][rng.below(3) as usize],
                    grace_ms: [0, 50, 150][rng.below(3) as usize],
                };
                let input = random_input(&mut rng, 1500, kind == Kind::Sum);
                let (sessions, emitted, expected_late) = session_reference(&input, s);
                let agg = Aggregation {
                    kind,
                    grouping: Grouping::Session(s),
                    emit,
                    value_format: ValueFormat::Text,
                    key_format: KeyFormat::Plain,
                    retention_ms: s.gap_ms + s.grace_ms,
                    close_idle_after_ms: None,
                    max_open_windows: crate::streams::open::DEFAULT_MAX_OPEN_WINDOWS,
                    late: crate::streams::Late::Drop,
                };
                let mut store = MemoryState::default();
                let (mut late, mut out, mut at) = (0, Vec::new(), 0);
                while at < input.len() {
                    let n = (1 + rng.below(60) as usize).min(input.len() - at);
                    let batch: Vec<Record> = input[at..at + n]
                        .iter()
                        .map(|(k, v, ts)| record(k, &v.to_string(), *ts))
                        .collect();
                    let done = agg.process(&mut store, &batch).unwrap();
                    late += done.late.len() as u64;
                    out.extend(done.output.records.iter().map(read_session));
                    at += n;
                }
                let what = format!("seed {seed} {s:?} {kind:?} {emit:?}");
                assert_eq!(late, expected_late, "{what}: late");
                match emit {
                    Emit::OnClose => {
                        let got: Vec<_> = out
                            .into_iter()
                            .map(|(k, st, en, v)| (k, st, en, v.unwrap()))
                            .collect();
                        assert_eq!(got, emitted, "{what}");
                    }
                    Emit::OnUpdate => {
                        // The last result per session: its value, or a tombstone once
                        // merged away.
                        let mut last = BTreeMap::new();
                        for (k, st, en, v) in out {
                            last.insert((k, st, en), v);
                        }
                        let live: BTreeMap<_, _> = last
                            .into_iter()
                            .filter_map(|(k, v)| v.map(|v| (k, v)))
                            .collect();
                        assert_eq!(live, sessions, "{what}");
                    }
                }
            }
        }
    }
}

#[test]
fn kafkas_session_example_merges_on_an_out_of_order_record() {
    // Kafka's documentation: sessions at 0 and 6 (gap 5) merge into [0, 6] when a record
    // at 4 arrives; on update the two old sessions are answered with tombstones.
    let s = SessionWindows {
        gap_ms: 5,
        grace_ms: 100,
    };
    let agg = Aggregation {
        kind: Kind::Count,
        grouping: Grouping::Session(s),
        emit: Emit::OnUpdate,
        value_format: ValueFormat::Text,
        key_format: KeyFormat::Plain,
        retention_ms: 105,
        close_idle_after_ms: None,
        max_open_windows: crate::streams::open::DEFAULT_MAX_OPEN_WINDOWS,
        late: crate::streams::Late::Drop,
    };
    let mut store = MemoryState::default();
    let first = agg
        .process(
            &mut store,
            &[record("green", "x", 0), record("green", "x", 6)],
        )
        .unwrap();
    let got: Vec<_> = first.output.records.iter().map(read_session).collect();
    assert_eq!(
        got,
        vec![
            ("green".into(), 0, 0, Some(1)),
            ("green".into(), 6, 6, Some(1))
        ]
    );
    let merged = agg.process(&mut store, &[record("green", "x", 4)]).unwrap();
    let got: Vec<_> = merged.output.records.iter().map(read_session).collect();
    assert_eq!(
        got,
        vec![
            ("green".into(), 0, 0, None),
            ("green".into(), 0, 6, Some(3)),
            ("green".into(), 6, 6, None),
        ]
    );
}
