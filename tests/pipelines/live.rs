//! What the console watches of a running pipeline: its sampled figures
//! (`/metrics/history`), its newest dead letters, and its log followed by long poll.

use std::time::{Duration, Instant};

use crate::common::Server;
use crate::common::guests::guest;
use crate::common::pipeline::*;
use serde_json::json;

#[test]
fn charts_dead_letters_and_the_followed_log_show_the_pipeline_working() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    create_topic(&s, "in", 2);
    create_topic(&s, "out", 1);
    create_topic(&s, "dlq", 1);
    assert_eq!(upload(&s, "trap", &guest("hostile", "trap")).0, 201);
    create(
        &s,
        json!({"name": "live", "inputs": ["in"], "output": "out", "steps": [{"module": "trap"}],
            "on_error": "dead-letter", "dead_letter_topic": "dlq", "start": "earliest"}),
    );
    let (code, dl) = call(&s, "GET", "/v1/pipelines/live/dead-letters", None);
    assert_eq!(code, 200, "{dl}");
    assert_eq!(
        (dl["topic"].as_str(), dl["records"].as_array().map(Vec::len)),
        (Some("dlq"), Some(0))
    );

    let records: Vec<_> = (0..6)
        .map(|i| {
            let value = if i % 3 == 0 {
                format!("bad {i}")
            } else {
                "ok".into()
            };
            // The bad ones were dead-lettered once before: the listing names this failure.
            let headers = if i % 3 == 0 {
                json!({"weir.error": "an earlier failure", "weir.step": "9"})
            } else {
                json!({})
            };
            json!({"key": format!("k{i}"), "value": value, "partition": i % 2, "headers": headers})
        })
        .collect();
    produce(&s, "in", records);
    wait_caught_up(&s, "live", 6);

    // The chart's last point is now: every task's totals and lag, per partition.
    let (code, h) = call(&s, "GET", "/v1/pipelines/live/metrics/history", None);
    assert_eq!(code, 200, "{h}");
    assert_eq!(h["interval_ms"], 5000);
    assert_eq!(h["window_ms"], 15 * 60 * 1000);
    let last = h["points"].as_array().unwrap().last().unwrap().clone();
    let tasks = last["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 2, "{h}");
    let total: u64 = tasks
        .iter()
        .map(|t| t["records_in"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 6, "{h}");
    assert!(tasks.iter().all(|t| t["lag"] == 0), "{h}");

    // Dead letters, newest first, with the error and step taken from their headers.
    let (code, dl) = call(&s, "GET", "/v1/pipelines/live/dead-letters?limit=1", None);
    assert_eq!(code, 200, "{dl}");
    let newest = dl["records"].as_array().unwrap();
    assert_eq!(newest.len(), 1, "{dl}");
    let (code, dl) = call(&s, "GET", "/v1/pipelines/live/dead-letters", None);
    assert_eq!(code, 200, "{dl}");
    let all = dl["records"].as_array().unwrap();
    let mut values: Vec<&str> = all.iter().map(|r| r["value"].as_str().unwrap()).collect();
    values.sort();
    assert_eq!(values, ["bad 0", "bad 3"], "{dl}");
    assert!(all[0]["error"].as_str().unwrap().contains("boom"), "{dl}");
    assert_eq!(all[0]["step"], "0");
    assert_eq!(newest[0], all[0], "limit=1 is the newest");
    let (code, e) = call(&s, "GET", "/v1/pipelines/live/dead-letters?limit=101", None);
    assert_eq!(
        (code, e["error"]["code"].as_str()),
        (400, Some("invalid_request")),
        "{e}"
    );

    // Following the log: a long poll from `next` wakes on the next line, a pause's.
    let (code, logs) = call(&s, "GET", "/v1/pipelines/live/logs?tail=5", None);
    assert_eq!(code, 200, "{logs}");
    let next = logs["next"].as_u64().unwrap();
    let follow = {
        let url = s.at(&format!(
            "/v1/pipelines/live/logs?since={next}&timeout_ms=20000"
        ));
        std::thread::spawn(move || {
            let started = Instant::now();
            let body: serde_json::Value = crate::common::http()
                .get(url)
                .send()
                .unwrap()
                .json()
                .unwrap();
            (body, started.elapsed())
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(call(&s, "POST", "/v1/pipelines/live/pause", None).0, 200);
    let (body, waited) = follow.join().unwrap();
    assert!(
        waited < Duration::from_secs(15),
        "woken by the line, not the timeout"
    );
    let lines = body["lines"].as_array().unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l.as_str().unwrap().ends_with("host: paused")),
        "{body}"
    );
    assert_eq!(body["next"].as_u64().unwrap(), next + lines.len() as u64);
    assert_eq!(body["skipped"], 0);
    // Nothing new: the poll ends at its timeout with no lines and the same `next`.
    let after = body["next"].as_u64().unwrap();
    let (code, quiet) = call(
        &s,
        "GET",
        &format!("/v1/pipelines/live/logs?since={after}&timeout_ms=100"),
        None,
    );
    assert_eq!(code, 200, "{quiet}");
    assert_eq!(
        (
            quiet["lines"].as_array().map(Vec::len),
            quiet["next"].as_u64()
        ),
        (Some(0), Some(after))
    );
    let (code, e) = call(&s, "GET", "/v1/pipelines/live/logs?since=0&tail=3", None);
    assert_eq!(code, 400, "{e}");
    let (code, _) = call(&s, "GET", "/v1/pipelines/nope/metrics/history", None);
    assert_eq!(code, 404);
}

#[test]
fn a_dead_letter_listing_reads_at_most_8_mib_keeping_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    create_topic(&s, "in", 1);
    create_topic(&s, "out", 1);
    create_topic(&s, "dlq", 1);
    assert_eq!(upload(&s, "trap", &guest("hostile", "trap")).0, 201);
    create(
        &s,
        json!({"name": "big", "inputs": ["in"], "output": "out", "steps": [{"module": "trap"}],
            "on_error": "dead-letter", "dead_letter_topic": "dlq", "start": "earliest"}),
    );
    // 20 dead letters of 600 000 bytes: 12 MB, more than one listing holds.
    for i in 0..20 {
        let value = format!("{i:02}{}", "x".repeat(600_000 - 2));
        produce(&s, "dlq", vec![json!({ "value": value })]);
    }
    let (code, dl) = call(&s, "GET", "/v1/pipelines/big/dead-letters?limit=100", None);
    assert_eq!(code, 200);
    let records = dl["records"].as_array().unwrap();
    assert_eq!(records.len(), 13, "8 MiB / 600 000 bytes");
    assert_eq!(records[0]["offset"], 19, "newest first");
}

#[test]
fn followed_logs_past_the_limit_are_refused_with_429() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    create_topic(&s, "in", 1);
    create_topic(&s, "out", 1);
    assert_eq!(upload(&s, "trap", &guest("hostile", "trap")).0, 201);
    create(
        &s,
        json!({"name": "quiet", "inputs": ["in"], "output": "out", "steps": [{"module": "trap"}]}),
    );
    let (_, tail) = call(&s, "GET", "/v1/pipelines/quiet/logs", None);
    let next = tail["next"].as_u64().unwrap();
    // 40 follows of a quiet log, each waiting 4 s: the server holds 32 at once.
    let url = s.at(&format!(
        "/v1/pipelines/quiet/logs?since={next}&timeout_ms=4000"
    ));
    let follows: Vec<_> = (0..40)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let r = crate::common::http().get(url).send().unwrap();
                (r.status().as_u16(), r.json::<serde_json::Value>().unwrap())
            })
        })
        .collect();
    let answers: Vec<_> = follows.into_iter().map(|t| t.join().unwrap()).collect();
    let busy: Vec<_> = answers.iter().filter(|(c, _)| *c == 429).collect();
    assert!(!busy.is_empty(), "{answers:?}");
    assert!(
        answers.iter().all(|(c, _)| *c == 200 || *c == 429),
        "{answers:?}"
    );
    assert_eq!(busy[0].1["error"]["code"], "too_many_follows");
    assert!(
        busy[0].1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("32")
    );
}

