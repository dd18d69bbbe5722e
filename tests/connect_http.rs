//! The HTTP connectors and `weir.allow.http`, against real HTTP servers inside the test (axum
//! on 127.0.0.1:0): HttpSink through 503s (with and without Retry-After) delivering every
//! record once and in order per partition, a record refused for good in the dead-letter queue
//! with Connect's context headers (read back over the Kafka protocol); HttpSource reading a
//! paged JSON API across a SIGKILL of the host without reading a page twice; a connector
//! refused a port or host it was not granted while its neighbour runs on; the bounds on
//! response size, request size and time crossed;
//! `https://` origins (in `connect_http/https.rs`); bad grants (in `connect_http/grants.rs`).
//! A record refused after ones the chain dropped is dead-lettered as read (in
//! `connect_http/dead_letter.rs`). The HTTP stub they all talk to is `connect_http/stub.rs`.

mod common;
#[path = "connect_http/dead_letter.rs"]
mod dead_letter;
#[path = "connect_http/grants.rs"]
mod grants;
#[path = "connect_http/https.rs"]
mod https;
#[path = "connect_http/stub.rs"]
mod stub;

use std::collections::BTreeMap;
use std::time::Duration;

use axum::http::Method;
use serde_json::{Value, json};

use common::connect::{call, create, start, wait_status};
use common::{Server, create_topic, http, kcat, wait_until};
use stub::{Answer, Seen, Stub};

fn schemaless(more: Value) -> Value {
    let mut out = json!({
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
    })
    .as_object()
    .unwrap()
    .clone();
    out.extend(more.as_object().unwrap().clone());
    Value::Object(out)
}

fn produce(s: &Server, topic: &str, records: Vec<(u32, String)>) {
    let records: Vec<Value> = records
        .into_iter()
        .map(|(p, v)| json!({"value": v, "partition": p}))
        .collect();
    let resp = http()
        .post(s.at(&format!("/v1/topics/{topic}/records")))
        .json(&json!({ "records": records }))
        .send()
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.text().unwrap());
}

