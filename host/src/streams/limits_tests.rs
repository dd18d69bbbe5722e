//! The per-task caps on streams state, crossed at the operator: a table's rows past
//! `pipelines.max_table_bytes`, a stream–stream join's window stores past
//! `pipelines.max_join_window_records`. (Through a server: `tests/streams_limits.rs`.)

use crate::record::Record;
use crate::runtime::MemoryState;

use super::join::{JoinType, Side};
use super::join_window::JoinWindows;
use super::joiner::DefaultJoiner;
use super::table::Table;

fn record(key: &str, value: Option<&str>, ts: i64) -> Record {
    Record {
        key: Some(key.to_string().into()),
        value: value.map(|v| v.to_string().into()),
        headers: Vec::new(),
        timestamp: ts,
    }
}

#[test]
fn a_table_refuses_growth_past_its_bytes_and_keeps_updates_and_deletions() {
    let mut store = MemoryState::default();
    // Each row: 1 + 2 key bytes, 8 timestamp bytes, 5 value bytes = 16.
    let max = 40;
    let out = Table
        .update_within(
            &mut store,
            &[
                record("k1", Some("aaaaa"), 1),
                record("k2", Some("bbbbb"), 1),
                record("k3", Some("ccccc"), 1),
            ],
            max,
        )
        .unwrap();
    assert_eq!(out.records.len(), 2, "two rows fit");
    assert_eq!(out.failures.len(), 1);
    assert_eq!(out.failures[0].index, 2);
    assert!(
        out.failures[0]
            .message
            .contains("pipelines.max_table_bytes"),
        "{}",
        out.failures[0].message
    );
    assert_eq!(Table::size(&store).unwrap(), 32);
    assert_eq!(
        Table::get(&store, b"k3").unwrap(),
        None,
        "nothing stored for it"
    );
    // Same size: applies at the cap; a deletion makes room.
    let out = Table
        .update_within(
            &mut store,
            &[
                record("k1", Some("AAAAA"), 2),
                record("k2", None, 2),
                record("k3", Some("ccccc"), 2),
            ],
            max,
        )
        .unwrap();
    assert!(out.failures.is_empty(), "{:?}", out.failures);
    assert_eq!(Table::size(&store).unwrap(), 32);
    assert_eq!(Table::get(&store, b"k1").unwrap().unwrap().value, b"AAAAA");
    assert_eq!(Table::get(&store, b"k2").unwrap(), None);
}

#[test]
fn a_join_window_refuses_records_past_its_count_until_they_expire() {
    let windows = JoinWindows {
        before_ms: 10,
        after_ms: 10,
        grace_ms: 0,
        max_records: 2,
    };
    let mut store = MemoryState::default();
    let mut go = |r: Record, side: Side| {
        windows
            .process(
                JoinType::Inner,
                &mut store,
                &mut DefaultJoiner,
                &[r],
                &[side],
            )
            .unwrap()
            .output
    };
    assert!(
        go(record("a", Some("1"), 100), Side::Left)
            .failures
            .is_empty()
    );
    assert!(
        go(record("b", Some("2"), 101), Side::Left)
            .failures
            .is_empty()
    );
    // Full: the third is refused before it joins (it would have matched a).
    let out = go(record("a", Some("3"), 102), Side::Right);
    assert!(out.records.is_empty(), "a refused record joins nothing");
    assert_eq!(out.failures.len(), 1);
    assert!(
        out.failures[0]
            .message
            .contains("pipelines.max_join_window_records"),
        "{}",
        out.failures[0].message
    );
    // Stream time past both records' retention (before + after + grace): room again.
    let out = go(record("c", Some("4"), 200), Side::Left);
    assert!(out.failures.is_empty(), "{:?}", out.failures);
    let out = go(record("c", Some("5"), 201), Side::Right);
    assert_eq!(out.records.len(), 1, "the stored record is joined");
}
