//! Transactions (KIP-98): the coordinator of transactional ids and what each
//! partition knows of them.
//!
//! - [`coordinator`]: [`TxnCoordinator`]: producer ids and epochs per
//!   transactional id, the partitions and group offsets of the open
//!   transaction, ending it in two durable phases, timeouts.
//! - [`state`]: [`TxnRecord`] and [`TxnPhase`], the stored state machine.
//! - [`marker`]: the commit and abort control batches written to partitions.
//! - [`partition`]: a partition's open and aborted transactions, rebuilt from
//!   its log; the last stable offset.
//! - [`refusal`]: [`TxnRefusal`], why a transactional request is refused.
pub mod coordinator;
pub mod marker;
pub mod partition;
pub mod refusal;
pub mod state;

pub use coordinator::TxnCoordinator;
pub use marker::Marker;
pub use refusal::TxnRefusal;
pub use state::{PendingOffset, TxnPhase, TxnRecord};
