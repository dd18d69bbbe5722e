//! ACLs: `/v1/acls` (`weir acl`), the HTTP face of what Kafka's CreateAcls,
//! DescribeAcls and DeleteAcls do. Reading needs DESCRIBE on the cluster, changing
//! ALTER (checked by [`super::auth`] like every route).
//!
//! - `GET /v1/acls?resource_type=&resource_name=&pattern_type=&principal=&host=&operation=&permission=`
//!   → `{"acls": [binding]}`, the bindings the filter selects (no field: all).
//! - `POST /v1/acls` with a binding (`pattern_type` defaults to LITERAL, `host` to
//!   `*`, `permission` to ALLOW) → 201 `{"acls": [binding]}`.
//! - `DELETE /v1/acls?FILTER` → `{"deleted": [binding]}`; at least one filter field,
//!   so a bare DELETE cannot wipe every ACL by accident (`resource_type=ANY` means all).

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::{
    AclBinding, AclFilter, AuthError, Operation, PatternType, Permission, ResourceType,
};

use super::error::{ApiError, ApiJson, ApiQuery};
use super::{AppState, blocking};

/// `POST /v1/acls` body: a binding with Kafka's defaults for the optional fields.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAcl {
    /// TOPIC, GROUP, CLUSTER, TRANSACTIONAL_ID, MODULE, PIPELINE or CONNECTOR.
    pub resource_type: ResourceType,
    /// The name, prefix, or `*`.
    pub resource_name: String,
    /// LITERAL (default) or PREFIXED.
    pub pattern_type: Option<PatternType>,
    /// `User:NAME` or `User:*`.
    pub principal: String,
    /// An IP address or `*` (default).
    pub host: Option<String>,
    /// READ, WRITE, ALL, …
    pub operation: Operation,
    /// ALLOW (default) or DENY.
    pub permission: Option<Permission>,
}

/// `GET /v1/acls` → the selected bindings.
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(filter): ApiQuery<AclFilter>,
) -> Result<axum::Json<Value>, ApiError> {
    let acls = state.auth.authorizer().list(&filter);
    Ok(axum::Json(json!({ "acls": acls })))
}

/// `POST /v1/acls` → 201 with the stored binding.
pub async fn create(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewAcl>,
) -> Result<(StatusCode, axum::Json<Value>), ApiError> {
    let binding = AclBinding {
        resource_type: body.resource_type,
        resource_name: body.resource_name,
        pattern_type: body.pattern_type.unwrap_or(PatternType::Literal),
        principal: body.principal,
        host: body.host.unwrap_or_else(|| "*".into()),
        operation: body.operation,
        permission: body.permission.unwrap_or(Permission::Allow),
    };
    let auth = state.auth.clone();
    let stored = binding.clone();
    blocking(move || Ok(auth.authorizer().add(&[stored])?)).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({ "acls": [binding] })),
    ))
}

/// `DELETE /v1/acls?FILTER` → the removed bindings.
pub async fn delete(
    State(state): State<AppState>,
    ApiQuery(filter): ApiQuery<AclFilter>,
) -> Result<axum::Json<Value>, ApiError> {
    if filter == AclFilter::default() {
        return Err(AuthError::InvalidAcl {
            reason: "DELETE /v1/acls needs at least one filter field \
                     (resource_type=ANY selects every ACL)"
                .into(),
        }
        .into());
    }
    let auth = state.auth.clone();
    let gone = blocking(move || Ok(auth.authorizer().remove(&filter)?)).await?;
    Ok(axum::Json(json!({ "deleted": gone })))
}
