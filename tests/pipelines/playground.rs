//! The playground (`POST /v1/modules/{name}/{version}/test`): a module version run over
//! records typed or read from a topic, with its own state, and refused past its caps.

use std::time::{Duration, Instant};

use crate::common::Server;
use crate::common::guests::guest;
use crate::common::pipeline::*;
use serde_json::{Value, json};

fn test_module(s: &Server, module: &str, version: u32, body: Value) -> (u16, Value) {
    call(
        s,
        "POST",
        &format!("/v1/modules/{module}/{version}/test"),
        Some(body),
    )
}

fn values(answer: &Value) -> Vec<&str> {
    answer["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["value"].as_str().unwrap())
        .collect()
}

#[test]
fn the_playground_runs_typed_and_topic_records_apart_from_the_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    create_topic(&s, "in", 1);
    create_topic(&s, "out", 1);
    create_topic(&s, "evens", 1);
    assert_eq!(upload(&s, "upper", &guest("rust", "upper")).0, 201);
    assert_eq!(upload(&s, "counter", &guest("hostile", "counter")).0, 201);

    // Typed records through a map: outputs with their source offsets and headers.
    let (code, a) = test_module(
        &s,
        "upper",
        1,
        json!({"records": [{"key": "k", "value": "hello"}, {"value": "world", "headers": {"h": "v"}}]}),
    );
    assert_eq!(code, 200, "{a}");
    assert_eq!(values(&a), ["HELLO", "WORLD"]);
    assert_eq!(a["outputs"][0]["key"], "k");
    assert_eq!(a["outputs"][1]["offset"], 1);
    assert_eq!(a["outputs"][1]["headers"]["h"], "v");
    assert_eq!(a["outputs"][1]["headers"]["mapped-by"], "upper");
    assert_eq!(a["module"]["world"], "transform");
    assert!(a["errors"].as_array().unwrap().is_empty(), "{a}");

    // A header key given twice, as pairs: the run sees both, in order, and so does the
    // answer (`headers_list`; the object keeps each key's last value).
    let (code, a) = test_module(
        &s,
        "upper",
        1,
        json!({"records": [{"value": "x", "headers": [["hop", "1"], ["hop", "2"]]}]}),
    );
    assert_eq!(code, 200, "{a}");
    assert_eq!(
        a["inputs"][0]["headers_list"],
        json!([["hop", "1"], ["hop", "2"]])
    );
    assert_eq!(
        a["outputs"][0]["headers_list"],
        json!([["hop", "1"], ["hop", "2"], ["mapped-by", "upper"]]),
        "{a}"
    );
    assert_eq!(
        a["outputs"][0]["headers"],
        json!({"hop": "2", "mapped-by": "upper"})
    );

    // A processor counting per key in a pipeline over the same records.
    let spec = json!({"name": "counting", "inputs": ["in"], "output": "out", "outputs": ["evens"],
        "steps": [{"name": "count", "module": "counter"}], "start": "earliest"});
    create(&s, spec);
    produce(
        &s,
        "in",
        vec![
            json!({"key": "a", "value": "1"}),
            json!({"key": "a", "value": "2"}),
        ],
    );
    wait_caught_up(&s, "counting", 2);
    let state = || call(&s, "GET", "/v1/pipelines/counting/state/count?key=a", None);
    let before = state();
    assert_eq!(before.0, 200, "{}", before.1);

    // Picked from the topic: the same records, run with a state of the run's own.
    let from = json!({"from": {"topic": "in", "partition": 0, "offset": 0, "count": 2}});
    for _ in 0..2 {
        let (code, a) = test_module(&s, "counter", 1, from.clone());
        assert_eq!(code, 200, "{a}");
        assert_eq!(a["input"]["topic"], "in");
        assert_eq!(a["inputs"].as_array().unwrap().len(), 2);
        assert_eq!(a["inputs"][1]["offset"], 1);
        // `a=2` is an even count: the input is forwarded to `evens` too.
        assert_eq!(
            values(&a),
            ["a=1", "a=2", "2"],
            "each run counts from nothing"
        );
        assert_eq!(a["outputs"][1]["topic"], serde_json::Value::Null);
        assert_eq!(a["outputs"][2]["topic"], "evens", "routing is shown");
    }
    // The pipeline's state and output are its own, untouched by the runs.
    assert_eq!(state(), before);
    let counts: Vec<String> = crate::common::pipeline::values(&s, "out")
        .into_iter()
        .filter(|v| v.starts_with("a="))
        .collect();
    assert_eq!(counts, ["a=1", "a=2"]);
    assert_eq!(crate::common::pipeline::values(&s, "evens"), ["2"]);
}

