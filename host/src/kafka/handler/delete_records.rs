//! DeleteRecords: moves partitions' log start offsets forward.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse, RequestHeader};

use crate::auth::{Operation, Resource};
use crate::kafka::{KafkaContext, KafkaError};

use super::caller::Caller;
use super::{blocking, codes};

/// Per partition the new low watermark (log start), or the error:
/// OFFSET_OUT_OF_RANGE past the high watermark, UNKNOWN_TOPIC_OR_PARTITION.
/// Each move is durable before the answer; the timeout is not needed (one
/// replica, nothing to wait for).
pub async fn handle(
    ctx: &Arc<KafkaContext>,
    _h: &RequestHeader,
    req: DeleteRecordsRequest,
    caller: &Caller,
) -> Result<DeleteRecordsResponse, KafkaError> {
    let caller = caller.clone();
    let topics = blocking(ctx, move |ctx| {
        req.topics
            .into_iter()
            .map(|t| {
                let denied = !caller.may(ctx, Operation::Delete, &Resource::topic(&t.name));
                let mut out = DeleteRecordsTopicResult::default();
                out.partitions = t
                    .partitions
                    .iter()
                    .map(|p| {
                        let mut r = DeleteRecordsPartitionResult::default();
                        r.partition_index = p.partition_index;
                        if denied {
                            r.low_watermark = -1;
                            r.error_code = ResponseError::TopicAuthorizationFailed.code();
                            return r;
                        }
                        match ctx.broker.delete_records(
                            &t.name,
                            i64::from(p.partition_index),
                            p.offset,
                        ) {
                            Ok(start) => r.low_watermark = start,
                            Err(e) => {
                                r.low_watermark = -1;
                                r.error_code = codes::code(&e);
                            }
                        }
                        r
                    })
                    .collect();
                out.name = t.name;
                out
            })
            .collect()
    })
    .await?;
    let mut resp = DeleteRecordsResponse::default();
    resp.topics = topics;
    Ok(resp)
}
