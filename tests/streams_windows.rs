//! Windowed `count`/`sum` steps through the whole server: deployed over HTTP, fed through
//! the records API, results read back from the output topic. Checked against a reference
//! implementation of Kafka Streams' window rules written here, against Kafka's documented
//! hopping example, for late records, and across repeated SIGKILLs with emit on close.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::pipeline::*;
use common::{Server, http, wait_until};
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

/// (window start, key) → (value, largest timestamp).
type Windows = BTreeMap<(i64, String), (i64, i64)>;

/// Kafka's rules, spelled out: stream time is the largest timestamp so far; a record
/// goes into every window `[start, start + size)` holding it (starts are multiples of
/// `advance` from 0) whose `start + size + grace > stream time`; late when none is.
/// Returns the windows, the late count and the final stream time.
fn reference(
    input: &[(String, i64, i64)],
    size: i64,
    advance: i64,
    grace: i64,
) -> (Windows, u64, i64) {
    let mut state = Windows::new();
    let mut stream_time = i64::MIN;
    let mut late = 0;
    for (key, value, ts) in input {
        stream_time = stream_time.max(*ts);
        let mut taken = false;
        // Every multiple of the advance from well before the record: the check below,
        // not this bound, decides which windows hold it.
        let mut start = ((ts - size) / advance - 1).max(0) * advance;
        while start <= *ts {
            if *ts < start + size && start + size + grace > stream_time {
                let e = state.entry((start, key.clone())).or_insert((0, *ts));
                e.0 += value;
                e.1 = e.1.max(*ts);
                taken = true;
            }
            start += advance;
        }
        late += u64::from(!taken);
    }
    (state, late, stream_time)
}

/// Only the windows stream time has closed (what emit on close must have written).
fn closed(w: Windows, size: i64, grace: i64, stream_time: i64) -> Windows {
    w.into_iter()
        .filter(|((start, _), _)| start + size + grace <= stream_time)
        .collect()
}

/// One output record as (window start, key, value, timestamp), checking its window
/// headers against the size.
fn result(r: &Value, size: i64) -> (i64, String, i64, i64) {
    let header = |name: &str| -> i64 {
        r["headers"][name]
            .as_str()
            .unwrap_or_else(|| panic!("no {name} header in {r}"))
            .parse()
            .unwrap()
    };
    let start = header("weir.window.start");
    assert_eq!(header("weir.window.end"), start + size, "{r}");
    (
        start,
        r["key"].as_str().unwrap().to_string(),
        r["value"].as_str().unwrap().parse().unwrap(),
        r["timestamp"].as_i64().unwrap(),
    )
}

/// Now, ms since the epoch: test timestamps stay near it, or time-based retention would
/// delete the segments of their (1970) records under the test.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn deploy(s: &Server, name: &str, step: Value) {
    let spec = json!({"name": name, "inputs": ["clicks"], "output": "counts",
        "steps": [step], "start": "earliest", "on_error": "skip"});
    let (code, body) = call(s, "POST", "/v1/pipelines", Some(spec));
    assert_eq!(code, 201, "{body}");
}

fn click(key: &str, value: &str, ts: i64) -> Value {
    json!({"key": key, "value": value, "timestamp": ts})
}

/// The input as (key, what it adds, timestamp) per partition, in offset order: 1 for a
/// count, the value for a sum.
fn input_of(s: &Server, count: bool) -> Vec<Vec<(String, i64, i64)>> {
    read_all(s, "clicks")
        .into_iter()
        .map(|p| {
            p.iter()
                .map(|r| {
                    (
                        r["key"].as_str().unwrap().to_string(),
                        if count {
                            1
                        } else {
                            r["value"].as_str().unwrap().parse().unwrap()
                        },
                        r["timestamp"].as_i64().unwrap(),
                    )
                })
                .collect()
        })
        .collect()
}

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

const KILLS: usize = 20;

/// Emit on close across SIGKILLs: exactly one final result per window and key, each
/// equal to the reference over what the input log holds; emit on update beside it ends
/// on the reference's values.
#[test]
fn emit_on_close_is_exactly_once_across_sigkills() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start(dir.path(), &["--worker-threads", "2"]);
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
    let url = Arc::new(Mutex::new(s.url.clone()));
    let stop = Arc::new(AtomicBool::new(false));
    // Timestamps near now: time-based retention would delete segments of 1970 records.
    let clock = Arc::new(AtomicI64::new(now_ms()));
    let feeder = {
        let (url, stop, clock) = (url.clone(), stop.clone(), clock.clone());
        std::thread::spawn(move || {
            let client = http();
            let mut rng = rand::rngs::StdRng::seed_from_u64(7);
            while !stop.load(Ordering::SeqCst) {
                let records: Vec<Value> = (0..rng.random_range(1..40))
                    .map(|_| {
                        let now = clock.fetch_add(rng.random_range(0..6), Ordering::SeqCst);
                        let ts = (now - rng.random_range(0..150)).max(0);
                        click(&format!("user{}", rng.random_range(0..17)), "c", ts)
                    })
                    .collect();
                let target = url.lock().unwrap().clone();
                // Refused or cut short while the server is down: the check reads the log.
                let _ = client
                    .post(format!("{target}/v1/topics/clicks/records"))
                    .json(&json!({ "records": records }))
                    .timeout(Duration::from_secs(5))
                    .send();
                std::thread::sleep(Duration::from_millis(rng.random_range(0..10)));
            }
        })
    };
    let mut rng = rand::rng();
    for _ in 0..KILLS {
        std::thread::sleep(Duration::from_millis(rng.random_range(100..500)));
        s.kill();
        s = Server::start(dir.path(), &["--worker-threads", "2"]);
        *url.lock().unwrap() = s.url.clone();
    }
    stop.store(true, Ordering::SeqCst);
    feeder.join().unwrap();
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

