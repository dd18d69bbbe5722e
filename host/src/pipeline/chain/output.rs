//! What a chain makes of a batch ([`ChainOutput`]: emitted records, failed ones, late
//! ones) and why a step fails a whole batch ([`StepError`], [`StepFault`]).

use crate::log::batch::Record;
use crate::runtime::{Body, Output, OutputRecord, RuntimeError};
use crate::streams::{Aggregation, Late, Processed, StreamsError};

use super::super::spec::SpecError;

/// A record the chain emitted.
#[derive(Debug, Clone)]
pub struct Emitted {
    /// Routed topic; `None` is the pipeline's main output.
    pub topic: Option<String>,
    /// The record.
    pub record: Record,
    /// Index of the input record it came from.
    pub source: usize,
}

/// An input record a step reported as failed.
#[derive(Debug, Clone)]
pub struct Failed {
    /// Index of the input record.
    pub source: usize,
    /// The step that failed it.
    pub step: usize,
    /// The plugin's message.
    pub message: String,
}

/// What the chain made of one batch.
#[derive(Debug, Default)]
pub struct ChainOutput {
    /// Emitted records, in order.
    pub records: Vec<Emitted>,
    /// Failed records.
    pub failures: Vec<Failed>,
    /// Records aggregation steps dropped as late (every window closed).
    pub late: u64,
    /// Of those, the ones whose step sends late records to the dead-letter topic
    /// (`"late": "dead-letter"`), with why.
    pub late_letters: Vec<Failed>,
    /// The results of an `on_update` aggregation whose results go to the main output
    /// unread by any step ([`Chain::defers_updates`](super::Chain::defers_updates)): the task keeps the latest per
    /// window and key until its next commit rather than appending each round's.
    pub updates: Vec<Emitted>,
}

impl ChainOutput {
    /// Counts an aggregation step's late records, dead-lettering them when the step
    /// says so, and hands back what it emits.
    pub(super) fn took(
        &mut self,
        aggregation: &Aggregation,
        step: usize,
        module: &str,
        done: Result<Processed, StreamsError>,
        sources: &[usize],
        records: &[Record],
    ) -> Result<Output, StepError> {
        let done = done.map_err(|error| StepError {
            step,
            module: module.to_string(),
            error: error.into(),
        })?;
        self.late += done.late.len() as u64;
        if aggregation.late == Late::DeadLetter {
            for l in &done.late {
                let at = l.index as usize;
                let (Some(&source), Some(record)) = (sources.get(at), records.get(at)) else {
                    continue;
                };
                self.late_letters.push(Failed {
                    source,
                    step,
                    message: aggregation.late_message(record.timestamp, l.stream_time),
                });
            }
        }
        Ok(done.output)
    }
}

/// A timer's new records, attributed to no input record.
pub(super) fn emitted(records: Vec<OutputRecord>) -> impl Iterator<Item = Emitted> {
    records.into_iter().filter_map(|r| match r.body {
        Body::New(record) => Some(Emitted {
            topic: r.topic,
            record: *record,
            source: 0,
        }),
        Body::Input => None,
    })
}

/// A whole call failed (a trap, a deadline, a memory cap, a plugin error, a state
/// store an aggregation could not use).
#[derive(Debug)]
pub struct StepError {
    /// Which step.
    pub step: usize,
    /// `name@version` of its module.
    pub module: String,
    /// What failed.
    pub error: StepFault,
}

/// Why a step failed a whole batch: the Wasm runtime's error or the streams layer's.
#[derive(Debug, thiserror::Error)]
pub enum StepFault {
    /// A module step.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// A built-in aggregation, table or join.
    #[error(transparent)]
    Streams(#[from] StreamsError),
    /// The spec's step graph did not build (it was checked when deployed: a host fault).
    #[error("step graph: {0}")]
    Graph(#[source] SpecError),
}

impl StepFault {
    /// Whether the host failed rather than the plugin or its input: a runtime host
    /// fault, or an aggregation's state store.
    pub fn is_host_fault(&self) -> bool {
        match self {
            StepFault::Runtime(e) => e.is_host_fault(),
            StepFault::Streams(_) | StepFault::Graph(_) => true,
        }
    }

    /// The runtime's error, if it was one.
    pub fn runtime(&self) -> Option<&RuntimeError> {
        match self {
            StepFault::Runtime(e) => Some(e),
            StepFault::Streams(_) | StepFault::Graph(_) => None,
        }
    }
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "step {} ({}): {}", self.step, self.module, self.error)
    }
}

impl std::error::Error for StepError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}
