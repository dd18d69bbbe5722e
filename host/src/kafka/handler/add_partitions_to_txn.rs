//! AddPartitionsToTxn (v0-3, the client's form): partitions join the
//! producer's open transaction before it writes to them.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, RequestHeader,
};

use crate::auth::{Operation, Resource};
use crate::kafka::{KafkaContext, KafkaError};

use super::caller::Caller;
use super::{blocking, codes};

/// Adds every partition, or none: if one does not exist, it gets
/// UNKNOWN_TOPIC_OR_PARTITION and the others OPERATION_NOT_ATTEMPTED, as in Kafka.
pub async fn handle(
    ctx: &Arc<KafkaContext>,
    h: &RequestHeader,
    req: AddPartitionsToTxnRequest,
    caller: &Caller,
) -> Result<AddPartitionsToTxnResponse, KafkaError> {
    let v = h.request_api_version;
    let id = req.v3_and_below_transactional_id.0.to_string();
    let pid = req.v3_and_below_producer_id.0;
    let epoch = req.v3_and_below_producer_epoch;
    let wanted: Vec<(String, Vec<i32>)> = req
        .v3_and_below_topics
        .into_iter()
        .map(|t| (t.name.0.to_string(), t.partitions))
        .collect();
    // Kafka: WRITE on the transactional id, then on each topic; one refusal and
    // nothing is added (the others answer OPERATION_NOT_ATTEMPTED).
    let txn_denied = !caller.may(ctx, Operation::Write, &Resource::transactional_id(&id));
    let denied: Vec<String> = wanted
        .iter()
        .filter(|(topic, _)| !caller.may(ctx, Operation::Write, &Resource::topic(topic)))
        .map(|(topic, _)| topic.clone())
        .collect();
    let refused_by_acl = txn_denied || !denied.is_empty();
    let results = blocking(ctx, move |ctx| {
        let exists = |topic: &str, p: i32| {
            u32::try_from(p).ok().filter(|&p| {
                ctx.broker
                    .topic(topic)
                    .and_then(|t| t.partition(i64::from(p)))
                    .is_ok()
            })
        };
        let mut all = Vec::new();
        let mut missing = false;
        for (topic, parts) in &wanted {
            for &p in parts {
                match exists(topic, p) {
                    Some(p) => all.push((topic.clone(), p)),
                    None => missing = true,
                }
            }
        }
        let outcome: Result<(), i16> = if missing || refused_by_acl {
            Err(ResponseError::OperationNotAttempted.code())
        } else {
            ctx.txns.add_partitions(&id, pid, epoch, &all).map_err(|e| {
                tracing::debug!(transactional_id = id, "AddPartitionsToTxn refused: {e}");
                codes::txn_code(&e, v, 2)
            })
        };
        wanted
            .into_iter()
            .map(|(topic, parts)| {
                let codes: Vec<(i32, i16)> = parts
                    .iter()
                    .map(|&p| {
                        let code = match (exists(&topic, p), outcome) {
                            _ if txn_denied => {
                                ResponseError::TransactionalIdAuthorizationFailed.code()
                            }
                            _ if denied.contains(&topic) => {
                                ResponseError::TopicAuthorizationFailed.code()
                            }
                            (None, _) => ResponseError::UnknownTopicOrPartition.code(),
                            (Some(_), Ok(())) => 0,
                            (Some(_), Err(code)) => code,
                        };
                        (p, code)
                    })
                    .collect();
                (topic, codes)
            })
            .collect::<Vec<_>>()
    })
    .await?;
    let mut resp = AddPartitionsToTxnResponse::default();
    resp.results_by_topic_v3_and_below = results
        .into_iter()
        .map(|(topic, parts)| {
            let mut t = AddPartitionsToTxnTopicResult::default();
            t.name = kafka_protocol::messages::TopicName(super::s(topic));
            t.results_by_partition = parts
                .into_iter()
                .map(|(p, code)| {
                    let mut r = AddPartitionsToTxnPartitionResult::default();
                    r.partition_index = p;
                    r.partition_error_code = code;
                    r
                })
                .collect();
            t
        })
        .collect();
    Ok(resp)
}
