//! Helpers of the pipeline tests: topics, modules, pipelines and reading topics whole.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use super::{Server, http, wait_until};

// Re-exported: the pipeline tests take their helpers from here with a glob.
#[allow(unused_imports)]
pub use super::create_topic;

/// Uploads a module file; returns (status, body).
pub fn upload(s: &Server, name: &str, path: &Path) -> (u16, Value) {
    let r = http()
        .post(s.at(&format!("/v1/modules/{name}")))
        .header("content-type", "application/wasm")
        .body(std::fs::read(path).unwrap())
        .send()
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().unwrap();
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("upload answered {status} with non-JSON {text:?}: {e}"));
    (status, body)
}

/// Deploys a pipeline spec through `POST /v1/pipelines`, asserting the 201.
pub fn create(s: &Server, spec: Value) {
    let (code, body) = call(s, "POST", "/v1/pipelines", Some(spec));
    assert_eq!(code, 201, "{body}");
}

/// Sends a JSON request; returns (status, body).
pub fn call(s: &Server, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let client = http();
    let url = s.at(path);
    let req = match method {
        "GET" => client.get(url),
        "POST" => client.post(url),
        "PUT" => client.put(url),
        "DELETE" => client.delete(url),
        other => panic!("method {other}"),
    };
    let req = match body {
        Some(b) => req.json(&b),
        None => req,
    };
    let r = req.send().unwrap();
    let status = r.status().as_u16();
    let text = r.text().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Produces records (`{"key"?, "value"}` objects); panics unless accepted.
pub fn produce(s: &Server, topic: &str, records: Vec<Value>) {
    let (status, body) = call(
        s,
        "POST",
        &format!("/v1/topics/{topic}/records"),
        Some(json!({ "records": records })),
    );
    assert_eq!(status, 200, "producing to {topic}: {body}");
}

/// Every record of every partition of `topic`, by partition, in offset order.
pub fn read_all(s: &Server, topic: &str) -> Vec<Vec<Value>> {
    let (status, info) = call(s, "GET", &format!("/v1/topics/{topic}"), None);
    assert_eq!(status, 200, "{info}");
    let mut out = Vec::new();
    for p in info["partitions"].as_array().unwrap() {
        let partition = p["partition"].as_i64().unwrap();
        let hw = p["high_watermark"].as_i64().unwrap();
        let mut records = Vec::new();
        let mut offset = p["log_start_offset"].as_i64().unwrap();
        while offset < hw {
            let (status, body) = call(
                s,
                "GET",
                &format!(
                    "/v1/topics/{topic}/partitions/{partition}/records?offset={offset}&max=10000"
                ),
                None,
            );
            assert_eq!(status, 200, "{body}");
            let batch = body["records"].as_array().unwrap().clone();
            offset = body["next_offset"].as_i64().unwrap();
            records.extend(batch);
        }
        out.push(records);
    }
    out
}

/// The values of every record of `topic`, all partitions.
pub fn values(s: &Server, topic: &str) -> Vec<String> {
    read_all(s, topic)
        .into_iter()
        .flatten()
        .map(|r| r["value"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The pipeline's status.
pub fn status(s: &Server, name: &str) -> Value {
    let (code, body) = call(s, "GET", &format!("/v1/pipelines/{name}"), None);
    assert_eq!(code, 200, "{body}");
    body
}

/// Waits (≤ 120 s) until the pipeline has no lag and has processed at least `records_in`
/// records since the server started; returns the status.
pub fn wait_caught_up(s: &Server, name: &str, records_in: u64) -> Value {
    let mut last = Value::Null;
    let ok = wait_until(Duration::from_secs(120), || {
        last = status(s, name);
        last["lag"] == 0 && last["records_in"].as_u64().unwrap_or(0) >= records_in
    });
    assert!(ok, "pipeline {name} did not catch up: {last:#}");
    last
}
