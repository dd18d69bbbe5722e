//! `/v1/orphans`: log directories the metadata does not list (see
//! [`crate::broker::orphans`]): list them, adopt one as a topic, or delete one.

use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::error::{ApiError, ApiPath};
use super::topics::topic_json;
use super::{AppState, blocking};

/// `GET /v1/orphans` → `{"orphans": [{"topic", "partitions", "bytes"}]}`.
pub async fn list(State(state): State<AppState>) -> axum::Json<Value> {
    axum::Json(json!({ "orphans": state.broker.orphans() }))
}

/// `POST /v1/orphans/{name}/adopt` → the topic it became.
pub async fn adopt(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<axum::Json<Value>, ApiError> {
    let broker = state.broker.clone();
    let info = blocking(move || {
        broker.adopt_orphan(&name)?;
        Ok(broker.describe_topic(&name)?)
    })
    .await?;
    Ok(axum::Json(topic_json(&info)))
}

/// `DELETE /v1/orphans/{name}` → 204 once its directory is gone.
pub async fn delete(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let broker = state.broker.clone();
    blocking(move || Ok(broker.delete_orphan(&name)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}
