//! Pipelines end to end through HTTP: modules, filters in Rust and Python, hot-swap under
//! continuous production, automatic rollback, a stateful counter across restart and swap,
//! dead letters, and specs refused with the field named.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine;
use common::guests::guest;
use common::pipeline::*;
use common::{Server, wait_until};
use serde_json::{Value, json};

fn filter_spec(name: &str, module: &str, pattern: &str, input: &str, output: &str) -> Value {
    json!({
        "name": name,
        "inputs": [input],
        "output": output,
        "steps": [{"module": module, "config": {"pattern": pattern}}],
        "start": "earliest",
    })
}

#[test]
fn rust_and_python_filters_uploaded_over_http_filter_a_topic() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    create_topic(&s, "events", 3);
    create_topic(&s, "rust-out", 2);
    create_topic(&s, "py-out", 1);

    let (code, m) = upload(&s, "rfilter", &guest("rust", "rust-filter"));
    assert_eq!(code, 201, "{m}");
    assert_eq!(m["version"], 1);
    assert_eq!(m["world"], "transform");
    assert_eq!(m["digest"].as_str().unwrap().len(), 64);
    assert!(m["size"].as_u64().unwrap() > 0);
    // The same bytes again: the existing version.
    let (code, again) = upload(&s, "rfilter", &guest("rust", "rust-filter"));
    assert_eq!(code, 200);
    assert_eq!(again["version"], 1);
    let (code, py) = upload(&s, "pyfilter", &guest("python", "python-filter"));
    assert_eq!(code, 201, "{py}");

    let (code, body) = call(
        &s,
        "POST",
        "/v1/pipelines",
        Some(filter_spec("rust", "rfilter", "keep", "events", "rust-out")),
    );
    assert_eq!(code, 201, "{body}");
    let (code, body) = call(
        &s,
        "POST",
        "/v1/pipelines",
        Some(filter_spec("py", "pyfilter@1", "keep", "events", "py-out")),
    );
    assert_eq!(code, 201, "{body}");
    let (code, body) = call(
        &s,
        "POST",
        "/v1/pipelines",
        Some(filter_spec("py", "pyfilter", "keep", "events", "py-out")),
    );
    assert_eq!(code, 409, "{body}");

    let records: Vec<Value> = (0..300)
        .map(|i| {
            let v = if i % 3 == 0 {
                format!("keep {i}")
            } else {
                format!("drop {i}")
            };
            json!({"key": format!("k{}", i % 17), "value": v})
        })
        .collect();
    produce(&s, "events", records);
    wait_caught_up(&s, "rust", 300);
    wait_caught_up(&s, "py", 300);
    let expected: Vec<String> = (0..300)
        .filter(|i| i % 3 == 0)
        .map(|i| format!("keep {i}"))
        .collect();
    for topic in ["rust-out", "py-out"] {
        let mut got = values(&s, topic);
        got.sort();
        let mut want = expected.clone();
        want.sort();
        assert_eq!(got, want, "{topic}");
    }
    let st = status(&s, "rust");
    assert_eq!(st["state"], "running");
    assert_eq!(st["records_out"], 100);
    assert_eq!(st["tasks"].as_array().unwrap().len(), 3);
    assert_eq!(st["modules"][0]["module"], "rfilter");

    // Listing, versions, and deletion refused while in use.
    let (code, list) = call(&s, "GET", "/v1/modules", None);
    assert_eq!(code, 200);
    assert_eq!(list["modules"].as_array().unwrap().len(), 2);
    let (code, v) = call(&s, "GET", "/v1/modules/rfilter", None);
    assert_eq!(code, 200);
    assert_eq!(v["versions"][0]["version"], 1);
    let (code, v) = call(&s, "GET", "/v1/modules/rfilter/1", None);
    assert_eq!((code, v["world"].as_str()), (200, Some("transform")));
    let (code, body) = call(&s, "DELETE", "/v1/modules/rfilter/1", None);
    assert_eq!(code, 409, "{body}");
    let (code, body) = call(&s, "DELETE", "/v1/pipelines/rust", None);
    assert_eq!(code, 204, "{body}");
    let (code, _) = call(&s, "DELETE", "/v1/modules/rfilter/1", None);
    assert_eq!(code, 204);
    let (code, _) = call(&s, "GET", "/v1/pipelines/rust", None);
    assert_eq!(code, 404);

    // Partitions added to an input later are not processed: the status says so.
    let (code, _) = call(
        &s,
        "POST",
        "/v1/topics/events/partitions",
        Some(json!({"count": 4})),
    );
    assert_eq!(code, 200);
    let warnings = status(&s, "py")["warnings"].to_string();
    assert!(
        warnings.contains("has 4 partitions but the pipeline runs 3 tasks"),
        "{warnings}"
    );

    let (code, pipelines) = call(&s, "GET", "/v1/pipelines", None);
    assert_eq!(code, 200);
    assert_eq!(pipelines["pipelines"].as_array().unwrap().len(), 1);
    let metrics = common::http()
        .get(s.at("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains("weir_pipeline_records_in_total{pipeline=\"py\",partition=\"0\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("weir_pipeline_batch_seconds_bucket"),
        "{metrics}"
    );
}

#[test]
fn bad_modules_and_specs_are_refused_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("weir.toml");
    std::fs::write(&cfg, "[pipelines]\nmax_module_bytes = 200000\n").unwrap();
    let s = Server::start(
        &dir.path().join("data"),
        &["--config", cfg.to_str().unwrap()],
    );
    create_topic(&s, "a", 2);
    create_topic(&s, "b", 3);
    create_topic(&s, "out", 1);

    let (code, body) = upload(&s, "junk", &common::repo_root().join("README.md"));
    assert_eq!(code, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not a WebAssembly"),
        "{body}"
    );
    let (code, body) = upload(&s, "cmd", &guest("hostile", "command"));
    assert_eq!(code, 400, "{body}");
    let (code, body) = upload(&s, "big", &guest("python", "python-filter"));
    assert_eq!(code, 413, "{body}");
    let (code, body) = upload(&s, "bad name!", &guest("rust", "rust-filter"));
    assert_eq!(code, 400, "{body}");
    let (code, _) = upload(&s, "f", &guest("rust", "rust-filter"));
    assert_eq!(code, 201);

    let cases = [
        (
            json!({"name": "p", "inputs": ["nope"], "output": "out", "steps": [{"module": "f"}]}),
            "inputs[0]",
        ),
        (
            json!({"name": "p", "inputs": ["a"], "output": "nope", "steps": [{"module": "f"}]}),
            "output",
        ),
        (
            json!({"name": "p", "inputs": ["a"], "output": "out", "steps": [{"module": "ghost"}]}),
            "steps[0].module",
        ),
        (
            json!({"name": "p", "inputs": ["a"], "output": "out", "steps": []}),
            "steps",
        ),
        (
            json!({"name": "p", "inputs": ["a", "b"], "output": "out", "steps": [{"module": "f"}]}),
            "co-partitioned",
        ),
        (
            json!({"name": "p", "inputs": ["a"], "output": "out", "outputs": ["b"], "steps": [{"module": "f"}]}),
            "processor",
        ),
        (
            json!({"name": "p", "inputs": ["a"], "output": "out", "steps": [{"module": "f"}], "on_error": "dead-letter"}),
            "dead_letter_topic",
        ),
    ];
    for (spec, field) in cases {
        let (code, body) = call(&s, "POST", "/v1/pipelines", Some(spec.clone()));
        assert_eq!(code, 400, "{spec} → {body}");
        let msg = body["error"]["message"].as_str().unwrap();
        assert!(msg.contains(field), "{spec}: {msg} does not name {field}");
    }
    let (code, body) = call(&s, "GET", "/v1/pipelines/none", None);
    assert_eq!(code, 404, "{body}");
}

