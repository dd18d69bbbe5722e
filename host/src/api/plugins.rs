//! `/v1/plugins`: the built-in plugins that ship with weir.

use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::AppState;
use super::error::{ApiError, ApiPath};
use crate::pipeline::plugins::BuiltinPlugin;

fn plugin_json(p: &BuiltinPlugin) -> Value {
    json!({
        "name": p.name,
        "version": p.version,
        "description": p.description,
        "world": p.world,
        "digest": p.digest,
        "size": p.size,
    })
}

/// `GET /v1/plugins`: every built-in plugin, by name.
pub async fn list(State(state): State<AppState>) -> axum::Json<Value> {
    let all: Vec<Value> = state
        .pipelines
        .plugins()
        .list()
        .iter()
        .map(plugin_json)
        .collect();
    axum::Json(json!({ "plugins": all }))
}

/// `GET /v1/plugins/{name}`.
pub async fn describe(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<axum::Json<Value>, ApiError> {
    state
        .pipelines
        .plugins()
        .get(&name)
        .map(|p| axum::Json(plugin_json(p)))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_plugin",
                format!("no built-in plugin {name:?}"),
            )
        })
}
