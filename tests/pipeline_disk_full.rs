//! A full disk under a pipeline: weir runs on a small tmpfs (in a private mount namespace)
//! and the pipeline's output appends hit ENOSPC. The task stops with the cause typed —
//! `disk_full` / 507 in its status, as the broker's own endpoints answer — a module upload
//! answers 507 too, the server goes on serving, and once space is freed a resume finishes
//! the work with every input record in the output exactly once.

mod common;

use std::time::Duration;

use common::guests::guest;
use common::pipeline::*;
use common::{Server, http, wait_until};
use serde_json::{Value, json};

/// Produces 16 KiB records to `topic` until the disk refuses one; returns the answer.
fn fill(s: &Server, topic: &str) -> (u16, Value) {
    let value = "f".repeat(16 * 1024);
    for _ in 0..4000 {
        let (status, body) = call(
            s,
            "POST",
            &format!("/v1/topics/{topic}/records"),
            Some(json!({"records": [{"value": value}]})),
        );
        if status != 200 {
            return (status, body);
        }
    }
    panic!("the small disk never filled up");
}

#[test]
fn a_pipeline_that_fills_the_disk_stops_with_disk_full_and_resumes_exactly_once() {
    let module = guest("hostile", "keepall");
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_on_tmpfs(&dir.path().join("data"), "12m");
    for t in ["in", "out", "filler"] {
        create_topic(&s, t, 1);
    }
    assert_eq!(upload(&s, "keep", &module).0, 201);
    let spec = json!({
        "name": "copy", "inputs": ["in"], "output": "out",
        "steps": [{"module": "keep"}], "start": "earliest",
    });
    assert_eq!(call(&s, "POST", "/v1/pipelines", Some(spec)).0, 201);
    assert_eq!(call(&s, "POST", "/v1/pipelines/copy/pause", None).0, 200);

    // Input waits while the pipeline is paused; then the disk is filled to the brim.
    let value = |i: usize| format!("{i:06}-{}", "v".repeat(8 * 1024));
    let inputs = 200;
    for chunk in (0..inputs).collect::<Vec<_>>().chunks(50) {
        produce(
            &s,
            "in",
            chunk.iter().map(|&i| json!({"value": value(i)})).collect(),
        );
    }
    let (code, body) = fill(&s, "filler");
    assert_eq!(code, 507, "{body}");
    assert_eq!(body["error"]["code"], "disk_full", "{body}");

    // The pipeline's appends now hit the full disk: the task stops, saying so in its terms.
    assert_eq!(call(&s, "POST", "/v1/pipelines/copy/resume", None).0, 200);
    let mut task = Value::Null;
    let failed = wait_until(Duration::from_secs(60), || {
        task = status(&s, "copy")["tasks"][0].clone();
        task["state"] == "failed"
    });
    assert!(failed, "the task never failed on the full disk: {task}");
    assert_eq!(task["last_error_code"], "disk_full", "{task}");
    assert_eq!(task["last_error_status"], 507, "{task}");
    let message = task["last_error"].as_str().unwrap();
    assert!(message.contains("No space left on device"), "{message}");
    assert_eq!(status(&s, "copy")["state"], "failed");
    // The CLI shows the code beside the message.
    let cli = std::process::Command::new(common::weir_bin())
        .args(["--url", &s.url, "pipeline", "status", "copy"])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&cli.stdout);
    assert!(shown.contains("[disk_full]"), "{shown}");

    // A module upload needs disk too: 507, not 500.
    let (code, body) = upload(&s, "keep2", &guest("rust", "rust-filter"));
    assert_eq!(code, 507, "{body}");
    assert_eq!(body["error"]["code"], "disk_full", "{body}");
    // The server goes on serving.
    let health: Value = http()
        .get(s.at("/v1/health"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(health["status"], "ok");

    // Space freed, resumed: every input record reaches the output exactly once.
    assert_eq!(call(&s, "DELETE", "/v1/topics/filler", None).0, 200);
    let mut resumed = (0, Value::Null);
    let ok = wait_until(Duration::from_secs(60), || {
        resumed = call(&s, "POST", "/v1/pipelines/copy/resume", None);
        let caught_up = status(&s, "copy")["tasks"][0]["lag"] == 0
            && status(&s, "copy")["tasks"][0]["state"] == "running";
        caught_up && values(&s, "out").len() >= inputs
    });
    assert!(
        ok,
        "the pipeline did not finish after space was freed: {resumed:?} {}",
        status(&s, "copy")
    );
    let out = values(&s, "out");
    let expected: Vec<String> = (0..inputs).map(value).collect();
    assert_eq!(out.len(), expected.len(), "records lost or duplicated");
    assert!(out == expected, "the output differs from the input");
}
