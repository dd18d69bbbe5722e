//! The broker through its JSON HTTP API: topics, produce and consume, long polls,
//! consumer groups, limits, persistence across restarts and crashes, retention.
//! Each test runs its own `weir serve` in its own temp dir.

mod common;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::{Server, http, wait_until};
use reqwest::StatusCode;
use reqwest::blocking::Response;
use serde_json::{Value, json};
use tempfile::TempDir;
use weir::broker::now_ms;
use weir::broker::partitioner::partition_for_key;

// ---- helpers ---------------------------------------------------------------

/// A status and its JSON body.
type Answer = (StatusCode, Value);

fn start(dir: &TempDir) -> Server {
    Server::start(dir.path(), &[])
}

/// Starts a server whose config file (in `dir`, beside the data) holds `toml`.
fn start_with_config(dir: &TempDir, toml: &str) -> Server {
    let config = dir.path().join("weir-test.toml");
    std::fs::write(&config, toml).expect("write config");
    let data = dir.path().join("data");
    let config = config.to_str().expect("utf-8 path").to_string();
    Server::start(&data, &["--config", &config])
}

fn answer(response: Response) -> Answer {
    let status = response.status();
    let text = response.text().expect("response body");
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("HTTP {status} body is not JSON ({e}): {text:?}"));
    (status, body)
}

fn get(server: &Server, path: &str) -> Answer {
    answer(http().get(server.at(path)).send().expect("GET"))
}

fn post(server: &Server, path: &str, body: &Value) -> Answer {
    answer(
        http()
            .post(server.at(path))
            .json(body)
            .send()
            .expect("POST"),
    )
}

fn post_raw(server: &Server, path: &str, body: impl Into<reqwest::blocking::Body>) -> Answer {
    let request = http()
        .post(server.at(path))
        .header("content-type", "application/json")
        .body(body);
    answer(request.send().expect("POST"))
}

fn delete(server: &Server, path: &str) -> Answer {
    answer(http().delete(server.at(path)).send().expect("DELETE"))
}

