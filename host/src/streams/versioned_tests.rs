//! The versioned table against a model written here (every version of every key, kept
//! forever, and Kafka's rules for what a lookup may still see), on random out-of-order
//! puts; and the stream–table join's grace buffer on the cases KIP-923 is about.

use std::collections::{BTreeMap, HashMap};

use rand::{Rng, SeedableRng};

use crate::record::Record;
use crate::runtime::{MemoryState, StateBackend};

use super::join::{JoinType, Side};
use super::join_versioned::VersionedJoin;
use super::joiner::DefaultJoiner;
use super::table::Table;
use super::versioned::VersionedTable;

fn rec(key: &str, value: Option<&str>, ts: i64) -> Record {
    Record {
        key: Some(key.as_bytes().to_vec().into()),
        value: value.map(|v| v.as_bytes().to_vec().into()),
        headers: Vec::new(),
        timestamp: ts,
    }
}

/// Kafka's versioned store, as plainly as it can be said.
#[derive(Default)]
struct Model {
    versions: HashMap<String, BTreeMap<i64, Option<String>>>,
    time: Option<i64>,
}

impl Model {
    fn put(&mut self, history: i64, key: &str, value: Option<&str>, ts: i64) -> bool {
        if self.time.is_some_and(|t| ts < t - history) {
            return false;
        }
        self.time = Some(self.time.map_or(ts, |t| t.max(ts)));
        self.versions
            .entry(key.to_string())
            .or_default()
            .insert(ts, value.map(str::to_string));
        true
    }

    fn get(&self, history: i64, key: &str, at: i64) -> Option<String> {
        let versions = self.versions.get(key)?;
        if self.time.is_some_and(|t| at < t - history) {
            let (&ts, latest) = versions.last_key_value()?;
            return if ts <= at { latest.clone() } else { None };
        }
        versions.range(..=at).last().and_then(|(_, v)| v.clone())
    }
}

#[test]
fn versioned_lookups_match_the_model_on_random_out_of_order_puts() {
    for seed in 0..20 {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let history = rng.random_range(0..80);
        let table = VersionedTable {
            history_ms: history,
        };
        let mut store = MemoryState::default();
        let mut model = Model::default();
        let mut gone = std::collections::HashSet::new();
        let mut t = 1000;
        for step in 0..400 {
            t += rng.random_range(0..10);
            let ts = t - rng.random_range(0..120);
            let key = format!("k{}", rng.random_range(0..4));
            let value = (!rng.random_bool(0.2)).then(|| format!("v{step}"));
            let time_before = model.time;
            let put = model.put(history, &key, value.as_deref(), ts);
            if model.time != time_before {
                // A latest tombstone behind the retention is dropped at once (no lookup
                // within the retention can tell it from nothing).
                let horizon = model.time.unwrap() - history;
                for (k, versions) in &model.versions {
                    if let Some((&t, None)) = versions.last_key_value()
                        && t <= horizon
                    {
                        gone.insert((k.clone(), t));
                    }
                }
            }
            let (out, expired) = table
                .update_within(&mut store, &[rec(&key, value.as_deref(), ts)], u64::MAX)
                .unwrap();
            assert_eq!(
                (out.records.len(), expired),
                if put { (1, 0) } else { (0, 1) },
                "seed {seed} step {step}: put at {ts}"
            );
            for _ in 0..4 {
                let at = t - rng.random_range(0..200);
                let k = format!("k{}", rng.random_range(0..4));
                let got = table
                    .get_as_of(&store, k.as_bytes(), at)
                    .unwrap()
                    .map(|r| String::from_utf8(r.value).unwrap());
                assert_eq!(
                    got,
                    model.get(history, &k, at),
                    "seed {seed} step {step}: {k} as of {at} (history {history})"
                );
            }
            // The latest value is the plain table's row (the queryable state reads it).
            let latest = model
                .versions
                .get(&key)
                .and_then(|v| v.last_key_value())
                .and_then(|(_, v)| v.clone());
            let row = Table::get(&store, key.as_bytes()).unwrap();
            assert_eq!(row.map(|r| String::from_utf8(r.value).unwrap()), latest);
        }
        // Versions no lookup can reach are gone: every version kept is the latest of
        // its key or ends after stream time minus the retention (each ends where the
        // next begins), bar latest tombstones dropped once behind it.
        let horizon = model.time.unwrap() - history;
        let mut want_kept = Vec::new();
        for (key, versions) in &model.versions {
            let ts: Vec<i64> = versions.keys().copied().collect();
            for (i, t) in ts.iter().enumerate() {
                let latest = i + 1 == ts.len();
                let ends = ts.get(i + 1).copied().unwrap_or(*t);
                let in_history = !latest || versions[t].is_none();
                if in_history && ends > horizon && !gone.contains(&(key.clone(), *t)) {
                    want_kept.push((key.clone(), *t));
                }
            }
        }
        // A version ending exactly at the horizon, made by a put that did not move
        // stream time, waits for the next purge: at most two a key (it and a tombstone).
        let kept = store.prefix(b"h", usize::MAX).unwrap().len();
        assert!(
            (want_kept.len()..=want_kept.len() + 2 * model.versions.len()).contains(&kept),
            "seed {seed}: {kept} history versions kept (horizon {horizon}); want {want_kept:?}"
        );
    }
}