#[test]
fn a_followed_log_reports_deletion_and_resyncs_after_a_recreate() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    create_topic(&s, "in", 1);
    create_topic(&s, "out", 1);
    assert_eq!(upload(&s, "trap", &guest("hostile", "trap")).0, 201);
    let spec =
        json!({"name": "p", "inputs": ["in"], "output": "out", "steps": [{"module": "trap"}]});
    create(&s, spec.clone());
    let (_, tail) = call(&s, "GET", "/v1/pipelines/p/logs", None);
    let next = tail["next"].as_u64().unwrap();
    let url = s.at(&format!(
        "/v1/pipelines/p/logs?since={next}&timeout_ms=1500"
    ));
    let follow = std::thread::spawn(move || {
        let r = crate::common::http().get(url).send().unwrap();
        (r.status().as_u16(), r.json::<serde_json::Value>().unwrap())
    });
    assert_eq!(call(&s, "DELETE", "/v1/pipelines/p", None).0, 204);
    let (code, body) = follow.join().unwrap();
    assert_eq!(code, 404, "{body}");
    assert_eq!(body["error"]["code"], "unknown_pipeline");
    // Created again: a follow from the old, larger number answers the new `next` at once.
    create(&s, spec);
    let (_, tail) = call(&s, "GET", "/v1/pipelines/p/logs", None);
    let fresh = tail["next"].as_u64().unwrap();
    let far = next + 1000;
    let started = Instant::now();
    let (code, body) = call(
        &s,
        "GET",
        &format!("/v1/pipelines/p/logs?since={far}&timeout_ms=3000"),
        None,
    );
    assert_eq!(code, 200, "{body}");
    assert!(body["next"].as_u64().unwrap() >= fresh, "{body}");
    assert!(body["next"].as_u64().unwrap() < far, "{body}");
    assert!(started.elapsed() < Duration::from_millis(2500));
}
