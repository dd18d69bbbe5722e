//! DescribeCluster: the cluster id, the controller and the one broker.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{
    BrokerId, DescribeClusterRequest, DescribeClusterResponse, RequestHeader,
};

use crate::auth::Resource;
use crate::kafka::KafkaContext;

use super::caller::{CLUSTER_OPERATIONS, Caller};
use super::metadata::{CLUSTER_ID, NODE_ID, advertised};
use super::s;

/// Brokers, as opposed to KRaft controllers (endpoint type 2).
const BROKERS: i8 = 1;

/// This node is the cluster and its controller; it describes no controllers.
pub fn handle(
    ctx: &KafkaContext,
    h: &RequestHeader,
    req: DescribeClusterRequest,
    caller: &Caller,
) -> DescribeClusterResponse {
    let mut resp = DescribeClusterResponse::default();
    if h.request_api_version >= 1 {
        resp.endpoint_type = req.endpoint_type;
        if req.endpoint_type != BROKERS {
            resp.error_code = ResponseError::UnsupportedEndpointType.code();
            resp.error_message = Some(s("weir has no separate controllers; ask for brokers"));
            return resp;
        }
    }
    let (host, port) = advertised(ctx);
    let mut b = DescribeClusterBroker::default();
    b.broker_id = BrokerId(NODE_ID);
    b.host = s(host);
    b.port = i32::from(port);
    resp.brokers = vec![b];
    resp.cluster_id = s(CLUSTER_ID);
    resp.controller_id = BrokerId(NODE_ID);
    resp.cluster_authorized_operations = caller.authorized_operations(
        ctx,
        req.include_cluster_authorized_operations,
        &CLUSTER_OPERATIONS,
        &Resource::cluster(),
    );
    resp
}
