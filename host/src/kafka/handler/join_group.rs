//! JoinGroup: waits in the coordinator until the rebalance completes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::{JoinGroupRequest, JoinGroupResponse, RequestHeader};

use crate::kafka::KafkaContext;
use crate::kafka::group::JoinRequest;

use super::{client_id, s};

fn ms(v: i32) -> Duration {
    Duration::from_millis(u64::try_from(v).unwrap_or(0))
}

/// Joins (or rejoins) a member.
pub async fn handle(
    ctx: &Arc<KafkaContext>,
    h: &RequestHeader,
    req: JoinGroupRequest,
    peer: SocketAddr,
) -> JoinGroupResponse {
    let v = h.request_api_version;
    let outcome = ctx
        .groups
        .join(JoinRequest {
            group: req.group_id.0.to_string(),
            member_id: req.member_id.to_string(),
            instance_id: req.group_instance_id.map(|i| i.to_string()),
            client_id: client_id(h),
            client_host: peer.ip().to_string(),
            session_timeout: ms(req.session_timeout_ms),
            // v0 has no rebalance timeout: Kafka uses the session timeout.
            rebalance_timeout: ms(if v >= 1 {
                req.rebalance_timeout_ms
            } else {
                req.session_timeout_ms
            }),
            protocol_type: req.protocol_type.to_string(),
            protocols: req
                .protocols
                .into_iter()
                .map(|p| (p.name.to_string(), p.metadata))
                .collect(),
            require_known_member: v >= 4,
            can_skip_assignment: v >= 9,
        })
        .await;
    let mut resp = JoinGroupResponse::default();
    resp.error_code = outcome.error.map_or(0, |e| e.code());
    resp.generation_id = outcome.generation;
    if v >= 7 {
        resp.protocol_type = outcome.protocol_type.map(s);
    }
    resp.protocol_name = Some(s(outcome.protocol.unwrap_or_default()));
    resp.leader = s(outcome.leader);
    resp.member_id = s(outcome.member_id);
    if v >= 9 {
        resp.skip_assignment = outcome.skip_assignment;
    }
    resp.members = outcome
        .members
        .into_iter()
        .map(|(id, instance, metadata)| {
            let mut m = JoinGroupResponseMember::default();
            m.member_id = s(id);
            if v >= 5 {
                m.group_instance_id = instance.map(s);
            }
            m.metadata = metadata;
            m
        })
        .collect();
    resp
}
