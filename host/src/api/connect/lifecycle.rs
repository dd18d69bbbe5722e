//! `GET .../status`, `GET .../tasks`, `GET .../tasks/{id}/status`, `POST .../tasks/{id}/restart`,
//! `PUT .../pause|resume|stop`, `POST .../restart`, `GET .../topics`, and weir's
//! `GET .../logs`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::AppState;
use crate::connect::TargetState;
use crate::connect::TaskState;
use crate::connect::service::ConnectorStatus;

use super::blocking;
use super::error::ConnectApiError;

fn state_json(state: &TaskState, worker: &str) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("state".into(), json!(state.name()));
    m.insert("worker_id".into(), json!(worker));
    if let Some(trace) = state.trace() {
        m.insert("trace".into(), json!(trace));
    }
    m
}

/// A status as Connect shows it (weir adds `denied`, the refused capability count).
pub fn status_json(s: &ConnectorStatus, worker: &str) -> Value {
    let tasks: Vec<Value> = s
        .tasks
        .iter()
        .map(|t| {
            let mut m = state_json(&t.state, worker);
            m.insert("id".into(), json!(t.id));
            Value::Object(m)
        })
        .collect();
    let mut connector = state_json(&s.state, worker);
    // A rolled-back swap leaves the connector RUNNING its old version, with the reason.
    if let Some(trace) = &s.swap_failure {
        connector.entry("trace").or_insert_with(|| json!(trace));
    }
    let mut status = json!({
        "name": s.name,
        "connector": Value::Object(connector),
        "tasks": tasks,
        "type": s.kind.map(|k| k.name()),
        "denied": s.denied,
    });
    // A mirror connector's replication figures, under MM2's metric names.
    if let Some(figures) = &s.mirror {
        status["mirror"] = Value::Object(
            figures
                .iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect(),
        );
    }
    status
}

/// `GET /connectors/{name}/status`.
pub async fn status(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ConnectApiError> {
    let c = &state.connect;
    Ok(Json(status_json(&c.status(&name)?, c.worker_id())))
}

/// `GET /connectors/{name}/tasks`.
pub async fn tasks(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ConnectApiError> {
    let tasks = state.connect.tasks(&name)?;
    Ok(Json(json!(
        tasks
            .into_iter()
            .map(|(id, config)| json!({"id": {"connector": name, "task": id}, "config": config}))
            .collect::<Vec<_>>()
    )))
}

/// `GET /connectors/{name}/tasks/{task}/status`.
pub async fn task_status(
    State(state): State<AppState>,
    Path((name, task)): Path<(String, String)>,
) -> Result<Json<Value>, ConnectApiError> {
    let task = task_id(&task)?;
    let c = &state.connect;
    let t = c.task_status(&name, task)?;
    let mut m = state_json(&t.state, c.worker_id());
    m.insert("id".into(), json!(t.id));
    Ok(Json(Value::Object(m)))
}

fn task_id(text: &str) -> Result<u32, ConnectApiError> {
    text.parse()
        .map_err(|_| ConnectApiError::bad_request(format!("Task id {text:?} is not a number")))
}

/// `POST /connectors/{name}/tasks/{task}/restart`: 204.
pub async fn restart_task(
    State(state): State<AppState>,
    Path((name, task)): Path<(String, String)>,
) -> Result<StatusCode, ConnectApiError> {
    let task = task_id(&task)?;
    let c = state.connect.clone();
    blocking(move || Ok(c.restart_task(&name, task)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn target(
    state: AppState,
    name: String,
    target: TargetState,
) -> Result<StatusCode, ConnectApiError> {
    let c = state.connect.clone();
    blocking(move || Ok(c.set_target(&name, target)?)).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `PUT /connectors/{name}/pause`: 202.
pub async fn pause(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ConnectApiError> {
    target(state, name, TargetState::Paused).await
}

/// `PUT /connectors/{name}/resume`: 202.
pub async fn resume(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ConnectApiError> {
    target(state, name, TargetState::Running).await
}

/// `PUT /connectors/{name}/stop`: 202.
pub async fn stop(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ConnectApiError> {
    target(state, name, TargetState::Stopped).await
}

/// `?includeTasks=&onlyFailed=` (KIP-745; both default to false).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RestartQuery {
    #[serde(default)]
    include_tasks: bool,
    #[serde(default)]
    only_failed: bool,
}

/// `POST /connectors/{name}/restart`: 204 for a plain restart, else 202 with the status.
pub async fn restart(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<RestartQuery>,
) -> Result<Response, ConnectApiError> {
    let c = state.connect.clone();
    let n = name.clone();
    blocking(move || Ok(c.restart(&n, q.include_tasks, q.only_failed)?)).await?;
    if !q.include_tasks && !q.only_failed {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let c = &state.connect;
    Ok((
        StatusCode::ACCEPTED,
        Json(status_json(&c.status(&name)?, c.worker_id())),
    )
        .into_response())
}

/// `GET /connectors/{name}/topics`: `{name: {topics: [...]}}`.
pub async fn topics(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ConnectApiError> {
    let c = state.connect.clone();
    let n = name.clone();
    let topics = blocking(move || Ok(c.topics(&n)?)).await?;
    Ok(Json(json!({ name: { "topics": topics } })))
}

/// `GET /connectors/{name}/logs`: the connector's recent log lines (weir's own).
pub async fn logs(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ConnectApiError> {
    Ok(Json(json!({ "lines": state.connect.logs(&name, 1000)? })))
}