/// `weir --url URL ARGS...`: (success, stdout, stderr).
fn weir_cli(s: &Server, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(common::weir_bin())
        .arg("--url")
        .arg(&s.url)
        .args(args)
        .env_remove("WEIR_URL")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn aggregate_state_is_queryable_over_http_and_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    create_topic(&s, "clicks", 3);
    for (name, output, step) in [
        (
            "running",
            "counts",
            json!({"name": "per-user", "op": "count"}),
        ),
        (
            "windowed",
            "sums",
            // Kept a minute: by default a window goes as soon as it closes.
            json!({"name": "per-second", "op": "sum", "window": {"type": "tumbling", "size_ms": 1000},
                "retention_ms": 60000}),
        ),
        (
            "sessions",
            "sessions",
            json!({"op": "count", "window": {"type": "session", "gap_ms": 100},
                "retention_ms": 60000}),
        ),
    ] {
        create_topic(&s, output, 3);
        let spec = json!({"name": name, "inputs": ["clicks"], "output": output,
            "steps": [step], "start": "earliest"});
        let (code, body) = call(&s, "POST", "/v1/pipelines", Some(spec));
        assert_eq!(code, 201, "{body}");
    }
    let t = now_ms() / 1000 * 1000;
    produce(
        &s,
        "clicks",
        vec![
            click("alice", "2", t),
            click("alice", "3", t + 1),
            click("alice", "0.5", t + 1000),
            click("bob", "7", t),
        ],
    );
    for name in ["running", "windowed", "sessions"] {
        wait_caught_up(&s, name, 4);
    }
    let get = |path: String| call(&s, "GET", &path, None);
    // A running count, by the step's name and by its index.
    for step in ["per-user", "0"] {
        let (code, body) = get(format!("/v1/pipelines/running/state/{step}?key=alice"));
        assert_eq!((code, body), (200, json!({"key": "alice", "value": 3})));
    }
    // Tumbling windows starting in [from, to]; sums as exact decimal text.
    let (code, body) = get(format!(
        "/v1/pipelines/windowed/state/per-second?key=alice&from={t}&to={}",
        t + 1000
    ));
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        body,
        json!([{"start": t, "end": t + 1000, "value": "5"},
               {"start": t + 1000, "end": t + 2000, "value": "0.5"}])
    );
    let (_, body) = get(format!(
        "/v1/pipelines/windowed/state/per-second?key=alice&from={}&to={}",
        t + 1,
        t + 5000
    ));
    assert_eq!(
        body,
        json!([{"start": t + 1000, "end": t + 2000, "value": "0.5"}])
    );
    // Sessions ending at or after from and starting at or before to; end inclusive.
    let (_, body) = get(format!(
        "/v1/pipelines/sessions/state/0?key=alice&from={}&to={}",
        t + 1,
        t + 1
    ));
    assert_eq!(body, json!([{"start": t, "end": t + 1, "value": 2}]));
    let (_, body) = get("/v1/pipelines/sessions/state/0?key=alice".into());
    assert_eq!(body.as_array().map(Vec::len), Some(2), "{body}");
    // What is not there is a 404 naming it; a range of a running count is a 400.
    for (path, status, code) in [
        (
            "/v1/pipelines/nope/state/0?key=alice".to_string(),
            404,
            "unknown_pipeline",
        ),
        (
            "/v1/pipelines/running/state/nope?key=alice".into(),
            404,
            "unknown_step",
        ),
        (
            "/v1/pipelines/running/state/per-user?key=zed".into(),
            404,
            "key_not_found",
        ),
        (
            "/v1/pipelines/windowed/state/per-second?key=alice&from=0&to=1".into(),
            404,
            "key_not_found",
        ),
        (
            "/v1/pipelines/running/state/per-user?key=alice&from=0".into(),
            400,
            "not_windowed",
        ),
    ] {
        let (got, body) = get(path.clone());
        assert_eq!(
            (got, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{path}: {body}"
        );
    }
    // The CLI: a value, a table of windows, the JSON, and the 404's message.
    let (ok, out, err) = weir_cli(
        &s,
        &["pipeline", "state", "running", "per-user", "--key", "bob"],
    );
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "1");
    let (from, to) = (t.to_string(), (t + 1000).to_string());
    let args = [
        "pipeline",
        "state",
        "windowed",
        "per-second",
        "--key",
        "alice",
        "--from",
        &from,
        "--to",
        &to,
    ];
    let (ok, out, err) = weir_cli(&s, &args);
    assert!(ok, "{err}");
    let rows: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        vec![
            vec!["START", "END", "VALUE"],
            vec![from.as_str(), to.as_str(), "5"],
            vec![to.as_str(), &(t + 2000).to_string(), "0.5"],
        ]
    );
    let (ok, out, _) = weir_cli(&s, &[&args[..], &["--json"]].concat());
    assert!(ok);
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()[1]["value"],
        "0.5"
    );
    let (ok, _, err) = weir_cli(
        &s,
        &["pipeline", "state", "running", "per-user", "--key", "zed"],
    );
    assert!(!ok);
    assert!(err.contains("no state for key \"zed\""), "{err}");
}

