//! Global tables attached (`weir serve --cluster B --group G`): orders enriched with a
//! `global_table` of customers through a `key_module`, inner and left, run embedded (on
//! the cluster, a weir server) and attached (on two nodes with no broker of their own)
//! give the same read_committed output, with customers renamed, deleted and added while
//! orders flow, a node SIGKILLed mid-stream and started again (its global tables read
//! anew); the inner join's results also equal a model of the table kept here.
//!
//! - [`cluster`]: attached nodes, read_committed output, waits on both modes (shared with
//!   `tests/attached_streams/`).
//! - [`late`]: late records counted attached in status and `/metrics`.

#[path = "../common/mod.rs"]
mod common;

// Shared with `attached_streams`, which uses all of it; this crate uses some.
#[allow(dead_code)]
#[path = "../attached_streams/cluster.rs"]
mod cluster;
mod late;

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::cluster::*;
use crate::common::pipeline::{produce, upload, wait_caught_up};
use crate::common::{Server, guests};

/// What the test sends, and the inner join's results a model of the customers table
/// gives for it.
#[derive(Default)]
struct Model {
    customers: BTreeMap<String, String>,
    customer_records: u64,
    orders: u64,
    inner: Vec<(String, String)>,
}

impl Model {
    /// Sends customer changes (`None`: a deletion), one produce call.
    fn customers(&mut self, broker: &Server, changes: &[(&str, Option<&str>)]) {
        let records = changes
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect();
        produce(broker, "customers", records);
        for (k, v) in changes {
            match v {
                Some(v) => self.customers.insert(k.to_string(), v.to_string()),
                None => self.customers.remove(*k),
            };
        }
        self.customer_records += changes.len() as u64;
    }

    /// Sends `n` orders, one produce call: `o<i>` naming customer `c<i % 12>` in its
    /// value (c10 and c11 are mostly missing), every seventh naming none (the key module
    /// gives it no key).
    fn orders(&mut self, broker: &Server, n: u64) {
        let mut records = Vec::new();
        for i in self.orders..self.orders + n {
            let key = format!("o{i}");
            let value = if i % 7 == 3 {
                format!("no customer {i}")
            } else {
                format!("c{},{key}", i % 12)
            };
            if let Some((customer, _)) = value.split_once(',')
                && let Some(name) = self.customers.get(customer)
            {
                let joined = json!({"left": value, "right": name}).to_string();
                self.inner.push((key.clone(), joined));
            }
            records.push(json!({"key": key, "value": value}));
        }
        produce(broker, "orders", records);
        self.orders += n;
    }

    /// Waits until both modes have read everything sent, then compares their outputs
    /// (and the inner join's with the model).
    fn check(&self, broker: &Server, node: &Node, members: usize) {
        let bootstrap = &broker.kafka;
        let sent = self.orders + self.customer_records;
        wait_caught_up(broker, "enrich-e", sent);
        wait_caught_up(broker, "inner-e", sent);
        attached_caught_up(node, "enrich-a", members, 3);
        attached_caught_up(node, "inner-a", members, 3);
        let mut want = self.inner.clone();
        want.sort();
        let inner = same_output(bootstrap, ("inner-e", "inner-a"), 1, |o| {
            o.len() == want.len()
        });
        let got: Vec<(String, String)> = inner.into_iter().map(|o| (o.0, o.1)).collect();
        assert_eq!(got, want, "the inner join's results are not the model's");
        // Left: every order with a customer field, found or not; what the null key of the
        // others does is the embedded engine's (KIP-962), which attached must match.
        let with_field = (0..self.orders).filter(|i| i % 7 != 3).count();
        let embedded = committed(bootstrap, "enriched-e", 1).len();
        assert!(embedded >= with_field, "{embedded} < {with_field}");
        same_output(bootstrap, ("enriched-e", "enriched-a"), 1, |o| {
            o.len() == embedded
        });
    }
}

