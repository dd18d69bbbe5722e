//! The scrubber: a byte flipped in a sealed segment of a stopped broker is found
//! after the next start and reported in `/v1/health`; a read at the damaged batch
//! fails with a clear error (HTTP 500 `records_damaged`, Kafka CORRUPT_MESSAGE)
//! that names no server path, while reads before and after it, and of other
//! partitions, are served. A sealed segment's file removed while running is
//! reported too.

mod common;

use std::time::Duration;

use common::pipeline::{call, produce};
use common::{Server, wait_until};
use serde_json::{Value, json};

fn start(dir: &std::path::Path, log: &str) -> Server {
    let config = dir.join("weir.toml");
    std::fs::write(&config, format!("[log]\n{log}")).unwrap();
    Server::start(&dir.join("data"), &["--config", config.to_str().unwrap()])
}

fn health(s: &Server) -> Value {
    let (status, body) = call(s, "GET", "/v1/health", None);
    assert_eq!(status, 200, "{body}");
    body
}

/// The data files of partition `p` of `topic`, oldest first.
fn segments(data: &std::path::Path, topic: &str, p: u32) -> Vec<std::path::PathBuf> {
    let dir = data.join("log").join(topic).join(p.to_string());
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    files.sort();
    files
}

/// Creates `topic` with 2 partitions and segments of about 1 KiB, and writes
/// `n` records of 200 bytes to partition 0, one batch each, and one to partition 1.
fn fill(s: &Server, topic: &str, n: usize) {
    let (status, body) = call(
        s,
        "POST",
        "/v1/topics",
        Some(json!({"name": topic, "partitions": 2, "config": {"segment.bytes": 1024}})),
    );
    assert_eq!(status, 201, "{body}");
    for i in 0..n {
        let value = format!("{i:03}{}", "v".repeat(197));
        produce(s, topic, vec![json!({"value": value, "partition": 0})]);
    }
    produce(s, topic, vec![json!({"value": "other", "partition": 1})]);
}

fn consume(s: &Server, topic: &str, p: u32, offset: i64) -> (u16, Value) {
    call(
        s,
        "GET",
        &format!("/v1/topics/{topic}/partitions/{p}/records?offset={offset}&max=100"),
        None,
    )
}

#[test]
fn a_corrupt_batch_is_reported_and_only_reads_at_it_fail() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = start(dir.path(), "");
    fill(&s, "t", 20);
    assert!(s.stop());
    // Flip a byte inside the second batch (offset 1) of the first sealed segment.
    let files = segments(&data, "t", 0);
    assert!(files.len() >= 3, "{files:?}");
    let mut bytes = std::fs::read(&files[0]).unwrap();
    let second = 12 + i32::from_be_bytes(bytes[8..12].try_into().unwrap()) as usize;
    bytes[second + 100] ^= 0xff;
    std::fs::write(&files[0], &bytes).unwrap();

    let s = start(dir.path(), "");
    let mut last = Value::Null;
    let found = wait_until(Duration::from_secs(30), || {
        last = health(&s);
        last["corrupt"].as_array().is_some_and(|c| !c.is_empty())
    });
    assert!(found, "the scrubber did not report the damage: {last}");
    assert_eq!(last["status"], "degraded");
    let corrupt = last["corrupt"].as_array().unwrap();
    assert_eq!(corrupt.len(), 1, "{last}");
    let c = &corrupt[0];
    assert_eq!(c["topic"], "t");
    assert_eq!(c["partition"], 0);
    assert_eq!(c["segment"], "00000000000000000000.log");
    assert_eq!(
        (c["offset"].as_i64(), c["end"].as_i64()),
        (Some(1), Some(2))
    );
    assert!(c["error"].as_str().unwrap().contains("CRC"), "{c}");

    let data_dir = data.to_str().unwrap();
    // At the damaged batch: a clear error naming the range, and no server path.
    let (status, body) = consume(&s, "t", 0, 1);
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["error"]["code"], "records_damaged", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("offsets 1 to 2"), "{message}");
    assert!(!message.contains(data_dir), "{message}");
    assert!(!message.contains("/tmp"), "{message}");
    // Before it: the read stops short of it.
    let (status, body) = consume(&s, "t", 0, 0);
    assert_eq!(status, 200, "{body}");
    let records = body["records"].as_array().unwrap();
    assert_eq!(records.len(), 1, "{body}");
    assert_eq!(records[0]["offset"], 0);
    // After it, and in other partitions: served.
    for offset in 2..20 {
        let (status, body) = consume(&s, "t", 0, offset);
        assert_eq!(status, 200, "offset {offset}: {body}");
        let value = body["records"][0]["value"].as_str().unwrap().to_string();
        assert!(value.starts_with(&format!("{offset:03}")), "{value}");
    }
    let (status, body) = consume(&s, "t", 1, 0);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["records"][0]["value"], "other");

    // Kafka: CORRUPT_MESSAGE at the damaged offset only.
    assert_eq!(kafka_fetch(&s, "t", 0, 1), 2);
    assert_eq!(kafka_fetch(&s, "t", 0, 2), 0);
    assert_eq!(kafka_fetch(&s, "t", 1, 0), 0);
}

