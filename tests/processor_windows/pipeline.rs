//! End to end: the window-count processor in a pipeline, across a hot-swap, and over the cap.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::guests::guest;
use crate::common::pipeline::*;
use crate::common::{Server, wait_until};
use crate::{emitted, expected, expected_sessions, sessions, ticks};

/// Records `from..to` of the test's stream: keys in turn, 100 ms apart from `base`.
fn clicks(base: i64, from: usize, to: usize) -> Vec<(String, i64)> {
    let keys = ["a", "b", "c"];
    (from..to)
        .map(|i| (keys[(i * 7 / 3) % 3].to_string(), base + i as i64 * 100))
        .collect()
}

fn json_of(records: &[(String, i64)]) -> Vec<Value> {
    records
        .iter()
        .map(|(k, ts)| json!({"key": k, "value": "click", "timestamp": ts}))
        .collect()
}

#[test]
fn window_counts_are_exact_and_a_swap_mid_window_keeps_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    create_topic(&s, "clicks", 1);
    create_topic(&s, "counts", 1);
    let wasm = guest("hostile", "windowcount");
    assert_eq!(upload(&s, "windowcount", &wasm).0, 201);
    assert_eq!(upload(&s, "windowcount2", &wasm).0, 201);
    // Stream time reaches base + 2400: windows [0,1000) and [1000,2000) past the base are
    // emitted; [2000,3000) is half counted when the swap comes.
    let base = crate::an_hour_ago();
    let first = clicks(base, 0, 25);
    produce(&s, "clicks", json_of(&first));
    let spec = json!({"name": "wc", "inputs": ["clicks"], "output": "counts",
        "steps": [{"module": "windowcount"}], "start": "earliest"});
    create(&s, spec.clone());
    wait_caught_up(&s, "wc", 25);
    assert_eq!(emitted(&values(&s, "counts")), expected(&first));

    let mut swapped = spec.clone();
    swapped["steps"] = json!([{"module": "windowcount2"}]);
    let (code, body) = call(&s, "PUT", "/v1/pipelines/wc", Some(swapped));
    assert_eq!(code, 200, "{body}");
    let all = clicks(base, 0, 62);
    produce(&s, "clicks", json_of(&all[25..]));
    wait_caught_up(&s, "wc", 37);
    let got = emitted(&values(&s, "counts"));
    let want = expected(&all);
    assert_eq!(got, want);
    // The window the swap cut in two holds the counts of both versions.
    let cut = base + 2000..base + 3000;
    let a = all
        .iter()
        .filter(|(k, ts)| k == "a" && cut.contains(ts))
        .count() as u64;
    assert_eq!(got[&format!("a@{}", base + 2000)], a);
    assert_eq!(want.len(), 18, "six windows of three keys");

    // Kafka's STREAM_TIME punctuation: first at the first record, then once each time stream
    // time reaches the next multiple of the interval, called with the stream time; a record
    // that skips several intervals punctuates once.
    let mut want_ticks: Vec<i64> = (0..=6).map(|i| base + i * 1000).collect();
    assert_eq!(ticks(&values(&s, "counts")), want_ticks);
    produce(&s, "clicks", json_of(&[("a".into(), base + 9_550)]));
    produce(
        &s,
        "clicks",
        json_of(&[("a".into(), base + 9_990), ("b".into(), base + 10_000)]),
    );
    wait_caught_up(&s, "wc", 40);
    want_ticks.extend([base + 9_550, base + 10_000]);
    let out = values(&s, "counts");
    assert_eq!(ticks(&out), want_ticks);
    // The session store, kept across the swap too: each key's one long session has closed.
    let mut every = all.clone();
    every.extend([
        ("a".to_string(), base + 9_550),
        ("a".to_string(), base + 9_990),
        ("b".to_string(), base + 10_000),
    ]);
    let want_sessions = expected_sessions(&every);
    assert_eq!(want_sessions.len(), 3, "{want_sessions:?}");
    assert_eq!(sessions(&out), want_sessions);
}

#[test]
fn a_window_key_past_the_cap_stops_the_task_with_the_cap_named() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    create_topic(&s, "in", 1);
    create_topic(&s, "out", 1);
    assert_eq!(
        upload(&s, "windowcount", &guest("hostile", "windowcount")).0,
        201
    );
    produce(
        &s,
        "in",
        json_of(
            &clicks(crate::an_hour_ago(), 0, 1)
                .into_iter()
                .chain([("big".to_string(), crate::an_hour_ago() + 20)])
                .collect::<Vec<_>>(),
        ),
    );
    create(
        &s,
        json!({"name": "wc", "inputs": ["in"], "output": "out",
            "steps": [{"module": "windowcount"}], "start": "earliest"}),
    );
    let mut st = Value::Null;
    assert!(wait_until(Duration::from_secs(60), || {
        st = status(&s, "wc");
        st["state"] == "failed"
    }));
    let last = st["tasks"][0]["last_error"].as_str().unwrap();
    assert!(
        last.contains("window or session key of 5000 bytes exceeds the cap of 4075 bytes"),
        "{st:#}"
    );
    assert_eq!(st["tasks"][0]["committed_offset"], 0, "{st:#}");
    assert!(values(&s, "out").is_empty());
}
