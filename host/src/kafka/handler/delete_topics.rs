//! DeleteTopics (by name; v6 topic ids are not known to weir).

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{
    DeleteTopicsRequest, DeleteTopicsResponse, RequestHeader, TopicName,
};

use crate::auth::{Operation, Resource};
use crate::kafka::{KafkaContext, KafkaError};

use super::caller::Caller;
use super::{blocking, codes, s};

/// Deletes each named topic.
pub async fn handle(
    ctx: &Arc<KafkaContext>,
    h: &RequestHeader,
    req: DeleteTopicsRequest,
    caller: &Caller,
) -> Result<DeleteTopicsResponse, KafkaError> {
    let caller = caller.clone();
    let v = h.request_api_version;
    let names: Vec<Option<TopicName>> = if v >= 6 {
        req.topics.into_iter().map(|t| t.name).collect()
    } else {
        req.topic_names.into_iter().map(Some).collect()
    };
    let results = blocking(ctx, move |ctx| {
        names
            .into_iter()
            .map(|name| {
                let mut out = DeletableTopicResult::default();
                match &name {
                    Some(n) if !caller.may(ctx, Operation::Delete, &Resource::topic(n)) => {
                        out.error_code = ResponseError::TopicAuthorizationFailed.code();
                    }
                    Some(n) => {
                        if let Err(e) = ctx.broker.delete_topic(n) {
                            out.error_code = codes::code(&e);
                            if v >= 5 {
                                let message = ctx.broker.client_text(&e.to_string());
                                out.error_message = Some(s(message));
                            }
                        }
                    }
                    None => out.error_code = ResponseError::UnknownTopicId.code(),
                }
                out.name = name;
                out
            })
            .collect()
    })
    .await?;
    let mut resp = DeleteTopicsResponse::default();
    resp.responses = results;
    Ok(resp)
}
