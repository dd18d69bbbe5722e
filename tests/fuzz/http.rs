//! The HTTP API's JSON bodies (and query strings) against the real `/v1` router over an
//! in-process broker and pipeline service: topic create, partitions and config, produce,
//! consume and delete queries, group commits, pipeline create and update, module uploads.
//!
//! Properties: never a 5xx (507, a full disk, excepted); every 4xx is a JSON error body
//! `{"error": {"code", "message"}}` with both filled in; each request is answered within
//! [`BOUND`]; the router still serves a well-formed request afterwards; RSS stays bounded.
//!
//! An input is `METHOD PATH\n` then the body, so a failure's hex dump replays as is.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;
use weir::api::{self, AppState};
use weir::auth::{AuthSettings, Authenticator};
use weir::broker::producer::ProducerRegistry;
use weir::pipeline::{Pipelines, PipelinesConfig};

use crate::driver::{self, Rng};
use crate::mutate::mutate;

/// How long any request may take.
const BOUND: Duration = Duration::from_secs(10);
/// The longest consume long poll the router allows (its `max_poll`).
const MAX_POLL: Duration = Duration::from_millis(50);

struct Harness {
    rt: tokio::runtime::Runtime,
    app: axum::Router,
    _closing: tokio::sync::watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

impl Harness {
    fn start() -> Harness {
        let dir = tempfile::tempdir().expect("temp dir");
        let rt = crate::fixture::runtime();
        let broker = crate::fixture::broker(dir.path(), 100, 400);
        broker
            .create_topic("fuzz", 2, Default::default())
            .expect("create topic");
        let producers = Arc::new(ProducerRegistry::new(broker.clone()));
        let pipelines = Pipelines::open(
            broker.clone(),
            producers.clone(),
            PipelinesConfig {
                dir: dir.path().join("pipelines"),
                worker_threads: 1,
                max_module_bytes: 1 << 20,
                max_instances: 2,
                plugins_dir: dir.path().join("plugins"),
                natives: Default::default(),
                external: None,
                catalog: None,
                playground: Default::default(),
                sandbox: Default::default(),
                max_history: 100,
                max_windows_per_record: 1000,
                max_state_query_windows: 100_000,
                max_open_windows: weir::streams::DEFAULT_MAX_OPEN_WINDOWS,
                state_limits: weir::pipeline::StateLimits::default(),
            },
        )
        .expect("open pipelines");
        // Requests come through `oneshot`, with no peer address: anonymous is allowed
        // as `weir serve --allow-anonymous` would.
        let settings = AuthSettings {
            allow_anonymous: true,
            ..AuthSettings::default()
        };
        let auth = Arc::new(Authenticator::open(&broker, settings).expect("authenticator"));
        let (closing_tx, closing) = tokio::sync::watch::channel(false);
        let pipelines = Arc::new(pipelines);
        let connect = weir::connect::Connectors::open(
            broker.clone(),
            producers.clone(),
            pipelines.clone(),
            weir::connect::ConnectConfig {
                dir: dir.path().join("connect"),
                worker_id: "fuzz".into(),
                caps: weir::connect::service::TaskCaps {
                    total: 64,
                    per_connector: 8,
                    sockets_per_task: 64,
                },
            },
        )
        .expect("open connect");
        let app = api::router(
            AppState {
                broker,
                producers,
                default_partitions: 1,
                max_poll: MAX_POLL,
                max_search: Duration::from_secs(2),
                closing,
                pipelines,
                auth,
                connect: Arc::new(connect),
                history: Arc::new(weir::broker::history::ThroughputHistory::new(4)),
                log_follows: Arc::new(tokio::sync::Semaphore::new(
                    api::pipeline_live::MAX_LOG_FOLLOWS,
                )),
                attached: None,
            },
            1 << 20,
        );
        Harness {
            rt,
            app,
            _closing: closing_tx,
            _dir: dir,
        }
    }

