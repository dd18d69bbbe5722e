//! Topics: creation, naming rules, configs, partitions and deletion.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

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
