//! Producing and consuming records, encodings, limits of consume, long polls.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use reqwest::StatusCode;
use serde_json::{Value, json};
use weir::broker::partitioner::partition_for_key;

use crate::common::http;
use crate::helpers::*;

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

/// Kafka headers may repeat a key, in an order that matters: produced as an object that
/// repeats the key or as `[key, value]` pairs, they come back all of them, in order, in
/// `headers_list` (the `headers` object keeping each key's last value), from a consume
/// and from a search alike; records without a repeat keep the published shape.
#[test]
fn repeated_header_keys_are_kept_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    create_topic(&server, "t", 1, json!({}));
    // json! cannot write a repeated key: the body as text, as a client would send it.
    let body = r#"{"records": [
        {"value": "object", "headers": {"hop": "a", "trace": "t", "hop": "b"}},
        {"value": "pairs", "headers": [["hop", "c"], ["hop", null], ["x", "1"]]},
        {"value": "plain", "headers": {"b": "2", "a": "1"}}
    ]}"#;
    let (status, answer) = post_raw(&server, "/v1/topics/t/records", body);
    assert_eq!(status, StatusCode::OK, "{answer}");
    let want = [
        (
            json!({"hop": "b", "trace": "t"}),
            json!([["hop", "a"], ["trace", "t"], ["hop", "b"]]),
        ),
        (
            json!({"hop": null, "x": "1"}),
            json!([["hop", "c"], ["hop", null], ["x", "1"]]),
        ),
    ];
    let check = |records: &[Value]| {
        for (record, (headers, list)) in records.iter().zip(&want) {
            assert_eq!(&record["headers"], headers, "{record}");
            assert_eq!(&record["headers_list"], list, "{record}");
        }
        assert_eq!(records[2]["headers"], json!({"a": "1", "b": "2"}));
        assert!(records[2].get("headers_list").is_none(), "{}", records[2]);
    };
    check(&all_records(&server, "t", 0));
    let found = consume(&server, "t", 0, "q=");
    check(found["records"].as_array().unwrap());

    // Base64 answers list the values encoded; pairs go back in as they came out.
    let body = consume(&server, "t", 0, "encoding=base64&max=1");
    assert_eq!(
        body["records"][0]["headers_list"],
        json!([
            ["hop", B64.encode("a")],
            ["trace", B64.encode("t")],
            ["hop", B64.encode("b")]
        ])
    );
    let list = body["records"][0]["headers_list"].clone();
    produce_body(
        &server,
        "t",
        json!({"encoding": "base64", "records": [{"value": B64.encode("again"), "headers": list}]}),
    );
    let again = consume(&server, "t", 0, "offset=3");
    assert_eq!(again["records"][0]["headers_list"], want[0].1);

    // A pair that is not a pair is a clear 400.
    let (status, answer) = post(
        &server,
        "/v1/topics/t/records",
        &json!({"records": [{"value": "v", "headers": [["lonely"]]}]}),
    );
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(answer.to_string().contains("headers"), "{answer}");
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

#[test]
fn deleting_records_moves_the_log_start_durably_and_refuses_past_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    create_topic(&server, "trim", 1, json!({}));
    for i in 0..10 {
        produce(&server, "trim", json!([{"value": format!("v{i}")}]));
    }
    let path = "/v1/topics/trim/partitions/0/records";
    let (status, body) = answer(
        http()
            .delete(server.at(&format!("{path}?before=4")))
            .send()
            .unwrap(),
    );
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["log_start_offset"], 4);
    assert_error(
        &get(&server, &format!("{path}?offset=0")),
        StatusCode::RANGE_NOT_SATISFIABLE,
        "offset_out_of_range",
    );
    let (_, body) = get(&server, path);
    assert_eq!(body["records"][0]["offset"], 4, "{body}");
    assert_eq!(body["records"][0]["value"], "v4", "{body}");
    assert_error(
        &answer(
            http()
                .delete(server.at(&format!("{path}?before=11")))
                .send()
                .unwrap(),
        ),
        StatusCode::RANGE_NOT_SATISFIABLE,
        "offset_out_of_range",
    );
    assert_eq!(
        answer(http().delete(server.at(path)).send().unwrap()).0,
        StatusCode::BAD_REQUEST,
        "before is required"
    );
    assert_error(
        &answer(
            http()
                .delete(server.at("/v1/topics/trim/partitions/3/records?before=1"))
                .send()
                .unwrap(),
        ),
        StatusCode::NOT_FOUND,
        "unknown_partition",
    );
    // An earlier offset changes nothing; -1 is the high watermark.
    let (_, body) = answer(
        http()
            .delete(server.at(&format!("{path}?before=2")))
            .send()
            .unwrap(),
    );
    assert_eq!(body["log_start_offset"], 4);
    let (_, body) = answer(
        http()
            .delete(server.at(&format!("{path}?before=-1")))
            .send()
            .unwrap(),
    );
    assert_eq!(body["log_start_offset"], 10);
    // The start survives a SIGKILL: it was durable when answered.
    server.kill();
    let server = start(&dir);
    let p = &describe(&server, "trim")["partitions"][0];
    assert_eq!(
        (&p["log_start_offset"], &p["high_watermark"]),
        (&json!(10), &json!(10)),
        "{p}"
    );
    let offsets = produce(&server, "trim", json!([{"value": "next"}]));
    assert_eq!(offsets[0].1, 10);
}

#[test]
fn search_answers_hold_at_most_8_mib_of_matches_and_say_where_to_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    create_topic(&server, "big", 1, json!({}));
    // 20 matching records of 600 000 bytes: 12 MB, more than one answer may hold.
    let value = format!("needle{}", "x".repeat(600_000 - 6));
    for _ in 0..20 {
        produce(&server, "big", json!([{ "value": value }]));
    }
    // An empty text matches everything, under the same bound.
    for q in ["NEEDLE", ""] {
        let first = consume(&server, "big", 0, &format!("q={q}&max=100"));
        let got = first["records"].as_array().unwrap().len();
        assert_eq!(got, 13, "8 MiB / 600 000 bytes: {}", first["next_offset"]);
        assert_eq!(first["next_offset"], 13);
        assert_eq!(first["scanned"], 13);
        let rest = consume(&server, "big", 0, &format!("q={q}&max=100&offset=13"));
        assert_eq!(rest["records"].as_array().unwrap().len(), 7);
        assert_eq!(rest["next_offset"], 20);
    }
}

#[test]
fn a_search_text_over_256_bytes_is_a_400_naming_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    create_topic(&server, "t", 1, json!({}));
    produce(&server, "t", json!([{ "value": "a".repeat(300) }]));
    let ok = consume(&server, "t", 0, &format!("q={}", "A".repeat(256)));
    assert_eq!(ok["records"].as_array().unwrap().len(), 1);
    let answer = get(
        &server,
        &records_path("t", 0, &format!("q={}", "a".repeat(257))),
    );
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_request");
    let message = answer.1["error"]["message"].as_str().unwrap();
    assert!(message.contains("256 bytes"), "{message}");
}
