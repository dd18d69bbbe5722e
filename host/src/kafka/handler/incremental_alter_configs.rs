//! IncrementalAlterConfigs: sets or deletes single topic config entries,
//! leaving the others as they are.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::incremental_alter_configs_request::AlterConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse, RequestHeader,
};

use crate::auth::Operation;
use crate::kafka::{KafkaContext, KafkaError};

use super::alter_configs::{apply, refuse_non_topic};
use super::caller::Caller;
use super::{blocking, s};

/// Kafka's config operations.
const SET: i8 = 0;
const DELETE: i8 = 1;
const APPEND: i8 = 2;
const SUBTRACT: i8 = 3;

/// The one list-valued topic config weir has.
const CLEANUP_POLICY: &str = "cleanup.policy";

/// Applies (or with `validate_only` only checks) each resource's changes.
pub async fn handle(
    ctx: &Arc<KafkaContext>,
    _h: &RequestHeader,
    req: IncrementalAlterConfigsRequest,
    caller: &Caller,
) -> Result<IncrementalAlterConfigsResponse, KafkaError> {
    let caller = caller.clone();
    let validate_only = req.validate_only;
    let responses = blocking(ctx, move |ctx| {
        req.resources
            .into_iter()
            .map(|r| {
                let mut out = AlterConfigsResourceResponse::default();
                let (code, message) = caller
                    .config_denied(
                        ctx,
                        r.resource_type,
                        &r.resource_name,
                        Operation::AlterConfigs,
                    )
                    .unwrap_or_else(|| alter(ctx, &r, validate_only));
                out.error_code = code;
                out.error_message = message.map(s);
                out.resource_type = r.resource_type;
                out.resource_name = r.resource_name;
                out
            })
            .collect()
    })
    .await?;
    let mut resp = IncrementalAlterConfigsResponse::default();
    resp.responses = responses;
    Ok(resp)
}

fn alter(
    ctx: &KafkaContext,
    r: &AlterConfigsResource,
    validate_only: bool,
) -> (i16, Option<String>) {
    if let Some(refused) = refuse_non_topic(r.resource_type) {
        return refused;
    }
    let mut changes = BTreeMap::new();
    for c in &r.configs {
        let value = match c.config_operation {
            SET => c.value.as_ref().map(|v| v.to_string()),
            DELETE => None,
            // APPEND and SUBTRACT apply to list configs; weir's only one is
            // cleanup.policy ("delete", "compact" or both).
            op @ (APPEND | SUBTRACT) if c.name.as_str() == CLEANUP_POLICY => {
                let current = match ctx.broker.topic(r.resource_name.as_str()) {
                    Ok(t) => t.config().cleanup_policy.as_str(),
                    Err(e) => return (super::codes::code(&e), Some(e.to_string())),
                };
                let mut items: Vec<&str> = current.split(',').collect();
                let value = c.value.as_ref().map_or("", |v| v.as_str());
                for item in value.split(',').map(str::trim).filter(|i| !i.is_empty()) {
                    items.retain(|i| *i != item);
                    if op == APPEND {
                        items.push(item);
                    }
                }
                Some(items.join(","))
            }
            op => {
                return (
                    ResponseError::InvalidConfig.code(),
                    Some(format!(
                        "{}: config operation {op} is not supported (only SET and DELETE)",
                        c.name.as_str()
                    )),
                );
            }
        };
        changes.insert(c.name.to_string(), value);
    }
    apply(ctx, r.resource_name.as_str(), changes, validate_only)
}
