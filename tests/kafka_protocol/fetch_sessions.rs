//! Incremental fetch sessions (KIP-227) at the wire level: a full fetch opens
//! a session, incremental fetches name only what changed and get only
//! partitions with news, wrong epochs and unknown ids get Kafka's errors, and
//! epoch -1 closes. (librdkafka, kafkajs and aiokafka never open sessions;
//! kafka-python's use of them is in `kafka_python.rs`.)

use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use crate::common::Server;
use crate::helpers::*;
use crate::liberal::{ask, frame};

const FETCH_SESSION_ID_NOT_FOUND: i16 = 70;
const INVALID_FETCH_SESSION_EPOCH: i16 = 71;

fn name(t: &str) -> TopicName {
    TopicName(StrBytes::from_string(t.to_string()))
}

/// Fetch v12 (no wait) with session fields; `wanted` are (topic, offset) of
/// partition 0. Returns the response.
fn fetch(
    s: &mut std::net::TcpStream,
    session: (i32, i32),
    wanted: &[(&str, i64)],
    forgotten: &[&str],
) -> FetchResponse {
    let topics = wanted
        .iter()
        .map(|(t, offset)| {
            FetchTopic::default()
                .with_topic(name(t))
                .with_partitions(vec![
                    FetchPartition::default()
                        .with_fetch_offset(*offset)
                        .with_partition_max_bytes(1 << 20),
                ])
        })
        .collect();
    let forgotten = forgotten
        .iter()
        .map(|t| {
            ForgottenTopic::default()
                .with_topic(name(t))
                .with_partitions(vec![0])
        })
        .collect();
    let req = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_min_bytes(0)
        .with_max_bytes(1 << 20)
        .with_session_id(session.0)
        .with_session_epoch(session.1)
        .with_topics(topics)
        .with_forgotten_topics_data(forgotten);
    ask::<FetchRequest>(s, 12, &frame(12, 77, &req, &[]), "fetch")
}

/// (topic, records length) of each partition in the answer.
fn answered(r: &FetchResponse) -> Vec<(String, usize)> {
    r.responses
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(|p| {
                (
                    t.topic.0.to_string(),
                    p.records.as_ref().map_or(0, |r| r.len()),
                )
            })
        })
        .collect()
}

fn produce_one(s: &mut std::net::TcpStream, topic: &str, correlation: i32) {
    produce(s, topic, 1, &idempotent_batch("v", -1, -1, -1), correlation);
    assert_eq!(produce_result(s, topic).0, 0);
}

#[test]
fn a_session_answers_only_partitions_with_news() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut s = connect(&server);
    for t in ["a", "b"] {
        produce_one(&mut s, t, 1);
    }
    // A full fetch (epoch 0) opens a session and answers everything.
    let full = fetch(&mut s, (0, 0), &[("a", 0), ("b", 0)], &[]);
    assert_eq!(full.error_code, 0);
    let id = full.session_id;
    assert_ne!(id, 0, "a session was opened");
    let got = answered(&full);
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|(_, len)| *len > 0), "{got:?}");
    // Epoch 1 moves both offsets past the records: nothing is new.
    let quiet = fetch(&mut s, (id, 1), &[("a", 1), ("b", 1)], &[]);
    assert_eq!((quiet.error_code, quiet.session_id), (0, id));
    assert_eq!(answered(&quiet), []);
    // A record on b: epoch 2, naming nothing, gets b alone.
    produce_one(&mut s, "b", 2);
    let news = fetch(&mut s, (id, 2), &[], &[]);
    let got = answered(&news);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, "b");
    assert!(got[0].1 > 0);
    // The same epoch again, and an unknown session, are Kafka's errors.
    let again = fetch(&mut s, (id, 2), &[], &[]);
    assert_eq!(again.error_code, INVALID_FETCH_SESSION_EPOCH);
    assert_eq!(answered(&again), []);
    let unknown = fetch(&mut s, (id.wrapping_add(1), 1), &[], &[]);
    assert_eq!(unknown.error_code, FETCH_SESSION_ID_NOT_FOUND);
    // Forgetting b: a record on b is no longer news to this session.
    let forget = fetch(&mut s, (id, 3), &[("b", 2)], &["b"]);
    assert_eq!(forget.error_code, 0);
    produce_one(&mut s, "b", 3);
    assert_eq!(answered(&fetch(&mut s, (id, 4), &[], &[])), []);
    // A record on a still is.
    produce_one(&mut s, "a", 4);
    let got = answered(&fetch(&mut s, (id, 5), &[], &[]));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, "a");
    // Epoch -1 closes the session and fetches without one.
    let closing = fetch(&mut s, (id, -1), &[("a", 0)], &[]);
    assert_eq!((closing.error_code, closing.session_id), (0, 0));
    assert_eq!(answered(&closing).len(), 1);
    let closed = fetch(&mut s, (id, 6), &[], &[]);
    assert_eq!(closed.error_code, FETCH_SESSION_ID_NOT_FOUND);
}

#[test]
fn sessions_outlive_their_connection_and_v6_has_none() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut s = connect(&server);
    produce_one(&mut s, "c", 1);
    let id = fetch(&mut s, (0, 0), &[("c", 0)], &[]).session_id;
    assert_ne!(id, 0);
    drop(s);
    // A consumer that reconnects continues its session.
    let mut s = connect(&server);
    produce_one(&mut s, "c", 2);
    let got = fetch(&mut s, (id, 1), &[("c", 1)], &[]);
    assert_eq!(got.error_code, 0);
    assert_eq!(answered(&got).len(), 1);
    // Before v7 there are no session fields: every answer is full.
    let req = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_bytes(1 << 20)
        .with_topics(vec![
            FetchTopic::default()
                .with_topic(name("c"))
                .with_partitions(vec![
                    FetchPartition::default().with_partition_max_bytes(1 << 20),
                ]),
        ]);
    let v6 = ask::<FetchRequest>(&mut s, 6, &frame(6, 77, &req, &[]), "fetch v6");
    assert_eq!(answered(&v6).len(), 1);
}
