//! Heartbeat: keeps a member's session; REBALANCE_IN_PROGRESS asks it to rejoin.

use std::sync::Arc;

use kafka_protocol::messages::{HeartbeatRequest, HeartbeatResponse, RequestHeader};

use crate::kafka::KafkaContext;

/// Records a member's heartbeat.
pub fn handle(
    ctx: &Arc<KafkaContext>,
    _h: &RequestHeader,
    req: HeartbeatRequest,
) -> HeartbeatResponse {
    let mut resp = HeartbeatResponse::default();
    resp.error_code = ctx
        .groups
        .heartbeat(
            &req.group_id.0,
            req.generation_id,
            (&req.member_id, req.group_instance_id.as_deref()),
        )
        .map_or(0, |e| e.code());
    resp
}