/// Values carry `seq-N`; every N must come out exactly once.
fn seq_of(v: &str) -> u64 {
    v.to_ascii_lowercase()
        .strip_prefix("seq-")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected value {v:?}"))
}

#[test]
fn hot_swap_under_continuous_production_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &["--worker-threads", "2"]);
    create_topic(&s, "in", 4);
    create_topic(&s, "out", 4);
    assert_eq!(upload(&s, "keep", &guest("rust", "rust-filter")).0, 201);
    assert_eq!(upload(&s, "upper", &guest("hostile", "upper")).0, 201);
    let (code, body) = call(
        &s,
        "POST",
        "/v1/pipelines",
        Some(filter_spec("swap", "keep", "seq", "in", "out")),
    );
    assert_eq!(code, 201, "{body}");

    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicU64::new(0));
    let url = s.url.clone();
    let producer = {
        let (stop, next) = (stop.clone(), next.clone());
        std::thread::spawn(move || {
            let client = common::http();
            while !stop.load(Ordering::SeqCst) {
                let records: Vec<Value> = (0..20)
                    .map(|_| {
                        let n = next.fetch_add(1, Ordering::SeqCst);
                        json!({"key": format!("k{}", n % 13), "value": format!("seq-{n}")})
                    })
                    .collect();
                let r = client
                    .post(format!("{url}/v1/topics/in/records"))
                    .json(&json!({ "records": records }))
                    .send()
                    .unwrap();
                assert!(r.status().is_success());
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    assert!(wait_until(
        Duration::from_secs(60),
        || status(&s, "swap")["records_out"].as_u64().unwrap_or(0) > 200
    ));
    let spec = json!({"name": "swap", "inputs": ["in"], "output": "out", "steps": [{"module": "upper"}], "start": "earliest"});
    let (code, body) = call(&s, "PUT", "/v1/pipelines/swap", Some(spec));
    assert_eq!(code, 200, "{body}");
    let before = next.load(Ordering::SeqCst);
    assert!(wait_until(Duration::from_secs(60), || next
        .load(Ordering::SeqCst)
        > before + 400));
    stop.store(true, Ordering::SeqCst);
    producer.join().unwrap();
    let total = next.load(Ordering::SeqCst);
    let st = wait_caught_up(&s, "swap", total);

    let out = read_all(&s, "out");
    let mut seen = BTreeMap::new();
    let mut upper = 0;
    for partition in &out {
        // Within a partition, once the new version's output appears, the old one's never does.
        let mut swapped = false;
        for r in partition {
            let v = r["value"].as_str().unwrap();
            let is_upper = v.starts_with("SEQ-");
            assert!(
                !swapped || is_upper,
                "old-version output {v} after the swap"
            );
            swapped |= is_upper;
            upper += usize::from(is_upper);
            *seen.entry(seq_of(v)).or_insert(0) += 1;
        }
    }
    assert_eq!(seen.len() as u64, total, "records lost");
    assert!(seen.values().all(|&n| n == 1), "records duplicated");
    assert!(upper > 0, "nothing came from the new version");
    assert_eq!(st["modules"][0]["module"], "upper");
    assert_eq!(st["history"].as_array().unwrap().len(), 2);
    assert_eq!(st["swap_pause"]["count"], 4, "{st:#}");
    assert!(
        st["swap_pause"]["max_ms"].as_f64().unwrap() < 1000.0,
        "{st:#}"
    );
}

#[test]
fn a_broken_update_rolls_back_by_itself_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    create_topic(&s, "in", 1);
    create_topic(&s, "out", 1);
    assert_eq!(upload(&s, "keep", &guest("rust", "rust-filter")).0, 201);
    assert_eq!(upload(&s, "trap", &guest("hostile", "trap")).0, 201);
    let (code, _) = call(
        &s,
        "POST",
        "/v1/pipelines",
        Some(filter_spec("rb", "keep", "v", "in", "out")),
    );
    assert_eq!(code, 201);
    produce(
        &s,
        "in",
        (0..10).map(|i| json!({"value": format!("v{i}")})).collect(),
    );
    wait_caught_up(&s, "rb", 10);
    let spec =
        json!({"name": "rb", "inputs": ["in"], "output": "out", "steps": [{"module": "trap"}]});
    let (code, body) = call(&s, "PUT", "/v1/pipelines/rb", Some(spec));
    assert_eq!(code, 200, "{body}");
    produce(
        &s,
        "in",
        (10..20)
            .map(|i| json!({"value": format!("v{i}")}))
            .collect(),
    );
    let mut st = Value::Null;
    assert!(
        wait_until(Duration::from_secs(60), || {
            st = status(&s, "rb");
            st["rollbacks"] == 1 && st["lag"] == 0
        }),
        "{st:#}"
    );
    assert_eq!(st["modules"][0]["module"], "keep", "{st:#}");
    assert_eq!(st["state"], "running");
    let why = st["last_rollback"].as_str().unwrap();
    assert!(why.contains("boom"), "{why}");
    let history = st["history"].as_array().unwrap();
    assert!(
        history.last().unwrap()["reason"]
            .as_str()
            .unwrap()
            .contains("rolled back")
    );
    // The old version processed the batch the new one trapped on: nothing lost.
    let mut got = values(&s, "out");
    got.sort();
    let mut want: Vec<String> = (0..20).map(|i| format!("v{i}")).collect();
    want.sort();
    assert_eq!(got, want);
    // A version that cannot even start (here: a 1 MiB memory cap, below what the module
    // needs at instantiation) rolls back too.
    let spec = json!({"name": "rb", "inputs": ["in"], "output": "out",
        "steps": [{"module": "keep", "config": {"pattern": "v"}}], "limits": {"memory_mb": 1}});
    let (code, body) = call(&s, "PUT", "/v1/pipelines/rb", Some(spec));
    assert_eq!(code, 200, "{body}");
    assert!(
        wait_until(Duration::from_secs(60), || {
            st = status(&s, "rb");
            st["rollbacks"] == 2
        }),
        "{st:#}"
    );
    assert!(
        st["last_rollback"]
            .as_str()
            .unwrap()
            .contains("cannot start"),
        "{st:#}"
    );
    produce(&s, "in", vec![json!({"value": "v20"})]);
    assert!(wait_until(Duration::from_secs(60), || values(&s, "out")
        .len()
        == 21));
    assert_eq!(status(&s, "rb")["state"], "running");
    let (code, logs) = call(&s, "GET", "/v1/pipelines/rb/logs?tail=50", None);
    assert_eq!(code, 200);
    assert!(logs["lines"].to_string().contains("rolled back"), "{logs}");
}

fn count_of(s: &Server, pipeline: &str, key: &str) -> Option<u64> {
    let (code, body) = call(
        s,
        "GET",
        &format!("/v1/pipelines/{pipeline}/state/0?key={key}"),
        None,
    );
    if code == 404 {
        return None;
    }
    assert_eq!(code, 200, "{body}");
    let raw = base64::engine::general_purpose::STANDARD
        .decode(body["value_base64"].as_str().unwrap())
        .unwrap();
    Some(u64::from_le_bytes(raw.try_into().unwrap()))
}

#[test]
fn a_stateful_counter_is_exact_across_restart_and_swap_and_queryable() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    create_topic(&s, "clicks", 2);
    create_topic(&s, "counts", 2);
    create_topic(&s, "evens", 1);
    assert_eq!(upload(&s, "counter", &guest("hostile", "counter")).0, 201);
    let spec = json!({"name": "count", "inputs": ["clicks"], "output": "counts", "outputs": ["evens"], "steps": [{"module": "counter"}], "start": "earliest"});
    let (code, body) = call(&s, "POST", "/v1/pipelines", Some(spec.clone()));
    assert_eq!(code, 201, "{body}");
    let keys = ["a", "b", "c", "d", "e"];
    let batch = |n: usize| -> Vec<Value> {
        (0..n)
            .map(|i| json!({"key": keys[i % 5], "value": "x"}))
            .collect()
    };
    produce(&s, "clicks", batch(50));
    wait_caught_up(&s, "count", 50);
    assert_eq!(count_of(&s, "count", "a"), Some(10));

    // Restart: state and position survive.
    assert!(s.stop());
    let s = Server::start(dir.path(), &[]);
    produce(&s, "clicks", batch(25));
    wait_caught_up(&s, "count", 25);
    assert_eq!(count_of(&s, "count", "a"), Some(15));

    // Swap to another version of the counter: state carries over.
    assert_eq!(upload(&s, "counter2", &guest("hostile", "counter")).0, 201);
    let mut spec2 = spec.clone();
    spec2["steps"] = json!([{"module": "counter2"}]);
    let (code, body) = call(&s, "PUT", "/v1/pipelines/count", Some(spec2));
    assert_eq!(code, 200, "{body}");
    produce(&s, "clicks", batch(25));
    wait_caught_up(&s, "count", 50);
    for k in keys {
        assert_eq!(count_of(&s, "count", k), Some(20), "key {k}");
    }
    assert_eq!(count_of(&s, "count", "zzz"), None);
    let (code, scan) = call(
        &s,
        "GET",
        "/v1/pipelines/count/state/counter2?prefix=&limit=3",
        None,
    );
    assert_eq!(code, 200, "{scan}");
    assert_eq!(scan["entries"].as_array().unwrap().len(), 3);
    assert_eq!(scan["entries"][0]["key"], "a");

    // Outputs: every count 1..=20 of every key exactly once; evens routed.
    // The counter's timer reports `keys=N at T` every 50 ms into the same topic: N is the
    // keys its task (partition) holds, all five between the two tasks.
    assert!(
        wait_until(Duration::from_secs(30), || values(&s, "counts")
            .iter()
            .any(|v| v.starts_with("keys="))),
        "the processor's timer never fired"
    );
    let (reports, mut outs): (Vec<String>, Vec<String>) = values(&s, "counts")
        .into_iter()
        .partition(|v| v.starts_with("keys="));
    for r in &reports {
        let n: usize = r["keys=".len()..]
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=5).contains(&n), "{r}");
    }
    outs.sort();
    let mut want: Vec<String> = keys
        .iter()
        .flat_map(|k| (1..=20).map(move |n| format!("{k}={n}")))
        .collect();
    want.sort();
    assert_eq!(outs, want);
    assert_eq!(values(&s, "evens").len(), 50);
}

