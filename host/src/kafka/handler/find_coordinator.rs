//! FindCoordinator: this broker coordinates every group.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{
    BrokerId, FindCoordinatorRequest, FindCoordinatorResponse, RequestHeader,
};

use crate::auth::{Operation, Resource};
use crate::kafka::KafkaContext;

use super::caller::Caller;
use super::metadata::{NODE_ID, advertised};
use super::s;

/// Points every key (group or transactional id) at this broker.
pub fn handle(
    ctx: &Arc<KafkaContext>,
    h: &RequestHeader,
    req: FindCoordinatorRequest,
    caller: &Caller,
) -> FindCoordinatorResponse {
    let (host, port) = advertised(ctx);
    let mut resp = FindCoordinatorResponse::default();
    // Kafka: DESCRIBE on the group (key type 0) or transactional id (1).
    let refusal = |key: &str| {
        let (resource, code) = match req.key_type {
            1 => (
                Resource::transactional_id(key),
                ResponseError::TransactionalIdAuthorizationFailed,
            ),
            _ => (
                Resource::group(key),
                ResponseError::GroupAuthorizationFailed,
            ),
        };
        (!caller.may(ctx, Operation::Describe, &resource)).then_some(code.code())
    };
    if h.request_api_version >= 4 {
        resp.coordinators = req
            .coordinator_keys
            .into_iter()
            .map(|key| {
                let mut c = Coordinator::default();
                if let Some(code) = refusal(&key) {
                    c.error_code = code;
                    c.node_id = BrokerId(-1);
                    c.port = -1;
                    c.key = key;
                    return c;
                }
                c.key = key;
                c.node_id = BrokerId(NODE_ID);
                c.host = s(host.clone());
                c.port = i32::from(port);
                c
            })
            .collect();
    } else if let Some(code) = refusal(&req.key) {
        resp.error_code = code;
        resp.node_id = BrokerId(-1);
        resp.port = -1;
    } else {
        resp.node_id = BrokerId(NODE_ID);
        resp.host = s(host);
        resp.port = i32::from(port);
    }
    resp
}
