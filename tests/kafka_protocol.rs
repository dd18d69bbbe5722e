//! The Kafka wire protocol at the byte level against a real `weir serve`:
//! ApiVersions fallbacks, bad frames closing only their connection, a fuzz run
//! of random and truncated frames, acks=0, and idempotent producer sequences
//! (duplicates, gaps, and both across a restart).
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{Server, http};
use weir::log::batch::{Record, encode_batch};

fn connect(server: &Server) -> TcpStream {
    let s = TcpStream::connect(&server.kafka).expect("connect to the Kafka listener");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

/// A request with header v1 (api key, version, correlation id, client id).
fn request(key: i16, version: i16, correlation: i32, body: &[u8]) -> Vec<u8> {
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
fn response(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).ok()?;
    let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).ok()?;
    Some(body)
}

fn i16_at(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}

fn i32_at(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

fn i64_at(b: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(b[at..at + 8].try_into().unwrap())
}

/// Whether the server still answers ApiVersions v0 on a fresh connection.
fn alive(server: &Server) -> bool {
    let mut s = connect(server);
    s.write_all(&request(18, 0, 42, &[])).unwrap();
    response(&mut s).is_some_and(|r| i32_at(&r, 0) == 42 && i16_at(&r, 4) == 0)
}

#[test]
fn api_versions_in_an_unknown_version_answers_v0_with_unsupported_version() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut s = connect(&server);
    s.write_all(&request(18, 99, 7, &[0, 0, 0, 0, 0])).unwrap();
    let r = response(&mut s).expect("an answer, not a closed connection");
    assert_eq!(
        i32_at(&r, 0),
        7,
        "response header v0: just the correlation id"
    );
    assert_eq!(i16_at(&r, 4), 35, "UNSUPPORTED_VERSION");
    let count = i32_at(&r, 6);
    assert!(
        count >= 19,
        "the v0 table of served APIs follows, got {count}"
    );
    // Each entry is (key, min, max); Produce must be 3..=11.
    let produce = (0..count as usize)
        .map(|i| 10 + i * 6)
        .find(|&at| i16_at(&r, at) == 0)
        .expect("Produce is advertised");
    assert_eq!((i16_at(&r, produce + 2), i16_at(&r, produce + 4)), (3, 11));
}

#[test]
fn bad_frames_close_only_their_connection() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let bystander = connect(&server);
    // Unknown API key.
    let mut s = connect(&server);
    s.write_all(&request(9999, 0, 1, &[])).unwrap();
    assert!(response(&mut s).is_none());
    // Unsupported version of a served API.
    let mut s = connect(&server);
    s.write_all(&request(0, 99, 1, &[])).unwrap();
    assert!(response(&mut s).is_none());
    // Oversized and negative size prefixes.
    for prefix in [i32::MAX, -5] {
        let mut s = connect(&server);
        s.write_all(&prefix.to_be_bytes()).unwrap();
        assert!(response(&mut s).is_none());
    }
    // A frame shorter than a request header.
    let mut s = connect(&server);
    s.write_all(&[0, 0, 0, 3, 0, 18, 0]).unwrap();
    assert!(response(&mut s).is_none());
    // A body that does not decode at its version.
    let mut s = connect(&server);
    s.write_all(&request(3, 1, 1, &[0xff, 0xff, 0xff])).unwrap();
    assert!(response(&mut s).is_none());
    drop(bystander);
    assert!(alive(&server));
}

/// xorshift64*: deterministic, so a failing case can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn random_and_truncated_frames_never_take_the_server_down() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), &[]);
    // (key, max version) of every served API.
    let apis: &[(i16, i16)] = &[
        (0, 11),
        (1, 12),
        (2, 7),
        (3, 12),
        (8, 9),
        (9, 9),
        (10, 4),
        (11, 9),
        (12, 4),
        (13, 5),
        (14, 5),
        (15, 5),
        (16, 4),
        (18, 3),
        (19, 7),
        (20, 6),
        (22, 5),
        (32, 4),
        (37, 3),
    ];
    let mut rng = Rng(0x5eed_2026);
    for round in 0..400 {
        let (key, max) = apis[rng.below(apis.len() as u64) as usize];
        let version = rng.below(max as u64 + 1) as i16;
        let len = rng.below(96) as usize;
        let mut body: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        // Small lengths make the decoder walk further before failing.
        for b in body.iter_mut().step_by(3) {
            if rng.below(2) == 0 {
                *b = 0;
            }
        }
        let mut frame = request(key, version, round, &body);
        if rng.below(3) == 0 {
            // Truncated: the size prefix promises more than is sent.
            let cut = 4 + rng.below(frame.len() as u64 - 4) as usize;
            frame.truncate(cut);
        }
        let mut s = connect(&server);
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let _ = s.write_all(&frame);
        let _ = s.shutdown(std::net::Shutdown::Write);
        // Whatever comes back (an answer or a close) is fine; a crash is not.
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink);
        assert!(
            server.child.try_wait().unwrap().is_none(),
            "server died on round {round}: key {key} v{version} body {body:?}"
        );
    }
    assert!(alive(&server));
}

