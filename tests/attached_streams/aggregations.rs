//! Aggregations attached: the same results as embedded, one per window and key, across
//! a SIGKILL.

use std::time::Duration;

use serde_json::{Value, json};

use crate::cluster::*;
use crate::common::pipeline::{produce, upload};
use crate::common::streams::now_ms;
use crate::common::{Server, guests, wait_until};

#[test]
fn aggregations_attached_match_embedded_across_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Server::start(&dir.path().join("broker"), &[]);
    let bootstrap = broker.kafka.clone();
    let kinds = [
        (
            "tumbling",
            json!([{"op": "count", "emit": "on_close",
                "window": {"type": "tumbling", "size_ms": 1000, "grace_ms": 200}}]),
        ),
        (
            "hopping",
            json!([{"op": "sum", "emit": "on_close",
                "window": {"type": "hopping", "size_ms": 1000, "advance_ms": 500}}]),
        ),
        (
            "sliding",
            json!([{"op": "count", "emit": "on_close",
                "window": {"type": "sliding", "max_diff_ms": 300, "grace_ms": 100}}]),
        ),
        (
            "session",
            json!([{"op": "sum", "emit": "on_close",
                "window": {"type": "session", "gap_ms": 250}}]),
        ),
        (
            "module",
            json!([{"op": "aggregate", "module": "summer", "emit": "on_close",
                "window": {"type": "tumbling", "size_ms": 1000}}]),
        ),
        (
            "idle",
            json!([{"op": "count", "emit": "on_close", "close_idle_after_ms": 1500,
                "window": {"type": "tumbling", "size_ms": 1000}}]),
        ),
        // Unwindowed, emit on update, into a table.
        ("table", json!([{"op": "sum"}, {"op": "to_table"}])),
        // A built-in windowed count on update: its results are built from the round's
        // writes when they are taken (the transaction is the commit).
        (
            "update",
            json!([{"op": "count",
                "window": {"type": "tumbling", "size_ms": 1000, "grace_ms": 200}}]),
        ),
        (
            "reduce",
            json!([{"op": "reduce", "module": "summer",
                "window": {"type": "tumbling", "size_ms": 1000}}]),
        ),
    ];
    let mut names = vec![("in", 2)];
    for (kind, _) in &kinds {
        names.push((Box::leak(format!("{kind}-e").into_boxed_str()), 1));
        names.push((Box::leak(format!("{kind}-a").into_boxed_str()), 1));
    }
    topics(&broker, &names);
    let nodes = two_nodes(dir.path(), &bootstrap);
    let summer = guests::guest("streams", "rust-aggregator");
    assert_eq!(upload(&broker, "summer", &summer).0, 201);
    nodes[0].upload("summer", &summer);
    for (kind, steps) in &kinds {
        both(&broker, &nodes[0], kind, kind, steps.clone());
    }
    for (kind, _) in &kinds {
        let name = format!("{kind}-a");
        assert!(
            wait_until(Duration::from_secs(60), || nodes
                .iter()
                .all(|n| n.has_tasks(&name))),
            "{name}'s tasks never spread over both nodes"
        );
    }
    // Six keys, out of order within a few hundred ms, values 0..7.
    let base = (now_ms() / 1000 - 600) * 1000;
    let ts = |i: i64| base + i * 37 - (i % 5) * 60;
    let records = |from: i64, to: i64| -> Vec<Value> {
        (from..to)
            .map(|i| {
                json!({"key": format!("k{}", i % 6), "value": (i % 7).to_string(),
                    "timestamp": ts(i)})
            })
            .collect()
    };
    let check = |kind: &str, sent: u64| {
        crate::common::pipeline::wait_caught_up(&broker, &format!("{kind}-e"), sent);
        let (e, a) = (format!("{kind}-e"), format!("{kind}-a"));
        if matches!(kind, "table" | "update" | "reduce") {
            // On update: the last result per key and window is the same.
            let want = latest(&bootstrap, &e);
            assert!(!want.is_empty(), "{kind}: no embedded output");
            let ok = wait_until(Duration::from_secs(60), || latest(&bootstrap, &a) == want);
            assert!(
                ok,
                "{kind}: attached {:?} != embedded {want:?}",
                latest(&bootstrap, &a)
            );
            return;
        }
        // The idle step closes the window of each key's last record on the wall clock
        // (no later record does): the first 150 records' (the rest come late).
        let last_windows: Vec<(String, String)> = (0..6)
            .map(|k| {
                let t = (0..150).filter(|i| i % 6 == k).map(ts).max().unwrap();
                (format!("k{k}"), (t.div_euclid(1000) * 1000).to_string())
            })
            .collect();
        let out = same_output(&bootstrap, (&e, &a), 1, |o| {
            !o.is_empty()
                && (kind != "idle"
                    || last_windows.iter().all(|(k, start)| {
                        o.iter()
                            .any(|r| &r.0 == k && r.2.as_deref() == Some(start.as_str()))
                    }))
        });
        eprintln!(
            "{kind}: {} results, the same embedded and attached",
            out.len()
        );
        // Exactly one result per window and key.
        let mut seen = std::collections::BTreeSet::new();
        for (k, _, start, end) in &out {
            assert!(seen.insert((k, start, end)), "{kind}: {k} {start:?} twice");
        }
    };
    produce(&broker, "in", records(0, 150));
    for (kind, _) in &kinds {
        check(kind, 150);
    }
    // One node dies mid-stream: its tasks move with their aggregates and open windows.
    let [survivor, dead] = nodes;
    dead.kill();
    produce(&broker, "in", records(150, 300));
    // Then a record a minute later on each partition closes every window.
    let last = ts(300) + 60_000;
    let closing: Vec<Value> = (0..2)
        .map(|p| json!({"key": "zz", "value": "0", "timestamp": last, "partition": p}))
        .collect();
    produce(&broker, "in", closing);
    for (kind, _) in &kinds {
        check(kind, 302);
    }
    // The dead node's tasks came to the survivor with their state from the changelogs.
    let (_, view) = survivor.get("/v1/cluster");
    let restored: u64 = view["pipelines"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["local"]["restored_records"].as_u64())
        .sum();
    assert!(restored > 0, "nothing was restored: {view}");
}
