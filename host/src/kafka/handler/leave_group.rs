//! LeaveGroup: one member (v0–2) or a list of members (v3+) leave at once.

use std::sync::Arc;

use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{LeaveGroupRequest, LeaveGroupResponse, RequestHeader};

use crate::kafka::KafkaContext;

/// Removes the members; the rest of the group rebalances.
pub fn handle(
    ctx: &Arc<KafkaContext>,
    h: &RequestHeader,
    req: LeaveGroupRequest,
) -> LeaveGroupResponse {
    let mut resp = LeaveGroupResponse::default();
    if h.request_api_version < 3 {
        let ids = [(req.member_id.to_string(), None)];
        resp.error_code = ctx.groups.leave(&req.group_id.0, &ids)[0].map_or(0, |e| e.code());
        return resp;
    }
    let ids: Vec<(String, Option<String>)> = req
        .members
        .iter()
        .map(|m| {
            let instance = m.group_instance_id.as_ref().map(|i| i.to_string());
            (m.member_id.to_string(), instance)
        })
        .collect();
    let results = ctx.groups.leave(&req.group_id.0, &ids);
    resp.members = req
        .members
        .into_iter()
        .zip(results)
        .map(|(m, e)| {
            let mut r = MemberResponse::default();
            r.member_id = m.member_id;
            r.group_instance_id = m.group_instance_id;
            r.error_code = e.map_or(0, |e| e.code());
            r
        })
        .collect();
    resp
}
