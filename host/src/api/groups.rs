//! `/v1/groups`: committed consumer-group offsets and lag; deleting a group.

use axum::Extension;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{PeerIp, Visible};
use super::error::{ApiError, ApiJson, ApiPath};
use super::{AppState, blocking};
use crate::auth::{Operation, Principal, Resource, ResourceType};
use crate::broker::OffsetCommit;

/// Body of `POST /v1/groups/{group}/offsets`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitBody {
    offsets: Vec<CommitEntry>,
}

/// One partition's commit.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitEntry {
    topic: String,
    partition: i64,
    offset: i64,
    metadata: Option<String>,
}

/// `GET /v1/groups`: the groups the caller may DESCRIBE (all with DESCRIBE on the cluster).
pub async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Extension(peer): Extension<PeerIp>,
) -> Result<axum::Json<Value>, ApiError> {
    let broker = state.broker.clone();
    let visible = Visible::new(&state, principal, peer, ResourceType::Group);
    let groups: Vec<Value> = blocking(move || Ok(broker.groups()?))
        .await?
        .into_iter()
        .filter(|g| visible.shows(g))
        .map(|g| json!({ "group": g }))
        .collect();
    Ok(axum::Json(json!({ "groups": groups })))
}

/// `GET /v1/groups/{group}`: per partition the committed offset, high watermark and lag.
pub async fn describe(
    State(state): State<AppState>,
    ApiPath(group): ApiPath<String>,
) -> Result<axum::Json<Value>, ApiError> {
    let broker = state.broker.clone();
    let g = group.clone();
    let offsets: Vec<Value> = blocking(move || Ok(broker.group_offsets(&g)?))
        .await?
        .iter()
        .map(|o| {
            json!({
                "topic": o.topic,
                "partition": o.partition,
                "committed_offset": o.committed.offset,
                "metadata": o.committed.metadata,
                "high_watermark": o.high_watermark,
                "lag": o.lag(),
            })
        })
        .collect();
    Ok(axum::Json(json!({ "group": group, "offsets": offsets })))
}

/// `DELETE /v1/groups/{group}`: removes its committed offsets durably; 409
/// while it has members (Kafka consumers), 404 if it has neither.
pub async fn delete(
    State(state): State<AppState>,
    ApiPath(group): ApiPath<String>,
) -> Result<axum::Json<Value>, ApiError> {
    let broker = state.broker.clone();
    let g = group.clone();
    blocking(move || Ok(broker.delete_group(&g)?)).await?;
    Ok(axum::Json(json!({ "deleted": group })))
}

/// `POST /v1/groups/{group}/offsets`: commits atomically and durably.
pub async fn commit(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Extension(PeerIp(peer)): Extension<PeerIp>,
    ApiPath(group): ApiPath<String>,
    ApiJson(body): ApiJson<CommitBody>,
) -> Result<axum::Json<Value>, ApiError> {
    // The middleware checked READ on the group; Kafka's OffsetCommit also needs READ
    // on each topic, named only in the body.
    for e in &body.offsets {
        let topic = Resource::topic(&e.topic);
        state
            .auth
            .check(&principal, peer, Operation::Read, &topic)?;
    }
    let commits: Vec<OffsetCommit> = body
        .offsets
        .into_iter()
        .map(|e| OffsetCommit {
            topic: e.topic,
            partition: e.partition,
            offset: e.offset,
            metadata: e.metadata,
        })
        .collect();
    let count = commits.len();
    let broker = state.broker.clone();
    let g = group.clone();
    blocking(move || Ok(broker.commit_offsets(&g, commits)?)).await?;
    Ok(axum::Json(json!({ "group": group, "committed": count })))
}
