//! kafka-python against a real `weir serve`: produce, consume in a group,
//! commit, resume, every codec (snappy in xerial framing) read over HTTP,
//! all-topics metadata, a regex subscription, the admin view of groups,
//! reading through an incremental fetch session (KIP-227) and a static
//! member's restart (KIP-345); on the pinned
//! kafka-python and on the newest.
mod common;

use common::{Install, Server, http, run_client_on};
use serde_json::Value;

fn kafka_python_produces_consumes_commits_and_compresses(install: Install) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let out = run_client_on(
        install,
        "python",
        "kafka_python_client.py",
        &[&server.kafka, "kp", "kpgroup"],
    );
    assert_eq!(out["committed"], 20);
    let group: Value = http()
        .get(server.at("/v1/groups/kpgroup"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(group["offsets"][0]["committed_offset"], 23, "{group}");
    for codec in ["gzip", "snappy", "lz4", "zstd"] {
        let body: Value = http()
            .get(server.at(&format!("/v1/topics/kp-{codec}/partitions/0/records")))
            .send()
            .unwrap()
            .json()
            .unwrap();
        let values: Vec<&str> = body["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["value"].as_str().unwrap())
            .collect();
        let want: Vec<String> = (0..10).map(|i| format!("{codec}-{i}")).collect();
        assert_eq!(values, want, "{codec}: {body}");
    }
}

fn kafka_python_lists_all_topics_subscribes_by_regex_and_lists_groups(install: Install) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let out = run_client_on(
        install,
        "python",
        "kafka_python_client.py",
        &["discover", &server.kafka, "kpd", "kpd-group", "10"],
    );
    common::assert_discovered(&out, &["topics"], "kpd", "kpd-group", 10);
}

fn kafka_python_reads_through_an_incremental_fetch_session(install: Install) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let out = run_client_on(
        install,
        "python",
        "kafka_python_client.py",
        &["sessions", &server.kafka, "sessioned", "sgroup"],
    );
    assert_eq!(out["consumed"], 30, "{out}");
    assert_eq!(out["distinct"], 30, "{out}");
    assert_eq!(out["in_order"], true, "{out}");
    // One broker, one session: opened (an id) and continued (epoch past 1).
    let sessions = out["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1, "{out}");
    assert_ne!(sessions[0][0], 0, "{out}");
    assert!(sessions[0][1].as_i64().unwrap() > 1, "{out}");
}

fn kafka_python_static_member_restarts_without_a_rebalance(install: Install) {
    let dir = tempfile::tempdir().unwrap();
    // The shipped initial rebalance delay, not the test servers' 0: without
    // it the first member's generation forms before kafka-python has the
    // topic's metadata, and that client can lose the answer to the rejoin
    // that follows (tests/kafka_protocol/group_initial_delay.rs).
    let server = Server::start_with_config(dir.path(), "", &[]);
    let out = run_client_on(
        install,
        "python",
        "kafka_python_client.py",
        &["static", &server.kafka, "statics", "stgroup"],
    );
    assert_eq!(out["after"], out["before"], "{out}");
    assert_eq!(out["a_calls_after"], out["a_calls_before"], "{out}");
}

crate::on_both_installs!(
    kafka_python_produces_consumes_commits_and_compresses,
    kafka_python_lists_all_topics_subscribes_by_regex_and_lists_groups,
    kafka_python_reads_through_an_incremental_fetch_session,
    kafka_python_static_member_restarts_without_a_rebalance,
);
