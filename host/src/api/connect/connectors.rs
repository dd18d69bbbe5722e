//! `GET /`, `GET/POST /connectors`, `GET/DELETE /connectors/{name}`,
//! `GET/PUT/PATCH /connectors/{name}/config`.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::api::AppState;
use crate::connect::TargetState;
use crate::connect::service::ConnectorInfo;

use super::blocking;
use super::error::ConnectApiError;
use super::lifecycle::status_json;

/// `GET /`: the worker's version.
pub async fn root() -> Json<Value> {
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "commit": "weir",
        // The Kafka listener answers the same id in Metadata (kafka/handler/metadata.rs).
        "kafka_cluster_id": "weir",
    }))
}

/// A connector's info as Connect shows it.
pub fn info_json(i: &ConnectorInfo) -> Value {
    json!({
        "name": i.name,
        "config": i.config,
        "tasks": i.tasks.iter().map(|t| json!({"connector": i.name, "task": t})).collect::<Vec<_>>(),
        "type": i.kind.map(|k| k.name()),
    })
}

/// `GET /connectors?expand=status&expand=info`.
pub async fn list(
    State(state): State<AppState>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ConnectApiError> {
    let expand: Vec<String> = query
        .into_iter()
        .filter(|(k, _)| k == "expand")
        .map(|(_, v)| v)
        .collect();
    let c = state.connect.clone();
    blocking(move || {
        let names = c.list();
        if expand.is_empty() {
            return Ok(Json(json!(names)));
        }
        let mut out = serde_json::Map::new();
        for name in names {
            let mut entry = serde_json::Map::new();
            if expand.iter().any(|e| e == "status") {
                entry.insert(
                    "status".into(),
                    status_json(&c.status(&name)?, c.worker_id()),
                );
            }
            if expand.iter().any(|e| e == "info") {
                entry.insert("info".into(), info_json(&c.get(&name)?));
            }
            out.insert(name, Value::Object(entry));
        }
        Ok(Json(Value::Object(out)))
    })
    .await
}

/// A JSON body, or Connect's 400.
pub fn parse_body(body: &Bytes) -> Result<Value, ConnectApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ConnectApiError::bad_request(format!("Request body is not valid JSON: {e}")))
}

/// A config object: string values (numbers and booleans written as strings, as Connect's
/// JSON reader takes them).
pub fn config_map(v: &Value) -> Result<BTreeMap<String, String>, ConnectApiError> {
    let Value::Object(o) = v else {
        return Err(ConnectApiError::bad_request(
            "Connector config must be a JSON object",
        ));
    };
    let mut out = BTreeMap::new();
    for (k, v) in o {
        let s = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            other => {
                return Err(ConnectApiError::bad_request(format!(
                    "Connector config value of {k:?} must be a string, not {other}"
                )));
            }
        };
        out.insert(k.clone(), s);
    }
    Ok(out)
}

/// `POST /connectors` with `{name, config, initial_state?}`: 201, 409 if it exists, 400 if
/// the config is invalid.
pub async fn create(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Response, ConnectApiError> {
    let body = parse_body(&body)?;
    let config = match body.get("config") {
        Some(c) => config_map(c)?,
        None => return Err(ConnectApiError::bad_request("Connector config is missing")),
    };
    let name = match body
        .get("name")
        .and_then(Value::as_str)
        .or(config.get("name").map(String::as_str))
    {
        Some(n) if !n.trim().is_empty() => n.trim().to_string(),
        _ => return Err(ConnectApiError::bad_request("Connector name is missing")),
    };
    if let Some(n) = config.get("name")
        && *n != name
    {
        return Err(ConnectApiError::bad_request(format!(
            "Connector name configuration ({n}) doesn't match connector name in the URL ({name})"
        )));
    }
    let target = match body.get("initial_state") {
        None | Some(Value::Null) => TargetState::Running,
        Some(v) => serde_json::from_value(v.clone()).map_err(|_| {
            ConnectApiError::bad_request(format!(
                "initial_state {v} must be one of RUNNING, PAUSED, STOPPED"
            ))
        })?,
    };
    if body.get("initial_offsets").is_some() {
        return Err(ConnectApiError::bad_request(
            "initial_offsets is not supported by this weir yet: create the connector STOPPED, then PATCH its offsets",
        ));
    }
    let c = state.connect.clone();
    let info = blocking(move || Ok(c.create(config, &name, target)?)).await?;
    Ok((StatusCode::CREATED, Json(info_json(&info))).into_response())
}

/// `GET /connectors/{name}`.
pub async fn info(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ConnectApiError> {
    Ok(Json(info_json(&state.connect.get(&name)?)))
}

/// `GET /connectors/{name}/config`.
pub async fn config(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ConnectApiError> {
    Ok(Json(json!(state.connect.get(&name)?.config)))
}

/// `PUT /connectors/{name}/config`: 201 when created, 200 when updated.
pub async fn put_config(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, ConnectApiError> {
    let config = config_map(&parse_body(&body)?)?;
    let c = state.connect.clone();
    let (created, info) = blocking(move || Ok(c.put_config(&name, config)?)).await?;
    let code = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((code, Json(info_json(&info))).into_response())
}

/// `PATCH /connectors/{name}/config`: a `null` value removes the key.
pub async fn patch_config(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ConnectApiError> {
    let Value::Object(o) = parse_body(&body)? else {
        return Err(ConnectApiError::bad_request(
            "Connector config patch must be a JSON object",
        ));
    };
    let mut patch = BTreeMap::new();
    for (k, v) in o {
        let v = match v {
            Value::Null => None,
            v => Some(
                config_map(&json!({ &k: v }))?
                    .remove(&k)
                    .unwrap_or_default(),
            ),
        };
        patch.insert(k, v);
    }
    let c = state.connect.clone();
    let info = blocking(move || Ok(c.patch_config(&name, patch)?)).await?;
    Ok(Json(info_json(&info)))
}

/// `DELETE /connectors/{name}`: 204.
pub async fn delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ConnectApiError> {
    let c = state.connect.clone();
    blocking(move || Ok(c.delete(&name)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}
