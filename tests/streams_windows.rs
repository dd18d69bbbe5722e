//! Windowed `count`/`sum` steps through the whole server: deployed over HTTP, fed through
//! the records API, results read back from the output topic. Checked against a reference
//! implementation of Kafka Streams' window rules written here, against Kafka's documented
//! hopping example, for late records, and across repeated SIGKILLs with emit on close.

mod common;

use std::time::Duration;

use common::pipeline::*;
use common::streams::*;
use common::{Server, http};
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

#[test]
fn clicks_per_user_per_minute_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    create_topic(&s, "clicks", 1);
    create_topic(&s, "counts", 1);
    deploy(
        &s,
        "per-minute",
        json!({"op": "count", "window": {"type": "tumbling", "size_ms": 60000}, "emit": "on_close"}),
    );
    produce(
        &s,
        "clicks",
        vec![
            click("alice", "c", 1_000),
            click("bob", "c", 2_000),
            click("alice", "c", 59_999),
            click("alice", "c", 61_000),
            // Stream time 120 000 closes [60000, 120000) too, grace being 0.
            click("carol", "c", 120_000),
        ],
    );
    wait_caught_up(&s, "per-minute", 5);
    let out = read_all(&s, "counts").remove(0);
    let got: Vec<_> = out.iter().map(|r| result(r, 60_000)).collect();
    assert_eq!(
        got,
        vec![
            (0, "alice".into(), 2, 59_999),
            (0, "bob".into(), 1, 2_000),
            (60_000, "alice".into(), 1, 61_000),
        ]
    );
    // A late click for the first minute is dropped and counted, in status and metrics.
    produce(&s, "clicks", vec![click("alice", "c", 5_000)]);
    let st = wait_caught_up(&s, "per-minute", 6);
    assert_eq!(st["late_records"], 1, "{st:#}");
    assert_eq!(st["tasks"][0]["late_records"], 1, "{st:#}");
    let metrics = http().get(s.at("/metrics")).send().unwrap().text().unwrap();
    assert!(
        metrics.contains(
            "weir_pipeline_late_records_total{pipeline=\"per-minute\",partition=\"0\"} 1"
        ),
        "{metrics}"
    );
    assert_eq!(
        read_all(&s, "counts")[0].len(),
        3,
        "a late record emits nothing"
    );
}

#[test]
fn kafkas_hopping_example_and_value_and_key_layouts() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    create_topic(&s, "clicks", 1);
    create_topic(&s, "counts", 1);
    // Kafka's documentation: size 5000 advancing by 3000 gives [0,5000), [3000,8000), ...
    deploy(
        &s,
        "hop",
        json!({"op": "count", "window": {"type": "hopping", "size_ms": 5000, "advance_ms": 3000},
               "value_format": "long", "key_format": "windowed"}),
    );
    produce(&s, "clicks", vec![click("k", "x", 3500)]);
    wait_caught_up(&s, "hop", 1);
    let (code, body) = call(
        &s,
        "GET",
        "/v1/topics/counts/partitions/0/records?offset=0&encoding=base64",
        None,
    );
    assert_eq!(code, 200, "{body}");
    use base64::Engine;
    let b64 = |v: &Value| {
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap()
    };
    let got: Vec<(Vec<u8>, Vec<u8>, String, String)> = body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let h = |n: &str| String::from_utf8(b64(&r["headers"][n])).unwrap();
            (
                b64(&r["key"]),
                b64(&r["value"]),
                h("weir.window.start"),
                h("weir.window.end"),
            )
        })
        .collect();
    // Key: TimeWindowedSerializer's layout (key bytes, then the start as a big-endian
    // long); value: a big-endian long, as Java's LongDeserializer reads it.
    assert_eq!(
        got,
        vec![
            (
                [&b"k"[..], &0i64.to_be_bytes()].concat(),
                1i64.to_be_bytes().to_vec(),
                "0".into(),
                "5000".into()
            ),
            (
                [&b"k"[..], &3000i64.to_be_bytes()].concat(),
                1i64.to_be_bytes().to_vec(),
                "3000".into(),
                "8000".into()
            ),
        ]
    );
    // Refused at create, naming the field.
    let (code, body) = call(
        &s,
        "POST",
        "/v1/pipelines",
        Some(
            json!({"name": "bad", "inputs": ["clicks"], "output": "counts",
            "steps": [{"op": "count", "emit": "on_close"}]}),
        ),
    );
    assert_eq!(code, 400, "{body}");
    assert!(body.to_string().contains("steps[0].emit"), "{body}");
    let (code, body) = call(
        &s,
        "POST",
        "/v1/pipelines",
        Some(
            json!({"name": "bad", "inputs": ["clicks"], "output": "counts",
            "steps": [{"op": "count", "window": {"type": "hopping", "size_ms": 100000, "advance_ms": 1}}]}),
        ),
    );
    assert_eq!(code, 400, "{body}");
    assert!(
        body.to_string().contains("max_windows_per_record"),
        "{body}"
    );
}

