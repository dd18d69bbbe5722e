//! CreatePartitions: raise a topic's partition count.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse, RequestHeader};

use crate::auth::{Operation, Resource};
use crate::kafka::{KafkaContext, KafkaError};

use super::caller::Caller;
use super::{blocking, codes, s};

/// Raises each topic to its requested count.
pub async fn handle(
    ctx: &Arc<KafkaContext>,
    _h: &RequestHeader,
    req: CreatePartitionsRequest,
    caller: &Caller,
) -> Result<CreatePartitionsResponse, KafkaError> {
    let caller = caller.clone();
    let results = blocking(ctx, move |ctx| {
        req.topics
            .into_iter()
            .map(|t| {
                let mut out = CreatePartitionsTopicResult::default();
                if !caller.may(ctx, Operation::Alter, &Resource::topic(&t.name)) {
                    out.error_code = ResponseError::TopicAuthorizationFailed.code();
                    out.name = t.name;
                    return out;
                }
                let count = u32::try_from(t.count).unwrap_or(0);
                let result = if req.validate_only {
                    ctx.broker.topic(&t.name).map(|_| ())
                } else {
                    ctx.broker.add_partitions(&t.name, count).map(|_| ())
                };
                if let Err(e) = result {
                    out.error_code = codes::code(&e);
                    out.error_message = Some(s(ctx.broker.client_text(&e.to_string())));
                }
                out.name = t.name;
                out
            })
            .collect()
    })
    .await?;
    let mut resp = CreatePartitionsResponse::default();
    resp.results = results;
    Ok(resp)
}