#[test]
fn the_playground_reports_failures_and_refuses_past_its_caps() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    assert_eq!(upload(&s, "trap", &guest("hostile", "trap")).0, 201);
    assert_eq!(upload(&s, "sleeper", &guest("hostile", "sleeper")).0, 201);
    assert_eq!(
        upload(&s, "agg", &guest("streams", "rust-aggregator")).0,
        201
    );

    // A trapping call is reported with its offsets and the rest still runs.
    let (code, a) = test_module(
        &s,
        "trap",
        1,
        json!({"records": [{"value": "ok"}, {"value": "bad"}, {"value": "ok"}], "batch_size": 1}),
    );
    assert_eq!(code, 200, "{a}");
    assert_eq!(values(&a), ["ok", "ok"]);
    let e = &a["errors"][0];
    assert_eq!(
        (e["kind"].as_str(), e["first"].as_i64()),
        (Some("batch"), Some(1)),
        "{a}"
    );
    assert!(e["message"].as_str().unwrap().contains("boom"), "{a}");

    // The call deadline: a guest that blocks is cut off at the deadline asked for.
    let started = Instant::now();
    let (code, a) = test_module(
        &s,
        "sleeper",
        1,
        json!({"records": [{"value": "zzz"}], "deadline_ms": 200}),
    );
    assert_eq!(code, 200, "{a}");
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(a["errors"][0]["kind"], "batch", "{a}");
    assert!(a["outputs"].as_array().unwrap().is_empty());

    let refused = |body: Value, status: u16, code: &str, says: &str| {
        let (got, a) = test_module(&s, "trap", 1, body);
        assert_eq!(got, status, "{a}");
        assert_eq!(a["error"]["code"], code, "{a}");
        assert!(
            a["error"]["message"].as_str().unwrap().contains(says),
            "{a}"
        );
    };
    let many: Vec<Value> = (0..1001).map(|_| json!({"value": "ok"})).collect();
    refused(
        json!({"records": many}),
        413,
        "playground_too_large",
        "1000 per run",
    );
    create_topic(&s, "big", 1);
    let big = "x".repeat(600 << 10);
    for _ in 0..2 {
        produce(&s, "big", vec![json!({"value": big})]);
    }
    refused(
        json!({"from": {"topic": "big", "count": 2}}),
        413,
        "playground_too_large",
        "bytes",
    );
    refused(
        json!({"records": [{"value": "ok"}], "deadline_ms": 60_000}),
        400,
        "invalid_request",
        "deadline_ms 60000",
    );
    refused(json!({"records": []}), 400, "invalid_request", "no records");
    refused(
        json!({"records": [{"value": "ok"}], "from": {"topic": "t"}}),
        400,
        "invalid_request",
        "not both",
    );
    refused(
        json!({"from": {"topic": "nope", "count": 1}}),
        404,
        "unknown_topic",
        "nope",
    );
    // Runs at once: four sleeper runs of at least 4 s each, started together; the
    // slots hold two, so some are refused at once with 429 and none fails otherwise.
    let url = s.at("/v1/modules/sleeper/1/test");
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let r = crate::common::http()
                    .post(url)
                    .json(&json!({"records": [{"value": "a"}, {"value": "b"}],
                        "batch_size": 1, "deadline_ms": 2000}))
                    .send()
                    .unwrap();
                let status = r.status().as_u16();
                (status, r.json::<Value>().unwrap())
            })
        })
        .collect();
    let answers: Vec<(u16, Value)> = runs.into_iter().map(|t| t.join().unwrap()).collect();
    let busy: Vec<_> = answers.iter().filter(|(c, _)| *c == 429).collect();
    assert!(!busy.is_empty(), "{answers:?}");
    assert!(
        answers.iter().all(|(c, _)| *c == 200 || *c == 429),
        "{answers:?}"
    );
    assert_eq!(busy[0].1["error"]["code"], "playground_busy");
    assert!(
        busy[0].1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("running 2 modules")
    );
    let (code, a) = test_module(&s, "agg", 1, json!({"records": [{"value": "1"}]}));
    assert_eq!(
        (code, a["error"]["code"].as_str()),
        (422, Some("not_a_map_module")),
        "{a}"
    );
    let (code, a) = test_module(&s, "trap", 9, json!({"records": [{"value": "ok"}]}));
    assert_eq!(code, 404, "{a}");
}

#[test]
fn a_playground_run_stops_at_its_total_time_and_output_bytes_saying_why() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    assert_eq!(upload(&s, "sleeper", &guest("hostile", "sleeper")).0, 201);
    assert_eq!(
        upload(&s, "oversized", &guest("hostile", "oversized")).0,
        201
    );

    // Seven calls of 2 s each would hold the slot 14 s; the run stops after 10 s.
    let started = Instant::now();
    let sleepy: Vec<Value> = (0..7).map(|_| json!({"value": "zzz"})).collect();
    let (code, a) = test_module(
        &s,
        "sleeper",
        1,
        json!({"records": sleepy, "batch_size": 1, "deadline_ms": 2000}),
    );
    assert_eq!(code, 200, "{a}");
    assert_eq!(a["truncated"], true, "{a}");
    assert_eq!(a["truncated_reason"], "deadline", "{a}");
    let calls = a["errors"].as_array().unwrap().len();
    assert!((5..7).contains(&calls), "{calls} calls ran: {a}");
    assert!(started.elapsed() < Duration::from_secs(13));

    // Each input comes out as 4 MiB: the first call's output fills the 4 MiB cap.
    let small: Vec<Value> = (0..3)
        .map(|_| json!({"value": "y".repeat(60_000)}))
        .collect();
    let (code, a) = test_module(
        &s,
        "oversized",
        1,
        json!({"records": small, "batch_size": 1}),
    );
    assert_eq!(code, 200, "{a}");
    assert_eq!(a["truncated"], true, "{a}");
    assert_eq!(a["truncated_reason"], "max_output_bytes", "{a}");
    assert_eq!(a["outputs"].as_array().unwrap().len(), 4, "{}", a["errors"]);

    // A run inside its bounds says so.
    let (code, a) = test_module(&s, "oversized", 1, json!({"records": [{"value": "ok"}]}));
    assert_eq!(code, 200, "{a}");
    assert_eq!(a["truncated"], false, "{a}");
    assert!(a["truncated_reason"].is_null(), "{a}");
}

