//! Issue 12's repartition test attached: `group_by` to a new key over a 3-partition
//! input, counts per new key exact, on two nodes one of which is SIGKILLed mid-stream,
//! and after a hot-swap of the key selector; two `group_by`s (a middle stage) before a
//! windowed count give embedded's results.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::cluster::*;
use crate::common::guests::guest;
use crate::common::pipeline::{call, create, produce, upload, wait_caught_up};
use crate::common::streams::now_ms;
use crate::common::wait_until;
use crate::stages::{caught_up, groups};

const USERS: usize = 7;

/// Window size of the windowed count, ms.
const WINDOW_MS: i64 = 1000;

#[test]
fn a_group_by_counts_per_new_key_exactly_attached_across_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, nodes) = cluster_of_two(
        dir.path(),
        &[
            ("orders", 3),
            ("counts-e", 2),
            ("counts-a", 2),
            ("windows-e", 1),
            ("windows-a", 1),
        ],
    );
    let bootstrap = broker.kafka.clone();
    let by_user = guest("streams", "rust-key-selector");
    assert_eq!(upload(&broker, "by-user", &by_user).0, 201);
    nodes[0].upload("by-user", &by_user);
    let counts = json!([{"name": "regroup", "op": "group_by", "module": "by-user"},
                        {"name": "count", "op": "count"}]);
    // Windows close only on the last records, sent once everything else is counted: a
    // downstream task's records come from three upstream tasks in no fixed order, so
    // with less grace which are late would depend on timing.
    let windows = json!([{"name": "regroup", "op": "group_by", "module": "by-user"},
                         {"name": "regroup2", "op": "group_by", "module": "by-user"},
                         {"op": "count", "emit": "on_close",
                          "window": {"type": "tumbling", "size_ms": WINDOW_MS,
                                     "grace_ms": 60_000}}]);
    for mode in ["e", "a"] {
        for (name, steps) in [("counts", &counts), ("windows", &windows)] {
            let spec = json!({"name": format!("{name}-{mode}"), "inputs": ["orders"],
                "output": format!("{name}-{mode}"), "start": "earliest", "steps": steps});
            match mode {
                "a" => nodes[0].create(spec),
                _ => create(&broker, spec),
            }
        }
    }
    // One in ten has no user: the key selector chooses no key and the count drops it.
    let mut rng = rand::rngs::StdRng::seed_from_u64(15);
    let base = (now_ms() / 1000 - 600) * 1000;
    let records: Vec<Value> = (0..600)
        .map(|i| {
            let value = match rng.random_range(0..10) {
                0 => "no user".to_string(),
                _ => format!("user{},item{i}", rng.random_range(0..USERS)),
            };
            json!({"key": format!("order{i}"), "value": value, "timestamp": base + i * 20})
        })
        .collect();
    let stages = [("upstream", 3), ("downstream", 3)];
    let three = [("upstream", 3), ("middle_1", 3), ("downstream", 3)];
    produce(&broker, "orders", records[..300].to_vec());
    caught_up(&nodes[0], "counts-a", 2, &stages);
    caught_up(&nodes[0], "windows-a", 2, &three);
    // Each stage is a group of its own, named after the pipeline and the stage, and the
    // repartition topics are on the cluster with the inputs' partition count.
    let names: BTreeSet<(String, String)> = groups(&nodes[0], "windows-a")
        .into_iter()
        .map(|(stage, group, _, _)| (stage, group))
        .collect();
    let want: BTreeSet<(String, String)> = [
        ("upstream", "g.windows-a"),
        ("middle_1", "g.windows-a:middle_1"),
        ("downstream", "g.windows-a:downstream"),
    ]
    .iter()
    .map(|(s, g)| (s.to_string(), g.to_string()))
    .collect();
    assert_eq!(names, want);
    for topic in [
        "counts-a-regroup-repartition",
        "windows-a-regroup2-repartition",
    ] {
        let (code, info) = call(&broker, "GET", &format!("/v1/topics/{topic}"), None);
        assert_eq!(code, 200, "{info}");
        assert_eq!(info["partitions"].as_array().unwrap().len(), 3, "{info}");
    }
    // Mid-stream, one node dies: its tasks of every stage move to the survivor.
    produce(&broker, "orders", records[300..450].to_vec());
    let [survivor, dead] = nodes;
    dead.kill();
    produce(&broker, "orders", records[450..].to_vec());
    wait_caught_up(&broker, "counts-e", 600);
    wait_caught_up(&broker, "windows-e", 600);
    caught_up(&survivor, "counts-a", 1, &stages);
    caught_up(&survivor, "windows-a", 1, &three);
    let mut want: BTreeMap<String, i64> = BTreeMap::new();
    let mut windows_want: BTreeMap<(String, i64), i64> = BTreeMap::new();
    for r in &records {
        let (v, ts) = (
            r["value"].as_str().unwrap(),
            r["timestamp"].as_i64().unwrap(),
        );
        if let Some((user, _)) = v.split_once(',') {
            *want.entry(user.to_string()).or_insert(0) += 1;
            let start = ts.div_euclid(WINDOW_MS) * WINDOW_MS;
            *windows_want.entry((user.to_string(), start)).or_insert(0) += 1;
        }
    }
    assert_eq!(want.len(), USERS);
    // Read_committed, each key's counts rise by one record's effect at a time in its
    // partition and end at the exact total: nothing counted twice, nothing lost.
    let last = |topic: &str| -> BTreeMap<String, i64> {
        let mut seen: BTreeMap<String, i64> = BTreeMap::new();
        for (k, v, _, _) in committed_in_order(&bootstrap, topic, 2) {
            let n: i64 = v.parse().unwrap();
            let before = seen.insert(k.clone(), n).unwrap_or(0);
            assert!(n > before, "{topic}: {k} went from {before} to {n}");
        }
        seen
    };
    let mut got_counts = BTreeMap::new();
    let ok = wait_until(Duration::from_secs(60), || {
        got_counts = last("counts-a");
        got_counts == want
    });
    assert!(ok, "attached counts {got_counts:?}, want {want:?}");
    assert_eq!(last("counts-e"), want, "embedded");
    // Then a record a few minutes later per user closes every window.
    let closing: Vec<Value> = (0..USERS)
        .map(|u| {
            json!({"key": format!("close{u}"), "value": format!("user{u},close"),
            "timestamp": base + 300_000})
        })
        .collect();
    produce(&broker, "orders", closing);
    let out = same_output(&bootstrap, ("windows-e", "windows-a"), 1, |o| {
        o.len() == windows_want.len()
    });
    let got: BTreeMap<(String, i64), i64> = out
        .into_iter()
        .map(|(k, v, start, _)| ((k, start.unwrap().parse().unwrap()), v.parse().unwrap()))
        .collect();
    assert_eq!(got, windows_want);
    // A hot-swap of the key selector (another separator) on both modes reaches the
    // survivor's upstream tasks, the counts' state kept: values split by ';' now count,
    // on top of everything before.
    let before = survivor.generation();
    let swapped = json!([{"name": "regroup", "op": "group_by", "module": "by-user",
                          "config": {"separator": ";"}},
                         {"name": "count", "op": "count"}]);
    for mode in ["e", "a"] {
        let spec = json!({"name": format!("counts-{mode}"), "inputs": ["orders"],
            "output": format!("counts-{mode}"), "start": "earliest", "steps": swapped});
        let path = format!("/v1/pipelines/counts-{mode}");
        let (code, body) = match mode {
            "a" => survivor.send(reqwest::Method::PUT, &path, Some(spec)),
            _ => call(&broker, "PUT", &path, Some(spec)),
        };
        assert_eq!(code, 200, "{body}");
    }
    assert!(
        wait_until(Duration::from_secs(30), || survivor.generation()
            == before + 1),
        "the survivor never swapped"
    );
    let more: Vec<Value> = (0..70)
        .map(|i| json!({"key": format!("late{i}"), "value": format!("user{};late{i}", i % 7)}))
        .collect();
    produce(&broker, "orders", more);
    for n in want.values_mut() {
        // Its closing record, and ten split by ';'.
        *n += 11;
    }
    let ok = wait_until(Duration::from_secs(60), || {
        got_counts = last("counts-a");
        got_counts == want
    });
    assert!(
        ok,
        "attached counts after the swap {got_counts:?}, want {want:?}"
    );
    wait_caught_up(&broker, "counts-e", 677);
    assert_eq!(last("counts-e"), want, "embedded after the swap");
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
