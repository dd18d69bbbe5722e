//! DescribeProducers: the idempotent producers each partition remembers, and
//! where the open transaction of each starts.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_producers_response::{
    PartitionResponse, ProducerState, TopicResponse,
};
use kafka_protocol::messages::{
    DescribeProducersRequest, DescribeProducersResponse, ProducerId, RequestHeader,
};

use crate::auth::{Operation, Resource};
use crate::broker::BrokerError;
use crate::broker::producer::ActiveProducer;
use crate::kafka::{KafkaContext, KafkaError};

use super::caller::Caller;
use super::{blocking, codes, s};

/// Per partition its producers' id, epoch, last sequence and last append
/// time. weir has no transactions: no coordinator epoch (-1) and no open
/// transaction (-1).
pub async fn handle(
    ctx: &Arc<KafkaContext>,
    _h: &RequestHeader,
    req: DescribeProducersRequest,
    caller: &Caller,
) -> Result<DescribeProducersResponse, KafkaError> {
    let caller = caller.clone();
    let topics = blocking(ctx, move |ctx| {
        req.topics
            .into_iter()
            .map(|t| {
                let denied = !caller.may(ctx, Operation::Read, &Resource::topic(&t.name));
                let mut out = TopicResponse::default();
                out.partitions = t
                    .partition_indexes
                    .iter()
                    .map(|&p| {
                        let mut r = PartitionResponse::default();
                        r.partition_index = p;
                        if denied {
                            r.error_code = ResponseError::TopicAuthorizationFailed.code();
                            return r;
                        }
                        match producers(ctx, &t.name, p) {
                            Ok((found, open)) => {
                                r.active_producers = found
                                    .into_iter()
                                    .map(|a| {
                                        let start = open
                                            .iter()
                                            .find(|(pid, _)| *pid == a.id)
                                            .map_or(-1, |(_, first)| *first);
                                        state(a, start)
                                    })
                                    .collect()
                            }
                            Err(e) => {
                                r.error_code = codes::code(&e);
                                let message = ctx.broker.client_text(&e.to_string());
                                r.error_message = Some(s(message));
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
    let mut resp = DescribeProducersResponse::default();
    resp.topics = topics;
    Ok(resp)
}

/// The partition's producers, and the first offset of each open transaction.
type Found = (Vec<ActiveProducer>, Vec<(i64, i64)>);

fn producers(ctx: &KafkaContext, topic: &str, p: i32) -> Result<Found, BrokerError> {
    let topic = ctx.broker.topic(topic)?;
    // Checks the index (negative ones included) before it is used as a u32.
    topic.partition(i64::from(p))?;
    let found = ctx.producers.producers(&topic, p as u32)?;
    let open = ctx.producers.open_transactions(&topic, p as u32)?;
    Ok((found, open))
}

fn state(a: ActiveProducer, current_txn_start_offset: i64) -> ProducerState {
    let mut st = ProducerState::default();
    st.producer_id = ProducerId(a.id);
    st.producer_epoch = i32::from(a.epoch);
    st.last_sequence = a.last_sequence;
    st.last_timestamp = a.last_append_ms;
    st.coordinator_epoch = -1;
    st.current_txn_start_offset = current_txn_start_offset;
    st
}
