//! DescribeConfigs: topic configs and the broker's (see [`super::broker_configs`]).

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult,
};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse, RequestHeader};

use crate::auth::Operation;
use crate::broker::topic_config;
use crate::kafka::{KafkaContext, KafkaError};

use super::caller::Caller;
use super::metadata::NODE_ID;
use super::{blocking, broker_configs, codes, config_type, s};

/// Kafka's config resource type of a topic.
pub const TOPIC: i8 = 2;
/// Kafka's config resource type of a broker.
pub const BROKER: i8 = 4;
/// Kafka's config source of a topic's own setting.
pub const TOPIC_CONFIG: i8 = 1;
/// Kafka's config source of a broker's static setting.
const STATIC_BROKER_CONFIG: i8 = 4;
/// Kafka's config source of a default.
pub const DEFAULT_CONFIG: i8 = 5;
/// The documentation of a topic config weir stores but does not apply.
pub const NOT_APPLIED: &str = "Accepted and stored for compatibility; not applied by weir.";

/// Describes each resource's configs, filtered by the keys asked for. Runs on
/// the blocking pool: looking a topic up takes the broker's topic-map lock,
/// which topic creation and deletion hold across file I/O.
pub async fn handle(
    ctx: &Arc<KafkaContext>,
    h: &RequestHeader,
    req: DescribeConfigsRequest,
    caller: &Caller,
) -> Result<DescribeConfigsResponse, KafkaError> {
    let v = h.request_api_version;
    let caller = caller.clone();
    blocking(ctx, move |ctx| describe(ctx, v, req, &caller)).await
}

fn describe(
    ctx: &KafkaContext,
    v: i16,
    req: DescribeConfigsRequest,
    caller: &Caller,
) -> DescribeConfigsResponse {
    let mut resp = DescribeConfigsResponse::default();
    resp.results = req
        .resources
        .into_iter()
        .map(|r| {
            let mut out = DescribeConfigsResult::default();
            out.resource_type = r.resource_type;
            out.resource_name = r.resource_name.clone();
            let op = Operation::DescribeConfigs;
            if let Some((code, message)) =
                caller.config_denied(ctx, r.resource_type, &r.resource_name, op)
            {
                out.error_code = code;
                out.error_message = message.map(s);
                return out;
            }
            let wanted = |k: &str| {
                r.configuration_keys
                    .as_ref()
                    .is_none_or(|keys| keys.iter().any(|w| w.as_str() == k))
            };
            match r.resource_type {
                TOPIC => match ctx.broker.topic(&r.resource_name) {
                    Ok(topic) => {
                        let overrides = topic.overrides();
                        out.configs = topic
                            .config()
                            .entries()
                            .into_iter()
                            .filter(|(k, _)| wanted(k))
                            .map(|(k, value)| {
                                let mut c = DescribeConfigsResourceResult::default();
                                c.config_source = if overrides.contains_key(k) {
                                    TOPIC_CONFIG
                                } else {
                                    DEFAULT_CONFIG
                                };
                                // v3+ carries documentation: say which configs
                                // are only kept, so no one tunes them in vain.
                                if v >= 3 && !topic_config::is_applied(k) {
                                    c.documentation = Some(s(NOT_APPLIED));
                                }
                                if v >= 3 {
                                    c.config_type = config_type::of_topic_config(k);
                                }
                                c.name = s(k);
                                c.value = Some(s(value));
                                c
                            })
                            .collect();
                    }
                    Err(e) => {
                        out.error_code = codes::code(&e);
                        out.error_message = Some(s(e.to_string()));
                    }
                },
                // "" asks for the cluster-wide dynamic defaults: weir has none.
                BROKER if r.resource_name.is_empty() => {}
                BROKER if r.resource_name.as_str() == NODE_ID.to_string() => {
                    out.configs = broker_configs::entries(ctx)
                        .into_iter()
                        .filter(|(k, _)| wanted(k))
                        .map(|(k, v)| {
                            let mut c = DescribeConfigsResourceResult::default();
                            c.config_source = STATIC_BROKER_CONFIG;
                            // Set by weir.toml and the command line at start.
                            c.read_only = true;
                            c.name = s(k);
                            c.value = Some(s(v));
                            c
                        })
                        .collect();
                }
                BROKER => {
                    out.error_code = ResponseError::InvalidRequest.code();
                    out.error_message = Some(s(format!(
                        "unexpected broker id {:?}: this is broker {NODE_ID}",
                        r.resource_name.as_str()
                    )));
                }
                _ => {
                    out.error_code = ResponseError::InvalidRequest.code();
                    out.error_message = Some(s("only topic and broker resources are described"));
                }
            }
            out
        })
        .collect();
    resp
}
