//! SyncGroup: the leader's assignments go to every member.

use std::sync::Arc;

use kafka_protocol::messages::{RequestHeader, SyncGroupRequest, SyncGroupResponse};

use crate::kafka::KafkaContext;

use super::s;

/// Hands out (leader) or waits for (follower) this generation's assignment.
pub async fn handle(
    ctx: &Arc<KafkaContext>,
    h: &RequestHeader,
    req: SyncGroupRequest,
) -> SyncGroupResponse {
    let outcome = ctx
        .groups
        .sync(
            &req.group_id.0,
            req.generation_id,
            (&req.member_id, req.group_instance_id.as_deref()),
            req.assignments
                .into_iter()
                .map(|a| (a.member_id.to_string(), a.assignment))
                .collect(),
        )
        .await;
    let mut resp = SyncGroupResponse::default();
    resp.error_code = outcome.error.map_or(0, |e| e.code());
    resp.assignment = outcome.assignment;
    if h.request_api_version >= 5 {
        resp.protocol_type = outcome.protocol_type.map(s);
        resp.protocol_name = outcome.protocol.map(s);
    }
    resp
}
