//! `/v1/pipelines`: create, list, describe, update (hot-swap), pause, resume and delete
//! pipelines; their queryable state. And `/metrics`. (Their logs, charts and dead
//! letters: [`super::pipeline_live`].)

use axum::Extension;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{PeerIp, Visible, check_create};
use super::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use super::{AppState, blocking};
use crate::auth::{Principal, ResourceType};
use crate::pipeline::{AggregateState, PipelineSpec, PipelineStatus, TableState};
use crate::streams;

/// A status as JSON, each failed task's error classified (code and HTTP status).
fn status_json(mut s: PipelineStatus) -> Result<axum::Json<Value>, ApiError> {
    super::error::classify(&mut s);
    serde_json::to_value(&s)
        .map(axum::Json)
        .map_err(|e| ApiError::internal(format!("encoding status: {e}")))
}

/// `POST /v1/pipelines`.
pub async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Extension(peer): Extension<PeerIp>,
    ApiJson(spec): ApiJson<PipelineSpec>,
) -> Result<(StatusCode, axum::Json<Value>), ApiError> {
    check_create(&state, &principal, peer, ResourceType::Pipeline, &spec.name)?;
    let pipelines = state.pipelines.clone();
    let status = blocking(move || Ok(pipelines.create(spec)?)).await?;
    Ok((StatusCode::CREATED, status_json(status)?))
}

/// `GET /v1/pipelines`: the pipelines the caller may DESCRIBE.
pub async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Extension(peer): Extension<PeerIp>,
) -> Result<axum::Json<Value>, ApiError> {
    let pipelines = state.pipelines.clone();
    let visible = Visible::new(&state, principal, peer, ResourceType::Pipeline);
    let all = blocking(move || Ok(pipelines.list()?)).await?;
    let all: Vec<Value> = all
        .into_iter()
        .filter(|s| visible.shows(&s.name))
        .map(|s| status_json(s).map(|j| j.0))
        .collect::<Result<_, _>>()?;
    Ok(axum::Json(json!({ "pipelines": all })))
}