/// Asserts an error answer: its status, and `{"error": {"code", "message"}}` with a
/// non-empty message.
fn assert_error((status, body): &Answer, want_status: StatusCode, want_code: &str) {
    assert_eq!(*status, want_status, "body: {body}");
    assert_eq!(body["error"]["code"], want_code, "body: {body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "error without a message: {body}");
}

/// Creates a topic and returns its description.
fn create_topic(server: &Server, name: &str, partitions: u32, config: Value) -> Value {
    let (status, body) = post(
        server,
        "/v1/topics",
        &json!({"name": name, "partitions": partitions, "config": config}),
    );
    assert_eq!(status, StatusCode::CREATED, "create {name}: {body}");
    body
}

fn describe(server: &Server, topic: &str) -> Value {
    let (status, body) = get(server, &format!("/v1/topics/{topic}"));
    assert_eq!(status, StatusCode::OK, "describe {topic}: {body}");
    body
}

fn topic_names(server: &Server) -> Vec<String> {
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
fn produce(server: &Server, topic: &str, records: Value) -> Vec<(u64, i64)> {
    produce_body(server, topic, json!({ "records": records }))
}

fn produce_body(server: &Server, topic: &str, body: Value) -> Vec<(u64, i64)> {
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

fn records_path(topic: &str, partition: i64, query: &str) -> String {
    format!("/v1/topics/{topic}/partitions/{partition}/records?{query}")
}

/// Consumes with the query string `query`; asserts success.
fn consume(server: &Server, topic: &str, partition: i64, query: &str) -> Value {
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
fn all_records(server: &Server, topic: &str, partition: i64) -> Vec<Value> {
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

fn values(records: &[Value]) -> Vec<&str> {
    records
        .iter()
        .map(|r| r["value"].as_str().expect("string value"))
        .collect()
}

fn group_offsets(server: &Server, group: &str) -> Vec<Value> {
    let (status, body) = get(server, &format!("/v1/groups/{group}"));
    assert_eq!(status, StatusCode::OK, "group {group}: {body}");
    body["offsets"].as_array().expect("offsets").clone()
}

fn commit(server: &Server, group: &str, offsets: Value) -> Answer {
    post(
        server,
        &format!("/v1/groups/{group}/offsets"),
        &json!({ "offsets": offsets }),
    )
}

// ---- health and topics -----------------------------------------------------

#[test]
fn health_reports_ok() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    let (status, body) = get(&server, "/v1/health");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok", "{body}");
}

#[test]
fn create_topic_answers_201_with_partitions_and_effective_config() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    let body = create_topic(&server, "orders", 3, json!({"retention.ms": 86_400_000}));
    assert_eq!(body["name"], "orders");
    let partitions = body["partitions"].as_array().expect("partitions");
    assert_eq!(partitions.len(), 3, "{body}");
    for (i, p) in partitions.iter().enumerate() {
        assert_eq!(p["partition"], i as u64, "{body}");
        assert_eq!(p["log_start_offset"], 0, "{body}");
        assert_eq!(p["high_watermark"], 0, "{body}");
    }
    assert_eq!(body["config"]["retention.ms"], 86_400_000, "{body}");
    // Entries not overridden keep Kafka's defaults.
    assert_eq!(body["config"]["segment.bytes"], 1_073_741_824, "{body}");
    assert_eq!(body["config"]["cleanup.policy"], "delete", "{body}");
    assert_eq!(
        body["overrides"],
        json!({"retention.ms": "86400000"}),
        "{body}"
    );
}

#[test]
fn created_topic_is_listed_with_its_partition_count() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    create_topic(&server, "a", 2, json!({}));
    create_topic(&server, "b", 1, json!({}));
    let (status, body) = get(&server, "/v1/topics");
    assert_eq!(status, StatusCode::OK);
    let listed: Vec<(String, u64)> = body["topics"]
        .as_array()
        .expect("topics")
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_string(),
                t["partitions"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(listed, [("a".to_string(), 2), ("b".to_string(), 1)]);
}

#[test]
fn describing_an_unknown_topic_is_404() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    let answer = get(&server, "/v1/topics/nope");
    assert_error(&answer, StatusCode::NOT_FOUND, "unknown_topic");
}

#[test]
fn creating_an_existing_topic_is_409_topic_exists() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    create_topic(&server, "orders", 2, json!({}));
    let answer = post(
        &server,
        "/v1/topics",
        &json!({"name": "orders", "partitions": 5}),
    );
    assert_error(&answer, StatusCode::CONFLICT, "topic_exists");
    // The existing topic is untouched.
    assert_eq!(
        describe(&server, "orders")["partitions"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn names_differing_only_by_dot_and_underscore_collide() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    create_topic(&server, "to.pic", 1, json!({}));
    let answer = post(&server, "/v1/topics", &json!({"name": "to_pic"}));
    assert_error(&answer, StatusCode::CONFLICT, "topic_collides");
    assert_eq!(topic_names(&server), ["to.pic"]);
}

#[test]
fn every_topic_name_rule_is_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    let too_long = "x".repeat(250);
    for name in ["", ".", "..", too_long.as_str(), "a/b", "a b", "__internal"] {
        let answer = post(&server, "/v1/topics", &json!({ "name": name }));
        assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_topic_name");
    }
    assert!(topic_names(&server).is_empty());
    // The longest legal name is accepted.
    create_topic(&server, &"x".repeat(249), 1, json!({}));
}

#[test]
fn unknown_config_key_is_400_invalid_config() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    let body = json!({"name": "t", "config": {"retention.msx": 1}});
    let answer = post(&server, "/v1/topics", &body);
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_config");
    let message = answer.1["error"]["message"].as_str().unwrap();
    assert!(message.contains("retention.msx"), "{message}");
    assert!(topic_names(&server).is_empty());
}

#[test]
fn invalid_config_value_is_400_invalid_config() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    let body = json!({"name": "t", "config": {"retention.ms": "soon"}});
    let answer = post(&server, "/v1/topics", &body);
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_config");
    assert!(topic_names(&server).is_empty());
}

