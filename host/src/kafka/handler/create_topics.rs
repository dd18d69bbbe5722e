//! CreateTopics.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse, RequestHeader};

use crate::broker::topic_name;
use crate::kafka::{KafkaContext, KafkaError};

use super::{blocking, codes, s};

/// Creates each topic; -1 partitions means the configured default.
pub async fn handle(
    ctx: &Arc<KafkaContext>,
    h: &RequestHeader,
    req: CreateTopicsRequest,
) -> Result<CreateTopicsResponse, KafkaError> {
    let v = h.request_api_version;
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
                    _ if !matches!(t.replication_factor, -1 | 1) => Err((
                        ResponseError::InvalidReplicationFactor,
                        "weir is a single node: the replication factor must be 1".to_string(),
                    )),
                    Err(()) => Err((
                        ResponseError::InvalidPartitions,
                        format!("{} partitions", t.num_partitions),
                    )),
                    Ok(n) if req.validate_only => topic_name::validate(&name)
                        .map(|_| n)
                        .map_err(|e| (ResponseError::InvalidTopicException, e.to_string())),
                    Ok(n) => ctx
                        .broker
                        .create_topic(&name, n, overrides)
                        .map(|t| t.partition_count())
                        .map_err(|e| (codes::kind(&e), e.to_string())),
                };
                match result {
                    Ok(n) if v >= 5 => {
                        out.num_partitions = n as i32;
                        out.replication_factor = 1;
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
