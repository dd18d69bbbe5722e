//! Filters in Rust and Python uploaded over HTTP; kcat producing and reading; bad
//! modules and specs refused naming the problem.

use crate::common::Server;
use crate::common::guests::guest;
use crate::common::pipeline::*;
use serde_json::{Value, json};

use crate::filter_spec;

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
    let metrics = crate::common::http()
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

    let (code, body) = upload(&s, "junk", &crate::common::repo_root().join("README.md"));
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
    crate::common::kcat(
        &["-b", &s.kafka, "-t", "events", "-P", "-K:"],
        lines.as_bytes(),
    );
    wait_caught_up(&s, "e", 200);
    // The pipeline's idempotent batches read back through librdkafka, keys kept.
    let out = crate::common::kcat(
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
