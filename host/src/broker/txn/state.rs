//! A transactional id's coordinator state, as stored in sled: its producer id
//! and epoch and the phase of its current transaction (KIP-98's state machine,
//! with Kafka's names in [`TxnPhase::name`]).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// Offsets a transaction commits for a consumer group when it commits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingOffset {
    /// The next offset the group will read.
    pub offset: i64,
    /// Free-form client metadata.
    pub metadata: Option<String>,
}

/// What an open transaction touches.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenTxn {
    /// When its first partition or group was added (ms); the timeout runs from here.
    pub started_ms: i64,
    /// Partitions that get a marker when it ends.
    pub partitions: BTreeSet<(String, u32)>,
    /// Groups added with AddOffsetsToTxn.
    pub groups: BTreeSet<String>,
    /// Per group, per (topic, partition): offsets committed if it commits.
    pub offsets: BTreeMap<String, BTreeMap<(String, u32), PendingOffset>>,
}

/// Where a transactional id's current transaction stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnPhase {
    /// No transaction since the producer was initialised.
    Empty,
    /// A transaction is open.
    Ongoing(OpenTxn),
    /// Decided (durably) but its markers may not all be written: recovery
    /// finishes it (Kafka's PrepareCommit / PrepareAbort).
    Ending {
        /// Commit, or abort.
        commit: bool,
        /// What it touched.
        txn: OpenTxn,
    },
    /// Ended; the next AddPartitions opens a new one.
    Complete {
        /// It committed, or aborted.
        commit: bool,
    },
}

impl TxnPhase {
    /// Kafka's name of the state (DescribeTransactions, ListTransactions).
    pub fn name(&self) -> &'static str {
        match self {
            TxnPhase::Empty => "Empty",
            TxnPhase::Ongoing(_) => "Ongoing",
            TxnPhase::Ending { commit: true, .. } => "PrepareCommit",
            TxnPhase::Ending { commit: false, .. } => "PrepareAbort",
            TxnPhase::Complete { commit: true } => "CompleteCommit",
            TxnPhase::Complete { commit: false } => "CompleteAbort",
        }
    }

    /// The open or ending transaction, if any.
    pub fn txn(&self) -> Option<&OpenTxn> {
        match self {
            TxnPhase::Ongoing(txn) | TxnPhase::Ending { txn, .. } => Some(txn),
            TxnPhase::Empty | TxnPhase::Complete { .. } => None,
        }
    }
}

/// A transactional id's durable record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnRecord {
    /// The producer id the transactional id maps to.
    pub producer_id: i64,
    /// Its current epoch; older ones are fenced.
    pub epoch: i16,
    /// `transaction.timeout.ms` the producer asked for.
    pub timeout_ms: i32,
    /// The current transaction.
    pub phase: TxnPhase,
    /// Last change (ms).
    pub updated_ms: i64,
}