#[test]
fn zero_partitions_is_400() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    let answer = post(
        &server,
        "/v1/topics",
        &json!({"name": "t", "partitions": 0}),
    );
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_partitions");
    assert!(topic_names(&server).is_empty());
}

#[test]
fn malformed_json_body_is_400_in_the_error_shape() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    let answer = post_raw(&server, "/v1/topics", r#"{"name": "t", "#);
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_request");
    assert!(topic_names(&server).is_empty());
}

#[test]
fn unknown_field_in_body_is_400() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    let answer = post(&server, "/v1/topics", &json!({"name": "t", "partitons": 2}));
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_request");
    let message = answer.1["error"]["message"].as_str().unwrap();
    assert!(message.contains("partitons"), "{message}");
    assert!(topic_names(&server).is_empty());
}

// ---- produce and consume ---------------------------------------------------

#[test]
fn produce_and_consume_keep_keys_values_headers_and_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    create_topic(&server, "t", 1, json!({}));
    let sent = json!([
        {"key": "k1", "value": "v1", "headers": {"trace": "abc", "empty": null}, "timestamp": 1_600_000_000_000_i64},
        {"value": "no key", "timestamp": 1_600_000_000_005_i64},
        {"key": "k3", "value": "", "headers": {"a": "1", "b": "2"}, "timestamp": 1_600_000_000_001_i64},
    ]);
    let offsets = produce(&server, "t", sent.clone());
    assert_eq!(offsets, [(0, 0), (0, 1), (0, 2)]);

    let got = all_records(&server, "t", 0);
    assert_eq!(got.len(), 3);
    for (i, (record, sent)) in got.iter().zip(sent.as_array().unwrap()).enumerate() {
        assert_eq!(record["offset"], i as i64, "{record}");
        assert_eq!(
            record["key"],
            sent.get("key").cloned().unwrap_or(Value::Null)
        );
        assert_eq!(record["value"], sent["value"]);
        assert_eq!(record["timestamp"], sent["timestamp"]);
        let headers = sent.get("headers").cloned().unwrap_or(json!({}));
        assert_eq!(record["headers"], headers, "{record}");
    }
}

#[test]
fn offsets_are_dense_from_zero_across_requests() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    create_topic(&server, "t", 1, json!({}));
    let mut offsets = Vec::new();
    for batch in 0..4 {
        let records: Vec<Value> = (0..batch + 1)
            .map(|i| json!({"value": format!("{batch}-{i}")}))
            .collect();
        offsets.extend(
            produce(&server, "t", json!(records))
                .into_iter()
                .map(|(_, o)| o),
        );
    }
    assert_eq!(offsets, (0..10).collect::<Vec<i64>>());
    let got = all_records(&server, "t", 0);
    let got: Vec<i64> = got.iter().map(|r| r["offset"].as_i64().unwrap()).collect();
    assert_eq!(got, (0..10).collect::<Vec<i64>>());
    assert_eq!(
        describe(&server, "t")["partitions"][0]["high_watermark"],
        10
    );
}

#[test]
fn explicit_partition_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    create_topic(&server, "t", 3, json!({}));
    let offsets = produce(
        &server,
        "t",
        json!([
            {"value": "to-2", "partition": 2},
            {"key": "some key", "value": "to-1", "partition": 1},
            {"value": "to-2 again", "partition": 2},
        ]),
    );
    assert_eq!(offsets, [(2, 0), (1, 0), (2, 1)]);
    assert!(all_records(&server, "t", 0).is_empty());
    assert_eq!(values(&all_records(&server, "t", 1)), ["to-1"]);
    assert_eq!(
        values(&all_records(&server, "t", 2)),
        ["to-2", "to-2 again"]
    );
}

