//! OffsetFetch: a group's committed offsets (v8+ asks for several groups),
//! each group and partition answered once however often it is named.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{OffsetFetchRequest, OffsetFetchResponse, RequestHeader, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::auth::{Operation, Resource};
use crate::broker::{BrokerError, GroupOffset};
use crate::kafka::{KafkaContext, KafkaError};

use super::caller::Caller;
use super::{at_most, blocking, codes, s};

/// One partition's answer: (offset, metadata, error); -1 where nothing is committed.
type Row = (i64, Option<String>, i16);

/// Answers by topic, then partition: a partition named twice is answered once.
type Offsets = BTreeMap<String, BTreeMap<i32, Row>>;

/// Partitions asked for, by topic; `None` = every committed one.
type Query = Option<Vec<(String, Vec<i32>)>>;

/// Partitions a request names, for `kafka.max_partitions_per_request`; a
/// group asking for all of its offsets counts one.
fn named(query: &Query) -> usize {
    query.as_ref().map_or(1, |ts| {
        ts.iter().map(|(_, ps)| ps.len()).sum::<usize>().max(1)
    })
}

/// Looks up committed offsets; `None` topics means every committed one.
/// With `require_stable` (KIP-447, sent by `read_committed` consumers), a
/// partition whose offset an open transaction is about to commit answers
/// UNSTABLE_OFFSET_COMMIT, and the client asks again once it has ended.
fn lookup(
    ctx: &KafkaContext,
    group: &str,
    topics: Query,
    require_stable: bool,
) -> Result<Offsets, BrokerError> {
    let committed = match ctx.broker.group_offsets(group) {
        Ok(rows) => rows,
        Err(BrokerError::UnknownGroup { .. }) => Vec::new(),
        Err(e) => return Err(e),
    };
    let mut out = Offsets::new();
    match topics {
        None => {
            for row in committed {
                out.entry(row.topic).or_default().insert(
                    row.partition as i32,
                    (row.committed.offset, row.committed.metadata, 0),
                );
            }
        }
        Some(topics) => {
            // Indexed once: a request naming many partitions of a group with
            // many commits must not compare every pair.
            let index: HashMap<(&str, i64), &GroupOffset> = committed
                .iter()
                .map(|r| ((r.topic.as_str(), i64::from(r.partition)), r))
                .collect();
            for (topic, partitions) in topics {
                let rows = out.entry(topic.clone()).or_default();
                for p in partitions {
                    let row = match index.get(&(topic.as_str(), i64::from(p))) {
                        Some(r) => (r.committed.offset, r.committed.metadata.clone(), 0),
                        None => (-1, None, 0),
                    };
                    rows.insert(p, row);
                }
            }
        }
    }
    if require_stable {
        for (topic, rows) in &mut out {
            for (p, row) in rows.iter_mut() {
                let pending =
                    u32::try_from(*p).is_ok_and(|p| ctx.txns.has_pending_offset(group, topic, p));
                if pending {
                    *row = (-1, None, ResponseError::UnstableOffsetCommit.code());
                }
            }
        }
    }
    Ok(out)
}

/// Answers with committed offsets, in the layout the version uses.
pub async fn handle(
    ctx: &Arc<KafkaContext>,
    h: &RequestHeader,
    req: OffsetFetchRequest,
    caller: &Caller,
) -> Result<OffsetFetchResponse, KafkaError> {
    let v = h.request_api_version;
    let mut resp = OffsetFetchResponse::default();
    let stable = v >= 7 && req.require_stable;
    if v >= 8 {
        // A group named twice is answered once (the last query for it wins).
        let mut queries: Vec<(String, Query)> = Vec::new();
        let mut at: HashMap<String, usize> = HashMap::new();
        for g in req.groups {
            let topics: Query = g.topics.map(|ts| {
                ts.into_iter()
                    .map(|t| (t.name.0.to_string(), t.partition_indexes))
                    .collect()
            });
            let group = g.group_id.0.to_string();
            match at.get(&group) {
                Some(&i) => queries[i].1 = topics,
                None => {
                    at.insert(group.clone(), queries.len());
                    queries.push((group, topics));
                }
            }
        }
        limit(ctx, queries.iter().map(|(_, q)| named(q)).sum())?;
        let results = blocking(ctx, move |ctx| {
            queries
                .into_iter()
                .map(|(g, t)| {
                    let r = lookup(ctx, &g, t, stable);
                    (g, r)
                })
                .collect::<Vec<_>>()
        })
        .await?;
        resp.groups = results
            .into_iter()
            .map(|(g, r)| {
                let mut out = OffsetFetchResponseGroup::default();
                if !caller.may(ctx, Operation::Describe, &Resource::group(&g)) {
                    out.error_code = ResponseError::GroupAuthorizationFailed.code();
                    out.group_id = kafka_protocol::messages::GroupId(s(g));
                    return out;
                }
                out.group_id = kafka_protocol::messages::GroupId(s(g));
                match r {
                    Ok(offsets) => {
                        out.topics = offsets
                            .into_iter()
                            .map(|(topic, rows)| {
                                let mut t = OffsetFetchResponseTopics::default();
                                t.name = TopicName(s(topic));
                                t.partitions = rows
                                    .into_iter()
                                    .map(|(p, (offset, meta, code))| {
                                        let mut r = OffsetFetchResponsePartitions::default();
                                        r.partition_index = p;
                                        r.error_code = code;
                                        r.committed_offset = offset;
                                        r.metadata =
                                            Some(meta.map(s).unwrap_or_else(StrBytes::new));
                                        r
                                    })
                                    .collect();
                                t
                            })
                            .collect();
                    }
                    Err(e) => out.error_code = codes::code(&e),
                }
                out
            })
            .collect();
        return Ok(resp);
    }
    let group = req.group_id.0.to_string();
    if !caller.may(ctx, Operation::Describe, &Resource::group(&group)) {
        resp.error_code = ResponseError::GroupAuthorizationFailed.code();
        return Ok(resp);
    }
    let topics: Query = req.topics.map(|ts| {
        ts.into_iter()
            .map(|t| (t.name.0.to_string(), t.partition_indexes))
            .collect()
    });
    limit(ctx, named(&topics))?;
    match blocking(ctx, move |ctx| lookup(ctx, &group, topics, stable)).await? {
        Ok(offsets) => {
            resp.topics = offsets
                .into_iter()
                .map(|(topic, rows)| {
                    let mut t = OffsetFetchResponseTopic::default();
                    t.name = TopicName(s(topic));
                    t.partitions = rows
                        .into_iter()
                        .map(|(p, (offset, meta, code))| {
                            let mut r = OffsetFetchResponsePartition::default();
                            r.partition_index = p;
                            r.error_code = code;
                            r.committed_offset = offset;
                            r.metadata = Some(meta.map(s).unwrap_or_else(StrBytes::new));
                            r
                        })
                        .collect();
                    t
                })
                .collect();
        }
        Err(e) if v >= 2 => resp.error_code = codes::code(&e),
        Err(e) => tracing::warn!("offset fetch failed: {e}"),
    }
    Ok(resp)
}

/// Refuses a request naming more partitions than `kafka.max_partitions_per_request`.
fn limit(ctx: &KafkaContext, named: usize) -> Result<(), KafkaError> {
    at_most(
        "OffsetFetch",
        "partitions",
        named,
        "kafka.max_partitions_per_request",
        ctx.settings.requests.max_partitions_per_request,
    )
}
