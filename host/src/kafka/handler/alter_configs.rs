//! AlterConfigs: replaces a topic's whole set of overrides (what the request
//! does not name goes back to the default), as Kafka's legacy API does.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{AlterConfigsRequest, AlterConfigsResponse, RequestHeader};

use crate::auth::Operation;
use crate::kafka::{KafkaContext, KafkaError};

use super::caller::Caller;
use super::describe_configs::{BROKER, TOPIC};
use super::{blocking, codes, refusal, s};

/// Applies (or with `validate_only` only checks) each resource's configs.
pub async fn handle(
    ctx: &Arc<KafkaContext>,
    _h: &RequestHeader,
    req: AlterConfigsRequest,
    caller: &Caller,
) -> Result<AlterConfigsResponse, KafkaError> {
    let caller = caller.clone();
    let validate_only = req.validate_only;
    let responses = blocking(ctx, move |ctx| {
        req.resources
            .into_iter()
            .map(|r| {
                let denied = caller.config_denied(
                    ctx,
                    r.resource_type,
                    &r.resource_name,
                    Operation::AlterConfigs,
                );
                let refused = denied.or_else(|| refuse_non_topic(r.resource_type));
                let (code, message) = refused.unwrap_or_else(|| {
                    let name = r.resource_name.as_str();
                    let wanted = r
                        .configs
                        .iter()
                        .map(|c| (c.name.to_string(), c.value.as_ref().map(|v| v.to_string())));
                    match ctx.broker.topic(name) {
                        Ok(topic) => {
                            // Every override the request leaves out is reset.
                            let mut changes: BTreeMap<String, Option<String>> =
                                topic.overrides().into_keys().map(|k| (k, None)).collect();
                            changes.extend(wanted);
                            apply(ctx, name, changes, validate_only)
                        }
                        Err(e) => (codes::code(&e), Some(e.to_string())),
                    }
                });
                let mut out = AlterConfigsResourceResponse::default();
                out.error_code = code;
                out.error_message = message.map(s);
                out.resource_type = r.resource_type;
                out.resource_name = r.resource_name;
                out
            })
            .collect()
    })
    .await?;
    let mut resp = AlterConfigsResponse::default();
    resp.responses = responses;
    Ok(resp)
}

/// The answer for a config resource that is not a topic (broker configs are static;
/// other kinds unknown), or `None` for a topic. Shared with IncrementalAlterConfigs.
pub(super) fn refuse_non_topic(resource_type: i8) -> Option<(i16, Option<String>)> {
    let (code, message) = match resource_type {
        TOPIC => return None,
        BROKER => refusal::static_broker_configs(),
        _ => refusal::unknown_config_resource(),
    };
    Some((code, Some(message.into())))
}

/// Applies `changes` to topic `name`, or with `validate_only` only checks them: the error
/// code and message to answer. Shared with IncrementalAlterConfigs.
pub(super) fn apply(
    ctx: &KafkaContext,
    name: &str,
    changes: BTreeMap<String, Option<String>>,
    validate_only: bool,
) -> (i16, Option<String>) {
    let result = if validate_only {
        ctx.broker.check_topic_config(name, changes)
    } else {
        ctx.broker.alter_topic_config(name, changes).map(|_| ())
    };
    match result {
        Ok(()) => (0, None),
        Err(e) => (codes::code(&e), Some(e.to_string())),
    }
}
