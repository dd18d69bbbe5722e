//! OffsetCommit: into the broker's metadata store, the one the HTTP API reads.

use std::sync::Arc;

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
    let refused =
        ctx.groups
            .check_commit(&group, req.generation_id_or_member_epoch, &req.member_id);
    let topics = blocking(ctx, move |ctx| {
        req.topics
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
                        r.error_code = match refused {
                            Some(e) => e.code(),
                            None => ctx
                                .broker
                                .commit_offsets(
                                    &group,
                                    vec![OffsetCommit {
                                        topic: name.clone(),
                                        partition: i64::from(p.partition_index),
                                        offset: p.committed_offset,
                                        metadata: p
                                            .committed_metadata
                                            .as_ref()
                                            .map(|m| m.to_string()),
                                    }],
                                )
                                .map_or_else(|e| codes::code(&e), |_| 0),
                        };
                        r
                    })
                    .collect();
                out.name = t.name;
                out
            })
            .collect()
    })
    .await?;
    let mut resp = OffsetCommitResponse::default();
    resp.topics = topics;
    Ok(resp)
}
