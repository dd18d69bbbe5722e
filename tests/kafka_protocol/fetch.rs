//! Fetch: long polls and byte limits.

use crate::common::{Server, http};
use std::net::TcpStream;
use std::time::Duration;
use weir::log::batch::{Record, encode_batch};

use crate::helpers::*;

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
