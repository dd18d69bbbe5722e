//! A grouped table's changes against a model written here: random upserts and deletes of
//! table rows, regrouped by the text before a comma in the value, each record of the
//! repartition topic aggregated one at a time; after each table change the groups it
//! touched hold (and emit) what the model's rows in them add up to, for `count`, `sum`,
//! `reduce` and `aggregate` (plain-Rust functions that sum). And Kafka's record shapes:
//! one record with both values when a row stays in its group, the old group's first when
//! it moves, none for a delete of no row.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::record::Record;
use crate::runtime::aggregator::{AggregatorInput, Answered, Refused};
use crate::runtime::{Body, MemoryState, OutputRecord, RuntimeError};

use super::aggregate::{Aggregation, Grouping, Kind};
use super::changes::{OLD_VALUE_HEADER, regroup};
use super::functions::Functions;
use super::spec::{Emit, KeyFormat, Late, ValueFormat};

/// Sums whole numbers after the comma; `subtract` refuses when `refuse` is set.
#[derive(Default)]
struct Summing {
    subtracts: usize,
    refuse: bool,
}

fn number(b: &[u8]) -> i64 {
    let s = std::str::from_utf8(b).unwrap();
    s.rsplit(',').next().unwrap().parse().unwrap()
}

impl Functions for Summing {
    fn initial(&mut self) -> Result<Answered, RuntimeError> {
        Ok(Ok(b"0".to_vec()))
    }

    fn add(&mut self, input: AggregatorInput<'_>, agg: &[u8]) -> Result<Answered, RuntimeError> {
        Ok(Ok((number(agg) + number(input.value))
            .to_string()
            .into_bytes()))
    }

    fn merge(&mut self, _: &[u8], _: &[u8], _: &[u8]) -> Result<Answered, RuntimeError> {
        unreachable!("a table aggregation merges nothing")
    }

    fn subtract(
        &mut self,
        input: AggregatorInput<'_>,
        agg: &[u8],
    ) -> Result<Answered, RuntimeError> {
        self.subtracts += 1;
        if self.refuse {
            return Ok(Err(Refused {
                function: "subtract",
                message: "this aggregator has no subtract".into(),
            }));
        }
        Ok(Ok((number(agg) - number(input.value))
            .to_string()
            .into_bytes()))
    }
}

fn step(kind: Kind) -> Aggregation {
    Aggregation {
        kind,
        grouping: Grouping::Changes,
        emit: Emit::OnUpdate,
        value_format: ValueFormat::Text,
        key_format: KeyFormat::Plain,
        retention_ms: 0,
        close_idle_after_ms: None,
        max_open_windows: 0,
        late: Late::Drop,
    }
}

fn row(key: &str, value: Option<&str>, ts: i64) -> Record {
    Record {
        key: Some(Bytes::from(key.to_string())),
        value: value.map(|v| Bytes::from(v.to_string())),
        headers: Vec::new(),
        timestamp: ts,
    }
}

fn group_of(value: &[u8]) -> Option<Vec<u8>> {
    let s = std::str::from_utf8(value).ok()?;
    s.split_once(',').map(|(g, _)| g.as_bytes().to_vec())
}

/// The repartition records of one change of `key` from `old` to `new`.
fn regrouped(key: &str, old: Option<&str>, new: Option<&str>, ts: i64) -> Vec<Record> {
    let change = row(key, new, ts);
    let new_key = new.and_then(|v| group_of(v.as_bytes()));
    let old_key = old.and_then(|v| group_of(v.as_bytes()));
    regroup(
        &[change],
        &[old.map(|o| Bytes::from(o.to_string()))],
        &[new_key],
        &[old_key],
    )
    .into_iter()
    .map(|r| match r.body {
        Body::New(r) => *r,
        Body::Input => panic!("regroup makes new records"),
    })
    .collect()
}

fn out(r: &OutputRecord) -> (String, String, i64) {
    let Body::New(rec) = &r.body else {
        panic!("aggregations make new records")
    };
    let text = |b: &Option<Bytes>| String::from_utf8(b.clone().unwrap().to_vec()).unwrap();
    (text(&rec.key), text(&rec.value), rec.timestamp)
}

fn old_header(r: &Record) -> Option<&str> {
    r.headers
        .iter()
        .find(|(n, _)| n == OLD_VALUE_HEADER)
        .map(|(_, v)| std::str::from_utf8(v.as_ref().unwrap()).unwrap())
}

