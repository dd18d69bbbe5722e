//! Processor timers attached: a wall-clock timer reports, stream-time punctuation
//! (window and session stores) matches embedded across a SIGKILL.

use std::time::Duration;

use serde_json::{Value, json};

use crate::cluster::*;
use crate::common::pipeline::{produce, upload};
use crate::common::streams::now_ms;
use crate::common::{guests, wait_until};

#[test]
fn processor_timers_fire_attached_and_punctuate_as_embedded_across_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, nodes) = cluster_of_two(
        dir.path(),
        &[
            ("in", 2),
            ("ticks-e", 1),
            ("ticks-a", 1),
            ("reports", 1),
            ("evens", 1),
        ],
    );
    let bootstrap = broker.kafka.clone();
    let windowcount = guests::guest("rust", "windowcount");
    let counter = guests::guest("rust", "counter");
    let (code, body) = upload(&broker, "windowcount", &windowcount);
    assert_eq!(code, 201, "{body}");
    nodes[0].upload("windowcount", &windowcount);
    nodes[0].upload("counter", &counter);
    // Stream-time punctuation (windowcount: window and session stores closed on each
    // second of stream time), embedded and attached.
    both(
        &broker,
        &nodes[0],
        "punct",
        "ticks",
        json!([{"name": "w", "module": "windowcount"}]),
    );
    // A wall-clock timer (counter: every 50 ms, the number of keys it holds).
    nodes[0].create(json!({
        "name": "clock", "inputs": ["in"], "output": "reports", "outputs": ["evens"],
        "start": "earliest", "steps": [{"module": "counter"}]
    }));
    for name in ["punct-a", "clock"] {
        assert!(
            wait_until(Duration::from_secs(60), || nodes
                .iter()
                .all(|n| n.has_tasks(name))),
            "{name}'s tasks never spread over both nodes"
        );
    }
    // Six keys, a record every 100 ms of event time; the second half after a kill.
    let base = (now_ms() / 1000 - 600) * 1000;
    let records = |from: i64, to: i64| -> Vec<Value> {
        (from..to)
            .map(|i| json!({"key": format!("k{}", i % 6), "value": "x", "timestamp": base + i * 100}))
            .collect()
    };
    produce(&broker, "in", records(0, 60));
    // Done when both partitions punctuated at the stream time of their last records.
    let ticked_past = |out: &[Out], t: i64| {
        out.iter()
            .filter_map(|o| o.1.strip_prefix("tick@")?.parse::<i64>().ok())
            .filter(|&at| at >= base + t)
            .count()
            >= 2
    };
    let out = same_output(&bootstrap, ("ticks-e", "ticks-a"), 1, |o| {
        ticked_past(o, 5000)
    });
    assert!(
        out.iter()
            .any(|o| o.1.starts_with("k") && o.1.contains('=')),
        "no window closed: {out:?}"
    );
    // The wall-clock timer fires attached too, with the keys the task's state holds.
    assert!(
        wait_until(Duration::from_secs(30), || {
            committed(&bootstrap, "reports", 1)
                .iter()
                .any(|o| o.1.starts_with("keys=") && !o.1.starts_with("keys=0 "))
        }),
        "the counter's timer never reported attached"
    );
    // One node dies: its tasks move, window stores and stream clocks restored.
    let [survivor, dead] = nodes;
    dead.kill();
    produce(&broker, "in", records(60, 150));
    let out = same_output(&bootstrap, ("ticks-e", "ticks-a"), 1, |o| {
        ticked_past(o, 14_000)
    });
    assert!(
        out.iter().any(|o| o.1.starts_with("session:")),
        "no session closed: {out:?}"
    );
    drop(survivor);
}
