//! `reduce` and `aggregate` steps with a Rust aggregator module through the whole server:
//! each window type against the reference of Kafka's window rules (tumbling, hopping)
//! or against the built-in `sum` over the same input (sessions, sliding windows, whose
//! arithmetic the streams tests check against references); the state route; a swap of
//! the aggregator mid-window and an automatic rollback keeping the aggregates; modules of
//! the wrong world, trapping or answering oversized aggregates refused with clear errors
//! while the pipeline keeps serving. (`group_by` is tests/streams_repartition.rs'.)

mod common;

use std::time::Duration;

use common::guests::guest;
use common::pipeline::*;
use common::streams::*;
use common::{Server, wait_until};
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

/// Deploys pipeline `name`: `clicks` → `step` → `output`, from the earliest offset.
fn deploy_to(s: &Server, name: &str, output: &str, step: Value) {
    create_topic(s, output, 1);
    let spec = json!({"name": name, "inputs": ["clicks"], "output": output,
        "steps": [step], "start": "earliest", "on_error": "skip"});
    let (code, body) = call(s, "POST", "/v1/pipelines", Some(spec));
    assert_eq!(code, 201, "{body}");
}

/// An output record as (key, value, headers, timestamp).
fn raw(r: &Value) -> (Value, Value, Value, Value) {
    (
        r["key"].clone(),
        r["value"].clone(),
        r["headers"].clone(),
        r["timestamp"].clone(),
    )
}

/// The same component with a custom section appended: other bytes (a new version in
/// the registry), the same code.
fn another_version(path: &std::path::Path, tag: &str) -> std::path::PathBuf {
    let mut bytes = std::fs::read(path).unwrap();
    let name = b"weir-test";
    let payload = tag.as_bytes();
    let size = 1 + name.len() + payload.len();
    assert!(size < 128, "one-byte LEB128 sizes");
    bytes.extend_from_slice(&[0, size as u8, name.len() as u8]);
    bytes.extend_from_slice(name);
    bytes.extend_from_slice(payload);
    let out = std::env::temp_dir().join(format!("weir-agg-{}-{tag}.wasm", std::process::id()));
    std::fs::write(&out, bytes).unwrap();
    out
}