#[test]
fn keyed_records_land_on_the_kafka_default_partition() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    let partitions = 6;
    create_topic(&server, "t", partitions, json!({}));
    let keys: Vec<String> = (0..40).map(|i| format!("user-{i}")).collect();
    let expected: Vec<u64> = keys
        .iter()
        .map(|k| u64::from(partition_for_key(k.as_bytes(), partitions)))
        .collect();
    // Guards the test itself: the keys must spread, or any constant partition would pass.
    assert!(expected.iter().any(|&p| p != expected[0]));

    let records: Vec<Value> = keys.iter().map(|k| json!({"key": k, "value": k})).collect();
    let offsets = produce(&server, "t", json!(records));
    let landed: Vec<u64> = offsets.iter().map(|&(p, _)| p).collect();
    assert_eq!(landed, expected);
    for p in 0..partitions {
        let stored: Vec<String> = all_records(&server, "t", i64::from(p))
            .iter()
            .map(|r| r["key"].as_str().unwrap().to_string())
            .collect();
        let want: Vec<String> = keys
            .iter()
            .zip(&expected)
            .filter(|&(_, &e)| e == u64::from(p))
            .map(|(k, _)| k.clone())
            .collect();
        assert_eq!(stored, want, "partition {p}");
    }
}

#[test]
fn tombstone_reads_back_as_null_value() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    create_topic(&server, "t", 1, json!({}));
    produce(
        &server,
        "t",
        json!([{"key": "gone", "value": null}, {"key": "also gone"}]),
    );
    let got = all_records(&server, "t", 0);
    assert_eq!(got.len(), 2);
    for record in &got {
        assert!(record["value"].is_null(), "{record}");
        assert!(record["key"].is_string(), "{record}");
    }
}

#[test]
fn base64_encoding_round_trips_binary_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    create_topic(&server, "t", 1, json!({}));
    let key: &[u8] = &[0xff, 0x00, 0xfe, 0x80];
    let value: Vec<u8> = (0..=255u8).collect();
    let header: &[u8] = &[0xc3, 0x28, 0x00];
    produce_body(
        &server,
        "t",
        json!({
            "encoding": "base64",
            "records": [{"key": B64.encode(key), "value": B64.encode(&value), "headers": {"bin": B64.encode(header)}}],
        }),
    );
    let body = consume(&server, "t", 0, "encoding=base64");
    let record = &body["records"][0];
    let decode = |v: &Value| {
        B64.decode(v.as_str().expect("base64 string"))
            .expect("base64")
    };
    assert_eq!(decode(&record["key"]), key);
    assert_eq!(decode(&record["value"]), value);
    assert_eq!(decode(&record["headers"]["bin"]), header);
}

#[test]
fn reading_binary_bytes_as_utf8_is_a_clear_400() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    create_topic(&server, "t", 1, json!({}));
    let value = B64.encode([0xff, 0xfe, 0xfd]);
    produce_body(
        &server,
        "t",
        json!({"encoding": "base64", "records": [{"value": value}]}),
    );
    let answer = get(&server, &records_path("t", 0, "encoding=utf8"));
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_request");
    let message = answer.1["error"]["message"].as_str().unwrap();
    assert!(message.contains("UTF-8"), "{message}");
    assert!(
        message.contains("base64"),
        "should point at the fix: {message}"
    );
}

// ---- consume limits and long polls -----------------------------------------

#[test]
fn max_limits_records_and_next_offset_continues() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    create_topic(&server, "t", 1, json!({}));
    let records: Vec<Value> = (0..5).map(|i| json!({"value": format!("v{i}")})).collect();
    produce(&server, "t", json!(records));

    let first = consume(&server, "t", 0, "offset=0&max=2");
    assert_eq!(values(first["records"].as_array().unwrap()), ["v0", "v1"]);
    assert_eq!(first["next_offset"], 2);
    assert_eq!(first["high_watermark"], 5);

    let next = first["next_offset"].as_i64().unwrap();
    let second = consume(&server, "t", 0, &format!("offset={next}&max=2"));
    assert_eq!(values(second["records"].as_array().unwrap()), ["v2", "v3"]);
    assert_eq!(second["next_offset"], 4);

    let rest = consume(&server, "t", 0, "offset=4&max=100");
    assert_eq!(values(rest["records"].as_array().unwrap()), ["v4"]);
    assert_eq!(rest["next_offset"], 5);
}

