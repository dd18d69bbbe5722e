//! Error answers for requests that cannot be served: a version outside the
//! advertised range, or a body whose fields do not decode.
//!
//! Apache Kafka closes the connection in both cases. A client then retries
//! the same request on a new connection and reports only a vague transport
//! error, so where the response of that API and version has a top-level error
//! code weir answers with it instead (UNSUPPORTED_VERSION, INVALID_REQUEST) and
//! keeps the connection. Where it has none — the error would have to name
//! topics and partitions that could not be read — the connection is closed,
//! as Kafka does.

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{
    AddOffsetsToTxnResponse, ApiKey, ApiVersionsResponse, DescribeClusterResponse, EndTxnResponse,
    FetchResponse, FindCoordinatorResponse, HeartbeatResponse, InitProducerIdResponse,
    JoinGroupResponse, LeaveGroupResponse, ListGroupsResponse, ListTransactionsResponse,
    OffsetDeleteResponse, OffsetFetchResponse, SyncGroupResponse,
};

use super::encode;

/// The response carrying `code` at top level, or `None` where the API's
/// response at `version` has no top-level error code (or cannot be encoded).
pub fn answer(api: ApiKey, version: i16, correlation_id: i32, code: i16) -> Option<Bytes> {
    macro_rules! top {
        ($t:ty) => {{
            let mut resp = <$t>::default();
            resp.error_code = code;
            encode(api, version, correlation_id, &resp).ok()
        }};
    }
    match api {
        ApiKey::ApiVersions => top!(ApiVersionsResponse),
        ApiKey::FindCoordinator if version <= 3 => top!(FindCoordinatorResponse),
        ApiKey::JoinGroup => top!(JoinGroupResponse),
        ApiKey::SyncGroup => top!(SyncGroupResponse),
        ApiKey::Heartbeat => top!(HeartbeatResponse),
        ApiKey::LeaveGroup => top!(LeaveGroupResponse),
        ApiKey::ListGroups => top!(ListGroupsResponse),
        ApiKey::InitProducerId => top!(InitProducerIdResponse),
        ApiKey::AddOffsetsToTxn => top!(AddOffsetsToTxnResponse),
        ApiKey::EndTxn => top!(EndTxnResponse),
        ApiKey::ListTransactions => top!(ListTransactionsResponse),
        ApiKey::OffsetDelete => top!(OffsetDeleteResponse),
        ApiKey::DescribeCluster => top!(DescribeClusterResponse),
        ApiKey::OffsetFetch if (2..=7).contains(&version) => top!(OffsetFetchResponse),
        ApiKey::Fetch if version >= 7 => top!(FetchResponse),
        _ => None,
    }
}

/// Altering a broker resource: weir's broker configs are static (weir.toml),
/// which Kafka answers for its own static configs with INVALID_REQUEST.
pub fn static_broker_configs() -> (i16, &'static str) {
    (
        ResponseError::InvalidRequest.code(),
        "broker configs are static: set them in weir.toml and restart",
    )
}

/// A config resource type other than topic and broker.
pub fn unknown_config_resource() -> (i16, &'static str) {
    (
        ResponseError::InvalidRequest.code(),
        "only topic and broker resources have configs",
    )
}