#[test]
fn regroup_sends_one_record_within_a_group_and_the_old_groups_first_across() {
    // A first value only adds.
    let r = regrouped("k", None, Some("a,1"), 5);
    assert_eq!(r.len(), 1);
    assert_eq!(
        (r[0].key.as_deref(), old_header(&r[0])),
        (Some(&b"a"[..]), None)
    );
    // Within a group: one record, both values.
    let r = regrouped("k", Some("a,1"), Some("a,2"), 6);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].value.as_deref(), Some(&b"a,2"[..]));
    assert_eq!(old_header(&r[0]), Some("a,1"));
    // Across groups: the old group's retraction, then the new group's addition.
    let r = regrouped("k", Some("a,2"), Some("b,3"), 7);
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].key.as_deref(), Some(&b"a"[..]));
    assert_eq!(
        (r[0].value.as_ref(), old_header(&r[0])),
        (None, Some("a,2"))
    );
    assert_eq!(r[1].key.as_deref(), Some(&b"b"[..]));
    assert_eq!(
        (r[1].value.as_deref(), old_header(&r[1])),
        (Some(&b"b,3"[..]), None)
    );
    assert!(r.iter().all(|r| r.timestamp == 7));
    // A delete only retracts; a delete of no row, or of a value without a group, sends
    // nothing; nor does a value that selects no group.
    let r = regrouped("k", Some("b,3"), None, 8);
    assert_eq!(r.len(), 1);
    assert_eq!(
        (r[0].value.as_ref(), old_header(&r[0])),
        (None, Some("b,3"))
    );
    assert!(regrouped("k", None, None, 9).is_empty());
    assert!(regrouped("k", Some("nogroup"), None, 9).is_empty());
    let r = regrouped("k", Some("nogroup"), Some("c,1"), 9);
    assert_eq!((r.len(), old_header(&r[0])), (1, None));
    // A header of the same name on the table's record is not taken for an old value.
    let mut change = row("k", Some("a,1"), 1);
    change
        .headers
        .push((OLD_VALUE_HEADER.into(), Some(Bytes::from("forged"))));
    let r = regroup(&[change], &[None], &[Some(b"a".to_vec())], &[None]);
    let Body::New(r) = &r[0].body else { panic!() };
    assert_eq!(old_header(r), None);
}

/// Random changes of 6 rows over 4 groups (some values in no group, some deletes):
/// after each, every group it touched emits what the model's rows in it add up to.
fn matches_the_model(kind: Kind, seed: u64) {
    let agg = step(kind);
    let mut store = MemoryState::default();
    let mut fns = Summing::default();
    let mut rows: BTreeMap<String, String> = BTreeMap::new();
    let mut x = seed;
    let mut next = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let mut emitted = 0;
    for i in 0..300i64 {
        let key = format!("k{}", next(6));
        let new = match next(10) {
            0 | 1 => None,
            2 => Some(format!("nogroup{i}")),
            _ => Some(format!("g{},{}", next(4), next(20) as i64 - 5)),
        };
        let old = rows.get(&key).cloned();
        let records = regrouped(&key, old.as_deref(), new.as_deref(), 1000 + i);
        match &new {
            Some(v) => rows.insert(key.clone(), v.clone()),
            None => rows.remove(&key),
        };
        // Kafka hands the aggregation one record at a time.
        for r in records {
            let group = String::from_utf8(r.key.clone().unwrap().to_vec()).unwrap();
            let done = agg.process_with(&mut fns, &mut store, &[r]).unwrap();
            assert!(
                done.output.failures.is_empty(),
                "{:?}",
                done.output.failures
            );
            let members: Vec<&String> = rows
                .values()
                .filter(|v| group_of(v.as_bytes()).as_deref() == Some(group.as_bytes()))
                .collect();
            let sum: i64 = members.iter().map(|v| number(v.as_bytes())).sum();
            let got: Vec<_> = done.output.records.iter().map(out).collect();
            assert_eq!(got.len(), 1, "change {i}: one result per record");
            assert_eq!(got[0].0, group, "change {i} {kind:?}");
            // A reduce's first value is its aggregate as it is (`g1,5`): compare numbers.
            let (got, want) = match kind {
                Kind::Count => (got[0].1.clone(), members.len().to_string()),
                _ => (number(got[0].1.as_bytes()).to_string(), sum.to_string()),
            };
            assert_eq!(got, want, "change {i} {kind:?}");
            emitted += 1;
        }
    }
    assert!(emitted > 200);
    if kind.has_module() {
        assert!(
            fns.subtracts > 50,
            "the module's subtract did the taking out"
        );
    }
}

