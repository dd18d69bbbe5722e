//! Fetch: whole batches straight from the log's bytes, with long polling,
//! within Kafka's byte limits, in or out of an incremental fetch session;
//! `read_committed` stops at the last stable offset and lists aborted transactions.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::future::select_all;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::{FetchRequest, FetchResponse, ProducerId, RequestHeader, TopicName};
use tokio::sync::watch;

use crate::auth::{Operation, Resource};
use crate::broker::BrokerError;
use crate::broker::topic_name::validate;
use crate::kafka::fetch_session::{Answered, PartitionKey, Position, SessionRequest};
use crate::kafka::{KafkaContext, KafkaError};
use crate::log::{FirstBatch, LogError};

use super::caller::Caller;
use super::{at_most, blocking, codes, s};

/// Longest long poll honoured, whatever the client asks.
const MAX_WAIT: Duration = Duration::from_secs(30);

#[derive(Clone)]
struct Wanted {
    topic: String,
    partition: i32,
    offset: i64,
    max_bytes: usize,
    /// No ACL lets the caller READ the topic: answered TOPIC_AUTHORIZATION_FAILED.
    denied: bool,
}

struct Got {
    error: i16,
    high_watermark: i64,
    /// The last stable offset; the high watermark for `read_uncommitted`.
    last_stable: i64,
    /// `read_committed` only: (producer id, first offset) of aborted transactions.
    aborted: Vec<(i64, i64)>,
    log_start_offset: i64,
    records: Bytes,
}

/// Reads every requested partition; waits up to max_wait_ms for min_bytes.
pub async fn handle(
    ctx: &Arc<KafkaContext>,
    h: &RequestHeader,
    req: FetchRequest,
    caller: &Caller,
) -> Result<FetchResponse, KafkaError> {
    let v = h.request_api_version;
    let cap = ctx.settings.fetch_max_bytes;
    let named: usize = req.topics.iter().map(|t| t.partitions.len()).sum::<usize>()
        + req
            .forgotten_topics_data
            .iter()
            .map(|t| t.partitions.len())
            .sum::<usize>();
    at_most(
        "Fetch",
        "partitions",
        named,
        "kafka.max_partitions_per_request",
        ctx.settings.requests.max_partitions_per_request,
    )?;
    let (session_req, nameless) = session_request(v, &req);
    // A session's partitions are read in its order: the request names only
    // what changed (KIP-227).
    let plan = match ctx.fetch_sessions.begin(session_req, Instant::now()) {
        Ok(plan) => plan,
        Err(e) => return Ok(session_error(e)),
    };
    let wanted: Vec<Wanted> = plan
        .partitions
        .iter()
        .map(|(k, p)| Wanted {
            topic: k.topic.clone(),
            partition: k.partition,
            offset: p.offset,
            max_bytes: usize::try_from(p.max_bytes).unwrap_or(0).min(cap),
            denied: !caller.may(ctx, Operation::Read, &Resource::topic(&k.topic)),
        })
        .collect();
    let max_bytes = usize::try_from(req.max_bytes).unwrap_or(0).min(cap);
    // Kafka's isolation levels: 0 read_uncommitted, 1 read_committed.
    let committed = req.isolation_level == 1;
    let min_bytes = usize::try_from(req.min_bytes).unwrap_or(0);
    let wait = Duration::from_millis(u64::try_from(req.max_wait_ms).unwrap_or(0)).min(MAX_WAIT);
    let deadline = Instant::now() + wait;
    // Finding a partition takes the broker's topic-map lock, which a topic
    // creation or deletion holds across file I/O: never wait on it here.
    let list = wanted.clone();
    let mut watchers = blocking(ctx, move |ctx| watchers(ctx, &list)).await?;
    let got = loop {
        // Mark the current values seen before reading, so an append that lands
        // between the read and the wait still wakes us.
        for w in &mut watchers {
            w.borrow_and_update();
        }
        let list = wanted.clone();
        let got = blocking(ctx, move |ctx| read_all(ctx, &list, max_bytes, committed)).await?;
        let total: usize = got.iter().map(|g| g.records.len()).sum();
        let errored = got.iter().any(|g| g.error != 0);
        let now = Instant::now();
        // min_bytes 0 answers at once; otherwise at least one byte must be there.
        let enough = min_bytes == 0 || (total > 0 && total >= min_bytes);
        if enough || errored || now >= deadline || watchers.is_empty() {
            break got;
        }
        let changes = watchers.iter_mut().map(|w| Box::pin(w.changed()));
        let closed = match tokio::time::timeout(deadline - now, select_all(changes)).await {
            Err(_) => break got,
            Ok((changed, index, _)) => changed.is_err().then_some(index),
        };
        // A watch whose partition is gone would answer at once forever: stop
        // waiting on it rather than spin until the deadline.
        if let Some(index) = closed {
            watchers.swap_remove(index);
        }
    };
    let answered: Vec<Answered> = got
        .iter()
        .map(|g| Answered {
            has_records: !g.records.is_empty(),
            high_watermark: g.high_watermark,
            log_start_offset: g.log_start_offset,
            failed: g.error != 0,
        })
        .collect();
    let (session_id, include) = match ctx.fetch_sessions.finish(&plan, &answered, Instant::now()) {
        Ok(answer) => answer,
        Err(e) => return Ok(session_error(e)),
    };
    let mut resp = FetchResponse::default();
    resp.session_id = session_id;
    let mut by_topic: Vec<FetchableTopicResponse> = Vec::new();
    let included = wanted.into_iter().zip(got).zip(include);
    for ((w, g), _) in included.filter(|(_, include)| *include) {
        let mut p = PartitionData::default();
        p.partition_index = w.partition;
        p.error_code = g.error;
        p.high_watermark = g.high_watermark;
        p.last_stable_offset = g.last_stable;
        if v >= 5 {
            p.log_start_offset = g.log_start_offset;
        }
        p.aborted_transactions = Some(
            g.aborted
                .into_iter()
                .map(|(pid, first)| {
                    let mut a = AbortedTransaction::default();
                    a.producer_id = ProducerId(pid);
                    a.first_offset = first;
                    a
                })
                .collect(),
        );
        p.records = Some(g.records);
        match by_topic.last_mut() {
            Some(t) if t.topic.0.as_str() == w.topic => t.partitions.push(p),
            _ => {
                let mut t = FetchableTopicResponse::default();
                t.topic = TopicName(s(w.topic));
                t.partitions.push(p);
                by_topic.push(t);
            }
        }
    }
    by_topic.extend(nameless.into_iter().map(unknown_topic));
    resp.responses = by_topic;
    Ok(resp)
}

