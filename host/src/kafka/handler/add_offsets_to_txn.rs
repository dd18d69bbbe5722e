//! AddOffsetsToTxn: the group's offsets will commit with the transaction
//! (this broker coordinates both, so no other coordinator is involved).

use std::sync::Arc;

use kafka_protocol::messages::{AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, RequestHeader};

use crate::kafka::{KafkaContext, KafkaError};

use super::{blocking, codes};

/// Adds the group to the producer's open transaction.
pub async fn handle(
    ctx: &Arc<KafkaContext>,
    h: &RequestHeader,
    req: AddOffsetsToTxnRequest,
) -> Result<AddOffsetsToTxnResponse, KafkaError> {
    let v = h.request_api_version;
    let id = req.transactional_id.0.to_string();
    let group = req.group_id.0.to_string();
    let (pid, epoch) = (req.producer_id.0, req.producer_epoch);
    let done = blocking(ctx, move |ctx| {
        ctx.txns.add_offsets(&id, pid, epoch, &group)
    })
    .await?;
    let mut resp = AddOffsetsToTxnResponse::default();
    if let Err(e) = done {
        tracing::debug!("AddOffsetsToTxn refused: {e}");
        resp.error_code = codes::txn_code(&e, v, 2);
    }
    Ok(resp)
}
