//! `/v1/groups`: committed consumer-group offsets and lag, members and their
//! assignments; resetting an inactive group's offsets; deleting a group.

use axum::Extension;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{PeerIp, Visible};
use super::error::{ApiError, ApiJson, ApiPath};
use super::{AppState, blocking};
use crate::auth::{Operation, Principal, Resource, ResourceType};
use crate::broker::OffsetCommit;
use crate::broker::offset_reset::{OffsetReset, ResetScope};

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

/// `GET /v1/groups/{group}`: per partition the committed offset, high watermark and
/// lag; the group's `state` and `members` (id, client, host, assignments) as its
/// coordinator sees them (`Empty` and none when it has no members).
pub async fn describe(
    State(state): State<AppState>,
    ApiPath(group): ApiPath<String>,
) -> Result<axum::Json<Value>, ApiError> {
    let broker = state.broker.clone();
    let g = group.clone();
    let (offsets, live) = blocking(move || {
        let live = broker.live_group(&g);
        let offsets = match broker.group_offsets(&g) {
            Ok(offsets) => offsets,
            // A group its coordinator knows but that never committed: no offsets yet, and
            // its state and members are still worth showing.
            Err(crate::broker::BrokerError::UnknownGroup { .. }) if live.is_some() => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        Ok((offsets, live))
    })
    .await?;
    let (group_state, members) = match live {
        Some(live) => (live.state, live.members),
        None => ("Empty", Vec::new()),
    };
    let members: Vec<Value> = members
        .into_iter()
        .map(|m| {
            json!({
                "member_id": m.member_id,
                "instance_id": m.instance_id,
                "client_id": m.client_id,
                "host": m.host,
                "assignments": m.assignments.into_iter().map(|(topic, partitions)| {
                    json!({"topic": topic, "partitions": partitions})
                }).collect::<Vec<_>>(),
            })
        })
        .collect();
    let offsets: Vec<Value> = offsets
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
    Ok(axum::Json(json!({
        "group": group,
        "offsets": offsets,
        "state": group_state,
        "members": members,
    })))
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

/// Body of `POST /v1/groups/{group}/offsets/reset`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetBody {
    /// `earliest`, `latest`, `timestamp` or `offset`.
    to: String,
    /// Only this topic's partitions (all of them); else every partition the group committed.
    topic: Option<String>,
    /// With `"to": "timestamp"`: ms since the epoch.
    timestamp: Option<i64>,
    /// With `"to": "offset"`: the offset (moved into the partition's range).
    offset: Option<i64>,
}

impl ResetBody {
    fn target(&self) -> Result<OffsetReset, ApiError> {
        let unused = |field: &str| {
            ApiError::bad_request(format!("\"{field}\" goes only with \"to\": \"{field}\""))
        };
        match self.to.as_str() {
            "timestamp" if self.offset.is_some() => Err(unused("offset")),
            "offset" if self.timestamp.is_some() => Err(unused("timestamp")),
            "earliest" | "latest" if self.timestamp.is_some() => Err(unused("timestamp")),
            "earliest" | "latest" if self.offset.is_some() => Err(unused("offset")),
            "earliest" => Ok(OffsetReset::Earliest),
            "latest" => Ok(OffsetReset::Latest),
            "timestamp" => match self.timestamp {
                Some(ts) if ts >= 0 => Ok(OffsetReset::Timestamp(ts)),
                Some(ts) => Err(ApiError::bad_request(format!("timestamp {ts} is negative"))),
                None => Err(ApiError::bad_request(
                    "\"to\": \"timestamp\" needs \"timestamp\" (ms since the epoch)",
                )),
            },
            "offset" => match self.offset {
                Some(o) if o >= 0 => Ok(OffsetReset::Offset(o)),
                Some(o) => Err(ApiError::bad_request(format!("offset {o} is negative"))),
                None => Err(ApiError::bad_request("\"to\": \"offset\" needs \"offset\"")),
            },
            other => Err(ApiError::bad_request(format!(
                "\"to\" is {other:?}; it must be earliest, latest, timestamp or offset"
            ))),
        }
    }
}

/// `POST /v1/groups/{group}/offsets/reset` → `{"group", "reset": [{"topic", "partition",
/// "offset"}]}`; 409 while the group has members.
pub async fn reset(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Extension(PeerIp(peer)): Extension<PeerIp>,
    ApiPath(group): ApiPath<String>,
    ApiJson(body): ApiJson<ResetBody>,
) -> Result<axum::Json<Value>, ApiError> {
    let to = body.target()?;
    let broker = state.broker.clone();
    let g = group.clone();
    let topic = body.topic.clone();
    // The middleware checked READ on the group; as with a commit, each topic needs READ.
    // The reset then moves exactly the partitions whose topics were checked here.
    let scope = match &topic {
        Some(t) => ResetScope::Topic(t.clone()),
        None => {
            let b = broker.clone();
            let g = g.clone();
            ResetScope::Partitions(
                blocking(move || Ok(b.group_offsets(&g)?))
                    .await?
                    .into_iter()
                    .map(|o| (o.topic, o.partition))
                    .collect(),
            )
        }
    };
    let topics: std::collections::BTreeSet<&str> = match &scope {
        ResetScope::Topic(t) => [t.as_str()].into(),
        ResetScope::Partitions(list) => list.iter().map(|(t, _)| t.as_str()).collect(),
    };
    for t in topics {
        state
            .auth
            .check(&principal, peer, Operation::Read, &Resource::topic(t))?;
    }
    let reset = blocking(move || Ok(broker.reset_offsets(&g, scope, to)?)).await?;
    let reset: Vec<Value> = reset
        .into_iter()
        .map(|r| json!({"topic": r.topic, "partition": r.partition, "offset": r.offset}))
        .collect();
    Ok(axum::Json(json!({ "group": group, "reset": reset })))
}
