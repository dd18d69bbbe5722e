//! Produce: validate each partition's batch and append it as sent; a
//! transactional batch only into a partition of its producer's open transaction.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse, RequestHeader};

use crate::auth::{Operation, Resource};
use crate::broker::BrokerError;
use crate::broker::producer::IdempotentAppend;
use crate::broker::txn::TxnRefusal;
use crate::kafka::{KafkaContext, KafkaError};
use crate::log::batch::{BatchError, BatchHeader, DecodeLimits, check_produced};

use super::caller::Caller;
use super::metadata::topic_or_create;
use super::{blocking, codes, s};

/// A partition index and the records sent for it.
type PartitionRecords = (i32, Option<bytes::Bytes>);

/// One partition's outcome.
struct Outcome {
    error: i16,
    message: Option<String>,
    base_offset: i64,
    log_append_time: i64,
    log_start_offset: i64,
}

impl Outcome {
    fn error(kind: ResponseError, message: impl Into<String>) -> Outcome {
        Outcome {
            error: kind.code(),
            message: Some(message.into()),
            base_offset: -1,
            log_append_time: -1,
            log_start_offset: -1,
        }
    }
}

/// Appends every partition's batch; `None` for acks=0, which gets no response.
pub async fn handle(
    ctx: &Arc<KafkaContext>,
    h: &RequestHeader,
    req: ProduceRequest,
    caller: &Caller,
) -> Result<Option<ProduceResponse>, KafkaError> {
    let v = h.request_api_version;
    let acks = req.acks;
    let bad_acks = !(-1..=1).contains(&acks);
    let transactional_id = req
        .transactional_id
        .as_ref()
        .map(|id| id.0.to_string())
        .filter(|id| !id.is_empty());
    let work: Vec<(String, Vec<PartitionRecords>)> = req
        .topic_data
        .into_iter()
        .map(|t| {
            (
                t.name.0.to_string(),
                t.partition_data
                    .into_iter()
                    .map(|p| (p.index, p.records))
                    .collect(),
            )
        })
        .collect();
    let caller = caller.clone();
    let results = blocking(ctx, move |ctx| {
        // Kafka: a transactional produce needs WRITE on its transactional id.
        let txn_denied = transactional_id
            .as_deref()
            .is_some_and(|id| !caller.may(ctx, Operation::Write, &Resource::transactional_id(id)));
        work.into_iter()
            .map(|(name, parts)| {
                let denied = if txn_denied {
                    Some(ResponseError::TransactionalIdAuthorizationFailed)
                } else if !caller.may(ctx, Operation::Write, &Resource::topic(&name)) {
                    Some(ResponseError::TopicAuthorizationFailed)
                } else {
                    None
                };
                let outcomes: Vec<(i32, Outcome)> = if let Some(kind) = denied {
                    let o = || Outcome::error(kind, "not authorized (ACL)");
                    parts.iter().map(|(p, _)| (*p, o())).collect()
                } else if bad_acks {
                    let o = || {
                        Outcome::error(
                            ResponseError::InvalidRequiredAcks,
                            "acks must be 0, 1 or -1",
                        )
                    };
                    parts.iter().map(|(p, _)| (*p, o())).collect()
                } else {
                    let create =
                        ctx.settings.auto_create_topics && caller.may_create_topic(ctx, &name);
                    let topic = topic_or_create(ctx, &name, create).map(|t| {
                        let limits = BatchLimits::of(ctx, &t);
                        (t, limits)
                    });
                    parts
                        .into_iter()
                        .map(|(p, records)| {
                            let o = match &topic {
                                Ok((topic, limits)) => append(
                                    ctx,
                                    topic,
                                    limits,
                                    p,
                                    records,
                                    transactional_id.as_deref(),
                                ),
                                Err(e) => Outcome::error(
                                    codes::kind(e),
                                    ctx.broker.client_text(&e.to_string()),
                                ),
                            };
                            (p, o)
                        })
                        .collect()
                };
                (name, outcomes)
            })
            .collect::<Vec<_>>()
    })
    .await?;
    if acks == 0 {
        return Ok(None);
    }
    let mut resp = ProduceResponse::default();
    resp.responses = results
        .into_iter()
        .map(|(name, outcomes)| {
            let mut t = TopicProduceResponse::default();
            t.name = kafka_protocol::messages::TopicName(s(name));
            t.partition_responses = outcomes
                .into_iter()
                .map(|(index, o)| {
                    let mut p = PartitionProduceResponse::default();
                    p.index = index;
                    p.error_code = o.error;
                    p.base_offset = o.base_offset;
                    p.log_append_time_ms = o.log_append_time;
                    if v >= 5 {
                        p.log_start_offset = o.log_start_offset;
                    }
                    if v >= 8 {
                        p.error_message = o.message.map(s);
                    }
                    p
                })
                .collect();
            t
        })
        .collect();
    Ok(Some(resp))
}

/// A topic's bounds on what one batch may be and decode to.
struct BatchLimits {
    max_message_bytes: i64,
    decode: DecodeLimits,
}