#[test]
fn a_global_table_join_attached_matches_embedded_across_updates_a_kill_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    // The global topic is not co-partitioned with the orders: every node reads all of it.
    let (broker, nodes) = cluster_of_two(
        dir.path(),
        &[
            ("orders", 3),
            ("customers", 2),
            ("enriched-e", 1),
            ("enriched-a", 1),
            ("inner-e", 1),
            ("inner-a", 1),
        ],
    );
    let bootstrap = broker.kafka.clone();
    let mut nodes = Vec::from(nodes);
    let selector = guests::guest("streams", "rust-key-selector");
    let (code, body) = upload(&broker, "customer-of", &selector);
    assert_eq!(code, 201, "{body}");
    nodes[0].upload("customer-of", &selector);
    for (name, output, join_type) in [("enrich", "enriched", "left"), ("inner", "inner", "inner")] {
        for mode in ["e", "a"] {
            let spec = json!({
                "name": format!("{name}-{mode}"), "output": format!("{output}-{mode}"),
                "start": "earliest",
                "sources": {"orders": {"topic": "orders"},
                            "customers": {"topic": "customers", "as": "global_table"}},
                "steps": [{"op": "join", "left": "orders", "right": "customers",
                           "type": join_type, "key_module": "customer-of"}],
            });
            match mode {
                "e" => crate::common::pipeline::create(&broker, spec),
                _ => nodes[0].create(spec),
            }
        }
    }
    let names = |from: usize, to: usize, prefix: &str| -> Vec<(String, String)> {
        (from..to)
            .map(|i| (format!("c{i}"), format!("{prefix}{i}")))
            .collect()
    };
    let mut model = Model::default();
    let first = names(0, 10, "name");
    let refs: Vec<(&str, Option<&str>)> = first
        .iter()
        .map(|(k, v)| (k.as_str(), Some(v.as_str())))
        .collect();
    model.customers(&broker, &refs);
    model.orders(&broker, 40);
    model.check(&broker, &nodes[0], 2);
    // Updates while the pipelines run: an order sees every customer change acknowledged
    // before it was produced, attached as embedded. (A change produced after an order
    // but read before it is a race in both modes, as in Kafka Streams, whose global
    // tables keep no time order with the streams: so each change here waits for the
    // orders before it to be joined.)
    model.customers(
        &broker,
        &[
            ("c1", Some("renamed1")),
            ("c3", None),
            ("c10", Some("new10")),
        ],
    );
    model.orders(&broker, 24);
    model.check(&broker, &nodes[0], 2);
    model.customers(
        &broker,
        &[("c3", Some("back3")), ("c1", Some("again1")), ("c5", None)],
    );
    model.orders(&broker, 24);
    model.check(&broker, &nodes[0], 2);
    // A node dies mid-stream: its open transactions abort, the survivor takes its tasks
    // (their join state restored; its own global tables already whole).
    model.orders(&broker, 60);
    let dead = nodes.pop().unwrap();
    dead.kill();
    model.orders(&broker, 60);
    model.check(&broker, &nodes[0], 1);
    model.customers(&broker, &[("c11", Some("late11")), ("c0", None)]);
    model.orders(&broker, 24);
    model.check(&broker, &nodes[0], 1);
    // Back on its old directory: before its tasks run it reads on from its copy of the
    // global tables (its mark proven), the changes made while it was down included.
    nodes.push(Node::start(&dir.path().join("node1"), &bootstrap));
    model.check(&broker, &nodes[0], 2);
    let (code, logs) = nodes[1].get("/v1/pipelines/inner-a/logs");
    assert_eq!(code, 200, "{logs}");
    assert!(
        logs["lines"].as_array().into_iter().flatten().any(|l| l
            .as_str()
            .is_some_and(|l| l.contains("global tables read on from this node's copy"))),
        "the restarted node read its global tables in full: {logs}"
    );
    model.customers(&broker, &[("c0", Some("zero")), ("c2", None)]);
    model.orders(&broker, 36);
    model.check(&broker, &nodes[1], 2);
    assert!(
        nodes.iter().all(|n| n.has_tasks("inner-a")),
        "the restarted node took no tasks: {:?}",
        nodes
            .iter()
            .map(|n| n.local("inner-a"))
            .collect::<Vec<Value>>()
    );
}
