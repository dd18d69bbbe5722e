//! Processors with window and session stores and stream-time punctuation (issue 12,
//! point 7): a per-key tumbling-window count in a window store, emitted by a stream-time
//! punctuator.
//!
//! - [`runtime`]: through the runtime's library API: a processor built before the stores
//!   existed still loads and runs; the stores, punctuation and their limits.
//! - [`pipeline`]: end to end: exact counts, a hot-swap mid-window keeps the store, a key
//!   past the cap stops the task naming it.
//! - [`crash`]: exactly one result per window and key across repeated SIGKILLs.
//! - [`js`]: the same processor in JS (guest-sdk/js) answers and emits as the Rust one, and
//!   takes over its stores in a hot-swap.

#[path = "../common/mod.rs"]
mod common;

mod crash;
mod js;
mod pipeline;
mod runtime;

use std::collections::BTreeMap;

/// The window size and punctuation interval of the `windowcount` guest, ms.
pub const SIZE: i64 = 1000;
/// The inactivity gap of its sessions, ms.
pub const GAP: i64 = 500;

/// A window boundary an hour ago, ms since the epoch: test timestamps start there (records
/// from 1970 would be past the topics' retention and deleted under the test).
pub fn an_hour_ago() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    (now - 3_600_000).div_euclid(SIZE) * SIZE
}

/// The reference: per `key@start`, how many of `records` (key, timestamp) fall in the
/// tumbling window, for the windows that end at or before the largest timestamp (those a
/// punctuation at that stream time has emitted).
pub fn expected(records: &[(String, i64)]) -> BTreeMap<String, u64> {
    let stream_time = records.iter().map(|r| r.1).max().unwrap_or(i64::MIN);
    let mut want = BTreeMap::new();
    for (key, ts) in records {
        let start = ts.div_euclid(SIZE) * SIZE;
        if start + SIZE <= stream_time {
            *want.entry(format!("{key}@{start}")).or_insert(0) += 1;
        }
    }
    want
}

/// The stream times of the guest's punctuations (its `tick@T` records), in output order.
pub fn ticks(values: &[String]) -> Vec<i64> {
    values
        .iter()
        .filter_map(|v| v.strip_prefix("tick@"))
        .map(|t| t.parse().expect("a stream time"))
        .collect()
}

/// The guest's window results (`key@start=count`) as a map, failing on a window emitted
/// twice.
pub fn emitted(values: &[String]) -> BTreeMap<String, u64> {
    let mut got = BTreeMap::new();
    for v in values
        .iter()
        .filter(|v| !v.starts_with("tick@") && !v.starts_with("session:"))
    {
        let (window, n) = v.rsplit_once('=').expect("key@start=count");
        let n: u64 = n.parse().expect("a count");
        assert!(
            got.insert(window.to_string(), n).is_none(),
            "window {window} emitted twice"
        );
    }
    got
}

/// The reference for sessions: per key, its records (in timestamp order) at most [`GAP`]
/// apart make one session; `key@start-end` to its count, for the sessions that end more
/// than a gap before the largest timestamp (those no later record can extend).
pub fn expected_sessions(records: &[(String, i64)]) -> BTreeMap<String, u64> {
    let stream_time = records.iter().map(|r| r.1).max().unwrap_or(i64::MIN);
    let mut per_key: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for (key, ts) in records {
        per_key.entry(key).or_default().push(*ts);
    }
    let mut want = BTreeMap::new();
    for (key, mut times) in per_key {
        times.sort();
        let mut i = 0;
        while i < times.len() {
            let mut j = i;
            while j + 1 < times.len() && times[j + 1] - times[j] <= GAP {
                j += 1;
            }
            if times[j] < stream_time - GAP {
                let n = (j - i + 1) as u64;
                want.insert(format!("{key}@{}-{}", times[i], times[j]), n);
            }
            i = j + 1;
        }
    }
    want
}

/// The guest's session results (`session:key@start-end=count`), failing on one emitted twice.
pub fn sessions(values: &[String]) -> BTreeMap<String, u64> {
    let mut got = BTreeMap::new();
    for v in values.iter().filter_map(|v| v.strip_prefix("session:")) {
        let (session, n) = v.rsplit_once('=').expect("key@start-end=count");
        let n: u64 = n.parse().expect("a count");
        assert!(
            got.insert(session.to_string(), n).is_none(),
            "session {session} emitted twice"
        );
    }
    got
}
