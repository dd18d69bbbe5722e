//! ListOffsets: earliest, latest (the last stable offset for read_committed),
//! max timestamp, or the first offset at a time.

use std::collections::HashSet;
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::protocol::StrBytes;

use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse, RequestHeader};

use crate::auth::{Operation, Resource};
use crate::broker::BrokerError;
use crate::kafka::{KafkaContext, KafkaError};

use super::caller::Caller;
use super::{at_most, blocking, codes};

/// Kafka's special timestamps.
const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;

/// Answers each partition's offset query.
pub async fn handle(
    ctx: &Arc<KafkaContext>,
    h: &RequestHeader,
    req: ListOffsetsRequest,
    caller: &Caller,
) -> Result<ListOffsetsResponse, KafkaError> {
    let caller = caller.clone();
    let v = h.request_api_version;
    // read_committed (v2+): "latest" is the last stable offset, as in Kafka.
    let committed = v >= 2 && req.isolation_level == 1;
    at_most(
        "ListOffsets",
        "partitions",
        req.topics.iter().map(|t| t.partitions.len()).sum(),
        "kafka.max_partitions_per_request",
        ctx.settings.requests.max_partitions_per_request,
    )?;
    // As in Kafka, a partition named twice is answered INVALID_REQUEST every
    // time, without a lookup: which of its queries would the client mean?
    let mut seen = HashSet::new();
    let duplicates: HashSet<(StrBytes, i32)> = req
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(|p| (t.name.0.clone(), p.partition_index))
        })
        .filter(|k| !seen.insert(k.clone()))
        .collect();
    drop(seen);
    let topics = blocking(ctx, move |ctx| {
        req.topics
            .into_iter()
            .map(|t| {
                let denied = !caller.may(ctx, Operation::Describe, &Resource::topic(&t.name));
                let mut out = ListOffsetsTopicResponse::default();
                out.partitions = t
                    .partitions
                    .iter()
                    .map(|p| {
                        let mut r = ListOffsetsPartitionResponse::default();
                        r.partition_index = p.partition_index;
                        if duplicates.contains(&(t.name.0.clone(), p.partition_index)) {
                            r.error_code = ResponseError::InvalidRequest.code();
                            return r;
                        }
                        if denied {
                            r.error_code = ResponseError::TopicAuthorizationFailed.code();
                            return r;
                        }
                        match lookup(ctx, &t.name.0, p.partition_index, p.timestamp, committed) {
                            Ok((offset, timestamp)) => {
                                r.offset = offset;
                                r.timestamp = timestamp;
                                if v >= 4 {
                                    r.leader_epoch = 0;
                                }
                            }
                            Err(e) => r.error_code = codes::code(&e),
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
    let mut resp = ListOffsetsResponse::default();
    resp.topics = topics;
    Ok(resp)
}

fn lookup(
    ctx: &KafkaContext,
    topic: &str,
    partition: i32,
    timestamp: i64,
    committed: bool,
) -> Result<(i64, i64), BrokerError> {
    let t = ctx.broker.topic(topic)?;
    let log = t.partition(i64::from(partition))?;
    if committed && timestamp == LATEST {
        return Ok((ctx.producers.last_stable_offset(&t, partition as u32)?, -1));
    }
    let stats = log.stats();
    let wrap = BrokerError::log(topic, partition as u32);
    Ok(match timestamp {
        LATEST => (stats.high_watermark, -1),
        EARLIEST => (stats.log_start_offset, -1),
        MAX_TIMESTAMP => log
            .max_timestamp_offset()
            .map_err(BrokerError::log(topic, partition as u32))?
            .unwrap_or((-1, -1)),
        ts => log
            .offset_for_timestamp(ts)
            .map_err(wrap)?
            .unwrap_or((-1, -1)),
    })
}
