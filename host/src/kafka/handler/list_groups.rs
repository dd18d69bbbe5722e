//! ListGroups: live groups plus groups that only have committed offsets.

use std::sync::Arc;

use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{GroupId, ListGroupsRequest, ListGroupsResponse, RequestHeader};

use crate::auth::{Operation, Resource};
use crate::kafka::{KafkaContext, KafkaError};

use super::caller::Caller;
use super::{blocking, codes, s};

/// Lists groups, filtered by state (v4+) when asked.
pub async fn handle(
    ctx: &Arc<KafkaContext>,
    h: &RequestHeader,
    req: ListGroupsRequest,
    caller: &Caller,
) -> Result<ListGroupsResponse, KafkaError> {
    let mut groups = ctx.groups.list();
    let mut resp = ListGroupsResponse::default();
    match blocking(ctx, |ctx| ctx.broker.groups()).await? {
        Ok(committed) => {
            for g in committed {
                if !groups.iter().any(|(id, _, _)| *id == g) {
                    groups.push((g, "consumer".to_string(), "Empty"));
                }
            }
        }
        Err(e) => resp.error_code = codes::code(&e),
    }
    let v = h.request_api_version;
    // Kafka lists every group to a caller that may DESCRIBE the cluster, and
    // otherwise the groups it may DESCRIBE.
    let all = caller.may(ctx, Operation::Describe, &Resource::cluster());
    resp.groups = groups
        .into_iter()
        .filter(|(id, _, _)| all || caller.may(ctx, Operation::Describe, &Resource::group(id)))
        .filter(|(_, _, state)| {
            req.states_filter.is_empty() || req.states_filter.iter().any(|f| f.as_str() == *state)
        })
        .map(|(id, protocol_type, state)| {
            let mut g = ListedGroup::default();
            g.group_id = GroupId(s(id));
            g.protocol_type = s(protocol_type);
            if v >= 4 {
                g.group_state = s(state);
            }
            g
        })
        .collect();
    Ok(resp)
}
