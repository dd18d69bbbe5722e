//! A full disk: weir runs on a 4 MiB tmpfs (mounted in a private mount
//! namespace, so nothing leaks to the host) and producers fill it. Appends must
//! fail with a clear error naming the problem, every acknowledged record must
//! stay readable, and the server must go on serving reads and other requests.

mod common;

use common::{Server, http};
use serde_json::{Value, json};

#[test]
fn full_disk_refuses_appends_clearly_and_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_on_tmpfs(&dir.path().join("data"), "4m");
    let client = http();
    let resp = client
        .post(server.at("/v1/topics"))
        .json(&json!({"name": "fill", "partitions": 1}))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 201);
    client
        .post(server.at("/v1/topics"))
        .json(&json!({"name": "other", "partitions": 1}))
        .send()
        .unwrap();

    let value = "x".repeat(16 * 1024);
    let mut acked = Vec::new();
    let mut failure = None;
    for i in 0..2000 {
        let resp = client
            .post(server.at("/v1/topics/fill/records"))
            .json(&json!({"records": [{"key": format!("k{i}"), "value": value}]}))
            .send()
            .unwrap();
        let status = resp.status();
        let body: Value = resp.json().unwrap();
        if status.is_success() {
            acked.push(body["offsets"][0]["offset"].as_i64().unwrap());
        } else {
            failure = Some((status, body));
            break;
        }
    }
    let (status, body) = failure.expect("a 4 MiB disk never filled up");
    assert_eq!(status, 507, "{body}");
    assert_eq!(body["error"]["code"], "disk_full", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("No space left on device"), "{message}");
    assert!(acked.len() > 10, "only {} records fitted", acked.len());

    // Every acknowledged record is still there, dense from 0.
    let mut offset = 0;
    while offset < acked.len() as i64 {
        let body: Value = client
            .get(server.at(&format!(
                "/v1/topics/fill/partitions/0/records?offset={offset}&max=1000"
            )))
            .send()
            .unwrap()
            .json()
            .unwrap();
        let records = body["records"].as_array().unwrap();
        assert!(
            !records.is_empty(),
            "acknowledged records missing from offset {offset}: {body}"
        );
        for r in records {
            assert_eq!(r["offset"].as_i64().unwrap(), offset);
            assert_eq!(r["value"].as_str().unwrap().len(), value.len());
            offset += 1;
        }
    }
    // The server goes on serving: health, describe, and a retry still gets the clear error.
    let health: Value = client
        .get(server.at("/v1/health"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(health["status"], "ok");
    let topic: Value = client
        .get(server.at("/v1/topics/fill"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        topic["partitions"][0]["high_watermark"].as_i64().unwrap(),
        acked.len() as i64
    );
    let resp = client
        .post(server.at("/v1/topics/other/records"))
        .json(&json!({"records": [{"value": value}]}))
        .send()
        .unwrap();
    assert!(
        resp.status() == 507 || resp.status().is_success(),
        "{}",
        resp.status()
    );
}