/// Every cap of the playground is a `[playground]` key: a server with small ones refuses,
/// stops and trims at them, naming the cap as the defaults' refusals do.
#[test]
fn the_playground_caps_come_from_weir_toml() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_with_config(
        &dir.path().join("data"),
        "[playground]\nmax_records = 3\nmax_bytes = 200\nmax_running = 1\nmax_run_ms = 300\n\
         max_outputs = 2\nmax_output_bytes = 100\nmax_log_lines = 2\n",
        &[],
    );
    for (name, fixture) in [
        ("upper", ("rust", "upper")),
        ("trap", ("hostile", "trap")),
        ("sleeper", ("hostile", "sleeper")),
    ] {
        assert_eq!(upload(&s, name, &guest(fixture.0, fixture.1)).0, 201);
    }
    let refused = |body: Value, says: &str| {
        let (code, a) = test_module(&s, "upper", 1, body);
        assert_eq!(
            (code, a["error"]["code"].as_str()),
            (413, Some("playground_too_large")),
            "{a}"
        );
        assert!(
            a["error"]["message"].as_str().unwrap().contains(says),
            "{a}"
        );
    };
    let records =
        |n: usize, value: &str| -> Vec<Value> { (0..n).map(|_| json!({"value": value})).collect() };
    refused(json!({"records": records(4, "a")}), "3 per run");
    refused(json!({"from": {"topic": "any", "count": 4}}), "3 per run");
    refused(
        json!({"records": records(3, &"x".repeat(80))}),
        "200 per run",
    );

    // Outputs: 3 in, 2 kept; then 2 outputs of 74 bytes against 100.
    let (code, a) = test_module(&s, "upper", 1, json!({"records": records(3, "a")}));
    assert_eq!(code, 200, "{a}");
    assert_eq!(
        (&a["truncated"], a["truncated_reason"].as_str()),
        (&json!(true), Some("max_outputs")),
        "{a}"
    );
    assert_eq!(values(&a), ["A", "A"]);
    let (code, a) = test_module(
        &s,
        "upper",
        1,
        json!({"records": records(2, &"y".repeat(60))}),
    );
    assert_eq!(code, 200, "{a}");
    assert_eq!(a["truncated_reason"], "max_output_bytes", "{a}");
    assert!(a["outputs"].as_array().unwrap().len() < 2, "{a}");

    // Log lines: a panicking call writes several; two are kept, the rest counted.
    let (code, a) = test_module(&s, "trap", 1, json!({"records": [{"value": "bad"}]}));
    assert_eq!(code, 200, "{a}");
    assert!(a["logs"].as_array().unwrap().len() <= 2, "{a}");
    assert!(a["logs_dropped"].as_u64().unwrap() > 0, "{a}");

    // The run's time: calls cut off at 200 ms each; none starts after 300 ms.
    let sleepy = json!({"records": records(3, "z"), "batch_size": 1, "deadline_ms": 200});
    let (code, a) = test_module(&s, "sleeper", 1, sleepy.clone());
    assert_eq!(code, 200, "{a}");
    assert_eq!(a["truncated_reason"], "deadline", "{a}");
    assert!(a["errors"].as_array().unwrap().len() < 3, "{a}");

    // Runs at once: one; three started together, each holding its slot ≥ 400 ms.
    let url = s.at("/v1/modules/sleeper/1/test");
    let runs: Vec<_> = (0..3)
        .map(|_| {
            let (url, body) = (url.clone(), sleepy.clone());
            std::thread::spawn(move || {
                let r = crate::common::http().post(url).json(&body).send().unwrap();
                (r.status().as_u16(), r.json::<Value>().unwrap())
            })
        })
        .collect();
    let answers: Vec<(u16, Value)> = runs.into_iter().map(|t| t.join().unwrap()).collect();
    let busy: Vec<_> = answers.iter().filter(|(c, _)| *c == 429).collect();
    assert!(!busy.is_empty(), "{answers:?}");
    assert!(
        busy[0].1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("running 1 modules"),
        "{answers:?}"
    );
}