#[test]
fn aggregate_and_reduce_with_a_rust_module_in_every_window_type() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    create_topic(&s, "clicks", 1);
    assert_eq!(
        upload(&s, "summer", &guest("streams", "rust-aggregator")).0,
        201
    );
    let grace = 100;
    let windows = [
        (
            "tumbling",
            json!({"type": "tumbling", "size_ms": 500, "grace_ms": grace}),
        ),
        (
            "hopping",
            json!({"type": "hopping", "size_ms": 500, "advance_ms": 100, "grace_ms": grace}),
        ),
        (
            "session",
            json!({"type": "session", "gap_ms": 80, "grace_ms": grace}),
        ),
        (
            "sliding",
            json!({"type": "sliding", "max_diff_ms": 200, "grace_ms": grace}),
        ),
    ];
    for (name, window) in &windows {
        deploy_to(
            &s,
            &format!("agg-{name}"),
            &format!("out-agg-{name}"),
            json!({"op": "aggregate", "module": "summer", "window": window, "emit": "on_close"}),
        );
        deploy_to(
            &s,
            &format!("sum-{name}"),
            &format!("out-sum-{name}"),
            json!({"op": "sum", "window": window, "emit": "on_close"}),
        );
    }
    // Reduce on update: the latest result per window is its value in the reference.
    deploy_to(
        &s,
        "reduce",
        "out-reduce",
        json!({"op": "reduce", "module": "summer",
               "window": {"type": "tumbling", "size_ms": 500, "grace_ms": grace}}),
    );
    let mut rng = rand::rngs::StdRng::seed_from_u64(12);
    let base = (now_ms() - 3_600_000) / 1000 * 1000;
    let mut clock = base;
    let mut input = Vec::new();
    for _ in 0..600 {
        clock += rng.random_range(0..25);
        let ts = clock - rng.random_range(0..150);
        let key = ["a", "b", "c", "d"][rng.random_range(0..4)];
        input.push(click(key, &rng.random_range(-5i64..=5).to_string(), ts));
    }
    // Far ahead: closes every window of the input.
    input.push(click("z", "1", clock + 10_000));
    let n = input.len() as u64;
    for chunk in input.chunks(37) {
        produce(&s, "clicks", chunk.to_vec());
    }
    for (name, _) in &windows {
        wait_caught_up(&s, &format!("agg-{name}"), n);
        wait_caught_up(&s, &format!("sum-{name}"), n);
    }
    wait_caught_up(&s, "reduce", n);
    let given = input_of(&s, false).remove(0);
    for (name, size, advance) in [("tumbling", 500, 500), ("hopping", 500, 100)] {
        let (want, _, stream_time) = reference(&given, size, advance, grace);
        let want = closed(want, size, grace, stream_time);
        let mut got = Windows::new();
        for r in &read_all(&s, &format!("out-agg-{name}"))[0] {
            let (start, key, value, ts) = result(r, size);
            assert!(
                got.insert((start, key), (value, ts)).is_none(),
                "{name}: emitted twice: {r}"
            );
        }
        assert!(!want.is_empty());
        assert_eq!(got, want, "{name}");
    }
    for (name, _) in &windows {
        let got: Vec<_> = read_all(&s, &format!("out-agg-{name}"))[0]
            .iter()
            .map(raw)
            .collect();
        let want: Vec<_> = read_all(&s, &format!("out-sum-{name}"))[0]
            .iter()
            .map(raw)
            .collect();
        assert!(!want.is_empty(), "{name}");
        assert_eq!(
            got, want,
            "{name}: aggregate with the module differs from sum"
        );
    }
    let (want, late, _) = reference(&given, 500, 500, grace);
    let mut latest = Windows::new();
    for r in &read_all(&s, "out-reduce")[0] {
        let (start, key, value, ts) = result(r, 500);
        latest.insert((start, key), (value, ts));
    }
    assert_eq!(latest, want, "reduce: the last update of each window");
    assert_eq!(status(&s, "reduce")["late_records"], late);
    // Queryable state of a module's aggregate: its bytes, as text (the last record's
    // window: the others are past retention).
    let start = (clock + 10_000) / 500 * 500;
    let (code, body) = call(
        &s,
        "GET",
        &format!("/v1/pipelines/reduce/state/0?key=z&from={start}&to={start}"),
        None,
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(body[0]["value"], "1", "{body}");
    assert_eq!(body[0]["value_base64"], "MQ==", "{body}");
}

/// The summed state of key `k` in the window at `start`, through the state route.
fn windowed_state(s: &Server, name: &str, start: i64) -> Option<String> {
    let (code, body) = call(
        s,
        "GET",
        &format!("/v1/pipelines/{name}/state/0?key=k&from={start}&to={start}"),
        None,
    );
    (code == 200).then(|| body[0]["value"].as_str().unwrap().to_string())
}

