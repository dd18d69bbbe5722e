//! [`TaskError`]: why a task stopped, with the lower layer's error kept as its source so
//! status and the API can tell a full disk from a failing plugin.

use std::sync::Arc;

use crate::broker::BrokerError;
use crate::log::batch::BatchError;

use super::super::PipelineError;
use super::super::chain::StepError;

/// Why a task stopped (it waits, failed, until the pipeline is updated or resumed).
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// The deployment's modules could not be loaded when the service started.
    #[error("{0}")]
    Undeployable(#[source] Arc<PipelineError>),
    /// The chain could not be built and there was nothing to roll back to.
    #[error("cannot start {0}")]
    Start(#[source] StepError),
    /// A step's call failed under `on_error = fail` (or with nothing to roll back to).
    #[error("{0}")]
    Step(#[source] StepError),
    /// A processor's timer call failed.
    #[error("timer: {0}")]
    Timer(#[source] StepError),
    /// A record failed in a step under `on_error = fail`.
    #[error("record at {topic}/{partition} offset {offset} failed in step {step}: {message}")]
    Record {
        /// Input topic.
        topic: String,
        /// Input partition.
        partition: u32,
        /// The record's offset.
        offset: i64,
        /// Which step.
        step: usize,
        /// What the step (or the host, for bad routing) said.
        message: String,
    },
    /// An input could not be read.
    #[error("reading input {topic}: {source}")]
    Read {
        /// Input topic.
        topic: String,
        /// Input partition.
        partition: u32,
        /// The broker's error.
        #[source]
        source: BrokerError,
    },
    /// An output topic is gone or unreadable.
    #[error("output {topic}: {source}")]
    Output {
        /// Output topic.
        topic: String,
        /// The broker's error.
        #[source]
        source: BrokerError,
    },
    /// An output batch could not be encoded.
    #[error("encoding output for {topic}/{partition}: {source}")]
    Encode {
        /// Output topic.
        topic: String,
        /// Output partition.
        partition: u32,
        /// The codec's error.
        #[source]
        source: BatchError,
    },
    /// Appending to an output failed (a full disk, a fenced partition).
    #[error("appending output: {source}")]
    Append {
        /// Output topic.
        topic: String,
        /// Output partition.
        partition: u32,
        /// The broker's error.
        #[source]
        source: BrokerError,
    },
    /// The output partition refused the task's sequence: another writer uses its id.
    #[error(
        "appending to {topic}/{partition}: sequence {sequence} refused, the partition expects \
         {expected} (another writer uses producer id {producer_id}?)"
    )]
    OutOfOrder {
        /// Output topic.
        topic: String,
        /// Output partition.
        partition: u32,
        /// The sequence sent.
        sequence: i32,
        /// The sequence the partition expects.
        expected: i32,
        /// The task's producer id.
        producer_id: i64,
    },
    /// The task's producer id was fenced on an output partition.
    #[error("appending to {topic}/{partition}: producer {producer_id} fenced")]
    Fenced {
        /// Output topic.
        topic: String,
        /// Output partition.
        partition: u32,
        /// The task's producer id.
        producer_id: i64,
    },
    /// The task's checkpoint (with state writes) could not be committed.
    #[error("committing {what}: {source}")]
    Commit {
        /// Which commit.
        what: &'static str,
        /// The store's error.
        #[source]
        source: PipelineError,
    },
    /// Flushing the task's state (before a swap or a pause) failed.
    #[error("flushing before the swap: {0}")]
    Flush(#[source] sled::Error),
    /// A turn panicked: a bug in weir. The task's state in memory is gone; its last
    /// commit is where it resumes after a restart.
    #[error(
        "a turn panicked (a bug in weir; the task resumes from its last commit after a restart)"
    )]
    Panicked,
}

impl TaskError {
    /// The commit error for `what`.
    pub(super) fn commit(what: &'static str) -> impl FnOnce(PipelineError) -> TaskError {
        move |source| TaskError::Commit { what, source }
    }
}