/// Every value of partition 0 of `topic`, as text.
fn values(s: &Server, topic: &str) -> Vec<String> {
    let resp = http()
        .get(s.at(&format!(
            "/v1/topics/{topic}/partitions/0/records?offset=0&max=10000"
        )))
        .send()
        .unwrap();
    if !resp.status().is_success() {
        return Vec::new();
    }
    let body: Value = resp.json().unwrap();
    body["records"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .map(|r| r["value"].as_str().unwrap_or("<null>").to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn log_lines(s: &Server, name: &str) -> String {
    let (_, body) = call(s, "GET", &format!("/connectors/{name}/logs"), None);
    body["lines"].to_string()
}

/// `(partition, index)` of a record value `{"p":..,"i":..}`.
fn key_of(v: &Value) -> (u64, u64) {
    (v["p"].as_u64().unwrap(), v["i"].as_u64().unwrap())
}

/// Checks that `delivered` holds each `(p, i)` for i < `per` exactly once, each partition's in
/// order, but for `missing`.
fn assert_once_in_order(delivered: &[(u64, u64)], per: u64, missing: &[(u64, u64)]) {
    let mut by_partition: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for (p, i) in delivered {
        by_partition.entry(*p).or_default().push(*i);
    }
    for p in 0..2u64 {
        let want: Vec<u64> = (0..per).filter(|i| !missing.contains(&(p, *i))).collect();
        assert_eq!(
            by_partition.get(&p).cloned().unwrap_or_default(),
            want,
            "partition {p}: every record once, in order"
        );
    }
}

#[test]
fn http_sink_retries_through_503s_and_dead_letters_what_is_refused() {
    const PER: u64 = 30;
    // /single: the first 3 requests 503 with Retry-After: 1, the next 3 503 without it, then
    // 200; a record saying "refuse" is answered 400 for good. /batch: 4 × 503, then 200.
    let stub = Stub::start(|req, before| {
        let earlier = before.iter().filter(|r| r.path == req.path).count();
        match req.path.as_str() {
            "/single" if req.body.contains("refuse") => Answer {
                status: 400,
                body: "no such thing".into(),
                ..Answer::ok("")
            },
            "/single" if earlier < 3 => Answer {
                headers: vec![("retry-after", "1".into())],
                ..Answer::status(503)
            },
            "/single" if earlier < 6 => Answer::status(503),
            "/batch" if earlier < 4 => Answer::status(503),
            _ => Answer::ok("ok"),
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let s = start(&dir.path().join("data"));
    create_topic(&s, "in", 2);
    let mut records = Vec::new();
    for i in 0..PER {
        for p in 0..2u32 {
            let refuse = if (p, i) == (1, 7) {
                ",\"say\":\"refuse\""
            } else {
                ""
            };
            records.push((p, format!("{{\"p\":{p},\"i\":{i}{refuse}}}")));
        }
    }
    produce(&s, "in", records);
    let common = |path: &str, mode: &str| {
        schemaless(json!({
            "connector.class": "HttpSink",
            "topics": "in",
            "tasks.max": "2",
            "http.url": format!("{}{path}", stub.origin()),
            "http.request.mode": mode,
            "http.headers": "Content-Type:application/json|X-Test:yes",
            "retry.max": "10",
            "retry.backoff.ms": "50",
            "weir.allow.http": stub.origin(),
            "errors.tolerance": "all",
            "errors.deadletterqueue.topic.name": "dlq",
            "errors.deadletterqueue.context.headers.enable": "true",
        }))
    };
    create(&s, "single", common("/single", "single"));
    create(&s, "batch", common("/batch", "batch"));

    // What the stub took (answered 200): each single request one record, each batch many.
    let accepted = |path: &str| -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        for r in stub
            .seen()
            .iter()
            .filter(|r| r.path == path && r.status == 200)
        {
            match serde_json::from_str::<Value>(&r.body).unwrap() {
                Value::Array(items) => out.extend(items.iter().map(key_of)),
                v => out.push(key_of(&v)),
            }
        }
        out
    };
    let done = wait_until(Duration::from_secs(90), || {
        accepted("/single").len() == (2 * PER - 1) as usize
            && accepted("/batch").len() == (2 * PER) as usize
    });
    assert!(
        done,
        "single: {:?}\nbatch: {:?}\nlog: {}",
        accepted("/single"),
        accepted("/batch"),
        log_lines(&s, "single")
    );
    // Every record but the refused one once, in order per partition, through the 503s.
    assert_once_in_order(&accepted("/single"), PER, &[(1, 7)]);
    assert_once_in_order(&accepted("/batch"), PER, &[]);
    let seen = stub.seen();
    let single: Vec<&Seen> = seen.iter().filter(|r| r.path == "/single").collect();
    assert!(single.iter().all(|r| r.method == Method::POST));
    assert_eq!(single.iter().filter(|r| r.status == 503).count(), 6);
    // The first three 503s said Retry-After: 1; their record came again no sooner.
    for first in &single[..3] {
        let again = single
            .iter()
            .find(|r| r.at > first.at && r.body == first.body)
            .expect("a 503'd record is sent again");
        let gap = again.at - first.at;
        assert!(
            gap >= Duration::from_millis(900),
            "Retry-After not honoured: {gap:?}"
        );
    }

    // The refused record is in the dead-letter queue with Connect's context headers.
    let dlq = values(&s, "dlq");
    assert!(
        wait_until(Duration::from_secs(30), || values(&s, "dlq").len() == 1),
        "dlq: {dlq:?}"
    );
    assert!(values(&s, "dlq")[0].contains("refuse"));
    let out = kcat(
        &[
            "-C",
            "-b",
            &s.kafka,
            "-t",
            "dlq",
            "-o",
            "beginning",
            "-e",
            "-q",
            "-f",
            "%h\n",
        ],
        b"",
    );
    for want in [
        "__connect.errors.topic=in",
        "__connect.errors.partition=1",
        "__connect.errors.offset=7",
        "__connect.errors.connector.name=single",
        "__connect.errors.stage=TASK_PUT",
        "__connect.errors.class.name=HttpSink",
        "__connect.errors.exception.class.name=org.apache.kafka.connect.errors.ConnectException",
    ] {
        assert!(out.contains(want), "no {want} in the DLQ headers: {out}");
    }
    assert!(out.contains("HTTP 400"), "the DLQ message says why: {out}");
    let st = wait_status(&s, "single", "RUNNING", |st| {
        st["tasks"]
            .as_array()
            .is_some_and(|ts| ts.iter().all(|t| t["state"] == "RUNNING"))
    });
    assert_eq!(st["connector"]["state"], "RUNNING");
}

#[test]
fn http_sink_fails_its_task_on_a_refused_record_without_tolerance() {
    let stub = Stub::start(|_, _| Answer {
        status: 422,
        body: "bad record".into(),
        ..Answer::ok("")
    });
    let dir = tempfile::tempdir().unwrap();
    let s = start(&dir.path().join("data"));
    create_topic(&s, "in", 1);
    produce(&s, "in", vec![(0, "{\"a\":1}".into())]);
    create(
        &s,
        "strict",
        schemaless(json!({
            "connector.class": "HttpSink",
            "topics": "in",
            "http.url": format!("{}/x", stub.origin()),
            "weir.allow.http": stub.origin(),
        })),
    );
    let st = wait_status(&s, "strict", "FAILED", |st| {
        st["tasks"][0]["state"] == "FAILED"
    });
    let trace = st["tasks"][0]["trace"].as_str().unwrap_or_default();
    assert!(
        trace.contains("TASK_PUT") && trace.contains("HTTP 422"),
        "trace: {trace}"
    );
}

/// A paged JSON API of `N` items: `GET /items?after=K` answers `{"data": [...]}` with the
/// next 5 items after id K (ids 1..=N), slowly enough for a kill to land mid-way.
const N: u64 = 300;

fn paged(req: &Seen, _: &[Seen]) -> Answer {
    let after: u64 = req
        .query
        .split('&')
        .find_map(|kv| kv.strip_prefix("after="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let items: Vec<Value> = (after + 1..=(after + 5).min(N))
        .map(|id| json!({"id": id, "name": format!("item-{id}")}))
        .collect();
    Answer {
        delay: Duration::from_millis(20),
        ..Answer::ok(json!({ "data": items }).to_string())
    }
}

fn ids(s: &Server, topic: &str) -> Vec<u64> {
    values(s, topic)
        .iter()
        .map(|v| {
            serde_json::from_str::<Value>(v).unwrap()["id"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

#[test]
fn http_source_reads_pages_and_resumes_after_a_sigkill_without_rereading() {
    let stub = Stub::start(paged);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = start(&data);
    create(
        &s,
        "pages",
        schemaless(json!({
            "connector.class": "HttpSource",
            "topic": "items",
            "http.url": format!("{}/items", stub.origin()),
            "http.response.records.pointer": "/data",
            "http.offset.pointer": "/id",
            "http.offset.param": "after",
            "poll.interval.ms": "100",
            "weir.allow.http": stub.origin(),
        })),
    );
    assert!(
        wait_until(Duration::from_secs(60), || ids(&s, "items").len() >= 60),
        "read {:?}",
        ids(&s, "items")
    );
    s.kill();
    let before_restart = stub.seen().len();
    let s = start(&data);
    let all = wait_until(Duration::from_secs(90), || {
        ids(&s, "items").len() >= N as usize
    });
    assert!(all, "after the restart: {:?}", ids(&s, "items").len());
    // Let it poll the end a few times: nothing more may come.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(ids(&s, "items"), (1..=N).collect::<Vec<_>>());
    // After the restart it asked from its committed offset, never from the start again.
    let seen = stub.seen();
    let first_after = &seen[before_restart];
    assert!(
        first_after.query.starts_with("after=") && first_after.query != "after=0",
        "first request after the restart: {:?}",
        first_after.query
    );
    assert_eq!(
        seen.iter().filter(|r| r.query.is_empty()).count(),
        1,
        "only the very first request has no offset"
    );
    let (_, offsets) = call(&s, "GET", "/connectors/pages/offsets", None);
    assert_eq!(
        offsets["offsets"][0]["offset"]["offset"],
        N.to_string(),
        "{offsets}"
    );
}

#[test]
fn a_connector_reaches_only_what_it_is_granted_and_its_neighbour_runs_on() {
    let granted = Stub::start(paged);
    let other = Stub::start(paged);
    let dir = tempfile::tempdir().unwrap();
    let s = start(&dir.path().join("data"));
    let source = |url: String| {
        schemaless(json!({
            "connector.class": "HttpSource",
            "topic": "items",
            "http.url": url,
            "http.response.records.pointer": "/data",
            "http.offset.pointer": "/id",
            "http.offset.param": "after",
            "weir.allow.http": granted.origin(),
        }))
    };
    // Another port of the granted host, and the granted port under another host name.
    create(
        &s,
        "other-port",
        source(format!("{}/items", other.origin())),
    );
    let localhost = format!("http://localhost:{}/items", granted.addr.port());
    create(&s, "other-host", source(localhost));
    create(&s, "good", source(format!("{}/items", granted.origin())));

    for (name, origin) in [
        ("other-port", other.origin()),
        (
            "other-host",
            format!("http://localhost:{}", granted.addr.port()),
        ),
    ] {
        let st = wait_status(&s, name, "FAILED", |st| st["tasks"][0]["state"] == "FAILED");
        let trace = st["tasks"][0]["trace"].as_str().unwrap_or_default();
        let want = format!("denied: {origin} not in weir.allow.http");
        assert!(trace.contains(&want), "{name}: trace {trace}");
        assert!(st["denied"].as_u64().unwrap_or(0) >= 1, "{name}: {st}");
        assert!(
            log_lines(&s, name).contains(&want),
            "{name}: log {}",
            log_lines(&s, name)
        );
    }
    assert!(other.seen().is_empty(), "the ungranted server was reached");
    // The neighbour delivers everything meanwhile.
    assert!(
        wait_until(Duration::from_secs(60), || ids(&s, "items").len()
            >= N as usize),
        "good read {}",
        ids(&s, "items").len()
    );
    let metrics = http().get(s.at("/metrics")).send().unwrap().text().unwrap();
    let denied: u64 = metrics
        .lines()
        .filter(|l| l.starts_with("weir_connector_denied_total{") && !l.contains("\"good\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert!(denied >= 2, "metrics: {metrics}");
    let good = wait_status(&s, "good", "RUNNING", |st| {
        st["tasks"][0]["state"] == "RUNNING"
    });
    assert_eq!(good["denied"], 0);
}

#[test]
fn requests_past_their_bounds_are_refused_with_the_bound_named() {
    let stub = Stub::start(|req, _| match req.path.as_str() {
        "/big" => Answer::ok(format!("[\"{}\"]", "x".repeat(4096))),
        "/slow" => Answer {
            delay: Duration::from_secs(5),
            ..Answer::ok("[]")
        },
        _ => Answer::ok("ok"),
    });
    let dir = tempfile::tempdir().unwrap();
    let s = start(&dir.path().join("data"));
    let source = |name: &str, path: &str, bound: (&str, &str)| {
        let mut c = schemaless(json!({
            "connector.class": "HttpSource",
            "topic": format!("t-{name}"),
            "http.url": format!("{}{path}", stub.origin()),
            "poll.interval.ms": "200",
            "weir.allow.http": stub.origin(),
        }));
        c[bound.0] = json!(bound.1);
        create(&s, name, c);
    };
    source("big", "/big", ("weir.http.response.max.bytes", "1024"));
    source("slow", "/slow", ("weir.http.timeout.ms", "300"));
    create_topic(&s, "in", 1);
    produce(
        &s,
        "in",
        vec![(0, format!("{{\"y\":\"{}\"}}", "y".repeat(200)))],
    );
    create(
        &s,
        "fat",
        schemaless(json!({
            "connector.class": "HttpSink",
            "topics": "in",
            "http.url": format!("{}/in", stub.origin()),
            "http.request.mode": "single",
            "retry.max": "0",
            "weir.allow.http": stub.origin(),
            "weir.http.request.max.bytes": "64",
            "errors.tolerance": "all",
        })),
    );
    for (name, want) in [
        (
            "big",
            format!(
                "the response body of {} passed weir.http.response.max.bytes = 1024",
                stub.origin()
            ),
        ),
        ("slow", "weir.http.timeout.ms = 300".to_string()),
        (
            "fat",
            format!(
                "bytes to {}, over weir.http.request.max.bytes = 64",
                stub.origin()
            ),
        ),
    ] {
        assert!(
            wait_until(Duration::from_secs(30), || log_lines(&s, name)
                .contains(&want)),
            "{name}: no {want:?} in {}",
            log_lines(&s, name)
        );
    }
    assert!(values(&s, "t-big").is_empty() && values(&s, "t-slow").is_empty());
    assert!(
        !stub.seen().iter().any(|r| r.path == "/in"),
        "the oversized body was sent"
    );
    // Nothing was lost to a bound: the tasks still run and try again.
    for name in ["big", "slow"] {
        let st = wait_status(&s, name, "RUNNING", |st| {
            st["tasks"][0]["state"] == "RUNNING"
        });
        assert_eq!(st["denied"], 0);
    }
}
