//! AlterConfigs: replaces a topic's whole set of overrides (what the request
//! does not name goes back to the default), as Kafka's legacy API does.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{AlterConfigsRequest, AlterConfigsResponse, RequestHeader};

use crate::kafka::{KafkaContext, KafkaError};

use super::describe_configs::{BROKER, TOPIC};
use super::{blocking, codes, refusal, s};

/// Applies (or with `validate_only` only checks) each resource's configs.
pub async fn handle(
    ctx: &Arc<KafkaContext>,
    _h: &RequestHeader,
    req: AlterConfigsRequest,
) -> Result<AlterConfigsResponse, KafkaError> {
    let validate_only = req.validate_only;
    let responses = blocking(ctx, move |ctx| {
        req.resources
            .into_iter()
            .map(|r| {
                let mut out = AlterConfigsResourceResponse::default();
                let result = match r.resource_type {
                    TOPIC => {
                        let name = r.resource_name.to_string();
                        let wanted: BTreeMap<String, Option<String>> = r
                            .configs
                            .iter()
                            .map(|c| (c.name.to_string(), c.value.as_ref().map(|v| v.to_string())))
                            .collect();
                        ctx.broker.topic(&name).and_then(|topic| {
                            // Every override the request leaves out is reset.
                            let mut changes: BTreeMap<String, Option<String>> =
                                topic.overrides().into_keys().map(|k| (k, None)).collect();
                            changes.extend(wanted);
                            if validate_only {
                                ctx.broker.check_topic_config(&name, changes)
                            } else {
                                ctx.broker.alter_topic_config(&name, changes).map(|_| ())
                            }
                        })
                    }
                    BROKER => {
                        let (code, message) = refusal::static_broker_configs();
                        out.error_code = code;
                        out.error_message = Some(s(message));
                        Ok(())
                    }
                    _ => {
                        let (code, message) = refusal::unknown_config_resource();
                        out.error_code = code;
                        out.error_message = Some(s(message));
                        Ok(())
                    }
                };
                if let Err(e) = result {
                    out.error_code = codes::code(&e);
                    out.error_message = Some(s(e.to_string()));
                }
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
