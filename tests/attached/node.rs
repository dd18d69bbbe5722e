//! What the tests read back from the cluster (the node itself: `common/attached.rs`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use weir::cluster::Consumer;

pub use crate::common::attached::{Node, SESSION_TIMEOUT_MS};
use crate::common::attached::{client, from_start};

/// Keys the load cycles through.
pub const KEYS: usize = 24;

/// Records `from..from + n`, keyed `k{i % KEYS}`.
pub fn batch(from: usize, n: usize) -> Vec<Value> {
    (from..from + n)
        .map(|i| json!({"key": format!("k{}", i % KEYS), "value": format!("v{i}")}))
        .collect()
}

/// Every committed record of `topic`'s partitions but the counter's timer reports,
/// read_committed, until `want` arrived (or the deadline).
pub fn read_committed(bootstrap: &str, topic: &str, partitions: i32, want: usize) -> Vec<String> {
    let c = client(bootstrap);
    let mut consumer = from_start(&*c, topic, partitions);
    let mut values = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    while values.len() < want && Instant::now() < deadline {
        take(&mut *consumer, &mut values);
    }
    // Anything past the expected count would be a duplicate: look a little longer.
    let settle = Instant::now() + Duration::from_secs(2);
    while Instant::now() < settle {
        take(&mut *consumer, &mut values);
    }
    values
}

/// Adds what one poll of `consumer` brings to `values`, but the counter's wall-clock
/// timer reports (`keys=N at T`), which are no count.
fn take(consumer: &mut dyn Consumer, values: &mut Vec<String>) {
    for r in consumer.poll(10_000, Duration::from_millis(200)).unwrap() {
        let v = String::from_utf8_lossy(&r.value.unwrap_or_default()).into_owned();
        if !v.starts_with("keys=") {
            values.push(v);
        }
    }
}

/// Asserts the output holds, per key, the counts 1..=N (N: the key's inputs among the
/// first `sent`) each exactly once, whatever the case; returns the output.
pub fn exactly_once(bootstrap: &str, sent: usize) -> Vec<String> {
    let out = read_committed(bootstrap, "out", 3, sent);
    let mut per_key: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for v in &out {
        let (k, n) = v
            .split_once('=')
            .unwrap_or_else(|| panic!("odd output {v:?}"));
        per_key
            .entry(k.to_ascii_lowercase())
            .or_default()
            .push(n.parse().unwrap());
    }
    assert_eq!(per_key.len(), KEYS, "{per_key:?}");
    for (k, mut counts) in per_key {
        counts.sort_unstable();
        let index: usize = k[1..].parse().unwrap();
        let inputs = (0..sent).filter(|i| i % KEYS == index).count() as u64;
        let want: Vec<u64> = (1..=inputs).collect();
        assert_eq!(
            counts, want,
            "key {k}: each count once, none missing, none twice"
        );
    }
    assert_eq!(out.len(), sent, "every input's effect exactly once");
    out
}
