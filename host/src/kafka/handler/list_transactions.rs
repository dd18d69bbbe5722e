//! ListTransactions: transactional ids, filtered by state, producer id and
//! (v1) how long their transaction has been open.

use std::sync::Arc;

use kafka_protocol::messages::list_transactions_response::TransactionState;
use kafka_protocol::messages::{
    ListTransactionsRequest, ListTransactionsResponse, ProducerId, RequestHeader, TransactionalId,
};

use crate::auth::{Operation, Resource};
use crate::broker::now_ms;
use crate::kafka::{KafkaContext, KafkaError};

use super::caller::Caller;
use super::s;

/// Kafka's state names; a filter naming another is reported back as unknown.
const STATES: &[&str] = &[
    "Empty",
    "Ongoing",
    "PrepareCommit",
    "PrepareAbort",
    "CompleteCommit",
    "CompleteAbort",
];

/// Lists the ids every filter given accepts.
pub fn handle(
    ctx: &Arc<KafkaContext>,
    _h: &RequestHeader,
    req: ListTransactionsRequest,
    caller: &Caller,
) -> Result<ListTransactionsResponse, KafkaError> {
    let mut resp = ListTransactionsResponse::default();
    resp.unknown_state_filters = req
        .state_filters
        .iter()
        .filter(|f| !STATES.contains(&f.as_str()))
        .cloned()
        .collect();
    let now = now_ms();
    resp.transaction_states = ctx
        .txns
        .list()
        .into_iter()
        // Kafka lists the transactional ids the caller may DESCRIBE.
        .filter(|(id, _)| caller.may(ctx, Operation::Describe, &Resource::transactional_id(id)))
        .filter(|(_, rec)| {
            let state_ok = req.state_filters.is_empty()
                || req
                    .state_filters
                    .iter()
                    .any(|f| f.as_str() == rec.phase.name());
            let pid_ok = req.producer_id_filters.is_empty()
                || req
                    .producer_id_filters
                    .contains(&ProducerId(rec.producer_id));
            // v1: only transactions open longer than the filter (-1: no filter).
            let age_ok = req.duration_filter < 0
                || rec
                    .phase
                    .txn()
                    .is_some_and(|t| now.saturating_sub(t.started_ms) > req.duration_filter);
            state_ok && pid_ok && age_ok
        })
        .map(|(id, rec)| {
            let mut t = TransactionState::default();
            t.transactional_id = TransactionalId(s(id));
            t.producer_id = ProducerId(rec.producer_id);
            t.transaction_state = s(rec.phase.name());
            t
        })
        .collect();
    Ok(resp)
}
