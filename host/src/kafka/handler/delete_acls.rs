//! DeleteAcls: removes the ACLs each filter selects; needs ALTER on the cluster.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::delete_acls_response::{
    DeleteAclsFilterResult, DeleteAclsMatchingAcl,
};
use kafka_protocol::messages::{DeleteAclsRequest, DeleteAclsResponse};

use crate::auth::{Operation, Resource};
use crate::kafka::{KafkaContext, KafkaError};

use super::caller::Caller;
use super::create_acls::error_kind;
use super::{blocking, describe_acls, s};

/// Removes what each filter selects; each filter gets its own result.
pub async fn handle(
    ctx: &Arc<KafkaContext>,
    version: i16,
    req: DeleteAclsRequest,
    caller: &Caller,
) -> Result<DeleteAclsResponse, KafkaError> {
    let allowed = caller.may(ctx, Operation::Alter, &Resource::cluster());
    let results = blocking(ctx, move |ctx| {
        req.filters
            .iter()
            .map(|f| {
                let mut out = DeleteAclsFilterResult::default();
                if !allowed {
                    out.error_code = ResponseError::ClusterAuthorizationFailed.code();
                    out.error_message = Some(s("DeleteAcls needs ALTER on the cluster"));
                    return out;
                }
                let removed = describe_acls::filter(
                    f.resource_type_filter,
                    f.resource_name_filter.as_deref(),
                    f.pattern_type_filter,
                    f.principal_filter.as_deref(),
                    f.host_filter.as_deref(),
                    f.operation,
                    f.permission_type,
                    version,
                )
                .and_then(|filter| ctx.auth.authorizer().remove(&filter));
                match removed {
                    Ok(gone) => {
                        out.matching_acls = gone
                            .into_iter()
                            .map(|b| {
                                let mut m = DeleteAclsMatchingAcl::default();
                                m.resource_type = b.resource_type.code();
                                m.resource_name = s(b.resource_name);
                                m.pattern_type = b.pattern_type.code();
                                m.principal = s(b.principal);
                                m.host = s(b.host);
                                m.operation = b.operation.code();
                                m.permission_type = b.permission.code();
                                m
                            })
                            .collect();
                    }
                    Err(e) => {
                        out.error_code = error_kind(&e).code();
                        out.error_message = Some(s(e.to_string()));
                    }
                }
                out
            })
            .collect()
    })
    .await?;
    let mut resp = DeleteAclsResponse::default();
    resp.filter_results = results;
    Ok(resp)
}
