//! Why the transaction coordinator refuses a request: each is one Kafka error code.

/// A transactional request the coordinator refuses (nothing changed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TxnRefusal {
    /// The transactional id is unknown, or maps to another producer id.
    #[error("the producer id does not match the transactional id's")]
    InvalidProducerIdMapping,
    /// An older epoch: another instance with the same transactional id took over.
    #[error("the producer was fenced by a newer instance with the same transactional id")]
    Fenced,
    /// The request makes no sense in the transaction's state (e.g. a produce to
    /// a partition not added, ending a transaction that was never begun).
    #[error("the request is invalid in the transaction's current state")]
    InvalidState,
    /// `transaction.timeout.ms` is not positive or above the broker's maximum.
    #[error("the transaction timeout is out of range")]
    InvalidTimeout,
    /// A bound on what one client can make the coordinator hold was reached.
    #[error("too many {what} (at most {max})")]
    TooMany {
        /// Partitions in one transaction, or transactional ids.
        what: &'static str,
        /// The bound.
        max: usize,
    },
    /// Another operation on the transaction is still completing: retry.
    #[error("the transaction is still completing; retry")]
    Concurrent,
    /// The transactional id has no state here.
    #[error("unknown transactional id")]
    UnknownTransactionalId,
}
