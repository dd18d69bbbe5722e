//! Metadata: this one broker, and the topics asked for (auto-created if
//! allowed), each once, at most `kafka.metadata_max_topics` of them.

use std::collections::HashSet;
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{
    BrokerId, MetadataRequest, MetadataResponse, RequestHeader, TopicName,
};

use crate::auth::{Operation, Resource};
use crate::broker::{BrokerError, Topic};
use crate::kafka::{KafkaContext, KafkaError};

use super::caller::{Caller, TOPIC_OPERATIONS};
use super::{at_most, blocking, codes, s};

/// weir is a single node: broker 0 leads every partition.
pub const NODE_ID: i32 = 0;

/// The cluster id every response that carries one reports.
pub const CLUSTER_ID: &str = "weir";

/// Describes the broker and the requested topics (all of them when none are named).
pub async fn handle(
    ctx: &Arc<KafkaContext>,
    h: &RequestHeader,
    req: MetadataRequest,
    caller: &Caller,
) -> Result<MetadataResponse, KafkaError> {
    let v = h.request_api_version;
    if let Some(topics) = &req.topics {
        at_most(
            "Metadata",
            "topics",
            topics.len(),
            "kafka.metadata_max_topics",
            ctx.settings.requests.metadata_max_topics,
        )?;
    }
    // v0 sends an empty list for "all"; later versions send null. A topic
    // named twice is described once, so repeating a name cannot multiply the
    // answer (each description lists every partition).
    let names: Option<Vec<String>> = match req.topics {
        Some(t) if !(v == 0 && t.is_empty()) => {
            let mut seen = HashSet::new();
            Some(
                t.into_iter()
                    .filter_map(|t| t.name)
                    .filter(|n| seen.insert(n.0.clone()))
                    .map(|n| n.0.to_string())
                    .collect(),
            )
        }
        _ => None,
    };
    let topic_ops = req.include_topic_authorized_operations;
    let auto_create = ctx.settings.auto_create_topics && (v < 4 || req.allow_auto_topic_creation);
    let asker = caller.clone();
    let results = blocking(ctx, move |ctx| -> Vec<(String, Result<Arc<Topic>, i16>)> {
        match names {
            // Kafka lists only the topics the caller may DESCRIBE.
            None => ctx
                .broker
                .topics()
                .into_iter()
                .filter(|t| asker.may(ctx, Operation::Describe, &Resource::topic(t.name())))
                .map(|t| (t.name().to_string(), Ok(t)))
                .collect(),
            Some(names) => names
                .into_iter()
                .map(|n| {
                    if !asker.may(ctx, Operation::Describe, &Resource::topic(&n)) {
                        let denied = ResponseError::TopicAuthorizationFailed.code();
                        return (n, Err(denied));
                    }
                    let create = auto_create && asker.may_create_topic(ctx, &n);
                    let t = topic_or_create(ctx, &n, create).map_err(|e| codes::code(&e));
                    (n, t)
                })
                .collect(),
        }
    })
    .await?;
    let mut resp = MetadataResponse::default();
    resp.brokers = vec![broker(ctx)];
    if v >= 2 {
        resp.cluster_id = Some(s(CLUSTER_ID));
    }
    if v >= 1 {
        resp.controller_id = BrokerId(NODE_ID);
    }
    resp.topics = results
        .into_iter()
        .map(|(name, topic)| {
            let mut t = MetadataResponseTopic::default();
            match topic {
                Ok(topic) => {
                    t.partitions = (0..topic.partition_count())
                        .map(|p| partition(p as i32, v))
                        .collect();
                    // Kafka's AdminClient.describeTopics(includeAuthorizedOperations) reads this.
                    t.topic_authorized_operations = caller.authorized_operations(
                        ctx,
                        v >= 8 && topic_ops,
                        &TOPIC_OPERATIONS,
                        &Resource::topic(&name),
                    );
                }
                Err(code) => t.error_code = code,
            }
            t.name = Some(TopicName(s(name)));
            t
        })
        .collect();
    Ok(resp)
}

/// The topic, created with the default partition count if it is missing and
/// `auto_create` holds (a race with another creator is not an error).
pub fn topic_or_create(
    ctx: &KafkaContext,
    name: &str,
    auto_create: bool,
) -> Result<Arc<Topic>, BrokerError> {
    match ctx.broker.topic(name) {
        Err(BrokerError::UnknownTopic { .. }) if auto_create => {
            match ctx
                .broker
                .create_topic(name, ctx.settings.default_partitions, Default::default())
            {
                Err(BrokerError::TopicExists { .. }) => ctx.broker.topic(name),
                other => other,
            }
        }
        other => other,
    }
}

/// This broker as clients should reach it.
pub fn broker(ctx: &KafkaContext) -> MetadataResponseBroker {
    let (host, port) = advertised(ctx);
    let mut b = MetadataResponseBroker::default();
    b.node_id = BrokerId(NODE_ID);
    b.host = s(host);
    b.port = i32::from(port);
    b
}

/// The advertised host and port (set once the listener is bound).
pub fn advertised(ctx: &KafkaContext) -> (String, u16) {
    ctx.settings
        .advertised
        .clone()
        .unwrap_or_else(|| (ctx.settings.addr.ip().to_string(), ctx.settings.addr.port()))
}

fn partition(index: i32, v: i16) -> MetadataResponsePartition {
    let mut p = MetadataResponsePartition::default();
    p.partition_index = index;
    p.leader_id = BrokerId(NODE_ID);
    if v >= 7 {
        p.leader_epoch = 0;
    }
    p.replica_nodes = vec![BrokerId(NODE_ID)];
    p.isr_nodes = vec![BrokerId(NODE_ID)];
    p
}
