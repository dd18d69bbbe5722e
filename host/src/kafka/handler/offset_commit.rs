//! OffsetCommit: into the broker's metadata store, the one the HTTP API reads.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse, RequestHeader};

use crate::auth::{Operation, Resource};
use crate::broker::OffsetCommit;
use crate::kafka::{KafkaContext, KafkaError};

use super::caller::Caller;
use super::{blocking, codes};

/// Commits the offsets if the member may; per-partition errors otherwise.
pub async fn handle(
    ctx: &Arc<KafkaContext>,
    _h: &RequestHeader,
    req: OffsetCommitRequest,
    caller: &Caller,
) -> Result<OffsetCommitResponse, KafkaError> {
    let group = req.group_id.0.to_string();
    let group_denied = !caller.may(ctx, Operation::Read, &Resource::group(&group));
    let caller = caller.clone();
    let refused = ctx.groups.check_commit(
        &group,
        req.generation_id_or_member_epoch,
        (&req.member_id, req.group_instance_id.as_deref()),
    );
    let topics = blocking(ctx, move |ctx| {
        // Partitions that exist are committed together: one durable write.
        let mut commits = Vec::new();
        let mut topics: Vec<OffsetCommitResponseTopic> = req
            .topics
            .into_iter()
            .map(|t| {
                let name = t.name.0.to_string();
                // Kafka: READ on the group, then READ on each topic.
                let denied = if group_denied {
                    ResponseError::GroupAuthorizationFailed.code()
                } else if !caller.may(ctx, Operation::Read, &Resource::topic(&name)) {
                    ResponseError::TopicAuthorizationFailed.code()
                } else {
                    0
                };
                let mut out = OffsetCommitResponseTopic::default();
                out.partitions = t
                    .partitions
                    .iter()
                    .map(|p| {
                        let mut r = OffsetCommitResponsePartition::default();
                        r.partition_index = p.partition_index;
                        r.error_code = if denied != 0 {
                            denied
                        } else {
                            partition_error(
                                ctx,
                                refused,
                                &name,
                                p.partition_index,
                                p.committed_offset,
                                p.committed_metadata.as_deref(),
                            )
                        };
                        if r.error_code == 0 {
                            commits.push(OffsetCommit {
                                topic: name.clone(),
                                partition: i64::from(p.partition_index),
                                offset: p.committed_offset,
                                metadata: p.committed_metadata.as_ref().map(|m| m.to_string()),
                            });
                        }
                        r
                    })
                    .collect();
                out.name = t.name;
                out
            })
            .collect();
        if !commits.is_empty()
            && let Err(e) = ctx.broker.commit_offsets(&group, commits)
        {
            tracing::error!(group, "committing offsets: {e}");
            // Nothing was committed: every partition that was going to be fails.
            for t in &mut topics {
                for p in &mut t.partitions {
                    if p.error_code == 0 {
                        p.error_code = codes::code(&e);
                    }
                }
            }
        }
        topics
    })
    .await?;
    let mut resp = OffsetCommitResponse::default();
    resp.topics = topics;
    Ok(resp)
}

/// Why one partition's offset may not be committed (a Kafka error code), or 0: the
/// member was refused, the partition does not exist, the offset is negative or its
/// metadata too large. Shared with TxnOffsetCommit.
pub(super) fn partition_error(
    ctx: &KafkaContext,
    refused: Option<ResponseError>,
    topic: &str,
    partition: i32,
    offset: i64,
    metadata: Option<&str>,
) -> i16 {
    if let Some(e) = refused {
        return e.code();
    }
    if let Err(e) = ctx
        .broker
        .topic(topic)
        .and_then(|t| t.partition(i64::from(partition)))
    {
        return codes::code(&e);
    }
    if offset < 0 {
        return ResponseError::InvalidCommitOffsetSize.code();
    }
    if crate::broker::offsets::metadata_too_large(metadata).is_some() {
        return ResponseError::OffsetMetadataTooLarge.code();
    }
    0
}
