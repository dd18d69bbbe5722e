//! Joins attached: stream–table and table–table joins as embedded across a SIGKILL.

use serde_json::{Value, json};

use crate::cluster::*;
use crate::common::pipeline::produce;

#[test]
fn stream_table_and_table_table_joins_attached_match_embedded_across_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, nodes) = cluster_of_two(
        dir.path(),
        &[
            ("orders", 2),
            ("customers", 2),
            ("users", 2),
            ("scores", 2),
            ("enriched-e", 1),
            ("enriched-a", 1),
            ("pairs-e", 1),
            ("pairs-a", 1),
        ],
    );
    let bootstrap = broker.kafka.clone();
    let spec = |name: &str, output: &str, sources: Value, join: Value| {
        json!({"name": name, "sources": sources, "output": output, "start": "earliest",
            "steps": [join]})
    };
    let enrich = |mode: &str| {
        spec(
            &format!("enrich-{mode}"),
            &format!("enriched-{mode}"),
            json!({"orders": {"topic": "orders"},
                "customers": {"topic": "customers", "as": "table"}}),
            json!({"op": "join", "left": "orders", "right": "customers", "type": "left"}),
        )
    };
    let pairs = |mode: &str| {
        spec(
            &format!("pairs-{mode}"),
            &format!("pairs-{mode}"),
            json!({"users": {"topic": "users", "as": "table"},
                "scores": {"topic": "scores", "as": "table"}}),
            json!({"op": "join", "left": "users", "right": "scores", "type": "outer"}),
        )
    };
    crate::common::pipeline::create(&broker, enrich("e"));
    crate::common::pipeline::create(&broker, pairs("e"));
    nodes[0].create(enrich("a"));
    nodes[0].create(pairs("a"));
    let keyed = |prefix: &str, n: usize, value: &dyn Fn(usize) -> Value| -> Vec<Value> {
        (0..n)
            .map(|i| json!({"key": format!("{prefix}{}", i % 8), "value": value(i)}))
            .collect()
    };
    // Which side arrives first decides a join's results: each phase lets both modes read
    // one side whole before the other comes.
    let caught_up = |node: &Node, members: usize, sent: (u64, u64)| {
        crate::common::pipeline::wait_caught_up(&broker, "enrich-e", sent.0);
        crate::common::pipeline::wait_caught_up(&broker, "pairs-e", sent.1);
        attached_caught_up(node, "enrich-a", members, 4);
        attached_caught_up(node, "pairs-a", members, 4);
    };
    produce(
        &broker,
        "customers",
        keyed("c", 8, &|i| json!(format!("name{i}"))),
    );
    produce(
        &broker,
        "users",
        keyed("u", 8, &|i| json!(format!("user{i}"))),
    );
    caught_up(&nodes[0], 2, (8, 8));
    produce(
        &broker,
        "orders",
        keyed("c", 40, &|i| json!(format!("order{i}"))),
    );
    produce(&broker, "scores", keyed("u", 6, &|i| json!(i.to_string())));
    caught_up(&nodes[0], 2, (48, 14));
    let first = same_output(&bootstrap, ("enriched-e", "enriched-a"), 1, |o| {
        o.len() == 40
    });
    assert!(first.iter().any(|o| o.1.contains("name3")), "{first:?}");
    same_output(&bootstrap, ("pairs-e", "pairs-a"), 1, |o| o.len() >= 14);
    // One node dies: the survivor takes its tasks, table rows restored from
    // `<pipeline>-<source>-changelog`.
    let [survivor, dead] = nodes;
    dead.kill();
    caught_up(&survivor, 1, (48, 14));
    // Customers renamed and one deleted; users renamed.
    let mut changes = keyed("c", 3, &|i| json!(format!("renamed{i}")));
    changes.push(json!({"key": "c7", "value": null}));
    produce(&broker, "customers", changes);
    produce(
        &broker,
        "users",
        keyed("u", 4, &|i| json!(format!("again{i}"))),
    );
    caught_up(&survivor, 1, (52, 18));
    produce(
        &broker,
        "orders",
        keyed("c", 16, &|i| json!(format!("late{i}"))),
    );
    produce(
        &broker,
        "scores",
        keyed("u", 8, &|i| json!((100 + i).to_string())),
    );
    caught_up(&survivor, 1, (68, 26));
    let out = same_output(&bootstrap, ("enriched-e", "enriched-a"), 1, |o| {
        o.len() == 56
    });
    assert!(
        out.iter().any(|o| o.1.contains("renamed1")),
        "no order saw the renamed customer: {out:?}"
    );
    let pairs_out = same_output(&bootstrap, ("pairs-e", "pairs-a"), 1, |o| o.len() >= 26);
    assert!(
        pairs_out
            .iter()
            .any(|o| o.1.contains("again1") && o.1.contains("101")),
        "{pairs_out:?}"
    );
}