impl BatchLimits {
    fn of(ctx: &KafkaContext, topic: &crate::broker::Topic) -> BatchLimits {
        let max_message_bytes = topic.config().max_message_bytes;
        BatchLimits {
            max_message_bytes,
            decode: ctx.settings.produce.for_topic(max_message_bytes),
        }
    }
}

fn append(
    ctx: &KafkaContext,
    topic: &crate::broker::Topic,
    limits: &BatchLimits,
    partition: i32,
    records: Option<bytes::Bytes>,
    transactional_id: Option<&str>,
) -> Outcome {
    let Ok(p) = u32::try_from(partition) else {
        return Outcome::error(ResponseError::UnknownTopicOrPartition, "negative partition");
    };
    let log = match topic.partition(i64::from(p)) {
        Ok(log) => log,
        Err(e) => {
            let message = ctx.broker.client_text(&e.to_string());
            return Outcome::error(codes::kind(&e), message);
        }
    };
    let Some(records) = records else {
        return Outcome::error(ResponseError::InvalidRecord, "no records");
    };
    // Produce v3+ carries exactly one v2 batch per partition.
    let header = match BatchHeader::parse(&records) {
        Ok(h) if h.total_len() == records.len() => h,
        Ok(_) => {
            return Outcome::error(
                ResponseError::InvalidRecord,
                "exactly one record batch per partition is accepted",
            );
        }
        Err(e) => return Outcome::error(ResponseError::CorruptMessage, e.to_string()),
    };
    if header.is_control() {
        return Outcome::error(
            ResponseError::InvalidRecord,
            "control batches are written by the broker only",
        );
    }
    // Before decoding: the bound Kafka puts on what is sent.
    if records.len() as i64 > limits.max_message_bytes {
        return Outcome::error(
            ResponseError::MessageTooLarge,
            format!(
                "the batch is {} bytes, over the topic's max.message.bytes of {}",
                records.len(),
                limits.max_message_bytes
            ),
        );
    }
    let checked = match check_produced(&records, &limits.decode) {
        Ok(produced) => produced.batch,
        Err(e) => {
            let key = match e {
                BatchError::DecodedTooLarge { .. } => " (kafka.max_decompressed_multiple)",
                BatchError::TooManyRecords { .. } => " (kafka.max_records_per_batch)",
                BatchError::TooManyHeaders { .. } => " (kafka.max_headers_per_record)",
                _ => "",
            };
            return Outcome::error(batch_error_kind(&e), format!("{e}{key}"));
        }
    };
    let done = |base_offset: i64, log_append_time: Option<i64>| Outcome {
        error: 0,
        message: None,
        base_offset,
        log_append_time: log_append_time.unwrap_or(-1),
        log_start_offset: log.stats().log_start_offset,
    };
    if ctx.producers.is_internal(header.producer_id) {
        return Outcome::error(
            ResponseError::InvalidProducerIdMapping,
            "this producer id belongs to one of weir's pipelines; ask InitProducerId for one",
        );
    }
    let appended = match (header.is_transactional(), transactional_id) {
        (false, _) => ctx.producers.append(topic, p, checked),
        (true, Some(id)) if header.producer_id >= 0 => ctx.txns.produce(
            id,
            topic,
            p,
            header.producer_id,
            header.producer_epoch,
            checked,
        ),
        (true, _) => {
            return Outcome::error(
                ResponseError::InvalidRecord,
                "a transactional batch needs a producer id and the request a transactional id",
            );
        }
    };
    match appended {
        Ok(IdempotentAppend::Appended(info)) => done(info.base_offset, info.log_append_time),
        Ok(IdempotentAppend::Duplicate { base_offset }) => done(base_offset, None),
        Ok(IdempotentAppend::OutOfOrder { expected }) => Outcome::error(
            ResponseError::OutOfOrderSequenceNumber,
            format!("expected sequence {expected}"),
        ),
        Ok(IdempotentAppend::Fenced) => Outcome::error(
            ResponseError::InvalidProducerEpoch,
            "the producer epoch is older than the current one",
        ),
        // Produce has no PRODUCER_FENCED: a fenced producer learns of it as Kafka says.
        Err(BrokerError::Transaction(TxnRefusal::Fenced)) => Outcome::error(
            ResponseError::InvalidProducerEpoch,
            "the producer was fenced by a newer instance with the same transactional id",
        ),
        Err(e) => {
            tracing::debug!(topic = topic.name(), partition, "produce refused: {e}");
            Outcome::error(codes::kind(&e), ctx.broker.client_text(&e.to_string()))
        }
    }
}

/// The Kafka error for a batch the log's checks refuse, as Kafka's LogValidator
/// answers: over a size bound MESSAGE_TOO_LARGE, a well-formed batch breaking a
/// rule INVALID_RECORD, bytes that do not parse CORRUPT_MESSAGE.
fn batch_error_kind(e: &BatchError) -> ResponseError {
    match e {
        BatchError::DecodedTooLarge { .. } => ResponseError::MessageTooLarge,
        BatchError::NoRecords
        | BatchError::OffsetDeltaMismatch { .. }
        | BatchError::OffsetDeltaOutOfOrder { .. }
        | BatchError::TooManyRecords { .. }
        | BatchError::TooManyHeaders { .. } => ResponseError::InvalidRecord,
        _ => ResponseError::CorruptMessage,
    }
}
