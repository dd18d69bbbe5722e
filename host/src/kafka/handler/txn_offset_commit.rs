//! TxnOffsetCommit: a group's offsets held with a transaction, visible to the
//! group only once the transaction commits.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{RequestHeader, TxnOffsetCommitRequest, TxnOffsetCommitResponse};

use crate::auth::{Operation, Resource};
use crate::broker::txn::PendingOffset;
use crate::kafka::{KafkaContext, KafkaError};

use super::caller::Caller;
use super::offset_commit::partition_error;
use super::{blocking, codes};

/// Holds the offsets with the transaction; per-partition errors otherwise.
pub async fn handle(
    ctx: &Arc<KafkaContext>,
    h: &RequestHeader,
    req: TxnOffsetCommitRequest,
    caller: &Caller,
) -> Result<TxnOffsetCommitResponse, KafkaError> {
    let v = h.request_api_version;
    let group = req.group_id.0.to_string();
    // v3 carries the member's generation (KIP-447): a zombie from an older
    // generation is refused like a plain commit would be.
    let refused = (v >= 3)
        .then(|| {
            ctx.groups.check_commit(
                &group,
                req.generation_id,
                (&req.member_id, req.group_instance_id.as_deref()),
            )
        })
        .flatten();
    let id = req.transactional_id.0.to_string();
    let (pid, epoch) = (req.producer_id.0, req.producer_epoch);
    // Kafka: WRITE on the transactional id, READ on the group, READ on each topic.
    let denied = if !caller.may(ctx, Operation::Write, &Resource::transactional_id(&id)) {
        ResponseError::TransactionalIdAuthorizationFailed.code()
    } else if !caller.may(ctx, Operation::Read, &Resource::group(&group)) {
        ResponseError::GroupAuthorizationFailed.code()
    } else {
        0
    };
    let caller = caller.clone();
    let topics = req.topics;
    let topics = blocking(ctx, move |ctx| {
        let mut offsets = Vec::new();
        let mut errors: Vec<Vec<(i32, i16)>> = Vec::new();
        for t in &topics {
            let name = t.name.0.to_string();
            let denied = match denied {
                0 if !caller.may(ctx, Operation::Read, &Resource::topic(&name)) => {
                    ResponseError::TopicAuthorizationFailed.code()
                }
                code => code,
            };
            let mut codes = Vec::new();
            for p in &t.partitions {
                let code = if denied != 0 {
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
                if code == 0 {
                    offsets.push((
                        (name.clone(), p.partition_index as u32),
                        PendingOffset {
                            offset: p.committed_offset,
                            metadata: p.committed_metadata.as_ref().map(|m| m.to_string()),
                        },
                    ));
                }
                codes.push((p.partition_index, code));
            }
            errors.push(codes);
        }
        if !offsets.is_empty()
            && let Err(e) = ctx.txns.commit_offsets(&id, pid, epoch, &group, offsets)
        {
            tracing::debug!(group, "TxnOffsetCommit refused: {e}");
            let code = codes::txn_code(&e, v, 3);
            for (_, c) in errors.iter_mut().flatten() {
                if *c == 0 {
                    *c = code;
                }
            }
        }
        topics
            .into_iter()
            .zip(errors)
            .map(|(t, codes)| {
                let mut out = TxnOffsetCommitResponseTopic::default();
                out.name = t.name;
                out.partitions = codes
                    .into_iter()
                    .map(|(index, code)| {
                        let mut r = TxnOffsetCommitResponsePartition::default();
                        r.partition_index = index;
                        r.error_code = code;
                        r
                    })
                    .collect();
                out
            })
            .collect::<Vec<_>>()
    })
    .await?;
    let mut resp = TxnOffsetCommitResponse::default();
    resp.topics = topics;
    Ok(resp)
}