#[test]
fn dead_letters_carry_the_documented_headers_and_skip_counts() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    create_topic(&s, "in", 1);
    create_topic(&s, "out", 1);
    create_topic(&s, "dlq", 1);
    create_topic(&s, "out2", 1);
    assert_eq!(upload(&s, "trap", &guest("hostile", "trap")).0, 201);
    let spec = json!({"name": "dl", "inputs": ["in"], "output": "out", "steps": [{"module": "trap"}],
        "on_error": "dead-letter", "dead_letter_topic": "dlq", "start": "earliest"});
    assert_eq!(call(&s, "POST", "/v1/pipelines", Some(spec)).0, 201);
    let skip = json!({"name": "sk", "inputs": ["in"], "output": "out2", "steps": [{"module": "trap"}],
        "on_error": "skip", "start": "earliest"});
    assert_eq!(call(&s, "POST", "/v1/pipelines", Some(skip)).0, 201);
    let fail = json!({"name": "fl", "inputs": ["in"], "output": "out2", "steps": [{"module": "trap"}], "start": "earliest"});
    assert_eq!(call(&s, "POST", "/v1/pipelines", Some(fail)).0, 201);
    produce(
        &s,
        "in",
        vec![
            json!({"value": "ok"}),
            json!({"key": "k", "value": "bad"}),
            json!({"value": "ok"}),
        ],
    );
    wait_caught_up(&s, "dl", 3);
    assert_eq!(values(&s, "out"), vec!["ok", "ok"]);
    let dead = read_all(&s, "dlq").concat();
    assert_eq!(dead.len(), 1);
    let d = &dead[0];
    assert_eq!(d["value"], "bad");
    assert_eq!(d["key"], "k");
    let h = &d["headers"];
    assert!(h["weir.error"].as_str().unwrap().contains("boom"), "{d}");
    assert_eq!(h["weir.pipeline"], "dl");
    assert_eq!(h["weir.step"], "0");
    assert_eq!(h["weir.topic"], "in");
    assert_eq!(h["weir.partition"], "0");
    assert_eq!(h["weir.offset"], "1");
    let st = wait_caught_up(&s, "sk", 3);
    assert_eq!(st["records_errored"], 1);
    let mut st = Value::Null;
    assert!(wait_until(Duration::from_secs(30), || {
        st = status(&s, "fl");
        st["state"] == "failed"
    }));
    assert!(
        st["tasks"][0]["last_error"]
            .as_str()
            .unwrap()
            .contains("boom"),
        "{st:#}"
    );
    // The cause is classified: the plugin's failure, not a fault of the server.
    assert_eq!(st["tasks"][0]["last_error_code"], "plugin_error", "{st:#}");
    assert_eq!(st["tasks"][0]["last_error_status"], 422, "{st:#}");
    assert_eq!(st["tasks"][0]["committed_offset"], 0);
    // Pause and resume answer with the state.
    let (code, body) = call(&s, "POST", "/v1/pipelines/sk/pause", None);
    assert_eq!((code, body["state"].as_str()), (200, Some("paused")));
    let (code, body) = call(&s, "POST", "/v1/pipelines/sk/resume", None);
    assert_eq!((code, body["state"].as_str()), (200, Some("running")));
}