#[test]
fn a_swap_of_the_aggregator_mid_window_and_a_rollback_keep_the_aggregates() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    create_topic(&s, "clicks", 1);
    let summer = guest("streams", "rust-aggregator");
    assert_eq!(upload(&s, "summer", &summer).0, 201);
    let (code, body) = upload(&s, "summer", &another_version(&summer, "v2"));
    assert_eq!(code, 201, "{body}");
    assert_eq!(upload(&s, "bad", &guest("streams", "badagg")).0, 201);
    let size = 3_600_000;
    let start = now_ms() / size * size - size;
    let window = json!({"type": "tumbling", "size_ms": size});
    let step = |module: &str, config: Value| {
        json!({"op": "aggregate", "module": module, "window": window, "emit": "on_close",
               "config": config})
    };
    deploy_to(&s, "swap", "sums", step("summer@1", json!({})));
    let batch = |from: i64| {
        (from..from + 50)
            .map(|i| click("k", &i.to_string(), start + i))
            .collect()
    };
    produce(&s, "clicks", batch(0));
    wait_caught_up(&s, "swap", 50);
    assert_eq!(windowed_state(&s, "swap", start).as_deref(), Some("1225"));
    // Mid-window, version 2 of the aggregator takes over the same state.
    let spec = |module: &str, config: Value| {
        json!({"name": "swap", "inputs": ["clicks"], "output": "sums", "steps": [step(module, config)],
               "start": "earliest", "on_error": "skip"})
    };
    let (code, body) = call(
        &s,
        "PUT",
        "/v1/pipelines/swap",
        Some(spec("summer@2", json!({}))),
    );
    assert_eq!(code, 200, "{body}");
    produce(&s, "clicks", batch(50));
    let st = wait_caught_up(&s, "swap", 100);
    assert_eq!(st["modules"][0]["version"], 2, "{st:#}");
    assert_eq!(st["swaps"], 1, "{st:#}");
    assert_eq!(windowed_state(&s, "swap", start).as_deref(), Some("4950"));
    // A broken version traps on its first record and is rolled back; the record is
    // aggregated by version 2, once.
    let (code, body) = call(
        &s,
        "PUT",
        "/v1/pipelines/swap",
        Some(spec("bad", json!({"trap_all": "true"}))),
    );
    assert_eq!(code, 200, "{body}");
    produce(&s, "clicks", batch(100));
    let mut st = Value::Null;
    assert!(
        wait_until(Duration::from_secs(60), || {
            st = status(&s, "swap");
            st["rollbacks"] == 1 && st["lag"] == 0
        }),
        "{st:#}"
    );
    assert_eq!(st["modules"][0]["module"], "summer", "{st:#}");
    assert!(
        st["last_rollback"]
            .as_str()
            .unwrap()
            .contains("deployed to trap"),
        "{st:#}"
    );
    assert_eq!(windowed_state(&s, "swap", start).as_deref(), Some("11175"));
    // The window closes with every record in it, once.
    produce(&s, "clicks", vec![click("k", "1", start + 2 * size)]);
    assert!(wait_until(Duration::from_secs(60), || !read_all(
        &s, "sums"
    )[0]
    .is_empty()));
    let out = read_all(&s, "sums").remove(0);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(
        result(&out[0], size),
        (start, "k".into(), 11175, start + 149)
    );
}