/// Random out-of-order input through the server, both emit modes, count and sum: the
/// output equals the reference (on_update: the last result per window and key; on_close:
/// exactly one per closed window and key).
#[test]
fn random_out_of_order_input_matches_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    create_topic(&s, "clicks", 1);
    let (size, advance, grace) = (1000, 250, 300);
    let window =
        json!({"type": "hopping", "size_ms": size, "advance_ms": advance, "grace_ms": grace});
    let cases = [
        ("count-update", "count", "on_update"),
        ("count-close", "count", "on_close"),
        ("sum-update", "sum", "on_update"),
        ("sum-close", "sum", "on_close"),
    ];
    for (name, op, emit) in cases {
        create_topic(&s, &format!("{name}-out"), 1);
        let spec = json!({"name": name, "inputs": ["clicks"], "output": format!("{name}-out"),
            "steps": [{"op": op, "window": window, "emit": emit}], "start": "earliest"});
        let (code, body) = call(&s, "POST", "/v1/pipelines", Some(spec));
        assert_eq!(code, 201, "{body}");
    }
    for seed in [11u64, 12, 13] {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut clock = now_ms() + 20_000 * seed as i64;
        for _ in 0..6 {
            let batch: Vec<Value> = (0..rng.random_range(1..120))
                .map(|_| {
                    clock += rng.random_range(0..40);
                    let ts = clock - rng.random_range(0..600);
                    let key = format!("u{}", rng.random_range(0..6));
                    click(&key, &rng.random_range(-5..10).to_string(), ts)
                })
                .collect();
            produce(&s, "clicks", batch);
        }
    }
    for (name, op, emit) in cases {
        let input = input_of(&s, op == "count").remove(0);
        wait_caught_up(&s, name, input.len() as u64);
        let (want, late, stream_time) = reference(&input, size, advance, grace);
        let want = if emit == "on_close" {
            closed(want, size, grace, stream_time)
        } else {
            want
        };
        let mut got = Windows::new();
        for r in read_all(&s, &format!("{name}-out")).remove(0) {
            let (start, key, value, ts) = result(&r, size);
            let again = got.insert((start, key.clone()), (value, ts));
            assert!(
                emit == "on_update" || again.is_none(),
                "{name}: [{start}) {key} emitted twice"
            );
        }
        assert_eq!(got, want, "{name}");
        assert_eq!(status(&s, name)["late_records"], late, "{name}");
    }
}

/// Emit on close across SIGKILLs: exactly one final result per window and key, each
/// equal to the reference over what the input log holds; emit on update beside it ends
/// on the reference's values.
#[test]
fn emit_on_close_is_exactly_once_across_sigkills() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &["--worker-threads", "2"]);
    create_topic(&s, "clicks", 3);
    create_topic(&s, "counts", 2);
    let (size, grace) = (500, 100);
    deploy(
        &s,
        "per-window",
        json!({"op": "count", "window": {"type": "tumbling", "size_ms": size, "grace_ms": grace},
               "emit": "on_close"}),
    );
    // Beside it, emit on update: its round ranges are pinned, so a replay emits what
    // the lost round did and the last result per window and key is the final one.
    create_topic(&s, "updates", 2);
    let spec = json!({"name": "updating", "inputs": ["clicks"], "output": "updates",
        "steps": [{"op": "count", "window": {"type": "tumbling", "size_ms": size, "grace_ms": grace}}],
        "start": "earliest"});
    let (code, body) = call(&s, "POST", "/v1/pipelines", Some(spec));
    assert_eq!(code, 201, "{body}");
    // Timestamps near now: time-based retention would delete segments of 1970 records.
    let mut clock = now_ms();
    let s = kill_while_feeding(s, dir.path(), "clicks", 7, 0..10, move |rng| {
        (0..rng.random_range(1..40))
            .map(|_| {
                let now = clock;
                clock += rng.random_range(0..6);
                let ts = (now - rng.random_range(0..150)).max(0);
                click(&format!("user{}", rng.random_range(0..17)), "c", ts)
            })
            .collect()
    });
    wait_caught_up(&s, "per-window", 0);
    wait_caught_up(&s, "updating", 0);

    // Each input partition is one task with its own stream time.
    let mut want = Windows::new();
    let mut every = Windows::new();
    let mut total = 0;
    for partition in input_of(&s, true) {
        total += partition.len();
        let (w, _, stream_time) = reference(&partition, size, size, grace);
        every.extend(w.clone());
        if !partition.is_empty() {
            want.extend(closed(w, size, grace, stream_time));
        }
    }
    let mut last = Windows::new();
    for partition in read_all(&s, "updates") {
        for r in partition {
            let (start, key, value, ts) = result(&r, size);
            // One result per window and key a commit changed, built at that commit and
            // appended once: a key's counts only grow from result to result.
            if let Some((before, _)) = last.get(&(start, key.clone())) {
                assert!(
                    value > *before,
                    "emit on update: [{start}) {key} went from {before} to {value}"
                );
            }
            last.insert((start, key), (value, ts));
        }
    }
    let wrong: Vec<_> = every
        .iter()
        .filter(|(k, v)| last.get(*k) != Some(*v))
        .map(|(k, v)| (k, v, last.get(k)))
        .collect();
    assert!(
        wrong.is_empty() && last.len() == every.len(),
        "emit on update: last results differ from the reference (window, want, got): {wrong:?}"
    );
    assert!(total > 200, "too little input reached the log: {total}");
    assert!(want.len() > 20, "too few windows closed: {}", want.len());
    let mut got = Windows::new();
    for partition in read_all(&s, "counts") {
        for r in partition {
            let (start, key, value, ts) = result(&r, size);
            let again = got.insert((start, key.clone()), (value, ts));
            assert!(again.is_none(), "[{start}) {key} emitted twice");
        }
    }
    let extra: Vec<_> = got.iter().filter(|(k, _)| !want.contains_key(k)).collect();
    let missing: Vec<_> = want.iter().filter(|(k, _)| !got.contains_key(k)).collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "extra {extra:?}, missing {missing:?}"
    );
    assert_eq!(got, want);
}

