//! OffsetCommit: into the broker's metadata store, the one the HTTP API reads.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse, RequestHeader};

use crate::broker::OffsetCommit;
use crate::kafka::{KafkaContext, KafkaError};

use super::{blocking, codes};

/// Commits the offsets if the member may; per-partition errors otherwise.
pub async fn handle(
    ctx: &Arc<KafkaContext>,
    _h: &RequestHeader,
    req: OffsetCommitRequest,
) -> Result<OffsetCommitResponse, KafkaError> {
    let group = req.group_id.0.to_string();
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
                let mut out = OffsetCommitResponseTopic::default();
                out.partitions = t
                    .partitions
                    .iter()
                    .map(|p| {
                        let mut r = OffsetCommitResponsePartition::default();
                        r.partition_index = p.partition_index;
                        let exists = ctx
                            .broker
                            .topic(&name)
                            .and_then(|topic| topic.partition(i64::from(p.partition_index)));
                        r.error_code = match (refused, exists) {
                            (Some(e), _) => e.code(),
                            (None, Err(e)) => codes::code(&e),
                            (None, Ok(_)) if p.committed_offset < 0 => {
                                ResponseError::InvalidCommitOffsetSize.code()
                            }
                            (None, Ok(_))
                                if crate::broker::offsets::metadata_too_large(
                                    p.committed_metadata.as_deref(),
                                )
                                .is_some() =>
                            {
                                ResponseError::OffsetMetadataTooLarge.code()
                            }
                            (None, Ok(_)) => {
                                commits.push(OffsetCommit {
                                    topic: name.clone(),
                                    partition: i64::from(p.partition_index),
                                    offset: p.committed_offset,
                                    metadata: p.committed_metadata.as_ref().map(|m| m.to_string()),
                                });
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
