//! Queryable state of count/sum steps over HTTP and the CLI
//! (`GET /v1/pipelines/{name}/state/{step}`, `weir pipeline state`), and sliding windows
//! end to end.

mod common;

use std::collections::BTreeMap;

use common::Server;
use common::pipeline::*;
use common::streams::*;
use serde_json::{Value, json};

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
