//! CreateAcls (KIP-11, KIP-290): stores ACLs; needs ALTER on the cluster.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::create_acls_response::AclCreationResult;
use kafka_protocol::messages::{CreateAclsRequest, CreateAclsResponse};

use crate::auth::{
    AclBinding, AuthError, Operation, PatternType, Permission, Resource, ResourceType,
};
use crate::kafka::{KafkaContext, KafkaError};

use super::caller::Caller;
use super::{blocking, s};

/// One creation as a binding, or why it is invalid.
fn binding(c: &AclCreation, version: i16) -> Result<AclBinding, AuthError> {
    let bad = |what: &str, code: i8| AuthError::InvalidAcl {
        reason: format!("unknown {what} code {code}"),
    };
    Ok(AclBinding {
        resource_type: ResourceType::from_code(c.resource_type)
            .ok_or_else(|| bad("resource type", c.resource_type))?,
        resource_name: c.resource_name.to_string(),
        // v0 had no pattern type: every ACL was literal.
        pattern_type: if version == 0 {
            PatternType::Literal
        } else {
            PatternType::from_code(c.resource_pattern_type)
                .ok_or_else(|| bad("pattern type", c.resource_pattern_type))?
        },
        principal: c.principal.to_string(),
        host: c.host.to_string(),
        operation: Operation::from_code(c.operation)
            .ok_or_else(|| bad("operation", c.operation))?,
        permission: Permission::from_code(c.permission_type)
            .ok_or_else(|| bad("permission", c.permission_type))?,
    })
}

/// Stores each creation; each gets its own result, and those accepted are stored
/// together in one atomic write, as Kafka's controller commits them (no reader sees
/// part of a request, and a failed write stores none of it).
pub async fn handle(
    ctx: &Arc<KafkaContext>,
    version: i16,
    req: CreateAclsRequest,
    caller: &Caller,
) -> Result<CreateAclsResponse, KafkaError> {
    let allowed = caller.may(ctx, Operation::Alter, &Resource::cluster());
    let results = blocking(
        ctx,
        move |ctx| -> Vec<Result<(), (ResponseError, String)>> {
            let denied = || {
                Err((
                    ResponseError::ClusterAuthorizationFailed,
                    "CreateAcls needs ALTER on the cluster".to_string(),
                ))
            };
            if !allowed {
                return req.creations.iter().map(|_| denied()).collect();
            }
            let failed = |e: AuthError| (error_kind(&e), e.to_string());
            let parsed: Vec<Result<AclBinding, AuthError>> =
                req.creations.iter().map(|c| binding(c, version)).collect();
            let valid: Vec<AclBinding> = parsed
                .iter()
                .filter_map(|b| b.as_ref().ok())
                .cloned()
                .collect();
            let mut stored = match ctx.auth.authorizer().create_each(&valid) {
                Ok(outcomes) => outcomes.into_iter().map(|o| o.map_err(failed)).collect(),
                Err(e) => {
                    let e = failed(e);
                    valid.iter().map(|_| Err(e.clone())).collect::<Vec<_>>()
                }
            }
            .into_iter();
            parsed
                .into_iter()
                .map(|b| match b {
                    // One outcome per valid binding: `stored` cannot run out.
                    Ok(_) => stored.next().unwrap_or_else(|| {
                        Err((ResponseError::UnknownServerError, "no outcome".to_string()))
                    }),
                    Err(e) => Err(failed(e)),
                })
                .collect()
        },
    )
    .await?;
    let mut resp = CreateAclsResponse::default();
    resp.results = results
        .into_iter()
        .map(|outcome| {
            let mut out = AclCreationResult::default();
            if let Err((kind, message)) = outcome {
                out.error_code = kind.code();
                out.error_message = Some(s(message));
            }
            out
        })
        .collect();
    Ok(resp)
}

/// The Kafka error for an ACL change that failed.
pub fn error_kind(e: &AuthError) -> ResponseError {
    match e {
        AuthError::InvalidAcl { .. } => ResponseError::InvalidRequest,
        AuthError::LimitReached { .. } => ResponseError::PolicyViolation,
        _ => ResponseError::UnknownServerError,
    }
}
