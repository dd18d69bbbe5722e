//! Metadata auto-creation and group descriptions.

use crate::common::{Server, http};
use std::io::Write;

use crate::helpers::*;

#[test]
fn metadata_auto_creates_valid_names_and_refuses_invalid_ones() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut s = connect(&server);
    assert_eq!(metadata_error(&mut s, "fresh"), 0);
    assert_eq!(high_watermark(&server, "fresh"), 0, "created on Metadata");
    assert_eq!(
        metadata_error(&mut s, "bad/name"),
        17,
        "INVALID_TOPIC_EXCEPTION"
    );
    assert_eq!(metadata_error(&mut s, &"x".repeat(250)), 17);
}

#[test]
fn with_auto_creation_off_unknown_topics_stay_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("weir.toml");
    std::fs::write(&config, "[kafka]\nauto_create_topics = false\n").unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &["--config", config.to_str().unwrap()]);
    let mut s = connect(&server);
    assert_eq!(
        metadata_error(&mut s, "absent"),
        3,
        "UNKNOWN_TOPIC_OR_PARTITION"
    );
    let status = http()
        .get(server.at("/v1/topics/absent"))
        .send()
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 404);
}

#[test]
fn a_group_with_committed_offsets_and_no_members_is_empty_not_dead() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut s = connect(&server);
    assert_eq!(metadata_error(&mut s, "t"), 0);
    assert_eq!(describe_group(&mut s, "offsets-only"), (0, "Dead".into()));
    // A standalone OffsetCommit v2: generation -1, no member id.
    let mut body = Vec::new();
    kstr(&mut body, "offsets-only");
    body.extend_from_slice(&(-1i32).to_be_bytes());
    kstr(&mut body, "");
    body.extend_from_slice(&(-1i64).to_be_bytes()); // retention
    body.extend_from_slice(&1i32.to_be_bytes());
    kstr(&mut body, "t");
    body.extend_from_slice(&1i32.to_be_bytes());
    body.extend_from_slice(&0i32.to_be_bytes());
    body.extend_from_slice(&0i64.to_be_bytes());
    body.extend_from_slice(&(-1i16).to_be_bytes()); // null metadata
    s.write_all(&request(8, 2, 20, &body)).unwrap();
    let r = response(&mut s).expect("OffsetCommit response");
    assert_eq!(i16_at(&r, 4 + 4 + 2 + 1 + 4 + 4), 0, "commit error");
    assert_eq!(describe_group(&mut s, "offsets-only"), (0, "Empty".into()));
}

/// The attack pass's finding: one Metadata request naming 300 unknown topics
/// auto-created all 300. Creation now stops at `topics.max_topics`, and the
/// rest are answered with an error, not created.
#[test]
fn one_metadata_request_cannot_auto_create_past_the_topic_cap() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("weir.toml");
    std::fs::write(&config, "[topics]\nmax_topics = 5\n").unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &["--config", config.to_str().unwrap()]);
    let mut s = connect(&server);
    let names: Vec<String> = (0..300).map(|i| format!("auto-{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let errors = metadata_errors(&mut s, &names);
    assert_eq!(errors.len(), 300, "every named topic is answered");
    let created = errors.iter().filter(|&&e| e == 0).count();
    assert_eq!(created, 5, "auto-creation stops at topics.max_topics");
    let listed: serde_json::Value = http()
        .get(server.at("/v1/topics"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let listed = listed["topics"].as_array().map_or(0, Vec::len);
    assert_eq!(listed, 5, "only the topics under the cap exist");
    assert!(alive(&server), "the broker keeps serving");
}
