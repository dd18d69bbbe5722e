//! kafkajs 2.2.4 (non-flexible versions only) against a real `weir serve`.
mod common;

use common::{Server, http, run_client};
use serde_json::Value;

#[test]
fn kafkajs_creates_a_topic_produces_and_consumes_in_a_group() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let out = run_client(
        "node",
        "kafkajs_client.js",
        &[&server.kafka, "js", "jsgroup"],
    );
    assert_eq!(out["consumed"], 30);
    let topic: Value = http()
        .get(server.at("/v1/topics/js"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let total: i64 = topic["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["high_watermark"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 30, "{topic}");
}
