//! Left and outer windowed stream–stream joins attached, as embedded, across a SIGKILL.

use serde_json::json;

use crate::cluster::*;
use crate::common::streams::now_ms;
use crate::phases::{Phases, rec, spread};

/// The join window: 100 ms either way, 50 ms of grace (a record closes once stream time
/// passes its timestamp by 150 ms).
fn window() -> serde_json::Value {
    json!({"before_ms": 100, "after_ms": 100, "grace_ms": 50})
}

#[test]
fn left_and_outer_window_joins_attached_match_embedded_across_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, nodes) = cluster_of_two(
        dir.path(),
        &[
            ("views", 2),
            ("clicks", 2),
            ("wl-out-e", 1),
            ("wl-out-a", 1),
            ("wo-out-e", 1),
            ("wo-out-a", 1),
        ],
    );
    let bootstrap = broker.kafka.clone();
    for (name, join_type) in [("wl", "left"), ("wo", "outer")] {
        for mode in ["e", "a"] {
            let spec = json!({"name": format!("{name}-{mode}"),
                "sources": {"views": {"topic": "views"}, "clicks": {"topic": "clicks"}},
                "output": format!("{name}-out-{mode}"), "start": "earliest",
                "steps": [{"op": "join", "left": "views", "right": "clicks",
                    "type": join_type, "window": window()}]});
            match mode {
                "e" => crate::common::pipeline::create(&broker, spec),
                _ => nodes[0].create(spec),
            }
        }
    }
    let mut phases = Phases {
        broker: &broker,
        names: vec!["wl", "wo"],
        tasks: 4,
        sent: 0,
    };
    let key = |i: usize| Some(format!("k{}", i % 8));
    let t0 = now_ms() - 120_000;
    // Views, every sixth 90 ms out of order (within its grace); one an old, late record
    // (it joins nothing stored and comes out at once); one with a null key (a left or
    // outer join's comes out at once joined with null, KIP-962).
    let mut views: Vec<_> = (0..24)
        .map(|i| {
            let back = if i % 6 == 5 { 90 } else { 0 };
            rec(key(i), format!("v{i}"), t0 + 20 * i as i64 - back)
        })
        .collect();
    views.push(rec(key(1), "v-late".into(), t0 - 400));
    views.push(rec(None, "v-nokey".into(), t0 + 100));
    phases.send("views", views);
    phases.caught_up(&nodes[0], 2);
    // Clicks: the first are late for the views' stream time but still join the views
    // stored; the rest match views in their windows or wait.
    phases.send(
        "clicks",
        (0..12)
            .map(|i| rec(key(i * 3), format!("c{i}"), t0 + 200 + 25 * i as i64))
            .collect(),
    );
    phases.caught_up(&nodes[0], 2);
    let left = same_output(&bootstrap, ("wl-out-e", "wl-out-a"), 1, |o| o.len() >= 10);
    same_output(&bootstrap, ("wo-out-e", "wo-out-a"), 1, |o| o.len() >= 10);
    assert!(
        left.iter()
            .any(|o| o.0.is_empty() && o.1.contains("v-nokey")),
        "the null-key view was not joined with null: {left:?}"
    );
    // A view of each key that matches nothing yet: it waits in the outer store of every
    // task (keys k0..k7 reach both partitions) until the next phase closes its window, so
    // that the kill below loses it unless the restore brings it back.
    phases.send(
        "views",
        (0..8)
            .map(|i| rec(key(i), format!("pending{i}"), t0 + 490))
            .collect(),
    );
    phases.caught_up(&nodes[0], 2);
    // More views; one node dies while the tasks read them. The survivor restores their
    // window stores and waiting records from the changelogs and takes them on from the
    // last committed round.
    phases.send(
        "views",
        (0..40)
            .map(|i| {
                let back = if i % 7 == 3 { 80 } else { 0 };
                rec(key(i), format!("w{i}"), t0 + 600 + 15 * i as i64 - back)
            })
            .collect(),
    );
    // The kill must cost the tasks of both partitions something.
    spread(&broker, &["views", "clicks"]);
    let [survivor, dead] = nodes;
    dead.kill();
    phases.caught_up(&survivor, 1);
    // Clicks matching the views stored before and across the kill.
    phases.send(
        "clicks",
        (0..16)
            .map(|i| rec(key(i * 5), format!("d{i}"), t0 + 700 + 30 * i as i64))
            .collect(),
    );
    phases.caught_up(&survivor, 1);
    // Stream time far on in every task: every window closes, every waiting record that
    // matched nothing comes out joined with null.
    phases.send(
        "views",
        (0..8)
            .map(|i| rec(key(i), format!("z{i}"), t0 + 10_000))
            .collect(),
    );
    phases.caught_up(&survivor, 1);
    let left = same_output(&bootstrap, ("wl-out-e", "wl-out-a"), 1, |o| o.len() >= 60);
    let outer = same_output(&bootstrap, ("wo-out-e", "wo-out-a"), 1, |o| o.len() >= 60);
    let count = |out: &[Out], part: &str| out.iter().filter(|o| o.1.contains(part)).count();
    // Each matched pair once, each view once whether matched or not: the outputs hold
    // what an embedded run does, no record twice.
    assert!(count(&left, "\"right\":null") >= 10, "{left:?}");
    assert!(count(&left, "\"right\":\"d") >= 5, "{left:?}");
    assert!(count(&outer, "\"left\":null") >= 1, "{outer:?}");
    assert_eq!(count(&left, "\"v-late\""), 1, "{left:?}");
    assert_eq!(count(&left, "\"pending"), 8, "{left:?}");
}
