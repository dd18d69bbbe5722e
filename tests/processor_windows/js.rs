//! The same window-store processor written with the JS SDK (guest-sdk/js,
//! tests/guests/js-windowcount) against the Rust one (tests/guests/windowcount): the same
//! answers call by call, the same output records end to end, and each takes over the other's
//! stores in a hot-swap.

use serde_json::{Value, json};

use crate::common::Server;
use crate::common::guests::guest;
use crate::common::pipeline::*;
use crate::runtime::{instance, windows_and_punctuation};
use weir::runtime::Body;

use crate::{emitted, expected, sessions, ticks};

/// The JS guest answers the runtime's calls as the Rust one does: the same windows and
/// sessions emitted by the same punctuations, and its stream settings.
#[test]
fn a_js_processor_has_the_window_and_session_stores_and_stream_time() {
    windows_and_punctuation(instance("js", "js-windowcount"), true);
}

/// A window key past the host's cap fails the JS guest's record alone (the SDK's rule for a
/// state value too large), naming the cap; the record before it keeps its window.
#[test]
fn a_js_window_key_past_the_cap_fails_its_record_naming_the_cap() {
    let mut inst = instance("js", "js-windowcount");
    let batch = vec![
        crate::runtime::record("a", 100),
        crate::runtime::record("big", 200),
    ];
    let out = inst.process(&crate::runtime::origin(2), &batch).unwrap();
    assert_eq!(out.failures.len(), 1, "{:?}", out.failures);
    assert_eq!(out.failures[0].index, 1);
    let why = &out.failures[0].message;
    assert!(
        why.contains("RangeError") && why.contains("window or session key of 5000 bytes"),
        "{why}"
    );
    let closed = inst.on_stream_time(1500).unwrap();
    let mut got: Vec<String> = closed
        .records
        .iter()
        .map(|r| match &r.body {
            Body::New(rec) => String::from_utf8_lossy(rec.value.as_deref().unwrap()).into_owned(),
            other => panic!("punctuation makes new records, not {other:?}"),
        })
        .collect();
    got.sort();
    assert_eq!(got, ["a@0=1", "session:a@100-100=1", "tick@1500"]);
}

/// `n` records from `base`: three keys in an uneven turn, mostly rising timestamps with some
/// out of order (so sessions merge when a record bridges two), a few gaps past a session's.
fn clicks(base: i64, n: usize) -> Vec<(String, i64)> {
    let keys = ["a", "b", "c"];
    let mut t = base;
    (0..n)
        .map(|i| {
            t += [90, 130, 40, 700, 10][i % 5];
            let back = if i % 7 == 3 { 250 } else { 0 };
            (keys[(i * 5 / 3) % 3].to_string(), t - back)
        })
        .collect()
}

fn json_of(records: &[(String, i64)]) -> Vec<Value> {
    records
        .iter()
        .map(|(k, ts)| json!({"key": k, "value": "click", "timestamp": ts}))
        .collect()
}

/// Deploys pipeline `name` reading `clicks` into `out` through `module`.
fn deploy(s: &Server, name: &str, out: &str, module: &str) {
    create_topic(s, out, 1);
    create(
        s,
        json!({"name": name, "inputs": ["clicks"], "output": out,
            "steps": [{"module": module}], "start": "earliest"}),
    );
}

/// Waits until pipeline `name` has read every record of `clicks` (`n` since its last
/// deployment).
fn caught_up(s: &Server, name: &str, n: usize) {
    wait_caught_up(s, name, n as u64);
}

#[test]
fn the_js_and_rust_processors_emit_the_same_records_and_take_over_each_others_stores() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    create_topic(&s, "clicks", 1);
    assert_eq!(
        upload(&s, "rustwc", &guest("hostile", "windowcount")).0,
        201
    );
    let (code, body) = upload(&s, "jswc", &guest("js", "js-windowcount"));
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["world"], "processor", "{body}");
    let base = crate::an_hour_ago();
    let all = clicks(base, 60);
    produce(&s, "clicks", json_of(&all[..30]));
    // Each language alone, and one that starts in Rust and is swapped to JS mid-window.
    deploy(&s, "rust", "rust-out", "rustwc");
    deploy(&s, "js", "js-out", "jswc");
    deploy(&s, "swap", "swap-out", "rustwc");
    for name in ["rust", "js", "swap"] {
        caught_up(&s, name, 30);
    }
    let spec = json!({"name": "swap", "inputs": ["clicks"], "output": "swap-out",
        "steps": [{"module": "jswc"}], "start": "earliest"});
    let (code, body) = call(&s, "PUT", "/v1/pipelines/swap", Some(spec));
    assert_eq!(code, 200, "{body}");
    produce(&s, "clicks", json_of(&all[30..]));
    caught_up(&s, "rust", 60);
    caught_up(&s, "js", 60);
    caught_up(&s, "swap", 30);

    let rust = read_all(&s, "rust-out").remove(0);
    let out = |r: &Value| {
        (
            r["key"].clone(),
            r["value"].as_str().unwrap().to_string(),
            r["timestamp"].as_i64().unwrap(),
        )
    };
    let rust: Vec<_> = rust.iter().map(out).collect();
    let js: Vec<_> = read_all(&s, "js-out").remove(0).iter().map(out).collect();
    assert_eq!(js, rust, "the JS and Rust processors emit apart");
    let swapped: Vec<_> = read_all(&s, "swap-out").remove(0).iter().map(out).collect();
    assert_eq!(
        swapped, rust,
        "a swap from Rust to JS lost or changed a window"
    );

    // And right: every closed window once, with its count. (Sessions are not checked
    // against `expected_sessions`, which assumes records in order: here a late record can
    // arrive after the punctuation that emitted the session it would have joined.)
    let values = values(&s, "js-out");
    assert_eq!(emitted(&values), expected(&all));
    assert!(ticks(&values).len() > 10, "{values:?}");
    assert!(
        sessions(&values).values().any(|&n| n > 1),
        "the input makes sessions of several records: {values:?}"
    );
}
