//! DeleteGroups: deletes groups without members, with their committed offsets.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::{DeleteGroupsRequest, DeleteGroupsResponse, RequestHeader};

use crate::auth::{Operation, Resource};
use crate::kafka::{KafkaContext, KafkaError};

use super::caller::Caller;
use super::{blocking, codes};

/// One result per group: NON_EMPTY_GROUP while it has members,
/// GROUP_ID_NOT_FOUND if it has neither members nor offsets.
pub async fn handle(
    ctx: &Arc<KafkaContext>,
    _h: &RequestHeader,
    req: DeleteGroupsRequest,
    caller: &Caller,
) -> Result<DeleteGroupsResponse, KafkaError> {
    let caller = caller.clone();
    let results = blocking(ctx, move |ctx| {
        req.groups_names
            .into_iter()
            .map(|id| {
                let mut r = DeletableGroupResult::default();
                if !caller.may(ctx, Operation::Delete, &Resource::group(&id.0)) {
                    r.error_code = ResponseError::GroupAuthorizationFailed.code();
                } else if let Err(e) = ctx.broker.delete_group(&id.0) {
                    r.error_code = codes::code(&e);
                }
                r.group_id = id;
                r
            })
            .collect()
    })
    .await?;
    let mut resp = DeleteGroupsResponse::default();
    resp.results = results;
    Ok(resp)
}
