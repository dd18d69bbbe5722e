//! `/v1/topics`: create, list, describe, delete, add partitions.

use std::collections::BTreeMap;

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{PeerIp, Visible, check_create};
use super::error::{ApiError, ApiJson, ApiPath};
use super::{AppState, blocking};
use crate::auth::{Principal, ResourceType};
use crate::broker::TopicInfo;

/// Body of `POST /v1/topics`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTopic {
    name: String,
    partitions: Option<u32>,
    #[serde(default)]
    config: BTreeMap<String, Value>,
}

/// Body of `POST /v1/topics/{topic}/partitions`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddPartitions {
    /// The new total partition count (Kafka's CreatePartitions semantics).
    count: u32,
}

/// Body of `PATCH /v1/topics/{topic}/config`: a JSON merge patch of the
/// overrides — a value sets an entry, `null` resets it to the default.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlterConfig {
    config: BTreeMap<String, Value>,
}

/// The JSON of a described topic. Numeric config values are JSON numbers.
pub fn topic_json(info: &TopicInfo) -> Value {
    let config: serde_json::Map<String, Value> = info
        .config
        .iter()
        .map(|(k, v)| {
            // Whole numbers, then decimals (min.cleanable.dirty.ratio); else a string.
            let value = match (v.parse::<i64>(), v.parse::<f64>()) {
                (Ok(n), _) => json!(n),
                (_, Ok(x)) if x.is_finite() => json!(x),
                _ => json!(v),
            };
            (k.to_string(), value)
        })
        .collect();
    json!({
        "name": info.name,
        "partitions": info.partitions.iter().map(|(p, s)| json!({
            "partition": p,
            "log_start_offset": s.log_start_offset,
            "high_watermark": s.high_watermark,
            "log_end_offset": s.log_end_offset,
            "size_bytes": s.size_bytes,
            "segments": s.segments,
        })).collect::<Vec<_>>(),
        "config": config,
        "overrides": info.overrides,
    })
}

/// A config value as Kafka's string form; `null` is `None` (reset).
fn config_string(key: &str, value: Value) -> Result<Option<String>, ApiError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        other => Err(ApiError::bad_request(format!(
            "config {key:?} must be a string or a number, not {other}"
        ))),
    }
}

fn config_strings(config: BTreeMap<String, Value>) -> Result<BTreeMap<String, String>, ApiError> {
    config
        .into_iter()
        .map(|(k, v)| match config_string(&k, v)? {
            Some(s) => Ok((k, s)),
            None => Err(ApiError::bad_request(format!(
                "config {k:?} must not be null"
            ))),
        })
        .collect()
}

/// `PATCH /v1/topics/{topic}/config` → the described topic.
pub async fn alter_config(
    State(state): State<AppState>,
    ApiPath(topic): ApiPath<String>,
    ApiJson(body): ApiJson<AlterConfig>,
) -> Result<axum::Json<Value>, ApiError> {
    let changes = body
        .config
        .into_iter()
        .map(|(k, v)| Ok((k.clone(), config_string(&k, v)?)))
        .collect::<Result<BTreeMap<_, _>, ApiError>>()?;
    let broker = state.broker.clone();
    let info = blocking(move || {
        broker.alter_topic_config(&topic, changes)?;
        Ok(broker.describe_topic(&topic)?)
    })
    .await?;
    Ok(axum::Json(topic_json(&info)))
}

/// `POST /v1/topics` → 201 with the described topic.
pub async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Extension(peer): Extension<PeerIp>,
    ApiJson(body): ApiJson<CreateTopic>,
) -> Result<(StatusCode, axum::Json<Value>), ApiError> {
    check_create(&state, &principal, peer, ResourceType::Topic, &body.name)?;
    let config = config_strings(body.config)?;
    let partitions = body.partitions.unwrap_or(state.default_partitions);
    let broker = state.broker.clone();
    let info = blocking(move || {
        broker.create_topic(&body.name, partitions, config)?;
        Ok(broker.describe_topic(&body.name)?)
    })
    .await?;
    Ok((StatusCode::CREATED, axum::Json(topic_json(&info))))
}

/// `GET /v1/topics`: the topics the caller may DESCRIBE, as Kafka's Metadata lists them,
/// each with its partition count, size, records and retention.
pub async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Extension(peer): Extension<PeerIp>,
) -> Result<axum::Json<Value>, ApiError> {
    let broker = state.broker.clone();
    let visible = Visible::new(&state, principal, peer, ResourceType::Topic);
    // Off the async threads: the topic map's lock is held while a topic is created.
    let topics: Vec<Value> = blocking(move || {
        Ok(broker
            .topics()
            .iter()
            .filter(|t| visible.shows(t.name()))
            .map(|t| {
                // Summed from in-memory stats: the console lists sizes without a
                // describe per topic.
                let (mut size, mut records) = (0u64, 0i64);
                for log in t.partitions() {
                    let s = log.stats();
                    size += s.size_bytes;
                    records += s.high_watermark - s.log_start_offset;
                }
                let config = t.config().entries();
                let number = |key: &str| config.get(key).and_then(|v| v.parse::<i64>().ok());
                json!({
                    "name": t.name(),
                    "partitions": t.partition_count(),
                    "size_bytes": size,
                    "records": records,
                    "retention_ms": number("retention.ms"),
                    "retention_bytes": number("retention.bytes"),
                })
            })
            .collect())
    })
    .await?;
    Ok(axum::Json(json!({ "topics": topics })))
}

/// `GET /v1/topics/{topic}`.
pub async fn describe(
    State(state): State<AppState>,
    ApiPath(topic): ApiPath<String>,
) -> Result<axum::Json<Value>, ApiError> {
    let broker = state.broker.clone();
    let info = blocking(move || Ok(broker.describe_topic(&topic)?)).await?;
    Ok(axum::Json(topic_json(&info)))
}

/// `DELETE /v1/topics/{topic}`.
pub async fn delete(
    State(state): State<AppState>,
    ApiPath(topic): ApiPath<String>,
) -> Result<axum::Json<Value>, ApiError> {
    let broker = state.broker.clone();
    let name = topic.clone();
    blocking(move || Ok(broker.delete_topic(&name)?)).await?;
    Ok(axum::Json(json!({ "deleted": topic })))
}

/// `POST /v1/topics/{topic}/partitions` with `{"count": N}`, the new total.
pub async fn add_partitions(
    State(state): State<AppState>,
    ApiPath(topic): ApiPath<String>,
    ApiJson(body): ApiJson<AddPartitions>,
) -> Result<axum::Json<Value>, ApiError> {
    let broker = state.broker.clone();
    let info = blocking(move || {
        broker.add_partitions(&topic, body.count)?;
        Ok(broker.describe_topic(&topic)?)
    })
    .await?;
    Ok(axum::Json(topic_json(&info)))
}