/// A one-record batch from producer `pid`/`epoch` starting at `seq`.
fn idempotent_batch(value: &str, pid: i64, epoch: i16, seq: i32) -> Vec<u8> {
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
fn produce(s: &mut TcpStream, topic: &str, acks: i16, batch: &[u8], correlation: i32) {
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

fn produce_result(s: &mut TcpStream, topic: &str) -> (i16, i64) {
    let r = response(s).expect("produce response");
    // corr, topics count, name, partitions count, index, error, base offset.
    let at = 4 + 4 + 2 + topic.len() + 4 + 4;
    (i16_at(&r, at), i64_at(&r, at + 2))
}

fn init_producer_id(s: &mut TcpStream) -> (i64, i16) {
    let mut body = (-1i16).to_be_bytes().to_vec();
    body.extend_from_slice(&60_000i32.to_be_bytes());
    s.write_all(&request(22, 0, 5, &body)).unwrap();
    let r = response(s).expect("InitProducerId response");
    assert_eq!(i16_at(&r, 8), 0, "InitProducerId error");
    (i64_at(&r, 10), i16_at(&r, 18))
}

fn high_watermark(server: &Server, topic: &str) -> i64 {
    let v: serde_json::Value = http()
        .get(server.at(&format!("/v1/topics/{topic}")))
        .send()
        .unwrap()
        .json()
        .unwrap();
    v["partitions"][0]["high_watermark"].as_i64().unwrap()
}

#[test]
fn idempotent_sequences_dedupe_refuse_gaps_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut s = connect(&server);
    let (pid, epoch) = init_producer_id(&mut s);
    produce(&mut s, "idem", 1, &idempotent_batch("a", pid, epoch, 0), 1);
    assert_eq!(produce_result(&mut s, "idem"), (0, 0));
    // A retry of the same batch: acknowledged with its offset, not appended.
    produce(&mut s, "idem", 1, &idempotent_batch("a", pid, epoch, 0), 2);
    assert_eq!(produce_result(&mut s, "idem"), (0, 0));
    assert_eq!(high_watermark(&server, "idem"), 1);
    // A gap.
    produce(&mut s, "idem", 1, &idempotent_batch("c", pid, epoch, 5), 3);
    assert_eq!(
        produce_result(&mut s, "idem").0,
        45,
        "OUT_OF_ORDER_SEQUENCE_NUMBER"
    );
    produce(&mut s, "idem", -1, &idempotent_batch("b", pid, epoch, 1), 4);
    assert_eq!(produce_result(&mut s, "idem"), (0, 1));
    drop(s);
    assert!(server.stop());

    let server = Server::start(dir.path(), &[]);
    let mut s = connect(&server);
    produce(&mut s, "idem", 1, &idempotent_batch("b", pid, epoch, 1), 5);
    assert_eq!(
        produce_result(&mut s, "idem"),
        (0, 1),
        "duplicate after restart"
    );
    produce(&mut s, "idem", 1, &idempotent_batch("z", pid, epoch, 3), 6);
    assert_eq!(produce_result(&mut s, "idem").0, 45, "gap after restart");
    assert_eq!(high_watermark(&server, "idem"), 2);
    let (next_pid, _) = init_producer_id(&mut s);
    assert!(
        next_pid > pid,
        "producer ids are never reused: {next_pid} after {pid}"
    );
}

#[test]
fn a_producer_the_partition_has_no_state_for_may_start_at_any_sequence() {
    // As after a restart whose active segment no longer holds the producer's
    // batches, or after its window was pruned: Kafka accepts any sequence then.
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut s = connect(&server);
    let (pid, epoch) = init_producer_id(&mut s);
    produce(
        &mut s,
        "resume",
        1,
        &idempotent_batch("a", pid, epoch, 41),
        1,
    );
    assert_eq!(produce_result(&mut s, "resume"), (0, 0));
    produce(
        &mut s,
        "resume",
        1,
        &idempotent_batch("b", pid, epoch, 42),
        2,
    );
    assert_eq!(produce_result(&mut s, "resume"), (0, 1));
    // From then on the window applies as usual.
    produce(
        &mut s,
        "resume",
        1,
        &idempotent_batch("a", pid, epoch, 41),
        3,
    );
    assert_eq!(produce_result(&mut s, "resume"), (0, 0), "duplicate");
    produce(
        &mut s,
        "resume",
        1,
        &idempotent_batch("d", pid, epoch, 44),
        4,
    );
    assert_eq!(produce_result(&mut s, "resume").0, 45, "gap");
    assert_eq!(high_watermark(&server, "resume"), 2);
}

/// InitProducerId v3 (flexible) asking to keep `pid` at `epoch`; returns
/// (error, producer id, epoch).
fn bump_producer_epoch(s: &mut TcpStream, pid: i64, epoch: i16) -> (i16, i64, i16) {
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

#[test]
fn only_the_current_epoch_of_a_producer_id_may_bump_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut s = connect(&server);
    let (pid, epoch) = init_producer_id(&mut s);
    assert_eq!(epoch, 0);
    assert_eq!(bump_producer_epoch(&mut s, pid, 0), (0, pid, 1));
    // A fenced instance still at epoch 0 cannot take the id back.
    assert_eq!(
        bump_producer_epoch(&mut s, pid, 0).0,
        47,
        "INVALID_PRODUCER_EPOCH"
    );
    assert_eq!(bump_producer_epoch(&mut s, pid, 1), (0, pid, 2));
    // An id this broker never handed out gets a fresh one.
    let (error, fresh, epoch) = bump_producer_epoch(&mut s, pid + 1000, 3);
    assert_eq!((error, epoch), (0, 0));
    assert!(fresh > pid && fresh != pid + 1000, "{fresh}");
}

#[test]
fn acks_zero_gets_no_response() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut s = connect(&server);
    let batch = encode_batch(
        &[Record {
            value: Some(b"fire and forget".to_vec().into()),
            timestamp: 1,
            ..Record::default()
        }],
        0,
    )
    .unwrap();
    produce(&mut s, "quiet", 0, &batch, 1);
    s.write_all(&request(18, 0, 2, &[])).unwrap();
    let r = response(&mut s).unwrap();
    assert_eq!(
        i32_at(&r, 0),
        2,
        "the first response is the ApiVersions one"
    );
    assert_eq!(high_watermark(&server, "quiet"), 1);
}

