//! CreateTopics.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse, RequestHeader};

use crate::broker::topic_config::TopicConfig;
use crate::broker::topic_name;
use crate::kafka::{KafkaContext, KafkaError};

use super::caller::Caller;
use super::{blocking, codes, describe_configs, s};

/// Creates each topic; -1 partitions means the configured default.
pub async fn handle(
    ctx: &Arc<KafkaContext>,
    h: &RequestHeader,
    req: CreateTopicsRequest,
    caller: &Caller,
) -> Result<CreateTopicsResponse, KafkaError> {
    let v = h.request_api_version;
    let caller = caller.clone();
    let results = blocking(ctx, move |ctx| {
        req.topics
            .into_iter()
            .map(|t| {
                let mut out = CreatableTopicResult::default();
                let name = t.name.0.to_string();
                let partitions = if t.num_partitions == -1 {
                    Ok(ctx.settings.default_partitions)
                } else {
                    u32::try_from(t.num_partitions).map_err(|_| ())
                };
                let overrides: BTreeMap<String, String> = t
                    .configs
                    .iter()
                    .filter_map(|c| Some((c.name.to_string(), c.value.as_ref()?.to_string())))
                    .collect();
                let result = match partitions {
                    _ if !caller.may_create_topic(ctx, &name) => Err((
                        ResponseError::TopicAuthorizationFailed,
                        "not authorized: CREATE on the cluster or the topic (ACL)".to_string(),
                    )),
                    _ if !matches!(t.replication_factor, -1 | 1) => Err((
                        ResponseError::InvalidReplicationFactor,
                        "weir is a single node: the replication factor must be 1".to_string(),
                    )),
                    Err(()) => Err((
                        ResponseError::InvalidPartitions,
                        format!("{} partitions", t.num_partitions),
                    )),
                    // validate_only checks what a creation would: the name
                    // and every config.
                    Ok(n) if req.validate_only => topic_name::validate(&name)
                        .map_err(|e| (ResponseError::InvalidTopicException, e.to_string()))
                        .and_then(|_| {
                            let defaults = &ctx.broker.config().topic_defaults;
                            let config = defaults
                                .with_overrides(&overrides)
                                .map_err(|e| (ResponseError::InvalidConfig, e.to_string()))?;
                            Ok((n, config))
                        }),
                    Ok(n) => ctx
                        .broker
                        .create_topic(&name, n, overrides.clone())
                        .map(|t| (t.partition_count(), t.config()))
                        .map_err(|e| (codes::kind(&e), ctx.broker.client_text(&e.to_string()))),
                };
                match result {
                    // v5+ answers with the topic's configs, as Kafka does.
                    Ok((n, config)) if v >= 5 => {
                        out.num_partitions = n as i32;
                        out.replication_factor = 1;
                        out.configs = Some(described(&config, &overrides));
                    }
                    Ok(_) => {}
                    Err((kind, message)) => {
                        out.error_code = kind.code();
                        out.error_message = Some(s(message));
                    }
                }
                out.name = t.name;
                out
            })
            .collect()
    })
    .await?;
    let mut resp = CreateTopicsResponse::default();
    resp.topics = results;
    Ok(resp)
}

/// Every config of a topic as CreateTopics v5+ reports it: set by the request
/// (Kafka's DYNAMIC_TOPIC_CONFIG source) or the default.
fn described(
    config: &TopicConfig,
    overrides: &BTreeMap<String, String>,
) -> Vec<CreatableTopicConfigs> {
    config
        .entries()
        .into_iter()
        .map(|(name, value)| {
            let mut c = CreatableTopicConfigs::default();
            c.config_source = if overrides.contains_key(name) {
                describe_configs::TOPIC_CONFIG
            } else {
                describe_configs::DEFAULT_CONFIG
            };
            c.name = s(name);
            c.value = Some(s(value));
            c
        })
        .collect()
}
