//! `POST /v1/modules/{name}/{version}/test`: the playground. Runs a module version over
//! records given in the body, or read from a topic, and answers what came out — outputs,
//! errors and log lines — without touching any pipeline (see [`crate::pipeline::playground`]
//! for the caps).

use std::collections::BTreeMap;

use axum::Extension;
use axum::extract::State;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::auth::PeerIp;
use super::error::{ApiError, ApiJson, ApiPath};
use super::{AppState, blocking};
use crate::auth::{Operation, Principal, Resource, ResourceType};
use crate::pipeline::playground::{PlaygroundInput, PlaygroundRequest};
use crate::record::Record;
use crate::runtime::TrialFailure;

/// How keys, values and header values of the body's records are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// UTF-8 text.
    #[default]
    Utf8,
    /// Standard base64 of the raw bytes.
    Base64,
}

/// One record of the body, in the shape the produce API and `weir plugin test` take.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestRecord {
    key: Option<String>,
    value: Option<String>,
    /// An object, or `[key, value]` pairs; a repeated key is kept each time.
    #[serde(default, deserialize_with = "super::bounded::headers")]
    headers: Vec<(String, Option<String>)>,
    timestamp: Option<i64>,
}

/// Records read from a topic instead.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FromTopic {
    topic: String,
    #[serde(default)]
    partition: u32,
    /// First offset (default: the partition's start).
    offset: Option<i64>,
    /// How many records (default 10).
    count: Option<usize>,
}

/// Body of `POST /v1/modules/{name}/{version}/test`: `records` or `from`, not both.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestBody {
    #[serde(default)]
    encoding: Encoding,
    #[serde(default, deserialize_with = "super::bounded::records")]
    records: Vec<TestRecord>,
    from: Option<FromTopic>,
    #[serde(default)]
    config: BTreeMap<String, String>,
    batch_size: Option<usize>,
    deadline_ms: Option<u64>,
}

fn decode(enc: Encoding, what: &str, s: String) -> Result<Bytes, ApiError> {
    match enc {
        Encoding::Utf8 => Ok(Bytes::from(s.into_bytes())),
        Encoding::Base64 => B64
            .decode(s.as_bytes())
            .map(Bytes::from)
            .map_err(|e| ApiError::bad_request(format!("{what} is not valid base64: {e}"))),
    }
}

fn record_of(enc: Encoding, i: usize, r: TestRecord) -> Result<Record, ApiError> {
    let field = |what: &str, v: Option<String>| {
        v.map(|v| decode(enc, &format!("records[{i}].{what}"), v))
            .transpose()
    };
    let mut headers = Vec::with_capacity(r.headers.len());
    for (k, v) in r.headers {
        let v = field(&format!("headers.{k}"), v)?;
        headers.push((k, v));
    }
    Ok(Record {
        key: field("key", r.key)?,
        value: field("value", r.value)?,
        headers,
        timestamp: r.timestamp.unwrap_or(0),
    })
}

/// Bytes as text when they are UTF-8; otherwise null, with `{name}_base64` beside.
fn put_bytes(out: &mut Map<String, Value>, name: &str, b: &Option<Bytes>) {
    match b.as_deref().map(std::str::from_utf8) {
        None => {
            out.insert(name.into(), Value::Null);
        }
        Some(Ok(text)) => {
            out.insert(name.into(), json!(text));
        }
        Some(Err(_)) => {
            out.insert(name.into(), Value::Null);
            let b = b.as_deref().unwrap_or_default();
            out.insert(format!("{name}_base64"), json!(B64.encode(b)));
        }
    }
}

/// A record as JSON: `key`, `value`, `headers` (text, or base64 under
/// `headers_base64` for values that are not UTF-8), `timestamp`; when a header key
/// repeats, `headers_list` too (see [`super::headers`]): `[key, text]` pairs, a value
/// that is not UTF-8 as `[key, null, base64]`.
pub fn record_json(r: &Record) -> Map<String, Value> {
    let mut out = Map::new();
    put_bytes(&mut out, "key", &r.key);
    put_bytes(&mut out, "value", &r.value);
    let (mut text, mut raw) = (Map::new(), Map::new());
    let repeats = super::headers::repeats_a_key(&r.headers);
    let mut list = Vec::new();
    for (k, v) in &r.headers {
        // A repeated key's last value stays in the objects; the list keeps them all.
        let entry = match v.as_deref().map(std::str::from_utf8) {
            None => {
                text.insert(k.clone(), Value::Null);
                raw.remove(k);
                json!([k, null])
            }
            Some(Ok(s)) => {
                text.insert(k.clone(), json!(s));
                raw.remove(k);
                json!([k, s])
            }
            Some(Err(_)) => {
                let b64 = B64.encode(v.as_deref().unwrap_or_default());
                text.insert(k.clone(), Value::Null);
                raw.insert(k.clone(), json!(b64));
                json!([k, null, b64])
            }
        };
        if repeats {
            list.push(entry);
        }
    }
    out.insert("headers".into(), Value::Object(text));
    if !raw.is_empty() {
        out.insert("headers_base64".into(), Value::Object(raw));
    }
    if repeats {
        out.insert("headers_list".into(), Value::Array(list));
    }
    out.insert("timestamp".into(), json!(r.timestamp));
    out
}

