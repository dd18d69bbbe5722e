//! Persistence across clean restarts and SIGKILL.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::Server;
use crate::helpers::*;

/// Creates two topics (one with config), produces to both, commits a group; returns what
/// a restarted server must give back: topic list, descriptions, records, group offsets.
fn fill(server: &Server) -> Value {
    create_topic(
        server,
        "orders",
        2,
        json!({"retention.ms": 123_456, "segment.bytes": 300}),
    );
    create_topic(server, "audit", 1, json!({}));
    for i in 0..10 {
        let batch: Vec<Value> = (0..3)
            .map(|j| json!({"key": format!("k{i}-{j}"), "value": format!("v{i}-{j}"), "headers": {"n": i.to_string()}}))
            .collect();
        produce(server, "orders", json!(batch));
    }
    produce(server, "audit", json!([{"value": "a"}, {"value": null}]));
    let (status, body) = commit(
        server,
        "g",
        json!([{"topic": "orders", "partition": 0, "offset": 1}, {"topic": "audit", "partition": 0, "offset": 2}]),
    );
    assert_eq!(status, StatusCode::OK, "{body}");
    snapshot(server)
}

fn snapshot(server: &Server) -> Value {
    let mut records = serde_json::Map::new();
    for (topic, partitions) in [("orders", 2), ("audit", 1)] {
        for p in 0..partitions {
            records.insert(format!("{topic}-{p}"), json!(all_records(server, topic, p)));
        }
    }
    json!({
        "topics": topic_names(server),
        "orders": describe(server, "orders"),
        "audit": describe(server, "audit"),
        "records": records,
        "group": group_offsets(server, "g"),
    })
}

#[test]
fn everything_survives_a_clean_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    let before = fill(&server);
    assert!(server.stop(), "weir serve did not exit cleanly on SIGTERM");

    let server = start(&dir);
    let after = snapshot(&server);
    assert_eq!(after["orders"]["config"]["retention.ms"], 123_456);
    assert_eq!(after["group"][0]["committed_offset"], 2, "{after}");
    assert_eq!(after, before);
}

#[test]
fn acknowledged_data_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    let before = fill(&server);
    server.kill();

    let server = start(&dir);
    let after = snapshot(&server);
    let hw = |s: &Value, p: usize| s["orders"]["partitions"][p]["high_watermark"].clone();
    assert_eq!(
        hw(&after, 0).as_i64().unwrap() + hw(&after, 1).as_i64().unwrap(),
        30
    );
    assert_eq!(after["records"], before["records"]);
    assert_eq!(after["group"], before["group"]);
    assert_eq!(after["topics"], before["topics"]);
    assert_eq!(after["orders"]["overrides"], before["orders"]["overrides"]);
    // Writing goes on where it stopped.
    let next = hw(&after, 0).as_i64().unwrap();
    assert_eq!(
        produce(
            &server,
            "orders",
            json!([{"value": "more", "partition": 0}])
        ),
        [(0, next)]
    );
}

#[test]
fn a_second_server_on_the_same_data_dir_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Server::start(dir.path(), &[]);
    let out = std::process::Command::new(crate::common::weir_bin())
        .arg("serve")
        .arg("--data-dir")
        .arg(dir.path())
        .args(crate::common::serve_args())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is in use by another process"), "{stderr}");
}