fn weir(s: &Server, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(common::weir_bin())
        .arg("--url")
        .arg(&s.url)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_cli_pushes_modules_and_drives_pipelines_from_a_yaml_spec() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("data"), &[]);
    create_topic(&s, "in", 1);
    create_topic(&s, "out", 1);
    let filter = guest("rust", "rust-filter");
    let (ok, out, err) = weir(
        &s,
        &["module", "push", filter.to_str().unwrap(), "--name", "keep"],
    );
    assert!(ok, "{err}");
    assert!(out.starts_with("keep@1 (transform"), "{out}");
    let upper = guest("hostile", "upper");
    let (ok, _, err) = weir(
        &s,
        &["module", "push", upper.to_str().unwrap(), "--name", "upper"],
    );
    assert!(ok, "{err}");
    let (ok, out, _) = weir(&s, &["module", "list"]);
    assert!(ok && out.contains("keep") && out.contains("upper"), "{out}");

    let spec = dir.path().join("p.yaml");
    std::fs::write(
        &spec,
        "name: cli\ninputs: [in]\noutput: out\nstart: earliest\nsteps:\n  - module: keep@1\n    config:\n      pattern: yes\n",
    )
    .unwrap();
    let (ok, out, err) = weir(&s, &["pipeline", "create", "-f", spec.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.contains("keep@1"), "{out}");
    produce(
        &s,
        "in",
        vec![json!({"value": "yes a"}), json!({"value": "no"})],
    );
    wait_caught_up(&s, "cli", 2);
    let (ok, out, _) = weir(&s, &["pipeline", "list"]);
    assert!(
        ok && out.contains("cli") && out.contains("running"),
        "{out}"
    );
    let (ok, out, _) = weir(&s, &["pipeline", "status", "cli"]);
    assert!(
        ok && out.contains("PARTITION") && out.contains("keep@1"),
        "{out}"
    );

    let (ok, _, err) = weir(&s, &["pipeline", "swap", "cli", "--module", "upper@1"]);
    assert!(ok, "{err}");
    produce(&s, "in", vec![json!({"value": "yes b"})]);
    wait_caught_up(&s, "cli", 3);
    assert_eq!(values(&s, "out"), vec!["yes a", "YES B"]);

    let (ok, _, err) = weir(&s, &["pipeline", "pause", "cli"]);
    assert!(ok, "{err}");
    assert_eq!(status(&s, "cli")["state"], "paused");
    let (ok, _, err) = weir(&s, &["pipeline", "resume", "cli"]);
    assert!(ok, "{err}");
    let (ok, out, _) = weir(&s, &["pipeline", "logs", "cli"]);
    assert!(
        ok && out.contains("updated") && out.contains("paused"),
        "{out}"
    );
    let (ok, _, err) = weir(&s, &["module", "delete", "upper@1"]);
    assert!(!ok && err.contains("module_in_use"), "{err}");
    let (ok, _, err) = weir(&s, &["pipeline", "delete", "cli"]);
    assert!(ok, "{err}");
    let (ok, _, err) = weir(&s, &["pipeline", "status", "cli"]);
    assert!(!ok && err.contains("unknown pipeline"), "{err}");
}

