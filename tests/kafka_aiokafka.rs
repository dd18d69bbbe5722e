//! aiokafka against a real `weir serve`: produce (plain and gzip), consume in a
//! group, commit, resume, all-topics metadata, a regex subscription and the
//! admin view of groups; on the pinned aiokafka and on the newest.
mod common;

use common::{Install, Server, http, run_client_on};
use serde_json::{Value, json};

fn aiokafka_produces_consumes_commits_and_discovers(install: Install) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let out = run_client_on(
        install,
        "python",
        "aiokafka_client.py",
        &[&server.kafka, "aio", "aiogroup"],
    );
    assert_eq!(out["committed"], 20, "{out}");
    assert_eq!(
        out["resumed"],
        json!(["aio-more-0", "aio-more-1", "aio-more-2"])
    );
    let gzip: Vec<String> = (0..10).map(|i| format!("gzip-{i}")).collect();
    assert_eq!(out["gzip"], json!(gzip));
    let topics = out["topics"].as_array().unwrap();
    for name in ["aio", "aio-gzip", "aio-re-a", "aio-re-b"] {
        assert!(topics.contains(&json!(name)), "{out}");
    }
    assert_eq!(out["by_regex"], 10, "{out}");
    assert_eq!(out["from_topics"], json!(["aio-re-a", "aio-re-b"]));
    let groups = out["groups"].as_array().unwrap();
    for g in ["aiogroup", "aiogroup-re"] {
        assert!(groups.contains(&json!(g)), "{out}");
    }
    assert_eq!(out["offsets"], json!({"aio-re-a:0": 5, "aio-re-b:0": 5}));
    // The HTTP API sees the group's commit.
    let group: Value = http()
        .get(server.at("/v1/groups/aiogroup"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(group["offsets"][0]["committed_offset"], 20, "{group}");
}

crate::on_both_installs!(aiokafka_produces_consumes_commits_and_discovers);
