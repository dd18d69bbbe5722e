//! kafkajs (non-flexible versions only) against a real `weir serve`: produce,
//! consume in a group, all-topics metadata, a regex subscription and the admin
//! view of groups; on the pinned kafkajs (2.2.4) and on the newest.
mod common;

use common::{Install, Server, http, run_client_on};
use serde_json::{Value, json};

fn kafkajs_creates_a_topic_produces_and_consumes_in_a_group(install: Install) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let out = run_client_on(
        install,
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

fn kafkajs_lists_all_topics_subscribes_by_regex_and_lists_groups(install: Install) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let out = run_client_on(
        install,
        "node",
        "kafkajs_client.js",
        &["discover", &server.kafka, "jsd", "jsd-group"],
    );
    for key in ["topics", "described"] {
        let topics = out[key].as_array().unwrap();
        for name in ["jsd-a", "jsd-b", "other-jsd"] {
            assert!(topics.contains(&json!(name)), "{key}: {out}");
        }
    }
    assert_eq!(out["consumed"], 60, "{out}");
    assert_eq!(out["from_topics"], json!(["jsd-a", "jsd-b"]), "{out}");
    assert!(
        out["groups"]
            .as_array()
            .unwrap()
            .contains(&json!("jsd-group")),
        "{out}"
    );
    assert_eq!(
        out["offsets"],
        json!({"jsd-a:0": 30, "jsd-b:0": 30}),
        "{out}"
    );
}

crate::on_both_installs!(
    kafkajs_creates_a_topic_produces_and_consumes_in_a_group,
    kafkajs_lists_all_topics_subscribes_by_regex_and_lists_groups,
);
