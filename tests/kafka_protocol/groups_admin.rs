//! DeleteGroups and OffsetDelete at the byte level: Kafka's refusals for
//! unknown groups, groups with members and topics members subscribe to, and
//! the same membership check behind HTTP's `DELETE /v1/groups/{g}`.

use crate::common::{Server, http};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::io::Write;
use std::net::TcpStream;

use crate::helpers::*;

const NON_EMPTY_GROUP: i16 = 68;
const GROUP_ID_NOT_FOUND: i16 = 69;
const GROUP_SUBSCRIBED_TO_TOPIC: i16 = 86;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;

/// JoinGroup v0 of a consumer subscribed to `topics`; the group of one
/// member completes the join at once. Returns the error code.
fn join(s: &mut TcpStream, group: &str, topics: &[&str]) -> i16 {
    // ConsumerProtocolSubscription v0: version, topics, null user data.
    let mut meta = 0i16.to_be_bytes().to_vec();
    meta.extend_from_slice(&(topics.len() as i32).to_be_bytes());
    for t in topics {
        kstr(&mut meta, t);
    }
    meta.extend_from_slice(&(-1i32).to_be_bytes());
    let mut body = Vec::new();
    kstr(&mut body, group);
    body.extend_from_slice(&30_000i32.to_be_bytes());
    kstr(&mut body, "");
    kstr(&mut body, "consumer");
    body.extend_from_slice(&1i32.to_be_bytes());
    kstr(&mut body, "range");
    body.extend_from_slice(&(meta.len() as i32).to_be_bytes());
    body.extend_from_slice(&meta);
    s.write_all(&request(11, 0, 31, &body)).unwrap();
    let r = response(s).expect("JoinGroup response");
    i16_at(&r, 4)
}

/// DeleteGroups v0 of one group; returns its error code.
fn delete_group(s: &mut TcpStream, group: &str) -> i16 {
    let mut body = 1i32.to_be_bytes().to_vec();
    kstr(&mut body, group);
    s.write_all(&request(42, 0, 32, &body)).unwrap();
    let r = response(s).expect("DeleteGroups response");
    // corr, throttle, results count, group id, error.
    assert_eq!(i32_at(&r, 8), 1);
    i16_at(&r, 12 + 2 + group.len())
}

/// OffsetDelete v0; returns the top-level error and each (topic, partition, error).
fn offset_delete(
    s: &mut TcpStream,
    group: &str,
    partitions: &[(&str, i32)],
) -> (i16, Vec<(String, i32, i16)>) {
    let mut body = Vec::new();
    kstr(&mut body, group);
    body.extend_from_slice(&(partitions.len() as i32).to_be_bytes());
    for (t, p) in partitions {
        kstr(&mut body, t);
        body.extend_from_slice(&1i32.to_be_bytes());
        body.extend_from_slice(&p.to_be_bytes());
    }
    s.write_all(&request(47, 0, 33, &body)).unwrap();
    let r = response(s).expect("OffsetDelete response");
    let error = i16_at(&r, 4);
    let mut at = 10;
    let mut out = Vec::new();
    for _ in 0..i32_at(&r, at) {
        at += 4;
        let len = i16_at(&r, at) as usize;
        let topic = String::from_utf8(r[at + 2..at + 2 + len].to_vec()).unwrap();
        at += 2 + len;
        let count = i32_at(&r, at);
        for _ in 0..count {
            out.push((topic.clone(), i32_at(&r, at + 4), i16_at(&r, at + 8)));
            at += 6;
        }
    }
    (error, out)
}

/// The group's committed partitions over HTTP, sorted.
fn committed(server: &Server, group: &str) -> Vec<(String, i64)> {
    let body: Value = http()
        .get(server.at(&format!("/v1/groups/{group}")))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let mut out: Vec<(String, i64)> = body["offsets"]
        .as_array()
        .map(|o| {
            o.iter()
                .map(|o| {
                    let t = o["topic"].as_str().unwrap().to_string();
                    (t, o["partition"].as_i64().unwrap())
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn setup(server: &Server, group: &str) {
    for (topic, partitions) in [("read", 2), ("other", 1)] {
        let r = http()
            .post(server.at("/v1/topics"))
            .json(&json!({"name": topic, "partitions": partitions}))
            .send()
            .unwrap();
        assert!(r.status().is_success());
    }
    let r = http()
        .post(server.at(&format!("/v1/groups/{group}/offsets")))
        .json(&json!({"offsets": [
            {"topic": "read", "partition": 0, "offset": 0},
            {"topic": "read", "partition": 1, "offset": 0},
            {"topic": "other", "partition": 0, "offset": 0},
        ]}))
        .send()
        .unwrap();
    assert!(r.status().is_success());
}

#[test]
fn offset_delete_spares_subscribed_topics_while_members_are_live() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    setup(&server, "g");
    let mut s = connect(&server);
    assert_eq!(
        offset_delete(&mut s, "nobody", &[("read", 0)]).0,
        GROUP_ID_NOT_FOUND
    );

    let mut member = connect(&server);
    assert_eq!(join(&mut member, "g", &["read"]), 0);
    let (error, parts) = offset_delete(
        &mut s,
        "g",
        &[("read", 0), ("other", 0), ("other", 7), ("absent", 0)],
    );
    assert_eq!(error, 0);
    assert_eq!(
        parts,
        vec![
            ("read".into(), 0, GROUP_SUBSCRIBED_TO_TOPIC),
            ("other".into(), 0, 0),
            ("other".into(), 7, UNKNOWN_TOPIC_OR_PARTITION),
            ("absent".into(), 0, UNKNOWN_TOPIC_OR_PARTITION),
        ]
    );
    assert_eq!(
        committed(&server, "g"),
        vec![("read".into(), 0), ("read".into(), 1)]
    );
    // The group has a member: neither face deletes it.
    assert_eq!(delete_group(&mut s, "g"), NON_EMPTY_GROUP);
    let status = http()
        .delete(server.at("/v1/groups/g"))
        .send()
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(committed(&server, "g").len(), 2);
}

#[test]
fn an_active_group_with_no_commits_is_described_not_404() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    setup(&server, "other-group");
    let mut member = connect(&server);
    assert_eq!(join(&mut member, "fresh", &["read"]), 0);
    let r = http().get(server.at("/v1/groups/fresh")).send().unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().unwrap();
    assert_eq!(body["offsets"], json!([]), "{body}");
    assert_eq!(body["members"].as_array().map(Vec::len), Some(1), "{body}");
    assert_ne!(body["state"], "Empty", "{body}");
    // A group nobody knows is still 404.
    let status = http()
        .get(server.at("/v1/groups/nobody"))
        .send()
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[test]
fn an_empty_group_loses_any_offsets_and_then_the_group_itself() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    setup(&server, "g");
    let mut s = connect(&server);
    let (error, parts) = offset_delete(&mut s, "g", &[("read", 1)]);
    assert_eq!((error, parts), (0, vec![("read".into(), 1, 0)]));
    assert_eq!(
        committed(&server, "g"),
        vec![("other".into(), 0), ("read".into(), 0)]
    );
    assert_eq!(delete_group(&mut s, "nobody"), GROUP_ID_NOT_FOUND);
    assert_eq!(delete_group(&mut s, "g"), 0);
    assert_eq!(describe_group(&mut s, "g"), (0, "Dead".into()));
    assert_eq!(delete_group(&mut s, "g"), GROUP_ID_NOT_FOUND);
    assert!(committed(&server, "g").is_empty());
}
