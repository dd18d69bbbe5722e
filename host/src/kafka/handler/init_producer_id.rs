//! InitProducerId: a fresh producer id for idempotent producers, or an epoch
//! bump for one that asks to keep its id (KIP-360); for transactional
//! producers, the transaction coordinator's id and next epoch.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{
    InitProducerIdRequest, InitProducerIdResponse, ProducerId, RequestHeader,
};

use crate::broker::producer::EpochBump;
use crate::kafka::{KafkaContext, KafkaError};

use super::{blocking, codes};

/// Hands out a producer id and epoch; with a transactional id, the
/// coordinator's (fencing older instances).
pub async fn handle(
    ctx: &Arc<KafkaContext>,
    h: &RequestHeader,
    req: InitProducerIdRequest,
) -> Result<InitProducerIdResponse, KafkaError> {
    let mut resp = InitProducerIdResponse::default();
    if let Some(id) = req.transactional_id.filter(|id| !id.0.is_empty()) {
        let id = id.0.to_string();
        let timeout = req.transaction_timeout_ms;
        let expected = (req.producer_id.0 >= 0).then_some((req.producer_id.0, req.producer_epoch));
        match blocking(ctx, move |ctx| {
            ctx.txns.init_producer(&id, timeout, expected)
        })
        .await?
        {
            Ok((pid, epoch)) => {
                resp.producer_id = ProducerId(pid);
                resp.producer_epoch = epoch;
            }
            Err(e) => {
                tracing::debug!("InitProducerId refused: {e}");
                resp.producer_id = ProducerId(-1);
                resp.producer_epoch = -1;
                resp.error_code = codes::txn_code(&e, h.request_api_version, 4);
            }
        }
        return Ok(resp);
    }
    if req.producer_id.0 >= 0
        && req.producer_epoch >= 0
        && !ctx.producers.is_internal(req.producer_id.0)
    {
        // A producer resetting its sequences: same id, next epoch, but only
        // from its current epoch. An id this broker does not track (before a
        // restart, or epochs exhausted) gets a fresh id below, as in Kafka; so
        // does a pipeline's id, whose epoch no client may move.
        match ctx
            .producers
            .bump_epoch(req.producer_id.0, req.producer_epoch)
        {
            EpochBump::Bumped(epoch) => {
                resp.producer_id = req.producer_id;
                resp.producer_epoch = epoch;
                return Ok(resp);
            }
            EpochBump::Stale => {
                resp.error_code = ResponseError::InvalidProducerEpoch.code();
                return Ok(resp);
            }
            EpochBump::Unknown => {}
        }
    }
    match blocking(ctx, |ctx| ctx.producers.next_producer_id()).await? {
        Ok(id) => {
            resp.producer_id = ProducerId(id);
            resp.producer_epoch = 0;
        }
        Err(e) => {
            tracing::error!("allocating a producer id: {e}");
            resp.error_code = codes::code(&e);
        }
    }
    Ok(resp)
}