#[test]
fn kcat_produces_into_a_pipeline_and_reads_what_it_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    create_topic(&s, "events", 2);
    create_topic(&s, "errors", 2);
    assert_eq!(upload(&s, "grep", &guest("rust", "rust-filter")).0, 201);
    let (code, body) = call(
        &s,
        "POST",
        "/v1/pipelines",
        Some(filter_spec("e", "grep", "error", "events", "errors")),
    );
    assert_eq!(code, 201, "{body}");
    let lines: String = (0..200)
        .map(|i| {
            let v = if i % 4 == 0 { "an error" } else { "fine" };
            format!("k{i}:{v} {i}\n")
        })
        .collect();
    common::kcat(
        &["-b", &s.kafka, "-t", "events", "-P", "-K:"],
        lines.as_bytes(),
    );
    wait_caught_up(&s, "e", 200);
    // The pipeline's idempotent batches read back through librdkafka, keys kept.
    let out = common::kcat(
        &[
            "-b", &s.kafka, "-t", "errors", "-C", "-e", "-q", "-f", "%k=%s\n",
        ],
        b"",
    );
    let mut got: Vec<&str> = out.lines().collect();
    got.sort();
    let mut want: Vec<String> = (0..200)
        .step_by(4)
        .map(|i| format!("k{i}=an error {i}"))
        .collect();
    want.sort();
    assert_eq!(got, want);
}