    /// Sends one input (`METHOD PATH\n` + body); returns the status and the body, or `None`
    /// if the line does not make an HTTP request at all.
    fn send(&self, input: &[u8]) -> Result<Option<(StatusCode, Vec<u8>)>, String> {
        let split = input
            .iter()
            .position(|&b| b == b'\n')
            .unwrap_or(input.len());
        let line = String::from_utf8_lossy(&input[..split]);
        let body = input.get(split + 1..).unwrap_or_default().to_vec();
        let (method, path) = line.split_once(' ').ok_or("no method")?;
        // Uploads send a component; the playground (`.../test`) JSON like the rest.
        let content_type = if path.starts_with("/v1/modules/") && !path.ends_with("/test") {
            "application/wasm"
        } else {
            "application/json"
        };
        let Ok(req) = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", content_type)
            .body(Body::from(body))
        else {
            // Not a request the HTTP layer would ever hand the router.
            return Ok(None);
        };
        let app = self.app.clone();
        self.rt.block_on(async move {
            let answered = tokio::time::timeout(BOUND, async move {
                let resp = app.oneshot(req).await.map_err(|e| e.to_string())?;
                let status = resp.status();
                let bytes = axum::body::to_bytes(resp.into_body(), 64 << 20)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok::<_, String>(Some((status, bytes.to_vec())))
            })
            .await;
            answered.map_err(|_| format!("{method} {path} not answered within {BOUND:?}"))?
        })
    }
}

/// The endpoints with bodies or queries, each with a valid seed.
fn seeds() -> Vec<(&'static str, String, Value)> {
    let spec = crate::spec::seeds()[1].clone();
    vec![
        (
            "POST",
            "/v1/topics".into(),
            json!({"name": "t1", "partitions": 2,
                   "config": {"retention.ms": 60000, "cleanup.policy": "compact"}}),
        ),
        (
            "POST",
            "/v1/topics/fuzz/partitions".into(),
            json!({"count": 3}),
        ),
        (
            "PATCH",
            "/v1/topics/fuzz/config".into(),
            json!({"config": {"retention.ms": 1000, "segment.bytes": null}}),
        ),
        (
            "POST",
            "/v1/topics/fuzz/records".into(),
            json!({"records": [{"key": "k", "value": "v", "headers": {"h": "x", "n": null},
                                "partition": 0, "timestamp": 1}]}),
        ),
        (
            "POST",
            "/v1/topics/fuzz/records".into(),
            json!({"encoding": "base64", "records": [{"value": "aGVsbG8=", "partition": 1}]}),
        ),
        (
            "POST",
            "/v1/groups/g/offsets".into(),
            json!({"offsets": [{"topic": "fuzz", "partition": 0, "offset": 1,
                                "metadata": "m"}]}),
        ),
        ("POST", "/v1/pipelines".into(), spec.clone()),
        ("PUT", "/v1/pipelines/route-1".into(), spec),
        (
            "POST",
            "/v1/modules/m/1/test".into(),
            json!({"records": [{"key": "k", "value": "v", "headers": {"h": "x"}}],
                   "config": {"a": "b"}, "batch_size": 1, "deadline_ms": 10}),
        ),
        (
            "POST",
            "/v1/modules/m/1/test".into(),
            json!({"from": {"topic": "fuzz", "partition": 0, "offset": 0, "count": 2}}),
        ),
    ]
}

/// Query-string endpoints: the query is what is mutated (the path stays, so that a cut
/// query cannot turn into a DELETE of the topic itself).
const QUERIES: [(&str, &str, &str); 7] = [
    (
        "GET",
        "/v1/topics/fuzz/partitions/0/records",
        "offset=0&max=10&timeout_ms=0&encoding=base64",
    ),
    ("DELETE", "/v1/topics/fuzz/partitions/1/records", "before=0"),
    ("GET", "/v1/pipelines/route-1/logs", "tail=5"),
    ("GET", "/v1/pipelines/route-1/state/0", "prefix=a&limit=3"),
    ("GET", "/v1/pipelines/route-1/logs", "since=0&timeout_ms=0"),
    ("GET", "/v1/pipelines/route-1/dead-letters", "limit=5"),
    ("GET", "/v1/pipelines/route-1/metrics/history", ""),
];

/// Path segments that are not plain names.
const ODD_NAMES: [&str; 5] = ["fuzz", "%00", "..", "a%2Fb", "%F0%9F%92%A9"];

fn generate(rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    match rng.below(10) {
        // A query string, mutated as text.
        0 | 1 => {
            let (method, path, query) = *rng.pick(&QUERIES);
            let mut query = mutate(rng, query.as_bytes());
            query.retain(|&b| b != b'\n');
            out.extend_from_slice(format!("{method} {path}?").as_bytes());
            out.extend_from_slice(&query);
            out.push(b'\n');
        }
        // A module upload: random bytes, or a component header and then garbage.
        2 => {
            let name = rng.pick(&ODD_NAMES[..2]);
            out.extend_from_slice(format!("POST /v1/modules/{name}\n").as_bytes());
            if rng.chance(1, 2) {
                out.extend_from_slice(b"\0asm\x0d\0\x01\0");
            }
            let n = rng.below(256);
            out.extend(rng.bytes(n));
        }
        // A JSON body, mutated as a value, as bytes, or both.
        _ => {
            let (method, path, mut value) = rng.pick(&seeds()).clone();
            // Fresh names and counts, so that well-formed creates keep succeeding until the
            // topic caps refuse them.
            if path == "/v1/topics" {
                value["name"] = json!(format!("t{}", rng.below(1000)));
            } else if path.ends_with("/partitions") {
                value["count"] = json!(2 + rng.below(8));
            }
            let path = if rng.chance(1, 10) {
                path.replacen("fuzz", ODD_NAMES[rng.below(ODD_NAMES.len())], 1)
            } else {
                path
            };
            for _ in 0..rng.below(3) {
                crate::spec::mutate_value(rng, &mut value, 0);
            }
            let mut body = serde_json::to_vec(&value).expect("json");
            if rng.chance(1, 3) {
                body = mutate(rng, &body);
            }
            out.extend_from_slice(format!("{method} {path}\n").as_bytes());
            out.extend_from_slice(&body);
        }
    }
    out
}

/// No 5xx but 507; every error a JSON body naming code and message.
fn judge(status: StatusCode, body: &[u8]) -> Result<bool, String> {
    let text = String::from_utf8_lossy(body);
    if status.is_server_error() && status != StatusCode::INSUFFICIENT_STORAGE {
        return Err(format!("{status}: {text}"));
    }
    if status.is_client_error() || status.is_server_error() {
        let v: Value = serde_json::from_slice(body)
            .map_err(|e| format!("{status} with a body that is not JSON ({e}): {text}"))?;
        let named = |k: &str| v["error"][k].as_str().is_some_and(|s| !s.is_empty());
        if !named("code") || !named("message") {
            return Err(format!(
                "{status} without an error code and message: {text}"
            ));
        }
        return Ok(false);
    }
    Ok(true)
}

#[test]
fn mutated_bodies_get_a_json_error_never_a_server_error() {
    let h = Harness::start();
    let serves = |h: &Harness| -> Result<(), String> {
        // The list, not the topic: a truncated DELETE query may legitimately delete `fuzz`.
        match h.send(b"GET /v1/topics\n")? {
            Some((StatusCode::OK, _)) => Ok(()),
            None => Err("GET /v1/topics is not a request".into()),
            Some((status, body)) => Err(format!(
                "GET /v1/topics gave {status}: {}",
                String::from_utf8_lossy(&body)
            )),
        }
    };
    let _memory = crate::MEMORY.lock().unwrap_or_else(|p| p.into_inner());
    let rss_before = driver::rss_bytes();
    let mut case = 0usize;
    let summary = driver::run("http", 3000, generate, |input| {
        case += 1;
        let answer = h.send(input)?;
        if case.is_multiple_of(250) {
            serves(&h)?;
        }
        match answer {
            Some((status, body)) => judge(status, &body),
            None => Ok(false),
        }
    });
    summary.assert_both_ways("http");
    serves(&h).expect("serves after the campaign");
    let grown = driver::rss_bytes().saturating_sub(rss_before);
    eprintln!("fuzz http: RSS grew by {} KiB", grown >> 10);
    assert!(grown < 256 << 20, "RSS grew by {grown} bytes");
}

#[test]
fn the_seeds_are_accepted() {
    let h = Harness::start();
    for (method, path, value) in seeds() {
        if path.contains("pipelines") || path.ends_with("/test") {
            continue; // names a module this broker does not have
        }
        let mut input = format!("{method} {path}\n").into_bytes();
        input.extend(serde_json::to_vec(&value).unwrap());
        let (status, body) = h.send(&input).unwrap().expect("a request");
        assert!(
            status.is_success(),
            "{method} {path}: {status} {}",
            String::from_utf8_lossy(&body)
        );
    }
}
