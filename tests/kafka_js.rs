//! kafkajs (non-flexible versions only) against a real `weir serve`: produce,
//! consume in a group, all-topics metadata, a regex subscription and the admin
//! view of groups, transactions (commit, abort, sendOffsets) read committed;
//! on the pinned kafkajs (2.2.4) and on the newest.
mod common;

use common::{Install, Server, http, run_client_on};
use serde_json::Value;

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
    common::assert_discovered(&out, &["topics", "described"], "jsd", "jsd-group", 30);
}

fn kafkajs_transactions_commit_abort_and_send_offsets(install: Install) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let out = run_client_on(
        install,
        "node",
        "kafkajs_txn.js",
        &[&server.kafka, "jstx", "jstxgroup"],
    );
    // A read_committed consumer sees the two committed transactions in order,
    // nothing of the aborted one; the offsets sent commit with the third.
    let want: Vec<String> = ["a", "c"]
        .iter()
        .flat_map(|p| (0..10).map(move |i| format!("{p}-{i}")))
        .collect();
    let seen: Vec<String> = out["seen"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(seen, want);
    assert_eq!(out["committed"], "20");
}

fn kafkajs_reads_large_records_with_fetch_limits_below_one_batch(install: Install) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let out = run_client_on(
        install,
        "node",
        "kafkajs_client.js",
        &["small-fetch", &server.kafka, "jslarge", "jslarge-group"],
    );
    assert_eq!(out["consumed"], 30, "{out}");
}

crate::on_both_installs!(
    kafkajs_creates_a_topic_produces_and_consumes_in_a_group,
    kafkajs_lists_all_topics_subscribes_by_regex_and_lists_groups,
    kafkajs_transactions_commit_abort_and_send_offsets,
    kafkajs_reads_large_records_with_fetch_limits_below_one_batch,
);
