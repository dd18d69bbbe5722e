//! ApiVersions fallbacks, bad and random frames, clean shutdown with open connections.

use crate::common::Server;
use std::io::{Read, Write};
use std::time::Duration;

use crate::helpers::*;

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
        (29, 3),
        (30, 3),
        (31, 3),
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
