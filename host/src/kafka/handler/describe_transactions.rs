//! DescribeTransactions: each transactional id's state, producer and partitions.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_transactions_response::{TopicData, TransactionState};
use kafka_protocol::messages::{
    DescribeTransactionsRequest, DescribeTransactionsResponse, ProducerId, RequestHeader, TopicName,
};

use crate::auth::{Operation, Resource};
use crate::kafka::{KafkaContext, KafkaError};

use super::caller::Caller;
use super::s;

/// Describes every requested id; an unknown one gets TRANSACTIONAL_ID_NOT_FOUND.
pub fn handle(
    ctx: &Arc<KafkaContext>,
    _h: &RequestHeader,
    req: DescribeTransactionsRequest,
    caller: &Caller,
) -> Result<DescribeTransactionsResponse, KafkaError> {
    let mut resp = DescribeTransactionsResponse::default();
    resp.transaction_states = req
        .transactional_ids
        .into_iter()
        .map(|id| {
            let mut out = TransactionState::default();
            let resource = Resource::transactional_id(id.0.as_str());
            let found = if caller.may(ctx, Operation::Describe, &resource) {
                ctx.txns.describe(id.0.as_str())
            } else {
                out.error_code = ResponseError::TransactionalIdAuthorizationFailed.code();
                None
            };
            match found {
                None => {
                    if out.error_code == 0 {
                        out.error_code = ResponseError::TransactionalIdNotFound.code();
                    }
                    out.transaction_state = s("");
                    out.producer_id = ProducerId(-1);
                    out.producer_epoch = -1;
                    out.transaction_start_time_ms = -1;
                }
                Some(rec) => {
                    out.transaction_state = s(rec.phase.name());
                    out.transaction_timeout_ms = rec.timeout_ms;
                    out.producer_id = ProducerId(rec.producer_id);
                    out.producer_epoch = rec.epoch;
                    let txn = rec.phase.txn();
                    out.transaction_start_time_ms = txn.map_or(-1, |t| t.started_ms);
                    let mut topics: Vec<TopicData> = Vec::new();
                    for (topic, p) in txn.iter().flat_map(|t| t.partitions.iter()) {
                        match topics.last_mut() {
                            Some(t) if t.topic.0.as_str() == topic => t.partitions.push(*p as i32),
                            _ => {
                                let mut t = TopicData::default();
                                t.topic = TopicName(s(topic.clone()));
                                t.partitions.push(*p as i32);
                                topics.push(t);
                            }
                        }
                    }
                    out.topics = topics;
                }
            }
            out.transactional_id = id;
            out
        })
        .collect();
    Ok(resp)
}