#[test]
fn bad_aggregator_modules_get_clear_errors_and_the_pipeline_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    create_topic(&s, "clicks", 1);
    create_topic(&s, "out", 1);
    create_topic(&s, "dlq", 1);
    assert_eq!(upload(&s, "filter", &guest("rust", "rust-filter")).0, 201);
    assert_eq!(upload(&s, "bad", &guest("streams", "badagg")).0, 201);
    let spec = |step: Value| {
        json!({"name": "bad", "inputs": ["clicks"], "output": "out", "steps": [step],
               "start": "earliest", "on_error": "dead-letter", "dead_letter_topic": "dlq"})
    };
    // The wrong world, either way round, and no module at all.
    let (code, body) = call(
        &s,
        "POST",
        "/v1/pipelines",
        Some(spec(json!({"op": "aggregate", "module": "filter"}))),
    );
    assert_eq!(code, 400, "{body}");
    let text = body.to_string();
    assert!(
        text.contains("steps[0].module")
            && text.contains("transform module")
            && text.contains("aggregator world"),
        "{text}"
    );
    let (code, body) = call(
        &s,
        "POST",
        "/v1/pipelines",
        Some(spec(json!({"module": "bad"}))),
    );
    assert_eq!(code, 400, "{body}");
    assert!(body.to_string().contains("an aggregator module"), "{body}");
    let (code, body) = call(
        &s,
        "POST",
        "/v1/pipelines",
        Some(spec(json!({"op": "reduce"}))),
    );
    assert_eq!(code, 400, "{body}");
    assert!(
        body.to_string()
            .contains("needs a module of the aggregator world"),
        "{body}"
    );
    // A trap, an oversized aggregate and an invalid-config answer each fail their record
    // (to the dead-letter topic, saying why); the others are aggregated.
    let (code, body) = call(
        &s,
        "POST",
        "/v1/pipelines",
        Some(spec(json!({"op": "aggregate", "module": "bad"}))),
    );
    assert_eq!(code, 201, "{body}");
    let values = ["a", "trap", "b", "huge", "config", "c"];
    produce(
        &s,
        "clicks",
        values
            .iter()
            .enumerate()
            .map(|(i, v)| click("k", v, now_ms() + i as i64))
            .collect(),
    );
    let st = wait_caught_up(&s, "bad", 6);
    assert_eq!(st["state"], "running", "{st:#}");
    assert_eq!(st["records_errored"], 3, "{st:#}");
    let (code, body) = call(&s, "GET", "/v1/pipelines/bad/state/0?key=k", None);
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["value"], "abc", "{body}");
    let errors: Vec<String> = read_all(&s, "dlq")[0]
        .iter()
        .map(|r| r["headers"]["weir.error"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(
        errors[0].contains("trapped") && errors[0].contains("told to trap"),
        "{errors:?}"
    );
    assert!(
        errors[1].contains("aggregator add failed: returned an aggregate of 5242880 bytes"),
        "{errors:?}"
    );
    assert!(
        errors[2].contains("invalid-config: badagg has no usable config"),
        "{errors:?}"
    );
    // Still serving.
    produce(&s, "clicks", vec![click("k", "d", now_ms())]);
    wait_caught_up(&s, "bad", 7);
    let (_, body) = call(&s, "GET", "/v1/pipelines/bad/state/0?key=k", None);
    assert_eq!(body["value"], "abcd", "{body}");
}

/// The same aggregation with an aggregator written in Python (guest-sdk/python): results
/// equal the reference's, and an exception fails its record alone.
#[test]
fn a_python_aggregator_sums_tumbling_windows() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    create_topic(&s, "clicks", 1);
    create_topic(&s, "dlq", 1);
    assert_eq!(
        upload(&s, "pysum", &guest("python", "python-summer")).0,
        201
    );
    create_topic(&s, "sums", 1);
    let spec = json!({"name": "py", "inputs": ["clicks"], "output": "sums",
        "steps": [{"op": "aggregate", "module": "pysum",
                   "window": {"type": "tumbling", "size_ms": 1000}, "emit": "on_close"}],
        "start": "earliest", "on_error": "dead-letter", "dead_letter_topic": "dlq"});
    let (code, body) = call(&s, "POST", "/v1/pipelines", Some(spec));
    assert_eq!(code, 201, "{body}");
    let base = (now_ms() - 3_600_000) / 1000 * 1000;
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let mut input: Vec<Value> = (0..200)
        .map(|i| {
            let key = ["a", "b", "c"][rng.random_range(0..3)];
            click(key, &rng.random_range(-9i64..=9).to_string(), base + i * 20)
        })
        .collect();
    input.insert(50, click("a", "boom", base + 990));
    input.push(click("z", "1", base + 10_000));
    let given: Vec<(String, i64, i64)> = input
        .iter()
        .filter_map(|r| {
            let value = r["value"].as_str().unwrap().parse().ok()?;
            Some((
                r["key"].as_str().unwrap().to_string(),
                value,
                r["timestamp"].as_i64().unwrap(),
            ))
        })
        .collect();
    produce(&s, "clicks", input);
    let st = wait_caught_up(&s, "py", 202);
    assert_eq!(st["records_errored"], 1, "{st:#}");
    let why = read_all(&s, "dlq")[0][0]["headers"]["weir.error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        why.contains("aggregator add failed: ValueError: boom is not a number"),
        "{why}"
    );
    let (want, _, stream_time) = reference(&given, 1000, 1000, 0);
    let want = closed(want, 1000, 0, stream_time);
    let got: Windows = read_all(&s, "sums")[0]
        .iter()
        .map(|r| {
            let (start, key, value, ts) = result(r, 1000);
            ((start, key), (value, ts))
        })
        .collect();
    assert_eq!(got.len(), 12, "{got:?}");
    assert_eq!(got, want);
}
