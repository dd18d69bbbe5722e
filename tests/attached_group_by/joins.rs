//! A `group_by` then a left join with a co-partitioned table, attached: every order
//! enriched once, as embedded, across a SIGKILL; an order whose key selector chose no key
//! is kept with a null key and joined with null (KIP-962), as embedded keeps it.

use serde_json::{Value, json};

use crate::cluster::*;
use crate::common::guests::guest;
use crate::common::pipeline::{create, produce, upload, wait_caught_up};
use crate::stages::caught_up;

const CUSTOMERS: usize = 12;

#[test]
fn a_group_by_then_a_left_join_keeps_null_new_keys_as_embedded_across_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, nodes) = cluster_of_two(
        dir.path(),
        &[
            ("orders", 3),
            ("customers", 3),
            ("enriched-e", 1),
            ("enriched-a", 1),
        ],
    );
    let bootstrap = broker.kafka.clone();
    let by_customer = guest("streams", "rust-key-selector");
    assert_eq!(upload(&broker, "by-customer", &by_customer).0, 201);
    nodes[0].upload("by-customer", &by_customer);
    produce(
        &broker,
        "customers",
        (0..CUSTOMERS)
            .map(|c| json!({"key": format!("c{c}"), "value": format!("name{c}")}))
            .collect(),
    );
    for mode in ["e", "a"] {
        let spec = json!({"name": format!("enrich-{mode}"),
            "sources": {"orders": {"topic": "orders"},
                        "customers": {"topic": "customers", "as": "table"}},
            "output": format!("enriched-{mode}"), "start": "earliest",
            "steps": [{"name": "by-customer", "op": "group_by", "module": "by-customer",
                       "input": "orders"},
                      {"op": "join", "left": "by-customer", "right": "customers",
                       "type": "left"}]});
        match mode {
            "a" => nodes[0].create(spec),
            _ => create(&broker, spec),
        }
    }
    // The later stage reads the repartition topic and the table: 6 partitions.
    let stages = [("upstream", 3), ("downstream", 6)];
    wait_caught_up(&broker, "enrich-e", CUSTOMERS as u64);
    caught_up(&nodes[0], "enrich-a", 2, &stages);
    // c12..c14 have no row (joined with null); one in five has no customer at all.
    let orders = |from: usize, to: usize| -> Vec<Value> {
        (from..to)
            .map(|i| {
                let value = match i % 5 {
                    0 => format!("nobody-{i}"),
                    _ => format!("c{},item{i}", (i * 7) % (CUSTOMERS + 3)),
                };
                json!({"key": format!("order{i}"), "value": value})
            })
            .collect()
    };
    produce(&broker, "orders", orders(0, 200));
    caught_up(&nodes[0], "enrich-a", 2, &stages);
    let [survivor, dead] = nodes;
    produce(&broker, "orders", orders(200, 300));
    dead.kill();
    produce(&broker, "orders", orders(300, 400));
    wait_caught_up(&broker, "enrich-e", (CUSTOMERS + 400) as u64);
    caught_up(&survivor, "enrich-a", 1, &stages);
    let out = same_output(&bootstrap, ("enriched-e", "enriched-a"), 1, |o| {
        o.len() == 400
    });
    // Every order once, under its customer or a null key.
    let mut lefts = std::collections::BTreeSet::new();
    for (key, value, _, _) in &out {
        let joined: Value = serde_json::from_str(value).unwrap();
        let left = joined["left"].as_str().unwrap().to_string();
        match left.split_once(',') {
            Some((customer, _)) => assert_eq!(key, customer, "{value}"),
            None => {
                assert!(key.is_empty(), "a null new key kept null: {key:?} {value}");
                assert!(joined["right"].is_null(), "{value}");
            }
        }
        assert!(lefts.insert(left), "{value} twice");
    }
    assert_eq!(
        out.iter().filter(|o| o.0.is_empty()).count(),
        80,
        "the orders without a customer"
    );
}
