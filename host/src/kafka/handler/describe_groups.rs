//! DescribeGroups: state, protocol and members of each group.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse, RequestHeader};

use crate::auth::{Operation, Resource};
use crate::kafka::{KafkaContext, KafkaError};

use super::caller::{Caller, GROUP_OPERATIONS};
use super::{blocking, s};

/// Describes each group. One without members but with committed offsets is
/// "Empty" (the coordinator forgets idle groups, the broker keeps their
/// offsets); one with neither is "Dead", as in Kafka. Runs on the blocking
/// pool, since the offsets are in sled.
pub async fn handle(
    ctx: &Arc<KafkaContext>,
    h: &RequestHeader,
    req: DescribeGroupsRequest,
    caller: &Caller,
) -> Result<DescribeGroupsResponse, KafkaError> {
    let v = h.request_api_version;
    let caller = caller.clone();
    blocking(ctx, move |ctx| describe(ctx, v, req, &caller)).await
}

fn describe(
    ctx: &KafkaContext,
    v: i16,
    req: DescribeGroupsRequest,
    caller: &Caller,
) -> DescribeGroupsResponse {
    let mut resp = DescribeGroupsResponse::default();
    // A group named twice is described once: each answer can be large (every
    // member's metadata and assignment), so repeating a name must not multiply it.
    let mut seen = std::collections::HashSet::new();
    let req_ops = req.include_authorized_operations;
    resp.groups = req
        .groups
        .into_iter()
        .filter(|id| seen.insert(id.0.clone()))
        .map(|id| {
            let mut g = DescribedGroup::default();
            if !caller.may(ctx, Operation::Describe, &Resource::group(&id.0)) {
                g.error_code = ResponseError::GroupAuthorizationFailed.code();
                g.group_id = id;
                return g;
            }
            match ctx.groups.describe(&id.0) {
                Some(d) => {
                    g.group_state = s(d.state);
                    g.protocol_type = s(d.protocol_type);
                    g.protocol_data = s(d.protocol);
                    g.members = d
                        .members
                        .into_iter()
                        .map(|(member, instance, client, host, meta, assignment)| {
                            let mut m = DescribedGroupMember::default();
                            m.member_id = s(member);
                            if v >= 4 {
                                m.group_instance_id = instance.map(s);
                            }
                            m.client_id = s(client);
                            m.client_host = s(host);
                            m.member_metadata = meta;
                            m.member_assignment = assignment;
                            m
                        })
                        .collect();
                }
                None if ctx.broker.group_offsets(&id.0).is_ok() => {
                    g.group_state = s("Empty");
                    g.protocol_type = s("consumer");
                }
                None => g.group_state = s("Dead"),
            }
            g.authorized_operations = caller.authorized_operations(
                ctx,
                v >= 3 && req_ops,
                &GROUP_OPERATIONS,
                &Resource::group(&id.0),
            );
            g.group_id = id;
            g
        })
        .collect();
    resp
}
