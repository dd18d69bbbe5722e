//! Frame building and reading shared by the protocol tests.

use crate::common::{Server, http};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;
use weir::log::batch::{Record, encode_batch};

pub fn connect(server: &Server) -> TcpStream {
    let s = TcpStream::connect(&server.kafka).expect("connect to the Kafka listener");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

/// A request with header v1 (api key, version, correlation id, client id).
pub fn request(key: i16, version: i16, correlation: i32, body: &[u8]) -> Vec<u8> {
    let mut frame = Vec::new();
    frame.extend_from_slice(&key.to_be_bytes());
    frame.extend_from_slice(&version.to_be_bytes());
    frame.extend_from_slice(&correlation.to_be_bytes());
    frame.extend_from_slice(&4i16.to_be_bytes());
    frame.extend_from_slice(b"test");
    frame.extend_from_slice(body);
    let mut out = (frame.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(&frame);
    out
}

/// Reads one response frame, or `None` if the server closed the connection.
pub fn response(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).ok()?;
    let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).ok()?;
    Some(body)
}

pub fn i16_at(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}

pub fn i32_at(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

pub fn i64_at(b: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(b[at..at + 8].try_into().unwrap())
}

/// Whether the server still answers ApiVersions v0 on a fresh connection.
pub fn alive(server: &Server) -> bool {
    let mut s = connect(server);
    s.write_all(&request(18, 0, 42, &[])).unwrap();
    response(&mut s).is_some_and(|r| i32_at(&r, 0) == 42 && i16_at(&r, 4) == 0)
}

/// xorshift64*: deterministic, so a failing case can be replayed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A one-record batch from producer `pid`/`epoch` starting at `seq`.
pub fn idempotent_batch(value: &str, pid: i64, epoch: i16, seq: i32) -> Vec<u8> {
    let mut b = encode_batch(
        &[Record {
            value: Some(value.as_bytes().to_vec().into()),
            timestamp: 1,
            ..Record::default()
        }],
        0,
    )
    .unwrap();
    b[43..51].copy_from_slice(&pid.to_be_bytes());
    b[51..53].copy_from_slice(&epoch.to_be_bytes());
    b[53..57].copy_from_slice(&seq.to_be_bytes());
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b
}

/// Produce v3 of one batch to partition 0; returns (error code, base offset).
pub fn produce(s: &mut TcpStream, topic: &str, acks: i16, batch: &[u8], correlation: i32) {
    let mut body = Vec::new();
    body.extend_from_slice(&(-1i16).to_be_bytes()); // no transactional id
    body.extend_from_slice(&acks.to_be_bytes());
    body.extend_from_slice(&5000i32.to_be_bytes());
    body.extend_from_slice(&1i32.to_be_bytes());
    body.extend_from_slice(&(topic.len() as i16).to_be_bytes());
    body.extend_from_slice(topic.as_bytes());
    body.extend_from_slice(&1i32.to_be_bytes());
    body.extend_from_slice(&0i32.to_be_bytes());
    body.extend_from_slice(&(batch.len() as i32).to_be_bytes());
    body.extend_from_slice(batch);
    s.write_all(&request(0, 3, correlation, &body)).unwrap();
}

pub fn produce_result(s: &mut TcpStream, topic: &str) -> (i16, i64) {
    let r = response(s).expect("produce response");
    // corr, topics count, name, partitions count, index, error, base offset.
    let at = 4 + 4 + 2 + topic.len() + 4 + 4;
    (i16_at(&r, at), i64_at(&r, at + 2))
}

pub fn init_producer_id(s: &mut TcpStream) -> (i64, i16) {
    let mut body = (-1i16).to_be_bytes().to_vec();
    body.extend_from_slice(&60_000i32.to_be_bytes());
    s.write_all(&request(22, 0, 5, &body)).unwrap();
    let r = response(s).expect("InitProducerId response");
    assert_eq!(i16_at(&r, 8), 0, "InitProducerId error");
    (i64_at(&r, 10), i16_at(&r, 18))
}

pub fn high_watermark(server: &Server, topic: &str) -> i64 {
    let v: serde_json::Value = http()
        .get(server.at(&format!("/v1/topics/{topic}")))
        .send()
        .unwrap()
        .json()
        .unwrap();
    v["partitions"][0]["high_watermark"].as_i64().unwrap()
}

/// InitProducerId v3 (flexible) asking to keep `pid` at `epoch`; returns
/// (error, producer id, epoch).
pub fn bump_producer_epoch(s: &mut TcpStream, pid: i64, epoch: i16) -> (i16, i64, i16) {
    let mut frame = Vec::new();
    frame.extend_from_slice(&22i16.to_be_bytes());
    frame.extend_from_slice(&3i16.to_be_bytes());
    frame.extend_from_slice(&9i32.to_be_bytes());
    frame.extend_from_slice(&4i16.to_be_bytes());
    frame.extend_from_slice(b"test");
    frame.push(0); // header tagged fields
    frame.push(0); // null transactional id (compact)
    frame.extend_from_slice(&60_000i32.to_be_bytes());
    frame.extend_from_slice(&pid.to_be_bytes());
    frame.extend_from_slice(&epoch.to_be_bytes());
    frame.push(0); // tagged fields
    let mut out = (frame.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(&frame);
    s.write_all(&out).unwrap();
    let r = response(s).expect("InitProducerId response");
    // corr, header tags, throttle, error, producer id, epoch.
    (i16_at(&r, 9), i64_at(&r, 11), i16_at(&r, 19))
}

/// Metadata v1 for one topic; returns the topic's error code.
pub fn metadata_error(s: &mut TcpStream, topic: &str) -> i16 {
    metadata_errors(s, &[topic])[0]
}

/// Metadata v1 naming `topics`; returns each answered topic's error code, in order.
pub fn metadata_errors(s: &mut TcpStream, topics: &[&str]) -> Vec<i16> {
    let mut body = (topics.len() as i32).to_be_bytes().to_vec();
    for topic in topics {
        kstr(&mut body, topic);
    }
    s.write_all(&request(3, 1, 9, &body)).unwrap();
    let r = response(s).expect("metadata response");
    // corr, brokers[node, host, port, rack], controller, topics[error, name,
    // internal, partitions[error, id, leader, replicas[], isr[]]].
    let mut at = 4;
    let brokers = i32_at(&r, at);
    at += 4;
    for _ in 0..brokers {
        at += 4;
        at += 2 + i16_at(&r, at) as usize;
        at += 4;
        let rack = i16_at(&r, at);
        at += 2 + rack.max(0) as usize;
    }
    at += 4; // controller id
    let count = i32_at(&r, at);
    at += 4;
    let mut errors = Vec::new();
    for _ in 0..count {
        errors.push(i16_at(&r, at));
        at += 2;
        at += 2 + i16_at(&r, at) as usize + 1;
        let partitions = i32_at(&r, at);
        at += 4;
        for _ in 0..partitions {
            at += 2 + 4 + 4;
            at += 4 + 4 * i32_at(&r, at) as usize;
            at += 4 + 4 * i32_at(&r, at) as usize;
        }
    }
    errors
}

/// Fetch v4 of partition 0 from `offset`; returns (error, records bytes length).
pub fn fetch(s: &mut TcpStream, topic: &str, offset: i64, max_wait_ms: i32) -> (i16, usize) {
    fetch_limited(s, topic, offset, max_wait_ms, 1 << 20)
}

/// Fetch v4 with a partition byte limit.
pub fn fetch_limited(
    s: &mut TcpStream,
    topic: &str,
    offset: i64,
    max_wait_ms: i32,
    partition_max_bytes: i32,
) -> (i16, usize) {
    let mut body = Vec::new();
    body.extend_from_slice(&(-1i32).to_be_bytes()); // replica id
    body.extend_from_slice(&max_wait_ms.to_be_bytes());
    body.extend_from_slice(&1i32.to_be_bytes()); // min bytes
    body.extend_from_slice(&(1i32 << 20).to_be_bytes());
    body.push(0); // read uncommitted
    body.extend_from_slice(&1i32.to_be_bytes());
    body.extend_from_slice(&(topic.len() as i16).to_be_bytes());
    body.extend_from_slice(topic.as_bytes());
    body.extend_from_slice(&1i32.to_be_bytes());
    body.extend_from_slice(&0i32.to_be_bytes());
    body.extend_from_slice(&offset.to_be_bytes());
    body.extend_from_slice(&partition_max_bytes.to_be_bytes());
    s.write_all(&request(1, 4, 11, &body)).unwrap();
    let r = response(s).expect("fetch response");
    // corr, throttle, topics, name, partitions, index, error, hw, lso, aborted, records.
    let at = 4 + 4 + 4 + 2 + topic.len() + 4 + 4;
    let error = i16_at(&r, at);
    let aborted = i32_at(&r, at + 2 + 8 + 8);
    let records_at = at + 2 + 8 + 8 + 4 + 16 * aborted.max(0) as usize;
    (error, i32_at(&r, records_at).max(0) as usize)
}

/// `records` as one gzip batch, its header then edited by `edit` (CRC redone).
pub fn gzip_batch(records: &[Record], edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    use std::io::Write as _;
    let plain = encode_batch(records, 0).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&plain[61..]).unwrap();
    let mut b = plain[..61].to_vec();
    b.extend_from_slice(&gz.finish().unwrap());
    let batch_length = (b.len() - 12) as i32;
    b[8..12].copy_from_slice(&batch_length.to_be_bytes());
    b[21..23].copy_from_slice(&1i16.to_be_bytes());
    edit(&mut b);
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b
}

/// A Kafka string (i16 length).
pub fn kstr(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(&(text.len() as i16).to_be_bytes());
    out.extend_from_slice(text.as_bytes());
}

/// DescribeGroups v0 of one group; returns (error, state).
pub fn describe_group(s: &mut TcpStream, group: &str) -> (i16, String) {
    let mut body = 1i32.to_be_bytes().to_vec();
    kstr(&mut body, group);
    s.write_all(&request(15, 0, 21, &body)).unwrap();
    let r = response(s).expect("DescribeGroups response");
    // corr, groups count, error, group id, state.
    let error = i16_at(&r, 8);
    let at = 10 + 2 + group.len();
    let len = i16_at(&r, at) as usize;
    (
        error,
        String::from_utf8(r[at + 2..at + 2 + len].to_vec()).unwrap(),
    )
}