/// Partitions of a name no topic can have (Kafka's rules: at most 249
/// characters of `[a-zA-Z0-9._-]`), folded by name; they are answered
/// UNKNOWN_TOPIC_OR_PARTITION without a lookup and kept out of the session.
type Nameless = Vec<(TopicName, BTreeSet<i32>)>;

/// The answer for a name no topic can have: the name once, each partition once.
fn unknown_topic((topic, partitions): (TopicName, BTreeSet<i32>)) -> FetchableTopicResponse {
    let mut t = FetchableTopicResponse::default();
    t.topic = topic;
    t.partitions = partitions
        .into_iter()
        .map(|index| {
            let mut p = PartitionData::default();
            p.partition_index = index;
            p.error_code = ResponseError::UnknownTopicOrPartition.code();
            p.high_watermark = -1;
            p.last_stable_offset = -1;
            p.log_start_offset = -1;
            p.records = Some(Bytes::new());
            p
        })
        .collect();
    t
}

/// The request's session fields and partitions, for the session cache, with
/// each partition once: one named twice is read once, at the position named
/// last, in the place it was first named (Kafka folds them into a map the
/// same way). Partitions of names no topic can have are set apart, so a long
/// bogus name is neither copied per partition nor looked up.
fn session_request(v: i16, req: &FetchRequest) -> (SessionRequest, Nameless) {
    let key = |topic: &TopicName, partition: i32| PartitionKey {
        topic: topic.0.to_string(),
        partition,
    };
    let mut nameless: Nameless = Vec::new();
    let mut nameless_at: HashMap<&str, usize> = HashMap::new();
    let mut partitions: Vec<(PartitionKey, Position)> = Vec::new();
    let mut seen: HashMap<PartitionKey, usize> = HashMap::new();
    for t in &req.topics {
        if t.partitions.is_empty() {
            continue;
        }
        if validate(&t.topic.0).is_err() {
            let at = *nameless_at.entry(t.topic.0.as_str()).or_insert_with(|| {
                nameless.push((t.topic.clone(), BTreeSet::new()));
                nameless.len() - 1
            });
            nameless[at]
                .1
                .extend(t.partitions.iter().map(|p| p.partition));
            continue;
        }
        for p in &t.partitions {
            let position = Position {
                offset: p.fetch_offset,
                max_bytes: p.partition_max_bytes,
            };
            let k = key(&t.topic, p.partition);
            match seen.get(&k) {
                Some(&at) => partitions[at].1 = position,
                None => {
                    seen.insert(k.clone(), partitions.len());
                    partitions.push((k, position));
                }
            }
        }
    }
    let mut forgotten: Vec<PartitionKey> = req
        .forgotten_topics_data
        .iter()
        .filter(|t| validate(&t.topic.0).is_ok())
        .flat_map(|t| t.partitions.iter().map(|&p| key(&t.topic, p)))
        .collect();
    forgotten.sort();
    forgotten.dedup();
    let session = SessionRequest {
        version: v,
        session_id: req.session_id,
        epoch: req.session_epoch,
        partitions,
        forgotten,
    };
    (session, nameless)
}

