//! [`Trial`]: a plugin run once over a list of records in a fresh instance with in-memory
//! state, reporting what came out, what failed and what it logged.
//!
//! `weir plugin test` and the HTTP playground (`POST /v1/modules/{name}/{version}/test`)
//! both run through here, so a module behaves the same on a developer's laptop and in the
//! console. A trial owns its instance and its state: nothing a running pipeline holds is
//! read or written.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::error::RuntimeError;
use super::guest_output::{LogLevel, LogSink};
use super::instance::{Instance, InstanceConfig, Origin};
use super::limits::Limits;
use super::plugin::Plugin;
use super::state::MemoryState;
use crate::record::Record;

/// How a trial runs its records.
#[derive(Debug, Clone)]
pub struct Trial {
    /// Sandbox limits of the instance.
    pub limits: Limits,
    /// The plugin's configuration.
    pub config: BTreeMap<String, String>,
    /// Records per call into the plugin (at least 1).
    pub batch_size: usize,
    /// The topic and partition the plugin is told its records come from.
    pub topic: String,
    /// See `topic`.
    pub partition: u32,
    /// Bounds on the whole run.
    pub bounds: TrialBounds,
}

/// Bounds on a whole trial, beyond each call's [`Limits`]: a server running trials for
/// clients must not hold an instance, or its outputs, for long however the calls go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrialBounds {
    /// Time the run may take; no call starts after it (`None`: no bound).
    pub total: Option<Duration>,
    /// Most output records kept.
    pub max_outputs: usize,
    /// Most bytes (keys, values, headers) of output records kept.
    pub max_output_bytes: usize,
}

impl TrialBounds {
    /// No bound: for a developer's own `weir plugin test`.
    pub const NONE: TrialBounds = TrialBounds {
        total: None,
        max_outputs: usize::MAX,
        max_output_bytes: usize::MAX,
    };
}

/// Why a trial stopped before running all its records or keeping all outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truncated {
    /// The run's total time was spent; later records were not run.
    Deadline,
    /// The output record cap was reached; later outputs were dropped and the run stopped.
    Outputs,
    /// The output byte cap was reached; later outputs were dropped and the run stopped.
    OutputBytes,
}

impl Truncated {
    /// Why, as the API reports it.
    pub fn reason(self) -> &'static str {
        match self {
            Truncated::Deadline => "deadline",
            Truncated::Outputs => "max_outputs",
            Truncated::OutputBytes => "max_output_bytes",
        }
    }
}

/// One record the plugin emitted.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialOutput {
    /// The offset of the input it came from (`None`: a processor's timer output).
    pub offset: Option<i64>,
    /// Where the plugin routed it (`None`: the main output).
    pub topic: Option<String>,
    /// The record.
    pub record: Record,
}

/// What went wrong with part of the input.
#[derive(Debug)]
pub enum TrialFailure {
    /// The plugin refused one record (its `result` error).
    Record {
        /// The record's offset.
        offset: i64,
        /// The plugin's message.
        message: String,
    },
    /// A whole call failed (a trap, the deadline, a cap crossed): none of its records
    /// came out.
    Batch {
        /// The first offset of the call's records.
        first: i64,
        /// The last.
        last: i64,
        /// How many records the call held.
        count: usize,
        /// Why.
        error: RuntimeError,
    },
    /// The plugin named an input that was not in the call's batch.
    UnknownSource {
        /// The index it named.
        index: Option<u32>,
    },
}

impl std::fmt::Display for TrialFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrialFailure::Record { offset, message } => {
                write!(f, "record at offset {offset} failed: {message}")
            }
            TrialFailure::Batch {
                first, last, error, ..
            } => {
                write!(f, "offsets {first}-{last}: {error}")
            }
            TrialFailure::UnknownSource { index } => {
                write!(f, "output names input {index:?}, not in the batch")
            }
        }
    }
}

/// One line the plugin logged (or wrote to stdout/stderr).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrialLog {
    /// Severity.
    pub level: LogLevel,
    /// The line.
    pub message: String,
}

/// What a trial produced.
#[derive(Debug, Default)]
pub struct TrialOutcome {
    /// Emitted records, in order.
    pub outputs: Vec<TrialOutput>,
    /// Failures, in order.
    pub failures: Vec<TrialFailure>,
    /// Log lines, oldest first, at most the [`CapturedLog`]'s cap.
    pub logs: Vec<TrialLog>,
    /// Log lines past the cap, not kept.
    pub logs_dropped: usize,
    /// Set when the run stopped early at one of its [`TrialBounds`].
    pub truncated: Option<Truncated>,
}

