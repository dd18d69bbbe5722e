//! `close_idle_after_ms` through the whole server: windows and sessions of a quiet input
//! close on the wall clock, once each, across SIGKILLs too.

mod common;

use std::time::Duration;

use common::pipeline::*;
use common::streams::*;
use common::{Server, wait_until};
use rand::Rng;
use serde_json::json;

#[test]
fn windows_close_on_an_idle_input_once_each() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    create_topic(&s, "clicks", 1);
    create_topic(&s, "counts", 1);
    create_topic(&s, "sessions", 1);
    deploy(
        &s,
        "idle",
        json!({"op": "count", "window": {"type": "tumbling", "size_ms": 1000},
            "emit": "on_close", "close_idle_after_ms": 200}),
    );
    let spec = json!({"name": "idle-sessions", "inputs": ["clicks"], "output": "sessions",
        "steps": [{"op": "count", "window": {"type": "session", "gap_ms": 100},
            "emit": "on_close", "close_idle_after_ms": 200}],
        "start": "earliest", "on_error": "skip"});
    let (code, body) = call(&s, "POST", "/v1/pipelines", Some(spec));
    assert_eq!(code, 201, "{body}");
    // Three clicks in the current second of the wall clock, then nothing: no record
    // ever moves stream time past their window, only the idle input does.
    let t = now_ms();
    produce(
        &s,
        "clicks",
        vec![
            click("alice", "c", t),
            click("bob", "c", t),
            click("alice", "c", t + 1),
        ],
    );
    let start = t - t % 1000;
    let wait_for = |topic: &str, n: usize| {
        let ok = wait_until(Duration::from_secs(60), || {
            read_all(&s, topic)[0].len() >= n
        });
        assert!(ok, "{topic} has not {n} results: {:?}", read_all(&s, topic));
    };
    wait_for("counts", 2);
    wait_for("sessions", 2);
    let got: Vec<_> = read_all(&s, "counts")[0]
        .iter()
        .map(|r| result(r, 1000))
        .collect();
    assert_eq!(
        got,
        vec![
            (start, "alice".into(), 2, t + 1),
            (start, "bob".into(), 1, t),
        ]
    );
    let sessions: Vec<_> = read_all(&s, "sessions")[0]
        .iter()
        .map(|r| {
            (
                r["key"].as_str().unwrap().to_string(),
                r["value"].as_str().unwrap().to_string(),
                r["headers"]["weir.window.start"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                r["headers"]["weir.window.end"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(
        sessions,
        // In the order sessions close: by end.
        vec![
            ("bob".into(), "1".into(), t.to_string(), t.to_string()),
            (
                "alice".into(),
                "2".into(),
                t.to_string(),
                (t + 1).to_string()
            ),
        ]
    );
    // A later click closes on the idle input too; the windows closed before are not
    // emitted again by the timers that fired meanwhile.
    let t2 = now_ms().max(start + 1000);
    produce(&s, "clicks", vec![click("carol", "c", t2)]);
    wait_for("counts", 3);
    wait_for("sessions", 3);
    let counts = read_all(&s, "counts")[0].clone();
    assert_eq!(counts.len(), 3, "{counts:?}");
    assert_eq!(
        result(&counts[2], 1000),
        (t2 - t2 % 1000, "carol".into(), 1, t2)
    );
    assert_eq!(read_all(&s, "sessions")[0].len(), 3);
    let st = status(&s, "idle");
    assert_eq!(st["late_records"], 0, "{st:#}");
}

/// Windows closed by idle time go through the timer outbox: across SIGKILLs each is
/// emitted once, with the count the reference gives. Timestamps run 5 s ahead of the
/// wall clock and in order, so no record is late whatever the kills do to the timing
/// (a restart takes less than 5 s), and every window finally closes on the idle input.
#[test]
fn windows_closed_on_idle_input_are_exactly_once_across_sigkills() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &["--worker-threads", "2"]);
    create_topic(&s, "clicks", 2);
    create_topic(&s, "counts", 1);
    let size = 300;
    deploy(
        &s,
        "idle",
        json!({"op": "count", "window": {"type": "tumbling", "size_ms": size},
               "emit": "on_close", "close_idle_after_ms": 100}),
    );
    let mut last = 0;
    // Often quiet for longer than the idle time.
    let s = kill_while_feeding(s, dir.path(), "clicks", 11, 0..400, move |rng| {
        (0..rng.random_range(1..20))
            .map(|_| {
                last = (last + 1).max(now_ms() + 5000);
                click(&format!("user{}", rng.random_range(0..5)), "c", last)
            })
            .collect()
    });
    wait_caught_up(&s, "idle", 0);
    let mut want = Windows::new();
    for partition in input_of(&s, true) {
        let (w, late, _) = reference(&partition, size, size, 0);
        assert_eq!(late, 0, "records in order are never late");
        want.extend(w);
    }
    assert!(want.len() > 20, "too few windows: {}", want.len());
    // The last windows close on the wall clock, some 5 s after their records.
    let ok = wait_until(Duration::from_secs(60), || {
        read_all(&s, "counts")[0].len() >= want.len()
    });
    let mut got = Windows::new();
    for r in &read_all(&s, "counts")[0] {
        let (start, key, value, ts) = result(r, size);
        let again = got.insert((start, key.clone()), (value, ts));
        assert!(again.is_none(), "[{start}) {key} emitted twice");
    }
    assert!(ok, "{} of {} windows emitted", got.len(), want.len());
    assert_eq!(got, want);
}
