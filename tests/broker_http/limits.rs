//! Request and batch size limits, retention and timestamps.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use weir::broker::now_ms;

use crate::common::{Server, http, wait_until};
use crate::helpers::*;

#[test]
fn body_over_max_body_bytes_is_413_in_the_error_shape() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_with_config(&dir, "[http]\nmax_body_bytes = 1000\n");
    create_topic(&server, "t", 1, json!({}));
    let body = json!({"records": [{"value": "x".repeat(2000)}]});
    let answer = post(&server, "/v1/topics/t/records", &body);
    assert_error(&answer, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    assert!(all_records(&server, "t", 0).is_empty());
    // A body under the limit still goes through.
    produce(&server, "t", json!([{"value": "small"}]));
}

#[test]
fn batch_over_max_message_bytes_is_413_message_too_large() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    create_topic(&server, "t", 1, json!({"max.message.bytes": 200}));
    let answer = post(
        &server,
        "/v1/topics/t/records",
        &json!({"records": [{"value": "x".repeat(1000)}]}),
    );
    assert_error(&answer, StatusCode::PAYLOAD_TOO_LARGE, "message_too_large");
    assert_eq!(describe(&server, "t")["partitions"][0]["high_watermark"], 0);
    produce(&server, "t", json!([{"value": "fits"}]));
    assert_eq!(values(&all_records(&server, "t", 0)), ["fits"]);
}

#[test]
fn retention_bytes_deletes_the_oldest_segments() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_with_config(&dir, "[log]\nretention_check_interval_ms = 100\n");
    let (segment_bytes, retention_bytes) = (200, 600);
    create_topic(
        &server,
        "t",
        1,
        json!({"segment.bytes": segment_bytes, "retention.bytes": retention_bytes}),
    );
    for i in 0..30 {
        produce(
            &server,
            "t",
            json!([{"value": format!("record number {i:04}")}]),
        );
    }
    let mut last = Value::Null;
    let trimmed = wait_until(Duration::from_secs(20), || {
        last = describe(&server, "t")["partitions"][0].clone();
        last["log_start_offset"].as_i64().unwrap() > 0
            && last["size_bytes"].as_u64().unwrap() <= retention_bytes + segment_bytes
    });
    assert!(trimmed, "retention did not trim the log: {last}");
    assert_eq!(last["high_watermark"], 30, "{last}");

    let answer = get(&server, &records_path("t", 0, "offset=0"));
    assert_error(
        &answer,
        StatusCode::RANGE_NOT_SATISFIABLE,
        "offset_out_of_range",
    );
    // What is left is readable from the new log start to the end.
    let start = last["log_start_offset"].as_i64().unwrap();
    let rest = all_records(&server, "t", 0);
    let offsets: Vec<i64> = rest.iter().map(|r| r["offset"].as_i64().unwrap()).collect();
    assert_eq!(offsets, (start..30).collect::<Vec<i64>>());
}

#[test]
fn log_append_time_topic_stamps_records_with_broker_time() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    create_topic(
        &server,
        "t",
        1,
        json!({"message.timestamp.type": "LogAppendTime"}),
    );
    let client_time = 1_000_000_000_000_i64; // 2001, long before this test ran
    let before = now_ms();
    produce(
        &server,
        "t",
        json!([{"value": "a", "timestamp": client_time}, {"value": "b", "timestamp": client_time + 1}]),
    );
    let after = now_ms();
    let got = all_records(&server, "t", 0);
    assert_eq!(got.len(), 2);
    for record in &got {
        let ts = record["timestamp"].as_i64().unwrap();
        assert!(
            ts >= before && ts <= after,
            "timestamp {ts} not in [{before}, {after}]: {record}"
        );
    }
}

#[test]
fn altering_config_applies_to_a_live_topic_and_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let client = http();
    let resp = client
        .post(server.at("/v1/topics"))
        .json(&json!({"name": "alt", "config": {"retention.ms": 1000}}))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 201);
    let resp = client
        .patch(server.at("/v1/topics/alt/config"))
        .json(&json!({"config": {"max.message.bytes": 300, "retention.ms": null}}))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().unwrap();
    assert_eq!(body["config"]["max.message.bytes"], 300);
    assert_eq!(
        body["config"]["retention.ms"], 604_800_000,
        "reset to the default"
    );
    assert_eq!(body["overrides"], json!({"max.message.bytes": "300"}));
    // The new limit holds at once.
    let resp = client
        .post(server.at("/v1/topics/alt/records"))
        .json(&json!({"records": [{"value": "v".repeat(1000)}]}))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 413);
    // Unknown keys, bad values and unknown topics are refused and change nothing.
    for (topic, config, status) in [
        ("alt", json!({"retention.msx": 1}), 400),
        ("alt", json!({"retention.msx": null}), 400),
        ("alt", json!({"segment.bytes": "big"}), 400),
        ("nope", json!({"retention.ms": 1}), 404),
    ] {
        let resp = client
            .patch(server.at(&format!("/v1/topics/{topic}/config")))
            .json(&json!({ "config": config }))
            .send()
            .unwrap();
        assert_eq!(resp.status(), status, "{config}");
    }
    assert!(server.stop());
    let server = Server::start(dir.path(), &[]);
    let body: Value = http()
        .get(server.at("/v1/topics/alt"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(body["overrides"], json!({"max.message.bytes": "300"}));
}

#[test]
fn shutdown_ends_pending_long_polls_promptly() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("weir.toml");
    std::fs::write(&config, "[http]\nmax_poll_ms = 600000\n").unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &["--config", config.to_str().unwrap()]);
    let resp = http()
        .post(server.at("/v1/topics"))
        .json(&json!({"name": "quiet"}))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 201);
    let url = server.at("/v1/topics/quiet/partitions/0/records?offset=0&timeout_ms=600000");
    let poll = std::thread::spawn(move || http().get(url).send());
    // Give the poll time to reach the server; if it has not, the poll sees a
    // refused connection and only the shutdown assertion below is meaningful.
    std::thread::sleep(Duration::from_millis(300));
    // Without waking long polls, shutdown would wait the poll's ten minutes and
    // `stop` gives up after 30 s.
    assert!(
        server.stop(),
        "server did not shut down while a long poll was pending"
    );
    if let Ok(resp) = poll.join().unwrap() {
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().unwrap();
        assert_eq!(body["records"], json!([]));
    }
}
