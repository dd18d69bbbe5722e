//! A left join with a versioned table and a grace period attached, as embedded, across a
//! SIGKILL: the table's history and the join's buffer of waiting stream records are
//! restored from the changelogs.

use serde_json::json;

use crate::cluster::*;
use crate::common::streams::now_ms;
use crate::phases::{Phases, rec, spread};

#[test]
fn a_versioned_table_join_attached_matches_embedded_across_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, nodes) = cluster_of_two(
        dir.path(),
        &[
            ("orders", 2),
            ("prices", 2),
            ("priced-e", 1),
            ("priced-a", 1),
        ],
    );
    let bootstrap = broker.kafka.clone();
    for mode in ["e", "a"] {
        // Orders look their price up as of their own time, and wait 100 ms of stream time
        // for price updates that come late.
        let spec = json!({"name": format!("vj-{mode}"),
            "sources": {"orders": {"topic": "orders"},
                "prices": {"topic": "prices", "as": "table", "history_retention_ms": 2000}},
            "output": format!("priced-{mode}"), "start": "earliest",
            "steps": [{"op": "join", "left": "orders", "right": "prices", "type": "left",
                "grace_ms": 100}]});
        match mode {
            "e" => crate::common::pipeline::create(&broker, spec),
            _ => nodes[0].create(spec),
        }
    }
    let mut phases = Phases {
        broker: &broker,
        names: vec!["vj"],
        tasks: 4,
        sent: 0,
    };
    let key = |i: usize| Some(format!("k{}", i % 6));
    let t0 = now_ms() - 120_000;
    // Three versions of each price, some out of order.
    phases.send(
        "prices",
        (0..18)
            .map(|i| {
                let back = if i % 5 == 2 { 70 } else { 0 };
                rec(key(i), format!("price{i}"), t0 + 50 * i as i64 - back)
            })
            .collect(),
    );
    phases.caught_up(&nodes[0], 2);
    // Orders between the versions, some out of order: each joins the version current at
    // its time once stream time passes it by the grace.
    phases.send(
        "orders",
        (0..30)
            .map(|i| {
                let back = if i % 4 == 1 { 60 } else { 0 };
                rec(key(i), format!("order{i}"), t0 + 25 + 30 * i as i64 - back)
            })
            .collect(),
    );
    phases.caught_up(&nodes[0], 2);
    let first = same_output(&bootstrap, ("priced-e", "priced-a"), 1, |o| o.len() >= 10);
    assert!(first.iter().any(|o| o.1.contains("price")), "{first:?}");
    // Late price updates for the orders still waiting; one node dies meanwhile.
    phases.send(
        "prices",
        (0..12)
            .map(|i| rec(key(i), format!("late{i}"), t0 + 820 + 5 * i as i64))
            .collect(),
    );
    // The kill must cost the tasks of both partitions something.
    spread(&broker, &["orders", "prices"]);
    let [survivor, dead] = nodes;
    dead.kill();
    phases.caught_up(&survivor, 1);
    // More orders, then one far on per key: every waiting order joins.
    let mut orders: Vec<_> = (0..20)
        .map(|i| rec(key(i), format!("again{i}"), t0 + 900 + 20 * i as i64))
        .collect();
    orders.extend((0..6).map(|i| rec(key(i), format!("end{i}"), t0 + 10_000)));
    phases.send("orders", orders);
    phases.caught_up(&survivor, 1);
    let out = same_output(&bootstrap, ("priced-e", "priced-a"), 1, |o| o.len() >= 50);
    assert!(
        out.iter().any(|o| o.1.contains("late")),
        "no order saw a late price version: {out:?}"
    );
    assert_eq!(
        out.iter().filter(|o| o.1.contains("order")).count(),
        30,
        "each first order joined once: {out:?}"
    );
}