/// The error code of a Fetch v4 of one partition at `offset`.
fn kafka_fetch(s: &Server, topic: &str, partition: i32, offset: i64) -> i16 {
    use std::io::{Read, Write};
    let mut body = Vec::new();
    body.extend_from_slice(&(-1i32).to_be_bytes()); // replica
    body.extend_from_slice(&0i32.to_be_bytes()); // max wait
    body.extend_from_slice(&0i32.to_be_bytes()); // min bytes
    body.extend_from_slice(&(1i32 << 20).to_be_bytes()); // max bytes
    body.push(0); // isolation
    body.extend_from_slice(&1i32.to_be_bytes());
    body.extend_from_slice(&(topic.len() as i16).to_be_bytes());
    body.extend_from_slice(topic.as_bytes());
    body.extend_from_slice(&1i32.to_be_bytes());
    body.extend_from_slice(&partition.to_be_bytes());
    body.extend_from_slice(&offset.to_be_bytes());
    body.extend_from_slice(&(1i32 << 20).to_be_bytes());
    let mut frame = Vec::new();
    frame.extend_from_slice(&1i16.to_be_bytes());
    frame.extend_from_slice(&4i16.to_be_bytes());
    frame.extend_from_slice(&9i32.to_be_bytes());
    frame.extend_from_slice(&(-1i16).to_be_bytes());
    frame.extend_from_slice(&body);
    let mut conn = std::net::TcpStream::connect(&s.kafka).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    conn.write_all(&(frame.len() as i32).to_be_bytes()).unwrap();
    conn.write_all(&frame).unwrap();
    let mut len = [0u8; 4];
    conn.read_exact(&mut len).unwrap();
    let mut r = vec![0u8; i32::from_be_bytes(len) as usize];
    conn.read_exact(&mut r).unwrap();
    // correlation, throttle, topics, name, partitions, index, error.
    let at = 4 + 4 + 4 + 2 + topic.len() + 4 + 4;
    i16::from_be_bytes([r[at], r[at + 1]])
}

#[test]
fn a_sealed_segment_file_removed_while_running_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = start(dir.path(), "scrub_interval_ms = 100\n");
    fill(&s, "t", 12);
    let files = segments(&data, "t", 0);
    assert!(files.len() >= 2, "{files:?}");
    assert!(wait_until(Duration::from_secs(10), || health(&s)["status"] == "ok"));
    std::fs::remove_file(&files[0]).unwrap();
    let mut last = Value::Null;
    let found = wait_until(Duration::from_secs(30), || {
        last = health(&s);
        last["corrupt"].as_array().is_some_and(|c| !c.is_empty())
    });
    assert!(found, "the missing file was not reported: {last}");
    let c = &last["corrupt"][0];
    assert_eq!(c["segment"], "00000000000000000000.log");
    assert_eq!(c["offset"], 0);
    assert!(c["error"].as_str().unwrap().contains("missing"), "{c}");
    assert!(!last.to_string().contains(data.to_str().unwrap()), "{last}");
}

#[test]
fn a_segment_removed_while_stopped_is_reported_as_a_gap() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = start(dir.path(), "");
    fill(&s, "t", 20);
    assert!(s.stop());
    let files = segments(&data, "t", 0);
    assert!(files.len() >= 3, "{files:?}");
    // The second segment's files go; its offsets are held by none.
    let gone = &files[1];
    let next_base: i64 = files[2]
        .file_stem()
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let gone_base: i64 = gone.file_stem().unwrap().to_str().unwrap().parse().unwrap();
    for ext in ["log", "index", "timeindex"] {
        let _ = std::fs::remove_file(gone.with_extension(ext));
    }
    let s = start(dir.path(), "");
    let mut last = Value::Null;
    let found = wait_until(Duration::from_secs(30), || {
        last = health(&s);
        last["corrupt"].as_array().is_some_and(|c| !c.is_empty())
    });
    assert!(found, "the lost segment was not reported: {last}");
    let c = &last["corrupt"][0];
    assert_eq!(c["segment"], "00000000000000000000.log", "{c}");
    assert_eq!(
        (c["offset"].as_i64(), c["end"].as_i64()),
        (Some(gone_base), Some(next_base))
    );
    assert!(
        c["error"].as_str().unwrap().contains("no segment holds"),
        "{c}"
    );
    // Offsets before and after the gap are served.
    let (status, _) = consume(&s, "t", 0, 0);
    assert_eq!(status, 200);
    let (status, body) = consume(&s, "t", 0, next_base);
    assert_eq!(status, 200, "{body}");
}