#[test]
fn count_sum_reduce_and_aggregate_follow_the_tables_rows() {
    for seed in [3, 17, 99] {
        for kind in [Kind::Count, Kind::Sum, Kind::Reduce, Kind::Aggregate] {
            if kind == Kind::Sum {
                // The built-in sum reads the whole value: sum the numbers alone.
                sums_follow_the_rows(seed);
                continue;
            }
            matches_the_model(kind, seed);
        }
    }
}

/// `sum` over values that are numbers, grouped by their sign.
fn sums_follow_the_rows(seed: u64) {
    let agg = step(Kind::Sum);
    let mut store = MemoryState::default();
    let mut rows: BTreeMap<String, i64> = BTreeMap::new();
    let mut x = seed;
    for i in 0..200i64 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let key = format!("k{}", (x >> 33) % 5);
        let new = (!(x >> 40).is_multiple_of(7)).then(|| ((x >> 20) % 21) as i64 - 10);
        let group = |n: i64| {
            Some(if n < 0 {
                b"neg".to_vec()
            } else {
                b"pos".to_vec()
            })
        };
        let old = rows.get(&key).copied();
        let records: Vec<Record> = regroup(
            &[row(&key, new.map(|n| n.to_string()).as_deref(), i)],
            &[old.map(|n| Bytes::from(n.to_string()))],
            &[new.and_then(group)],
            &[old.and_then(group)],
        )
        .into_iter()
        .map(|r| match r.body {
            Body::New(r) => *r,
            Body::Input => unreachable!(),
        })
        .collect();
        match new {
            Some(n) => rows.insert(key, n),
            None => rows.remove(&key),
        };
        let done = agg.process(&mut store, &records).unwrap();
        for (g, v, _) in done.output.records.iter().map(out) {
            let want: i64 = rows.values().filter(|&&n| (n < 0) == (g == "neg")).sum();
            assert_eq!(v, want.to_string(), "change {i}, group {g}");
        }
    }
}

#[test]
fn timestamps_are_the_larger_of_the_records_and_the_aggregates() {
    let agg = step(Kind::Count);
    let mut store = MemoryState::default();
    let mut got = Vec::new();
    for (key, old, new, ts) in [
        ("k1", None, Some("a,1"), 50),
        ("k2", None, Some("a,2"), 10),
        ("k1", Some("a,1"), Some("b,1"), 20),
        ("k3", None, Some("b,3"), 40),
    ] {
        let records = regrouped(key, old, new, ts);
        let done = agg.process(&mut store, &records).unwrap();
        got.extend(done.output.records.iter().map(out));
    }
    let want = [
        ("a", "1", 50),
        ("a", "2", 50),
        ("a", "1", 50),
        ("b", "1", 20),
        ("b", "2", 40),
    ];
    let want: Vec<_> = want
        .iter()
        .map(|(k, v, t)| (k.to_string(), v.to_string(), *t))
        .collect();
    assert_eq!(got, want);
    // The emptied group keeps its count of 0, as Kafka's does.
    let done = agg
        .process(&mut store, &regrouped("k2", Some("a,2"), None, 60))
        .unwrap();
    assert_eq!(
        done.output.records.iter().map(out).collect::<Vec<_>>(),
        [("a".into(), "0".into(), 60)]
    );
    assert_eq!(
        agg.lookup(&store, b"a").unwrap(),
        Some(super::Value::Count(0))
    );
}

#[test]
fn a_refused_subtract_fails_its_record_and_leaves_the_aggregate() {
    let agg = step(Kind::Aggregate);
    let mut store = MemoryState::default();
    let mut fns = Summing::default();
    agg.process_with(&mut fns, &mut store, &regrouped("k", None, Some("a,5"), 1))
        .unwrap();
    fns.refuse = true;
    let done = agg
        .process_with(
            &mut fns,
            &mut store,
            &regrouped("k", Some("a,5"), Some("a,7"), 2),
        )
        .unwrap();
    assert_eq!(done.output.failures.len(), 1);
    assert!(
        done.output.failures[0]
            .message
            .contains("aggregator subtract failed"),
        "{:?}",
        done.output.failures
    );
    assert!(done.output.records.is_empty());
    assert_eq!(
        agg.lookup(&store, b"a").unwrap(),
        Some(super::Value::Bytes(Bytes::from("5")))
    );
}