#[test]
fn offset_beyond_the_high_watermark_is_416() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    create_topic(&server, "t", 1, json!({}));
    produce(&server, "t", json!([{"value": "a"}, {"value": "b"}]));
    let answer = get(&server, &records_path("t", 0, "offset=3"));
    assert_error(
        &answer,
        StatusCode::RANGE_NOT_SATISFIABLE,
        "offset_out_of_range",
    );
    // At the high watermark itself there is simply nothing yet.
    let at_end = consume(&server, "t", 0, "offset=2");
    assert_eq!(at_end["records"], json!([]));
    assert_eq!(at_end["next_offset"], 2);
}

#[test]
fn unknown_partition_is_404_for_consume_and_produce() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    create_topic(&server, "t", 2, json!({}));
    let answer = get(&server, &records_path("t", 2, "offset=0"));
    assert_error(&answer, StatusCode::NOT_FOUND, "unknown_partition");
    let answer = post(
        &server,
        "/v1/topics/t/records",
        &json!({"records": [{"value": "x", "partition": 7}]}),
    );
    assert_error(&answer, StatusCode::NOT_FOUND, "unknown_partition");
}

#[test]
fn long_poll_returns_a_record_produced_while_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    create_topic(&server, "t", 1, json!({}));
    produce(&server, "t", json!([{"value": "old"}]));

    let producer_url = server.at("/v1/topics/t/records");
    let producer = std::thread::spawn(move || {
        // Not synchronisation: the test passes whether this lands before or during the poll;
        // the pause only makes the usual case the interesting one, a poll already waiting.
        std::thread::sleep(Duration::from_millis(300));
        let response = http()
            .post(producer_url)
            .json(&json!({"records": [{"value": "fresh"}]}))
            .send()
            .expect("produce");
        assert_eq!(response.status(), StatusCode::OK);
    });
    let body = consume(&server, "t", 0, "offset=1&timeout_ms=10000");
    producer.join().expect("producer thread");
    let records = body["records"].as_array().unwrap();
    assert_eq!(values(records), ["fresh"], "{body}");
    assert_eq!(records[0]["offset"], 1);
    assert_eq!(body["next_offset"], 2);
}

#[test]
fn long_poll_on_an_empty_partition_ends_with_no_records() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    create_topic(&server, "t", 1, json!({}));
    let body = consume(&server, "t", 0, "offset=0&timeout_ms=200");
    assert_eq!(body["records"], json!([]));
    assert_eq!(body["next_offset"], 0);
    assert_eq!(body["high_watermark"], 0);
}

// ---- partitions and deletion -----------------------------------------------