/// Metadata v1 for one topic; returns the topic's error code.
fn metadata_error(s: &mut TcpStream, topic: &str) -> i16 {
    let mut body = 1i32.to_be_bytes().to_vec();
    body.extend_from_slice(&(topic.len() as i16).to_be_bytes());
    body.extend_from_slice(topic.as_bytes());
    s.write_all(&request(3, 1, 9, &body)).unwrap();
    let r = response(s).expect("metadata response");
    // corr, brokers[node, host, port, rack], controller, topics[error, ...].
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
    at += 4 + 4; // controller id, topic count
    i16_at(&r, at)
}

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

/// Fetch v4 of partition 0 from `offset`; returns (error, records bytes length).
fn fetch(s: &mut TcpStream, topic: &str, offset: i64, max_wait_ms: i32) -> (i16, usize) {
    fetch_limited(s, topic, offset, max_wait_ms, 1 << 20)
}

/// Fetch v4 with a partition byte limit.
fn fetch_limited(
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

#[test]
fn fetch_long_polls_until_data_arrives_or_max_wait_passes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut s = connect(&server);
    assert_eq!(metadata_error(&mut s, "poll"), 0);
    // Nothing there: the answer comes empty, and not before max_wait.
    let start = std::time::Instant::now();
    assert_eq!(fetch(&mut s, "poll", 0, 300), (0, 0));
    assert!(
        start.elapsed() >= Duration::from_millis(290),
        "{:?}",
        start.elapsed()
    );
    // A record produced while the fetch waits ends the wait with the record.
    let kafka = server.kafka.clone();
    let waiter = std::thread::spawn(move || {
        let mut s = TcpStream::connect(kafka).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let start = std::time::Instant::now();
        let got = fetch(&mut s, "poll", 0, 20_000);
        (got, start.elapsed())
    });
    let r = http()
        .post(server.at("/v1/topics/poll/records"))
        .json(&serde_json::json!({"records": [{"value": "wake up"}]}))
        .send()
        .unwrap();
    assert!(r.status().is_success());
    let ((error, len), waited) = waiter.join().unwrap();
    assert_eq!(error, 0);
    assert!(len > 0, "the fetch returned the record");
    assert!(
        waited < Duration::from_secs(20),
        "returned on data, not at max_wait"
    );
    // Past the high watermark: OFFSET_OUT_OF_RANGE, at once.
    assert_eq!(fetch(&mut s, "poll", 5, 10_000).0, 1);
}

