//! DescribeAcls: the ACLs a filter selects, grouped by resource pattern; needs
//! DESCRIBE on the cluster. Kafka's resource types only (here and in DeleteAcls):
//! weir's own (module, pipeline, connector) are managed through `/v1/acls`.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_acls_response::{AclDescription, DescribeAclsResource};
use kafka_protocol::messages::{DescribeAclsRequest, DescribeAclsResponse};

use crate::auth::{
    AclFilter, AuthError, Operation, PatternType, Permission, Resource, ResourceType,
};
use crate::kafka::{KafkaContext, KafkaError};

use super::caller::Caller;
use super::s;

/// A wire filter as an [`AclFilter`] (DeleteAcls uses the same fields).
#[allow(clippy::too_many_arguments)]
pub fn filter(
    resource_type: i8,
    resource_name: Option<&str>,
    pattern_type: i8,
    principal: Option<&str>,
    host: Option<&str>,
    operation: i8,
    permission: i8,
    version: i16,
) -> Result<AclFilter, AuthError> {
    let bad = |what: &str, code: i8| AuthError::InvalidAcl {
        reason: format!("unknown {what} code {code}"),
    };
    Ok(AclFilter {
        resource_type: Some(
            ResourceType::from_code(resource_type)
                .ok_or_else(|| bad("resource type", resource_type))?,
        ),
        resource_name: resource_name.map(str::to_string),
        // v0 had no pattern type: it matched literal ACLs only.
        pattern_type: Some(if version == 0 {
            PatternType::Literal
        } else {
            PatternType::from_code(pattern_type).ok_or_else(|| bad("pattern type", pattern_type))?
        }),
        principal: principal.map(str::to_string),
        host: host.map(str::to_string),
        operation: Some(
            Operation::from_code(operation).ok_or_else(|| bad("operation", operation))?,
        ),
        permission: Some(
            Permission::from_code(permission).ok_or_else(|| bad("permission", permission))?,
        ),
        kafka_only: true,
    })
}

/// Lists the matching ACLs.
pub fn handle(
    ctx: &Arc<KafkaContext>,
    version: i16,
    req: DescribeAclsRequest,
    caller: &Caller,
) -> Result<DescribeAclsResponse, KafkaError> {
    let mut resp = DescribeAclsResponse::default();
    if !caller.may(ctx, Operation::Describe, &Resource::cluster()) {
        resp.error_code = ResponseError::ClusterAuthorizationFailed.code();
        resp.error_message = Some(s("DescribeAcls needs DESCRIBE on the cluster"));
        return Ok(resp);
    }
    let wanted = match filter(
        req.resource_type_filter,
        req.resource_name_filter.as_deref(),
        req.pattern_type_filter,
        req.principal_filter.as_deref(),
        req.host_filter.as_deref(),
        req.operation,
        req.permission_type,
        version,
    ) {
        Ok(f) => f,
        Err(e) => {
            resp.error_code = ResponseError::InvalidRequest.code();
            resp.error_message = Some(s(e.to_string()));
            return Ok(resp);
        }
    };
    let mut by_pattern: BTreeMap<(ResourceType, String, PatternType), Vec<AclDescription>> =
        BTreeMap::new();
    for b in ctx.auth.authorizer().list(&wanted) {
        let mut d = AclDescription::default();
        d.principal = s(b.principal);
        d.host = s(b.host);
        d.operation = b.operation.code();
        d.permission_type = b.permission.code();
        by_pattern
            .entry((b.resource_type, b.resource_name, b.pattern_type))
            .or_default()
            .push(d);
    }
    resp.resources = by_pattern
        .into_iter()
        .map(|((kind, name, pattern), acls)| {
            let mut r = DescribeAclsResource::default();
            r.resource_type = kind.code();
            r.resource_name = s(name);
            r.pattern_type = pattern.code();
            r.acls = acls;
            r
        })
        .collect();
    Ok(resp)
}