fn failure_json(f: &TrialFailure) -> Value {
    match f {
        TrialFailure::Record { offset, message } => json!({
            "kind": "record", "offset": offset, "message": message,
        }),
        TrialFailure::Batch {
            first,
            last,
            count,
            error,
        } => json!({
            "kind": "batch", "first": first, "last": last, "records": count,
            "message": error.to_string(),
            "host_fault": error.is_host_fault(),
        }),
        TrialFailure::UnknownSource { .. } => json!({
            "kind": "unknown_source", "message": f.to_string(),
        }),
    }
}

/// `POST /v1/modules/{name}/{version}/test` → `{"module", "input": {"topic", "partition"},
/// "inputs": [{"offset", record...}], "outputs": [{"offset", "topic", record...}],
/// "errors": [...], "logs": [{"level", "message"}], "logs_dropped", "truncated",
/// "truncated_reason"}` (`deadline`, `max_outputs` or `max_output_bytes` when the run
/// stopped early at a bound). Reading records
/// from a topic needs READ on it.
pub async fn test(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Extension(PeerIp(peer)): Extension<PeerIp>,
    ApiPath((name, version)): ApiPath<(String, u32)>,
    ApiJson(body): ApiJson<TestBody>,
) -> Result<axum::Json<Value>, ApiError> {
    let input = match (body.from, body.records.is_empty()) {
        (Some(_), false) => {
            return Err(ApiError::bad_request(
                "give records or from (a topic to read them from), not both",
            ));
        }
        (Some(from), true) => {
            state.auth.check(
                &principal,
                peer,
                Operation::Read,
                &Resource {
                    kind: ResourceType::Topic,
                    name: &from.topic,
                },
            )?;
            PlaygroundInput::Topic {
                topic: from.topic,
                partition: from.partition,
                offset: from.offset,
                count: from.count.unwrap_or(10),
            }
        }
        (None, _) => {
            // Refused before the records are decoded: the body may hold far more.
            state
                .pipelines
                .playground_limits()
                .check_count(body.records.len())
                .map_err(|e| ApiError::from(crate::pipeline::PipelineError::from(e)))?;
            let records = body
                .records
                .into_iter()
                .enumerate()
                .map(|(i, r)| record_of(body.encoding, i, r))
                .collect::<Result<Vec<_>, _>>()?;
            PlaygroundInput::Records(records)
        }
    };
    let request = PlaygroundRequest {
        input,
        config: body.config,
        batch_size: body.batch_size,
        deadline_ms: body.deadline_ms,
    };
    let pipelines = state.pipelines.clone();
    let run = blocking(move || Ok(pipelines.try_module(&name, version, request)?)).await?;
    let inputs: Vec<Value> = run
        .inputs
        .iter()
        .map(|(offset, r)| {
            let mut o = record_json(r);
            o.insert("offset".into(), json!(offset));
            Value::Object(o)
        })
        .collect();
    let outputs: Vec<Value> = run
        .outcome
        .outputs
        .iter()
        .map(|out| {
            let mut o = record_json(&out.record);
            o.insert("offset".into(), json!(out.offset));
            o.insert("topic".into(), json!(out.topic));
            Value::Object(o)
        })
        .collect();
    let logs: Vec<Value> = run
        .outcome
        .logs
        .iter()
        .map(|l| json!({"level": format!("{:?}", l.level).to_lowercase(), "message": l.message}))
        .collect();
    Ok(axum::Json(json!({
        "module": {
            "name": run.module.name,
            "version": run.module.version,
            "digest": run.module.digest,
            "world": run.module.world,
        },
        "input": {"topic": run.topic, "partition": run.partition},
        "inputs": inputs,
        "outputs": outputs,
        "errors": run.outcome.failures.iter().map(failure_json).collect::<Vec<_>>(),
        "logs": logs,
        "logs_dropped": run.outcome.logs_dropped,
        "truncated": run.outcome.truncated.is_some(),
        "truncated_reason": run.outcome.truncated.map(|t| t.reason()),
    })))
}
