//! `GET /v1/cluster`: this node and, attached, its groups' members, their tasks and lag;
//! and the refusal of the broker's own endpoints on an attached node, which has no topics
//! of its own (they are the cluster's: use its tools, or a pipeline).

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error::ApiError;
use super::{AppState, blocking};

/// The broker's endpoints (topics, produce, consume, groups, connectors): an attached
/// node refuses them by name rather than serve an empty local broker.
const BROKER_PATHS: &[&str] = &[
    "/v1/topics",
    "/v1/groups",
    "/connectors",
    "/connector-plugins",
];

/// `GET /v1/cluster` → `{"mode": "embedded"}`, or attached: `node`, `group`,
/// `bootstrap`, and per pipeline its consumer group's `members` with their `tasks`
/// (`pipeline`, `topic`, `partition`, `lag`) and what this node holds (`local`).
pub async fn cluster(State(state): State<AppState>) -> Result<axum::Json<Value>, ApiError> {
    let Some(attached) = state.attached.clone() else {
        return Ok(axum::Json(json!({"mode": "embedded"})));
    };
    let view = blocking(move || {
        attached.view().map_err(|e| {
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "cluster_unavailable",
                e.to_string(),
            )
        })
    })
    .await?;
    serde_json::to_value(view)
        .map(axum::Json)
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// Refuses the broker's endpoints on an attached node with 409 `attached_mode`.
pub async fn refuse_broker_paths(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(attached) = &state.attached {
        let path = request.uri().path();
        if BROKER_PATHS
            .iter()
            .any(|p| path == *p || path.starts_with(&format!("{p}/")))
        {
            return ApiError::new(
                StatusCode::CONFLICT,
                "attached_mode",
                format!(
                    "this node is attached to the cluster at {} (group {:?}) and has no broker \
                     of its own: manage topics, records and groups with the cluster's tools",
                    attached.bootstrap(),
                    attached.group()
                ),
            )
            .into_response();
        }
    }
    next.run(request).await
}