/// Windows closed by idle time go through the timer outbox: across SIGKILLs each is
/// emitted once, with the count the reference gives. Timestamps run 5 s ahead of the
/// wall clock and in order, so no record is late whatever the kills do to the timing
/// (a restart takes less than 5 s), and every window finally closes on the idle input.
#[test]
fn windows_closed_on_idle_input_are_exactly_once_across_sigkills() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start(dir.path(), &["--worker-threads", "2"]);
    create_topic(&s, "clicks", 2);
    create_topic(&s, "counts", 1);
    let size = 300;
    deploy(
        &s,
        "idle",
        json!({"op": "count", "window": {"type": "tumbling", "size_ms": size},
               "emit": "on_close", "close_idle_after_ms": 100}),
    );
    let url = Arc::new(Mutex::new(s.url.clone()));
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = {
        let (url, stop) = (url.clone(), stop.clone());
        std::thread::spawn(move || {
            let client = http();
            let mut rng = rand::rngs::StdRng::seed_from_u64(11);
            let mut last = 0;
            while !stop.load(Ordering::SeqCst) {
                let records: Vec<Value> = (0..rng.random_range(1..20))
                    .map(|_| {
                        last = (last + 1).max(now_ms() + 5000);
                        click(&format!("user{}", rng.random_range(0..5)), "c", last)
                    })
                    .collect();
                let target = url.lock().unwrap().clone();
                // Refused or cut short while the server is down: the check reads the log.
                let _ = client
                    .post(format!("{target}/v1/topics/clicks/records"))
                    .json(&json!({ "records": records }))
                    .timeout(Duration::from_secs(5))
                    .send();
                // Often quiet for longer than the idle time.
                std::thread::sleep(Duration::from_millis(rng.random_range(0..400)));
            }
        })
    };
    let mut rng = rand::rng();
    for _ in 0..KILLS {
        std::thread::sleep(Duration::from_millis(rng.random_range(100..500)));
        s.kill();
        s = Server::start(dir.path(), &["--worker-threads", "2"]);
        *url.lock().unwrap() = s.url.clone();
    }
    stop.store(true, Ordering::SeqCst);
    feeder.join().unwrap();
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

/// Sliding windows through the server: Kafka's shape (both ends inclusive, windows made
/// from record timestamps), results as the last update per window, and the state route.
#[test]
fn sliding_windows_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    create_topic(&s, "clicks", 1);
    create_topic(&s, "counts", 1);
    deploy(
        &s,
        "sliding",
        json!({"name": "recent", "op": "count",
               "window": {"type": "sliding", "max_diff_ms": 10}, "retention_ms": 60000}),
    );
    let t = now_ms();
    produce(
        &s,
        "clicks",
        vec![click("k", "c", t + 8), click("k", "c", t + 15)],
    );
    wait_caught_up(&s, "sliding", 2);
    let mut last = BTreeMap::new();
    for r in &read_all(&s, "counts")[0] {
        let start: i64 = r["headers"]["weir.window.start"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let end: i64 = r["headers"]["weir.window.end"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(end, start + 10, "{r}");
        last.insert(start - t, r["value"].as_str().unwrap().to_string());
    }
    // 8's left window [-2, 8]; 15's left window [5, 15] holds both; 8's right window
    // [9, 19], made when 15 came, holds 15 alone.
    let want: BTreeMap<i64, String> = [(-2, "1"), (5, "2"), (9, "1")]
        .map(|(s, v)| (s, v.to_string()))
        .into();
    assert_eq!(last, want);
    let (code, body) = call(
        &s,
        "GET",
        &format!(
            "/v1/pipelines/sliding/state/recent?key=k&from={}&to={}",
            t + 5,
            t + 9
        ),
        None,
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        body,
        json!([{"start": t + 5, "end": t + 15, "value": 2}, {"start": t + 9, "end": t + 19, "value": 1}])
    );
}