#[test]
fn add_partitions_raises_the_total_count() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    create_topic(&server, "t", 1, json!({}));
    produce(&server, "t", json!([{"value": "kept"}]));
    let (status, body) = post(&server, "/v1/topics/t/partitions", &json!({"count": 3}));
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["partitions"].as_array().unwrap().len(), 3, "{body}");
    assert_eq!(
        describe(&server, "t")["partitions"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    // The new partition takes records; the old one kept its own.
    produce(&server, "t", json!([{"value": "new", "partition": 2}]));
    assert_eq!(values(&all_records(&server, "t", 2)), ["new"]);
    assert_eq!(values(&all_records(&server, "t", 0)), ["kept"]);
}

#[test]
fn add_partitions_to_a_lower_count_is_400() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    create_topic(&server, "t", 3, json!({}));
    let answer = post(&server, "/v1/topics/t/partitions", &json!({"count": 2}));
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_partitions");
    assert_eq!(
        describe(&server, "t")["partitions"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn deleted_topic_is_gone_for_describe_and_produce() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    create_topic(&server, "t", 2, json!({}));
    produce(&server, "t", json!([{"value": "a"}]));
    let (status, body) = delete(&server, "/v1/topics/t");
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_error(
        &get(&server, "/v1/topics/t"),
        StatusCode::NOT_FOUND,
        "unknown_topic",
    );
    let answer = post(
        &server,
        "/v1/topics/t/records",
        &json!({"records": [{"value": "b"}]}),
    );
    assert_error(&answer, StatusCode::NOT_FOUND, "unknown_topic");
    assert!(topic_names(&server).is_empty());
    assert_error(
        &delete(&server, "/v1/topics/t"),
        StatusCode::NOT_FOUND,
        "unknown_topic",
    );
}

#[test]
fn recreated_topic_starts_empty_at_offset_zero() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    create_topic(&server, "t", 1, json!({"retention.ms": 5000}));
    produce(&server, "t", json!([{"value": "a"}, {"value": "b"}]));
    assert_eq!(delete(&server, "/v1/topics/t").0, StatusCode::OK);

    let body = create_topic(&server, "t", 1, json!({}));
    assert_eq!(body["partitions"][0]["high_watermark"], 0, "{body}");
    assert_eq!(
        body["overrides"],
        json!({}),
        "old config must not come back: {body}"
    );
    assert!(all_records(&server, "t", 0).is_empty());
    assert_eq!(produce(&server, "t", json!([{"value": "c"}])), [(0, 0)]);
    assert_eq!(values(&all_records(&server, "t", 0)), ["c"]);
}

// ---- consumer groups -------------------------------------------------------

#[test]
fn committed_offsets_are_listed_with_lag() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    create_topic(&server, "t", 2, json!({}));
    let records: Vec<Value> = (0..5)
        .map(|i| json!({"value": i.to_string(), "partition": 0}))
        .collect();
    produce(&server, "t", json!(records));
    produce(&server, "t", json!([{"value": "x", "partition": 1}]));
    let (status, body) = commit(
        &server,
        "billing",
        json!([
            {"topic": "t", "partition": 0, "offset": 2, "metadata": "m"},
            {"topic": "t", "partition": 1, "offset": 1},
        ]),
    );
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = get(&server, "/v1/groups");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["groups"], json!([{"group": "billing"}]));

    let offsets = group_offsets(&server, "billing");
    assert_eq!(offsets.len(), 2, "{offsets:?}");
    let p0 = &offsets[0];
    assert_eq!((&p0["topic"], &p0["partition"]), (&json!("t"), &json!(0)));
    assert_eq!(p0["committed_offset"], 2);
    assert_eq!(p0["high_watermark"], 5);
    assert_eq!(p0["lag"], 3);
    assert_eq!(p0["metadata"], "m");
    let p1 = &offsets[1];
    assert_eq!(p1["partition"], 1);
    assert_eq!(p1["committed_offset"], 1);
    assert_eq!(p1["high_watermark"], 1);
    assert_eq!(p1["lag"], 0);
}

#[test]
fn unknown_group_is_404() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    assert_error(
        &get(&server, "/v1/groups/nobody"),
        StatusCode::NOT_FOUND,
        "unknown_group",
    );
}

#[test]
fn commit_to_an_unknown_partition_is_404_and_commits_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    create_topic(&server, "t", 1, json!({}));
    let answer = commit(
        &server,
        "g",
        json!([
            {"topic": "t", "partition": 0, "offset": 0},
            {"topic": "t", "partition": 1, "offset": 0},
        ]),
    );
    assert_error(&answer, StatusCode::NOT_FOUND, "unknown_partition");
    let answer = commit(
        &server,
        "g",
        json!([{"topic": "missing", "partition": 0, "offset": 0}]),
    );
    assert_error(&answer, StatusCode::NOT_FOUND, "unknown_topic");
    // All or nothing: the valid entry of the refused request was not stored.
    assert_error(
        &get(&server, "/v1/groups/g"),
        StatusCode::NOT_FOUND,
        "unknown_group",
    );
}

// ---- limits ----------------------------------------------------------------

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

// ---- persistence -----------------------------------------------------------

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

// ---- retention and timestamps ----------------------------------------------

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