#[test]
fn fetch_returns_whole_batches_within_the_partition_limit_but_always_one() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let batch_len = encode_batch(
        &[Record {
            value: Some(b"0123456789".to_vec().into()),
            timestamp: 1,
            ..Record::default()
        }],
        0,
    )
    .unwrap()
    .len();
    let mut s = connect(&server);
    for i in 0..3 {
        let batch = encode_batch(
            &[Record {
                value: Some(b"0123456789".to_vec().into()),
                timestamp: 1,
                ..Record::default()
            }],
            0,
        )
        .unwrap();
        produce(&mut s, "limits", 1, &batch, i);
        assert_eq!(produce_result(&mut s, "limits"), (0, i64::from(i)));
    }
    // A limit below one batch still returns the first batch, whole.
    assert_eq!(fetch_limited(&mut s, "limits", 0, 0, 1), (0, batch_len));
    // Two batches' worth returns two; the third does not fit.
    let two = 2 * batch_len as i32;
    assert_eq!(
        fetch_limited(&mut s, "limits", 0, 0, two),
        (0, 2 * batch_len)
    );
    // The batch holding the requested offset comes first.
    assert_eq!(
        fetch_limited(&mut s, "limits", 2, 0, 1 << 20),
        (0, batch_len)
    );
}

#[test]
fn fetch_limits_are_capped_by_fetch_max_bytes_but_one_batch_always_comes() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("weir.toml");
    std::fs::write(&config, "[kafka]\nfetch_max_bytes = 1024\n").unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &["--config", config.to_str().unwrap()]);
    let batch = |len: usize| {
        encode_batch(
            &[Record {
                value: Some(vec![b'x'; len].into()),
                timestamp: 1,
                ..Record::default()
            }],
            0,
        )
        .unwrap()
    };
    let small = batch(400);
    assert!(2 * small.len() <= 1024 && 3 * small.len() > 1024);
    let mut s = connect(&server);
    for i in 0..3 {
        produce(&mut s, "capped", 1, &small, i);
        assert_eq!(produce_result(&mut s, "capped"), (0, i64::from(i)));
    }
    let big = batch(3000);
    produce(&mut s, "capped", 1, &big, 3);
    assert_eq!(produce_result(&mut s, "capped"), (0, 3));
    // The client allows 1 MiB; the broker sends what fits in 1024 bytes.
    assert_eq!(
        fetch_limited(&mut s, "capped", 0, 0, 1 << 20),
        (0, 2 * small.len())
    );
    // A batch larger than the cap still comes, whole.
    assert_eq!(
        fetch_limited(&mut s, "capped", 3, 0, 1 << 20),
        (0, big.len())
    );
}

#[test]
fn corrupt_and_oversized_batches_are_refused_and_nothing_is_appended() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let r = http()
        .post(server.at("/v1/topics"))
        .json(&serde_json::json!({"name": "strict", "partitions": 1, "config": {"max.message.bytes": 200}}))
        .send()
        .unwrap();
    assert!(r.status().is_success());
    let one = |value: &[u8]| {
        encode_batch(
            &[Record {
                value: Some(value.to_vec().into()),
                timestamp: 1,
                ..Record::default()
            }],
            0,
        )
        .unwrap()
    };
    let mut s = connect(&server);
    let mut corrupt = one(b"payload");
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    produce(&mut s, "strict", 1, &corrupt, 1);
    assert_eq!(produce_result(&mut s, "strict").0, 2, "CORRUPT_MESSAGE");
    produce(&mut s, "strict", 1, &one(&[b'x'; 300]), 2);
    assert_eq!(produce_result(&mut s, "strict").0, 10, "MESSAGE_TOO_LARGE");
    assert_eq!(high_watermark(&server, "strict"), 0);
    produce(&mut s, "strict", 1, &one(b"fine"), 3);
    assert_eq!(produce_result(&mut s, "strict"), (0, 0));
}