#[test]
fn a_table_at_its_byte_cap_fails_the_record_that_would_grow_it() {
    let table = VersionedTable { history_ms: 1000 };
    let mut store = MemoryState::default();
    let (out, _) = table
        .update_within(&mut store, &[rec("k", Some("v1"), 10)], u64::MAX)
        .unwrap();
    assert_eq!(out.records.len(), 1);
    let size = Table::size(&store).unwrap();
    let (out, _) = table
        .update_within(&mut store, &[rec("k", Some("v2"), 20)], size + 10)
        .unwrap();
    assert_eq!(out.records.len(), 0);
    assert!(
        out.failures[0]
            .message
            .contains("pipelines.max_table_bytes"),
        "{:?}",
        out.failures
    );
    let row = table.get_as_of(&store, b"k", 30).unwrap().unwrap();
    assert_eq!(row.value, b"v1", "the table stays as it was");
}

/// Runs stream records (left) through a versioned join with grace, the table records
/// (right) applied first as the task's table source does; results as (key, value, ts).
fn join(
    j: &VersionedJoin,
    own: &mut MemoryState,
    table: &mut MemoryState,
    batch: &[(Side, Record)],
) -> Vec<(String, String, i64)> {
    let mut results = Vec::new();
    for (side, r) in batch {
        if *side == Side::Right {
            j.table
                .update_within(table, std::slice::from_ref(r), u64::MAX)
                .unwrap();
        }
        let done = j
            .process(
                own,
                table,
                &mut DefaultJoiner,
                std::slice::from_ref(r),
                &[*side],
            )
            .unwrap();
        assert!(
            done.output.failures.is_empty(),
            "{:?}",
            done.output.failures
        );
        for o in done.output.records {
            let crate::runtime::Body::New(r) = o.body else {
                panic!("a join makes new records")
            };
            results.push((
                String::from_utf8(r.key.unwrap().to_vec()).unwrap(),
                String::from_utf8(r.value.unwrap().to_vec()).unwrap(),
                r.timestamp,
            ));
        }
    }
    results
}

#[test]
fn grace_lets_a_late_table_update_reach_the_stream_record_it_precedes() {
    let j = VersionedJoin {
        join_type: JoinType::Left,
        table: VersionedTable { history_ms: 100 },
        grace_ms: Some(10),
        max_buffered: u64::MAX,
    };
    let (mut own, mut table) = (MemoryState::default(), MemoryState::default());
    let out = join(
        &j,
        &mut own,
        &mut table,
        &[
            (Side::Right, rec("a", Some("old"), 0)),
            // Waits: stream time 20, nothing is 10 ms behind it yet.
            (Side::Left, rec("a", Some("s1"), 20)),
            // The table's value as of 15 arrives after the stream record at 20.
            (Side::Right, rec("a", Some("new"), 15)),
            // Stream time 30: the record at 20 joins, and sees the update at 15.
            (Side::Left, rec("b", Some("s2"), 30)),
        ],
    );
    assert_eq!(
        out,
        vec![("a".into(), r#"{"left":"s1","right":"new"}"#.into(), 20)]
    );
    // Without grace, the lookup is as of the record's timestamp but at its arrival.
    let j = VersionedJoin {
        grace_ms: None,
        ..j
    };
    let (mut own, mut table) = (MemoryState::default(), MemoryState::default());
    let out = join(
        &j,
        &mut own,
        &mut table,
        &[
            (Side::Right, rec("a", Some("old"), 0)),
            (Side::Left, rec("a", Some("s1"), 20)),
            (Side::Right, rec("a", Some("new"), 15)),
            (Side::Right, rec("a", Some("newer"), 25)),
            (Side::Left, rec("a", Some("s0"), 18)),
        ],
    );
    assert_eq!(
        out,
        vec![
            ("a".into(), r#"{"left":"s1","right":"old"}"#.into(), 20),
            ("a".into(), r#"{"left":"s0","right":"new"}"#.into(), 18),
        ]
    );
}

#[test]
fn the_grace_buffer_emits_in_timestamp_order_and_refuses_past_its_cap() {
    let j = VersionedJoin {
        join_type: JoinType::Left,
        table: VersionedTable { history_ms: 100 },
        grace_ms: Some(5),
        max_buffered: 2,
    };
    let (mut own, mut table) = (MemoryState::default(), MemoryState::default());
    let out = join(
        &j,
        &mut own,
        &mut table,
        &[
            (Side::Left, rec("b", Some("s1"), 10)),
            (Side::Left, rec("a", Some("s2"), 8)),
            // Stream time 20 releases both, oldest first; it waits itself.
            (Side::Left, rec("c", Some("s3"), 20)),
        ],
    );
    let order: Vec<i64> = out.iter().map(|o| o.2).collect();
    assert_eq!(order, vec![8, 10]);
    // Buffer: the record at 20, then one more fits; the third fails with the cap.
    j.process(
        &mut own,
        &table,
        &mut DefaultJoiner,
        &[rec("d", Some("s4"), 21)],
        &[Side::Left],
    )
    .unwrap();
    let done = j
        .process(
            &mut own,
            &table,
            &mut DefaultJoiner,
            &[rec("e", Some("s5"), 22)],
            &[Side::Left],
        )
        .unwrap();
    assert!(
        done.output.failures[0]
            .message
            .contains("max_join_window_records"),
        "{:?}",
        done.output.failures
    );
}
