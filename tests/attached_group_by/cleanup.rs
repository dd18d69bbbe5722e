//! A deleted attached pipeline's cache trees leave the node's disk once its runners (one
//! per stage) have stopped; another pipeline's stay.

use std::time::Duration;

use serde_json::json;

use crate::cluster::*;
use crate::common::guests::guest;
use crate::common::pipeline::produce;
use crate::common::{Server, wait_until};

/// The cache trees in the state cache of a node's data directory `dir` (the node dead).
fn trees(dir: &std::path::Path) -> Vec<String> {
    let db = sled::open(dir.join("attached/state")).unwrap();
    let mut names: Vec<String> = db
        .tree_names()
        .iter()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .filter(|n| !n.starts_with("__sled__"))
        .collect();
    names.sort();
    names
}

#[test]
fn a_deleted_pipelines_cache_trees_are_removed_from_the_node() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Server::start(&dir.path().join("broker"), &[]);
    let bootstrap = broker.kafka.clone();
    topics(&broker, &[("orders", 2), ("counts", 1), ("kept", 1)]);
    let node_dir = dir.path().join("node");
    let node = Node::start(&node_dir, &bootstrap);
    node.upload("by-user", &guest("streams", "rust-key-selector"));
    node.create(
        json!({"name": "grouped", "inputs": ["orders"], "output": "counts",
        "start": "earliest",
        "steps": [{"op": "group_by", "module": "by-user"}, {"op": "count"}]}),
    );
    node.create(
        json!({"name": "other", "inputs": ["orders"], "output": "kept",
        "start": "earliest", "steps": [{"op": "count"}]}),
    );
    produce(
        &broker,
        "orders",
        (0..40)
            .map(|i| json!({"key": format!("o{i}"), "value": format!("u{},x", i % 3)}))
            .collect(),
    );
    // Both counted (their trees hold state) before the delete.
    let counted = |topic: &str| {
        wait_until(Duration::from_secs(60), || {
            !committed(&bootstrap, topic, 1).is_empty()
        })
    };
    assert!(counted("counts") && counted("kept"), "nothing was counted");
    let (code, body) = node.send(reqwest::Method::DELETE, "/v1/pipelines/grouped", None);
    assert!(code == 200 || code == 204, "{code} {body}");
    // Once no stage of it shows, its runners have stopped and removed its trees.
    let gone = wait_until(Duration::from_secs(30), || {
        let (_, view) = node.get("/v1/cluster");
        view["pipelines"]
            .as_array()
            .is_some_and(|ps| ps.iter().all(|p| p["name"] != "grouped"))
    });
    assert!(gone, "grouped still runs");
    node.kill();
    let left = trees(&node_dir);
    assert!(
        left.iter().all(|t| !t.starts_with("grouped/")),
        "grouped's trees stayed: {left:?}"
    );
    // (`other/global`: the node's copy of its global tables, empty: it reads none.)
    assert_eq!(
        left,
        ["other/0", "other/1", "other/global"],
        "other's trees stay"
    );
}