/// A session error: the top-level code, no partitions, no session.
fn session_error(e: ResponseError) -> FetchResponse {
    let mut resp = FetchResponse::default();
    resp.error_code = e.code();
    resp
}

fn watchers(ctx: &KafkaContext, wanted: &[Wanted]) -> Vec<watch::Receiver<i64>> {
    wanted
        .iter()
        .filter_map(|w| {
            ctx.broker
                .topic(&w.topic)
                .and_then(|t| t.partition(i64::from(w.partition)))
                .ok()
                .map(|log| log.subscribe())
        })
        .collect()
}

/// Reads each partition within its own and the response's byte budget, as
/// Kafka does (KIP-74): only the first batch of the first non-empty partition
/// may exceed them, so a large batch cannot stall a consumer, and once the
/// response budget is spent the remaining partitions report their state only.
fn read_all(ctx: &KafkaContext, wanted: &[Wanted], max_bytes: usize, committed: bool) -> Vec<Got> {
    let mut left = max_bytes;
    let mut first = FirstBatch::AlwaysWhole;
    wanted
        .iter()
        .map(|w| {
            if w.denied {
                return Got {
                    error: ResponseError::TopicAuthorizationFailed.code(),
                    ..error(BrokerError::UnknownTopic {
                        name: w.topic.clone(),
                    })
                };
            }
            let got =
                read_one(ctx, w, w.max_bytes.min(left), committed, first).unwrap_or_else(error);
            if !got.records.is_empty() {
                first = FirstBatch::WithinLimit;
                left = left.saturating_sub(got.records.len());
            }
            got
        })
        .collect()
}

fn read_one(
    ctx: &KafkaContext,
    w: &Wanted,
    max: usize,
    committed: bool,
    first: FirstBatch,
) -> Result<Got, BrokerError> {
    if committed {
        let topic = ctx.broker.topic(&w.topic)?;
        let partition = u32::try_from(w.partition).map_err(|_| BrokerError::UnknownPartition {
            topic: w.topic.clone(),
            partition: i64::from(w.partition),
            count: topic.partition_count(),
        })?;
        let r = ctx
            .producers
            .read_committed_within(&topic, partition, w.offset, max, first)?;
        return Ok(Got {
            error: 0,
            high_watermark: r.read.high_watermark,
            last_stable: r.last_stable,
            log_start_offset: r.read.log_start_offset,
            aborted: r
                .aborted
                .iter()
                .map(|a| (a.producer_id, a.first_offset))
                .collect(),
            records: Bytes::from(r.read.bytes),
        });
    }
    let r = ctx
        .broker
        .fetch(&w.topic, i64::from(w.partition), w.offset, max, first)?;
    Ok(Got {
        error: 0,
        high_watermark: r.high_watermark,
        last_stable: r.high_watermark,
        log_start_offset: r.log_start_offset,
        aborted: Vec::new(),
        records: Bytes::from(r.bytes),
    })
}

fn error(e: BrokerError) -> Got {
    let (high_watermark, log_start_offset) = match &e {
        BrokerError::Log {
            source:
                LogError::OffsetOutOfRange {
                    log_start,
                    high_watermark,
                    ..
                },
            ..
        } => (*high_watermark, *log_start),
        _ => (-1, -1),
    };
    let code = codes::code(&e);
    if code == ResponseError::UnknownServerError.code()
        || code == ResponseError::KafkaStorageError.code()
    {
        tracing::warn!("fetch failed: {e}");
    }
    Got {
        error: code,
        high_watermark,
        last_stable: high_watermark,
        log_start_offset,
        aborted: Vec::new(),
        records: Bytes::new(),
    }
}