/// `records` as one gzip batch, its header then edited by `edit` (CRC redone).
fn gzip_batch(records: &[Record], edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
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

#[test]
fn compressed_batches_whose_records_disagree_with_their_header_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let record = |value: &[u8]| Record {
        value: Some(value.to_vec().into()),
        timestamp: 1,
        ..Record::default()
    };
    let three = [record(b"a"), record(b"b"), record(b"c")];
    let mut s = connect(&server);
    // Three records under lastOffsetDelta 0: the log would assign one offset
    // and consumers, reading offsets 0..2, would skip the next two appends.
    let narrow = gzip_batch(&three, |b| b[23..27].copy_from_slice(&0i32.to_be_bytes()));
    produce(&mut s, "checked", 1, &narrow, 1);
    assert_eq!(produce_result(&mut s, "checked").0, 87, "INVALID_RECORD");
    // recordCount and lastOffsetDelta say 1000; three records are there.
    let counted = gzip_batch(&three, |b| {
        b[23..27].copy_from_slice(&999i32.to_be_bytes());
        b[57..61].copy_from_slice(&1000i32.to_be_bytes());
    });
    produce(&mut s, "checked", 1, &counted, 2);
    assert_eq!(produce_result(&mut s, "checked").0, 2, "CORRUPT_MESSAGE");
    // Offset deltas 0, 1, 1: the record section lies, the header does not.
    let mut plain = encode_batch(&three, 0).unwrap();
    let (len0, len1) = (
        usize::from(plain[61] / 2),
        usize::from(plain[61 + 1 + plain[61] as usize / 2] / 2),
    );
    let third = 61 + 1 + len0 + 1 + len1;
    assert_eq!(plain[third + 3], 4, "zigzag offset delta 2");
    plain[third + 3] = 2;
    let records_section = plain[61..].to_vec();
    let dup = gzip_batch(&three, |b| {
        use std::io::Write as _;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&records_section).unwrap();
        b.truncate(61);
        b.extend_from_slice(&gz.finish().unwrap());
        let batch_length = (b.len() - 12) as i32;
        b[8..12].copy_from_slice(&batch_length.to_be_bytes());
    });
    produce(&mut s, "checked", 1, &dup, 3);
    assert_eq!(produce_result(&mut s, "checked").0, 87, "INVALID_RECORD");
    // Marked gzip, but not gzip: no consumer could ever read it.
    let mut garbage = encode_batch(&three, 0).unwrap();
    garbage[21..23].copy_from_slice(&1i16.to_be_bytes());
    let crc = crc32c::crc32c(&garbage[21..]);
    garbage[17..21].copy_from_slice(&crc.to_be_bytes());
    produce(&mut s, "checked", 1, &garbage, 4);
    assert_eq!(produce_result(&mut s, "checked").0, 2, "CORRUPT_MESSAGE");
    assert_eq!(high_watermark(&server, "checked"), 0, "nothing appended");
    produce(&mut s, "checked", 1, &gzip_batch(&three, |_| {}), 5);
    assert_eq!(produce_result(&mut s, "checked"), (0, 0));
    assert_eq!(high_watermark(&server, "checked"), 3);
}

/// A Kafka string (i16 length).
fn kstr(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(&(text.len() as i16).to_be_bytes());
    out.extend_from_slice(text.as_bytes());
}

/// DescribeGroups v0 of one group; returns (error, state).
fn describe_group(s: &mut TcpStream, group: &str) -> (i16, String) {
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

#[test]
fn shutdown_is_clean_with_connections_open_and_a_fetch_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut idle = connect(&server);
    assert_eq!(metadata_error(&mut idle, "quiet"), 0);
    let mut waiting = connect(&server);
    // A long poll (60 s) parked on an empty partition while the server stops.
    let mut s = connect(&server);
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut body = Vec::new();
    body.extend_from_slice(&(-1i32).to_be_bytes());
    body.extend_from_slice(&60_000i32.to_be_bytes());
    body.extend_from_slice(&1i32.to_be_bytes());
    body.extend_from_slice(&(1i32 << 20).to_be_bytes());
    body.push(0);
    body.extend_from_slice(&1i32.to_be_bytes());
    body.extend_from_slice(&5i16.to_be_bytes());
    body.extend_from_slice(b"quiet");
    body.extend_from_slice(&1i32.to_be_bytes());
    body.extend_from_slice(&0i32.to_be_bytes());
    body.extend_from_slice(&0i64.to_be_bytes());
    body.extend_from_slice(&(1i32 << 20).to_be_bytes());
    s.write_all(&request(1, 4, 1, &body)).unwrap();
    let poller = std::thread::spawn(move || response(&mut s));
    assert_eq!(metadata_error(&mut waiting, "quiet"), 0);
    // stop() allows 30 s: a shutdown that waited for the 60 s poll fails here.
    assert!(server.stop(), "weir serve exits cleanly on SIGTERM");
    // The parked fetch's connection was closed, not answered or left hanging.
    assert!(poller.join().unwrap().is_none());
}
