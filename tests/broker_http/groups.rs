//! Consumer-group offsets.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

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

#[test]
fn deleting_a_group_removes_its_offsets_for_good_and_unknown_groups_are_404() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    create_topic(&server, "t", 2, json!({}));
    produce(&server, "t", json!([{"value": "a", "partition": 0}]));
    for group in ["doomed", "kept"] {
        let (status, body) = commit(
            &server,
            group,
            json!([
                {"topic": "t", "partition": 0, "offset": 1},
                {"topic": "t", "partition": 1, "offset": 0},
            ]),
        );
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = delete(&server, "/v1/groups/doomed");
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["deleted"], "doomed");
    assert_error(
        &get(&server, "/v1/groups/doomed"),
        StatusCode::NOT_FOUND,
        "unknown_group",
    );
    assert_error(
        &delete(&server, "/v1/groups/doomed"),
        StatusCode::NOT_FOUND,
        "unknown_group",
    );
    assert_error(
        &delete(&server, "/v1/groups/never-was"),
        StatusCode::NOT_FOUND,
        "unknown_group",
    );
    // The deletion is durable, and the other group is untouched.
    assert!(server.stop(), "weir serve did not exit cleanly on SIGTERM");
    let server = start(&dir);
    let (status, body) = get(&server, "/v1/groups");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["groups"], json!([{"group": "kept"}]));
    assert_eq!(group_offsets(&server, "kept").len(), 2);
}
