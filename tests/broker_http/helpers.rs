//! Helpers shared by the HTTP tests.
#![allow(dead_code)]

use crate::common::{Server, http};
use reqwest::StatusCode;
use reqwest::blocking::Response;
use serde_json::{Value, json};
use tempfile::TempDir;

/// A status and its JSON body.
pub type Answer = (StatusCode, Value);

pub fn start(dir: &TempDir) -> Server {
    Server::start(dir.path(), &[])
}

/// Starts a server whose config file (in `dir`, beside the data) holds `toml`.
pub fn start_with_config(dir: &TempDir, toml: &str) -> Server {
    let config = dir.path().join("weir-test.toml");
    std::fs::write(&config, toml).expect("write config");
    let data = dir.path().join("data");
    let config = config.to_str().expect("utf-8 path").to_string();
    Server::start(&data, &["--config", &config])
}

pub fn answer(response: Response) -> Answer {
    let status = response.status();
    let text = response.text().expect("response body");
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("HTTP {status} body is not JSON ({e}): {text:?}"));
    (status, body)
}

pub fn get(server: &Server, path: &str) -> Answer {
    answer(http().get(server.at(path)).send().expect("GET"))
}

pub fn post(server: &Server, path: &str, body: &Value) -> Answer {
    answer(
        http()
            .post(server.at(path))
            .json(body)
            .send()
            .expect("POST"),
    )
}

pub fn post_raw(server: &Server, path: &str, body: impl Into<reqwest::blocking::Body>) -> Answer {
    let request = http()
        .post(server.at(path))
        .header("content-type", "application/json")
        .body(body);
    answer(request.send().expect("POST"))
}

pub fn delete(server: &Server, path: &str) -> Answer {
    answer(http().delete(server.at(path)).send().expect("DELETE"))
}

/// Asserts an error answer: its status, and `{"error": {"code", "message"}}` with a
/// non-empty message.
pub fn assert_error((status, body): &Answer, want_status: StatusCode, want_code: &str) {
    assert_eq!(*status, want_status, "body: {body}");
    assert_eq!(body["error"]["code"], want_code, "body: {body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "error without a message: {body}");
}

/// Creates a topic and returns its description.
pub fn create_topic(server: &Server, name: &str, partitions: u32, config: Value) -> Value {
    let (status, body) = post(
        server,
        "/v1/topics",
        &json!({"name": name, "partitions": partitions, "config": config}),
    );
    assert_eq!(status, StatusCode::CREATED, "create {name}: {body}");
    body
}

pub fn describe(server: &Server, topic: &str) -> Value {
    let (status, body) = get(server, &format!("/v1/topics/{topic}"));
    assert_eq!(status, StatusCode::OK, "describe {topic}: {body}");
    body
}

pub fn topic_names(server: &Server) -> Vec<String> {
    let (status, body) = get(server, "/v1/topics");
    assert_eq!(status, StatusCode::OK, "{body}");
    body["topics"]
        .as_array()
        .expect("topics array")
        .iter()
        .map(|t| t["name"].as_str().expect("name").to_string())
        .collect()
}

/// Produces `records` (the JSON array of the body) and returns (partition, offset) of each.
pub fn produce(server: &Server, topic: &str, records: Value) -> Vec<(u64, i64)> {
    produce_body(server, topic, json!({ "records": records }))
}

pub fn produce_body(server: &Server, topic: &str, body: Value) -> Vec<(u64, i64)> {
    let (status, body) = post(server, &format!("/v1/topics/{topic}/records"), &body);
    assert_eq!(status, StatusCode::OK, "produce to {topic}: {body}");
    body["offsets"]
        .as_array()
        .expect("offsets array")
        .iter()
        .map(|o| {
            let partition = o["partition"].as_u64().expect("partition");
            (partition, o["offset"].as_i64().expect("offset"))
        })
        .collect()
}

pub fn records_path(topic: &str, partition: i64, query: &str) -> String {
    format!("/v1/topics/{topic}/partitions/{partition}/records?{query}")
}

/// Consumes with the query string `query`; asserts success.
pub fn consume(server: &Server, topic: &str, partition: i64, query: &str) -> Value {
    let (status, body) = get(server, &records_path(topic, partition, query));
    assert_eq!(
        status,
        StatusCode::OK,
        "consume {topic}-{partition}: {body}"
    );
    body
}

/// Every record of a partition from its log start to its high watermark, as the API
/// returns them. Pages on `next_offset`, as a fetch may stop early (e.g. at a segment end).
pub fn all_records(server: &Server, topic: &str, partition: i64) -> Vec<Value> {
    let mut body = consume(server, topic, partition, "max=10000");
    let mut records = Vec::new();
    loop {
        let page = body["records"].as_array().expect("records");
        records.extend(page.iter().cloned());
        let next = body["next_offset"].as_i64().expect("next_offset");
        if next >= body["high_watermark"].as_i64().expect("high_watermark") {
            return records;
        }
        assert!(
            !page.is_empty(),
            "no progress below the high watermark: {body}"
        );
        body = consume(
            server,
            topic,
            partition,
            &format!("offset={next}&max=10000"),
        );
    }
}

pub fn values(records: &[Value]) -> Vec<&str> {
    records
        .iter()
        .map(|r| r["value"].as_str().expect("string value"))
        .collect()
}

pub fn group_offsets(server: &Server, group: &str) -> Vec<Value> {
    let (status, body) = get(server, &format!("/v1/groups/{group}"));
    assert_eq!(status, StatusCode::OK, "group {group}: {body}");
    body["offsets"].as_array().expect("offsets").clone()
}

pub fn commit(server: &Server, group: &str, offsets: Value) -> Answer {
    post(
        server,
        &format!("/v1/groups/{group}/offsets"),
        &json!({ "offsets": offsets }),
    )
}
