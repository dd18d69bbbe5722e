//! FindCoordinator: this broker coordinates every group.

use std::sync::Arc;

use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{
    BrokerId, FindCoordinatorRequest, FindCoordinatorResponse, RequestHeader,
};

use crate::kafka::KafkaContext;

use super::metadata::{NODE_ID, advertised};
use super::s;

/// Points every key (group or transactional id) at this broker.
pub fn handle(
    ctx: &Arc<KafkaContext>,
    h: &RequestHeader,
    req: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    let (host, port) = advertised(ctx);
    let mut resp = FindCoordinatorResponse::default();
    if h.request_api_version >= 4 {
        resp.coordinators = req
            .coordinator_keys
            .into_iter()
            .map(|key| {
                let mut c = Coordinator::default();
                c.key = key;
                c.node_id = BrokerId(NODE_ID);
                c.host = s(host.clone());
                c.port = i32::from(port);
                c
            })
            .collect();
    } else {
        resp.node_id = BrokerId(NODE_ID);
        resp.host = s(host);
        resp.port = i32::from(port);
    }
    resp
}