/// An update keeps the window state when only the emit mode changes, and refuses a
/// change of window or op (state is kept by step position).
#[test]
fn updates_keep_window_state_and_refuse_other_windows() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    create_topic(&s, "clicks", 1);
    create_topic(&s, "counts", 1);
    let step = |size: i64, emit: &str| json!({"op": "count", "window": {"type": "tumbling", "size_ms": size}, "emit": emit});
    let spec = |step: Value| {
        json!({"name": "upd", "inputs": ["clicks"], "output": "counts", "steps": [step],
               "start": "earliest"})
    };
    deploy(&s, "upd", step(1000, "on_update"));
    let t = now_ms() / 1000 * 1000;
    produce(
        &s,
        "clicks",
        vec![click("k", "x", t), click("k", "x", t + 1)],
    );
    wait_caught_up(&s, "upd", 2);
    let (code, body) = call(
        &s,
        "PUT",
        "/v1/pipelines/upd",
        Some(spec(step(1000, "on_close"))),
    );
    assert_eq!(code, 200, "{body}");
    // The count goes on from the state the first version left: 3 in the window at t.
    produce(
        &s,
        "clicks",
        vec![click("k", "x", t + 2), click("k", "x", t + 1000)],
    );
    assert!(
        common::wait_until(Duration::from_secs(60), || {
            read_all(&s, "counts")[0]
                .iter()
                .any(|r| result(r, 1000) == (t, "k".into(), 3, t + 2))
        }),
        "{:?}",
        read_all(&s, "counts")
    );
    for (patch, why) in [
        (step(2000, "on_close"), "another window size"),
        (
            json!({"op": "sum", "window": {"type": "tumbling", "size_ms": 1000}}),
            "another op",
        ),
        (json!({"module": "m"}), "a module in its place"),
    ] {
        let (code, body) = call(&s, "PUT", "/v1/pipelines/upd", Some(spec(patch)));
        assert_eq!(code, 400, "{why}: {body}");
        assert!(body.to_string().contains("steps[0]"), "{why}: {body}");
    }
}

/// Kafka's session example through the server: sessions at 0 and 6 (gap 5) merge into
/// [0, 6] when a record at 4 arrives; the two old sessions get tombstones; with
/// `key_format: windowed` the key is SessionWindowedSerializer's (key, end, start).
#[test]
fn sessions_merge_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    create_topic(&s, "clicks", 1);
    create_topic(&s, "counts", 1);
    deploy(
        &s,
        "sessions",
        json!({"op": "count", "window": {"type": "session", "gap_ms": 5, "grace_ms": 1000},
               "key_format": "windowed"}),
    );
    let t = now_ms();
    produce(
        &s,
        "clicks",
        vec![click("green", "x", t), click("green", "x", t + 6)],
    );
    wait_caught_up(&s, "sessions", 2);
    produce(&s, "clicks", vec![click("green", "x", t + 4)]);
    wait_caught_up(&s, "sessions", 3);
    let (code, body) = call(
        &s,
        "GET",
        "/v1/topics/counts/partitions/0/records?offset=0&encoding=base64",
        None,
    );
    assert_eq!(code, 200, "{body}");
    use base64::Engine;
    let b64 = |v: &Value| {
        v.as_str()
            .map(|v| base64::engine::general_purpose::STANDARD.decode(v).unwrap())
    };
    let key =
        |start: i64, end: i64| [&b"green"[..], &end.to_be_bytes(), &start.to_be_bytes()].concat();
    let got: Vec<(Vec<u8>, Option<Vec<u8>>, i64)> = body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                b64(&r["key"]).unwrap(),
                b64(&r["value"]),
                r["timestamp"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (key(t, t), Some(b"1".to_vec()), t),
            (key(t + 6, t + 6), Some(b"1".to_vec()), t + 6),
            (key(t, t), None, t),
            (key(t, t + 6), Some(b"3".to_vec()), t + 6),
            (key(t + 6, t + 6), None, t + 6),
        ]
    );
}
