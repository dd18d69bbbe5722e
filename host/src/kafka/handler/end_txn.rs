//! EndTxn: commit or abort the producer's open transaction.

use std::sync::Arc;

use kafka_protocol::messages::{EndTxnRequest, EndTxnResponse, RequestHeader};

use crate::kafka::{KafkaContext, KafkaError};

use super::{blocking, codes};

/// Ends the transaction: returns once every marker is durable.
pub async fn handle(
    ctx: &Arc<KafkaContext>,
    h: &RequestHeader,
    req: EndTxnRequest,
) -> Result<EndTxnResponse, KafkaError> {
    let v = h.request_api_version;
    let id = req.transactional_id.0.to_string();
    let (pid, epoch, commit) = (req.producer_id.0, req.producer_epoch, req.committed);
    let done = blocking(ctx, move |ctx| ctx.txns.end(&id, pid, epoch, commit)).await?;
    let mut resp = EndTxnResponse::default();
    if let Err(e) = done {
        tracing::debug!("EndTxn refused: {e}");
        resp.error_code = codes::txn_code(&e, v, 2);
    }
    Ok(resp)
}