/// A log sink keeping at most `cap` lines (a chatty plugin loses lines, not the
/// caller's memory), and forwarding each to `next` when given.
pub struct CapturedLog {
    cap: usize,
    lines: Mutex<(Vec<TrialLog>, usize)>,
    next: Option<Arc<dyn LogSink>>,
}

impl CapturedLog {
    /// Keeps up to `cap` lines; forwards every line to `next` too.
    pub fn new(cap: usize, next: Option<Arc<dyn LogSink>>) -> CapturedLog {
        CapturedLog {
            cap,
            lines: Mutex::new((Vec::new(), 0)),
            next,
        }
    }

    /// The lines kept and how many were dropped.
    fn take(&self) -> (Vec<TrialLog>, usize) {
        std::mem::take(&mut *self.lines.lock())
    }
}

impl LogSink for CapturedLog {
    fn write(&self, plugin: &str, level: LogLevel, message: &str) {
        if let Some(next) = &self.next {
            next.write(plugin, level, message);
        }
        let mut lines = self.lines.lock();
        if lines.0.len() < self.cap {
            lines.0.push(TrialLog {
                level,
                message: message.to_string(),
            });
        } else {
            lines.1 += 1;
        }
    }
}

/// The bytes a record holds: key, value, header names and values.
fn record_bytes(r: &Record) -> usize {
    let len = |b: &Option<bytes::Bytes>| b.as_ref().map_or(0, |b| b.len());
    len(&r.key)
        + len(&r.value)
        + r.headers
            .iter()
            .map(|(k, v)| k.len() + len(v))
            .sum::<usize>()
}

impl Trial {
    /// Runs `records` (with their `offsets`, one each) through `plugin` in calls of
    /// `batch_size`. A failing record or call is reported and the rest still run; only an
    /// instance that cannot start at all (a processor's `init` failing) is an error.
    pub fn run(
        &self,
        plugin: Arc<Plugin>,
        records: &[Record],
        offsets: &[i64],
        log: Arc<CapturedLog>,
    ) -> Result<TrialOutcome, RuntimeError> {
        if records.len() != offsets.len() {
            return Err(RuntimeError::BadInput {
                reason: format!("{} records but {} offsets", records.len(), offsets.len()),
            });
        }
        let config = InstanceConfig {
            limits: self.limits,
            config: self.config.clone(),
            log: log.clone(),
            state: Some(Box::new(MemoryState::new())),
        };
        let mut instance = Instance::new(plugin, config)?;
        let mut outcome = TrialOutcome::default();
        let size = self.batch_size.max(1);
        let deadline = self.bounds.total.map(|t| Instant::now() + t);
        let mut output_bytes = 0usize;
        'calls: for (chunk, chunk_offsets) in records.chunks(size).zip(offsets.chunks(size)) {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                outcome.truncated = Some(Truncated::Deadline);
                break;
            }
            let origin = Origin {
                topic: self.topic.clone(),
                partition: self.partition,
                offsets: chunk_offsets.to_vec(),
            };
            match instance.process(&origin, chunk) {
                Ok(output) => {
                    for r in output.records {
                        let Some(record) = r.record(chunk) else {
                            outcome
                                .failures
                                .push(TrialFailure::UnknownSource { index: r.source });
                            continue;
                        };
                        let offset = r
                            .source
                            .and_then(|i| chunk_offsets.get(i as usize).copied());
                        if outcome.outputs.len() >= self.bounds.max_outputs {
                            outcome.truncated = Some(Truncated::Outputs);
                            break 'calls;
                        }
                        output_bytes += record_bytes(record);
                        if output_bytes > self.bounds.max_output_bytes {
                            outcome.truncated = Some(Truncated::OutputBytes);
                            break 'calls;
                        }
                        outcome.outputs.push(TrialOutput {
                            offset,
                            topic: r.topic.clone(),
                            record: record.clone(),
                        });
                    }
                    for f in output.failures {
                        outcome.failures.push(TrialFailure::Record {
                            offset: chunk_offsets.get(f.index as usize).copied().unwrap_or(-1),
                            message: f.message,
                        });
                    }
                }
                Err(error) => outcome.failures.push(TrialFailure::Batch {
                    first: chunk_offsets[0],
                    last: chunk_offsets[chunk_offsets.len() - 1],
                    count: chunk.len(),
                    error,
                }),
            }
        }
        drop(instance);
        (outcome.logs, outcome.logs_dropped) = log.take();
        Ok(outcome)
    }
}
