//! Late records of a windowed step sent to the pipeline's dead-letter topic
//! (`"late": "dead-letter"`), with the dead-letter headers saying why, besides being
//! counted; and the spec rules around it.

mod common;

use common::pipeline::*;
use common::streams::*;
use common::{Server, http};
use serde_json::json;

#[test]
fn late_records_go_to_the_dead_letter_topic_with_why() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    create_topic(&s, "clicks", 1);
    create_topic(&s, "counts", 1);
    create_topic(&s, "late-clicks", 1);
    let spec = json!({"name": "per-minute", "inputs": ["clicks"], "output": "counts",
        "steps": [{"op": "count", "window": {"type": "tumbling", "size_ms": 60000, "grace_ms": 1000},
                   "emit": "on_close", "late": "dead-letter"}],
        "dead_letter_topic": "late-clicks", "start": "earliest"});
    let (code, body) = call(&s, "POST", "/v1/pipelines", Some(spec));
    assert_eq!(code, 201, "{body}");
    // Minutes of recent time (old timestamps would meet time-based retention).
    let base = (now_ms() / 60_000 - 10) * 60_000;
    produce(
        &s,
        "clicks",
        vec![
            click("alice", "a1", base + 1_000),
            // Stream time base + 61 000 closes the first minute (end + grace 1 000).
            click("bob", "b1", base + 61_000),
            // Late: its only window closed.
            click("alice", "a2", base + 59_000),
            // Within the second minute: on time.
            click("carol", "c1", base + 60_500),
        ],
    );
    let st = wait_caught_up(&s, "per-minute", 4);
    assert_eq!(st["late_records"], 1, "{st:#}");
    assert_eq!(
        st["records_errored"], 0,
        "a late record is no failure: {st:#}"
    );
    let got: Vec<_> = read_all(&s, "counts")
        .remove(0)
        .iter()
        .map(|r| result(r, 60_000))
        .collect();
    assert_eq!(got, vec![(base, "alice".into(), 1, base + 1_000)]);
    let dead = read_all(&s, "late-clicks").concat();
    assert_eq!(dead.len(), 1, "{dead:?}");
    let d = &dead[0];
    assert_eq!(d["key"], "alice");
    assert_eq!(d["value"], "a2");
    assert_eq!(d["timestamp"], base + 59_000);
    let h = &d["headers"];
    let why = h["weir.error"].as_str().unwrap();
    assert!(
        why.contains("late")
            && why.contains(&(base + 59_000).to_string())
            && why.contains(&(base + 61_000).to_string()),
        "{why}"
    );
    assert_eq!(h["weir.pipeline"], "per-minute");
    assert_eq!(h["weir.step"], "0");
    assert_eq!(h["weir.topic"], "clicks");
    assert_eq!(h["weir.partition"], "0");
    assert_eq!(h["weir.offset"], "2");
    let metrics = http().get(s.at("/metrics")).send().unwrap().text().unwrap();
    assert!(
        metrics.contains(
            "weir_pipeline_late_records_total{pipeline=\"per-minute\",partition=\"0\"} 1"
        ),
        "{metrics}"
    );
}

#[test]
fn late_dead_letters_need_a_topic_and_a_window() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    create_topic(&s, "clicks", 1);
    create_topic(&s, "counts", 1);
    create_topic(&s, "dlq", 1);
    let window = json!({"type": "tumbling", "size_ms": 1000});
    let cases = [
        (
            json!({"op": "count", "window": window, "late": "dead-letter"}),
            None,
            "steps[0].late",
        ),
        (
            json!({"op": "count", "late": "dead-letter"}),
            Some("dlq"),
            "steps[0].late",
        ),
        (
            json!({"op": "count", "window": window, "late": "later"}),
            Some("dlq"),
            "late",
        ),
    ];
    for (step, dlq, names) in cases {
        let mut spec = json!({"name": "p", "inputs": ["clicks"], "output": "counts",
            "steps": [step], "start": "earliest"});
        if let Some(t) = dlq {
            spec["dead_letter_topic"] = json!(t);
        }
        let (code, body) = call(&s, "POST", "/v1/pipelines", Some(spec.clone()));
        assert_eq!(code, 400, "{spec}: {body}");
        assert!(body.to_string().contains(names), "{spec}: {body}");
    }
    // The topic serves late records alone while failures still fail the task.
    let spec = json!({"name": "p", "inputs": ["clicks"], "output": "counts",
        "steps": [{"op": "count", "window": window, "late": "dead-letter"}],
        "dead_letter_topic": "dlq", "start": "earliest"});
    let (code, body) = call(&s, "POST", "/v1/pipelines", Some(spec));
    assert_eq!(code, 201, "{body}");
    // And "drop", the default, is accepted on any windowed step.
    let spec = json!({"name": "q", "inputs": ["clicks"], "output": "counts",
        "steps": [{"op": "count", "window": window, "late": "drop"}], "start": "earliest"});
    let (code, body) = call(&s, "POST", "/v1/pipelines", Some(spec));
    assert_eq!(code, 201, "{body}");
}
