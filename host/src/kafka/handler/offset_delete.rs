//! OffsetDelete: removes a group's committed offsets of some partitions, as
//! Kafka does: all of them while the group has no members; for a consumer
//! group with members, those of topics no member subscribes to.

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Buf;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::{
    ConsumerProtocolSubscription, OffsetDeleteRequest, OffsetDeleteResponse, RequestHeader,
};
use kafka_protocol::protocol::Decodable;

use crate::broker::BrokerError;
use crate::kafka::group::Group;
use crate::kafka::{KafkaContext, KafkaError};

use super::{blocking, codes};

/// The newest consumer protocol subscription version kafka-protocol decodes;
/// newer ones only append fields, so they decode as this one.
const SUBSCRIPTION_MAX_VERSION: i16 = 3;

/// Topics the members of a live group read.
enum Subscribed {
    /// Named topics.
    Topics(BTreeSet<String>),
    /// A member's subscription does not decode: every topic counts as read.
    Unknown,
}

impl Subscribed {
    fn contains(&self, topic: &str) -> bool {
        match self {
            Subscribed::Topics(t) => t.contains(topic),
            Subscribed::Unknown => true,
        }
    }
}

/// Deletes the offsets, checking membership and deleting under the
/// coordinator's lock so no member joins in between.
pub async fn handle(
    ctx: &Arc<KafkaContext>,
    _h: &RequestHeader,
    req: OffsetDeleteRequest,
) -> Result<OffsetDeleteResponse, KafkaError> {
    blocking(ctx, move |ctx| {
        let group = req.group_id.0.to_string();
        ctx.groups
            .with_group(&group, |live| delete(ctx, &group, live, req))
    })
    .await
}

fn delete(
    ctx: &KafkaContext,
    group: &str,
    live: Option<&Group>,
    req: OffsetDeleteRequest,
) -> OffsetDeleteResponse {
    let mut resp = OffsetDeleteResponse::default();
    let subscribed = match live.filter(|g| !g.members.is_empty()) {
        None => Subscribed::Topics(BTreeSet::new()),
        Some(g) if g.protocol_type.as_deref() == Some("consumer") => subscriptions(g),
        Some(_) => {
            resp.error_code = ResponseError::NonEmptyGroup.code();
            return resp;
        }
    };
    let has_offsets = match ctx.broker.group_offsets(group) {
        Ok(_) => true,
        Err(BrokerError::UnknownGroup { .. }) => false,
        Err(e) => {
            resp.error_code = codes::code(&e);
            return resp;
        }
    };
    if live.is_none() && !has_offsets {
        resp.error_code = ResponseError::GroupIdNotFound.code();
        return resp;
    }
    let mut doomed = Vec::new();
    resp.topics = req
        .topics
        .into_iter()
        .map(|t| {
            let name = t.name.0.to_string();
            let mut out = OffsetDeleteResponseTopic::default();
            out.partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let mut r = OffsetDeleteResponsePartition::default();
                    r.partition_index = p.partition_index;
                    let exists = ctx
                        .broker
                        .topic(&name)
                        .and_then(|topic| topic.partition(i64::from(p.partition_index)));
                    r.error_code = match exists {
                        Err(e) => codes::code(&e),
                        Ok(_) if subscribed.contains(&name) => {
                            ResponseError::GroupSubscribedToTopic.code()
                        }
                        Ok(_) => {
                            // Non-negative: the partition exists.
                            doomed.push((name.clone(), p.partition_index as u32));
                            0
                        }
                    };
                    r
                })
                .collect();
            out.name = t.name;
            out
        })
        .collect();
    if !doomed.is_empty()
        && let Err(e) = ctx.broker.delete_offsets(group, &doomed)
    {
        tracing::error!(group, "deleting offsets: {e}");
        // One batch: nothing was deleted.
        for p in resp.topics.iter_mut().flat_map(|t| t.partitions.iter_mut()) {
            if p.error_code == 0 {
                p.error_code = codes::code(&e);
            }
        }
    }
    resp
}

/// The union of the members' subscribed topics, from the metadata each sent
/// for the group's protocol (or its first one while none is chosen yet).
fn subscriptions(g: &Group) -> Subscribed {
    let mut topics = BTreeSet::new();
    for m in g.members.values() {
        let meta = match &g.protocol {
            Some(p) => m.metadata_for(p),
            None => m
                .protocols
                .first()
                .map(|(_, b)| b.clone())
                .unwrap_or_default(),
        };
        match decode_subscription(meta) {
            Some(s) => topics.extend(s.topics.iter().map(|t| t.to_string())),
            None => return Subscribed::Unknown,
        }
    }
    Subscribed::Topics(topics)
}

fn decode_subscription(mut meta: bytes::Bytes) -> Option<ConsumerProtocolSubscription> {
    if meta.remaining() < 2 {
        return None;
    }
    let version = meta.get_i16().clamp(0, SUBSCRIPTION_MAX_VERSION);
    ConsumerProtocolSubscription::decode(&mut meta, version).ok()
}