/// `GET /v1/pipelines/{name}`.
pub async fn describe(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<axum::Json<Value>, ApiError> {
    let pipelines = state.pipelines.clone();
    let status = blocking(move || Ok(pipelines.status(&name)?)).await?;
    status_json(status)
}

/// `PUT /v1/pipelines/{name}`: deploys the new spec while the pipeline runs.
pub async fn update(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiJson(spec): ApiJson<PipelineSpec>,
) -> Result<axum::Json<Value>, ApiError> {
    let pipelines = state.pipelines.clone();
    let status = blocking(move || Ok(pipelines.update(&name, spec)?)).await?;
    status_json(status)
}

/// `POST /v1/pipelines/{name}/pause`.
pub async fn pause(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<axum::Json<Value>, ApiError> {
    let pipelines = state.pipelines.clone();
    let status = blocking(move || Ok(pipelines.set_paused(&name, true)?)).await?;
    status_json(status)
}

/// `POST /v1/pipelines/{name}/resume`: also restarts tasks stopped by an error.
pub async fn resume(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<axum::Json<Value>, ApiError> {
    let pipelines = state.pipelines.clone();
    let status = blocking(move || Ok(pipelines.set_paused(&name, false)?)).await?;
    status_json(status)
}

/// `DELETE /v1/pipelines/{name}`.
pub async fn delete(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let pipelines = state.pipelines.clone();
    blocking(move || Ok(pipelines.delete(&name)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Query of `GET /v1/pipelines/{name}/state/{step}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateQuery {
    key: Option<String>,
    prefix: Option<String>,
    limit: Option<usize>,
    from: Option<i64>,
    to: Option<i64>,
}

/// A count as a JSON number; a sum as its exact decimal text (a JSON number would go
/// through a float).
/// A count as a number, a sum as decimal text, a module's aggregate as UTF-8 text
/// (null when it is not text; `value_base64` of the window or key has its bytes).
fn aggregate_json(value: &streams::Value) -> Value {
    match value {
        streams::Value::Count(n) => json!(n),
        streams::Value::Sum(d) => json!(d.to_string()),
        streams::Value::Bytes(b) => json!(std::str::from_utf8(b).ok()),
    }
}

/// `{..., "value"}` with `value_base64` beside it for a module's aggregate.
fn with_value(mut object: Value, value: &streams::Value) -> Value {
    object["value"] = aggregate_json(value);
    if let streams::Value::Bytes(b) = value {
        object["value_base64"] = json!(B64.encode(b));
    }
    object
}

fn entry_json(key: &[u8], value: &[u8]) -> Value {
    json!({
        "key": String::from_utf8_lossy(key),
        "value": std::str::from_utf8(value).ok(),
        "value_base64": B64.encode(value),
    })
}

/// `GET /v1/pipelines/{name}/state/{step}?key=K` or `?prefix=P&limit=N`: committed state
/// of a step (by name, index or module name). Values come as UTF-8 (`value`, null when not
/// text) and base64 (`value_base64`). Of a `count`/`sum` step: `?key=K` gives
/// `{"key", "value"}`, or for a windowed one (`&from=T1&to=T2`, ms, both optional)
/// `[{"start", "end", "value"}]`. Of a table (a `to_table` step or a table source, by
/// name): `?key=K` gives `{"key", "value", "value_base64", "timestamp"}`.
pub async fn state(
    State(state): State<AppState>,
    ApiPath((name, step)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<StateQuery>,
) -> Result<axum::Json<Value>, ApiError> {
    let pipelines = state.pipelines.clone();
    if let Some(key) = &q.key {
        let (p, n, s, k) = (pipelines.clone(), name.clone(), step.clone(), key.clone());
        let row = blocking(move || Ok(p.table_state(&n, &s, k.as_bytes())?)).await?;
        if row.is_some() && (q.prefix.is_some() || q.from.is_some() || q.to.is_some()) {
            return Err(ApiError::bad_request(
                "a table is queried by key alone (no prefix, from or to)",
            ));
        }
        match row {
            Some(TableState::Row(row)) => {
                let mut answer = entry_json(key.as_bytes(), &row.value);
                answer["timestamp"] = json!(row.timestamp);
                return Ok(axum::Json(answer));
            }
            Some(TableState::Missing) => {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    "key_not_found",
                    format!("table {step:?} holds no row for key {key:?}"),
                ));
            }
            None => {}
        }
        let (p, n, s, k) = (pipelines.clone(), name.clone(), step.clone(), key.clone());
        let (from, to) = (q.from, q.to);
        let found =
            blocking(move || Ok(p.aggregate_state(&n, &s, k.as_bytes(), from, to)?)).await?;
        if found.is_some() && q.prefix.is_some() {
            return Err(ApiError::bad_request("give either key or prefix, not both"));
        }
        match found {
            Some(AggregateState::Running(v)) => {
                return Ok(axum::Json(with_value(json!({"key": key}), &v)));
            }
            Some(AggregateState::Windows(windows)) => {
                let list: Vec<Value> = windows
                    .iter()
                    .map(|w| with_value(json!({"start": w.start, "end": w.end}), &w.value))
                    .collect();
                return Ok(axum::Json(Value::Array(list)));
            }
            Some(AggregateState::Missing) => {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    "key_not_found",
                    match (q.from, q.to) {
                        (None, None) => format!("step {step:?} holds no state for key {key:?}"),
                        _ => format!(
                            "step {step:?} holds no window of key {key:?} between {} and {}",
                            q.from.map_or("the start".into(), |t| t.to_string()),
                            q.to.map_or("the end".into(), |t| t.to_string()),
                        ),
                    },
                ));
            }
            None => {}
        }
    }
    if q.from.is_some() || q.to.is_some() {
        return Err(ApiError::bad_request(
            "from and to are for a windowed count or sum step, with key",
        ));
    }
    match (q.key, q.prefix) {
        (Some(key), None) => {
            let k = key.clone();
            let value =
                blocking(move || Ok(pipelines.state_get(&name, &step, k.as_bytes())?)).await?;
            match value {
                Some(v) => Ok(axum::Json(entry_json(key.as_bytes(), &v))),
                None => Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    "key_not_found",
                    format!("no state under key {key:?}"),
                )),
            }
        }
        (None, prefix) => {
            let prefix = prefix.unwrap_or_default();
            let limit = q.limit.unwrap_or(100).min(10_000);
            let entries = blocking(move || {
                Ok(pipelines.state_scan(&name, &step, prefix.as_bytes(), limit)?)
            })
            .await?;
            Ok(axum::Json(json!({
                "entries": entries.iter().map(|(k, v)| entry_json(k, v)).collect::<Vec<_>>()
            })))
        }
        (Some(_), Some(_)) => Err(ApiError::bad_request("give either key or prefix, not both")),
    }
}

/// `GET /metrics`: Prometheus text.
pub async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let (pipelines, connect) = (state.pipelines.clone(), state.connect.clone());
    let text = blocking(move || Ok(pipelines.metrics() + &connect.metrics())).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text))
}
