//! A task's step chain: one plugin instance per step, run in order over a batch.
//!
//! Step `i + 1` sees the records step `i` sent to the main output; records a processor
//! routes to a named topic leave the chain at once. Every output remembers which input
//! record it came from, so failures and dead letters point at the original offset.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::log::batch::Record;
use crate::runtime::guest_output::LogSink;
use crate::runtime::{
    Body, Instance, InstanceConfig, Limits, Origin, Output, OutputRecord, Plugin, RuntimeError,
};

use crate::streams::{Aggregation, StreamsError};

use super::state::{Overlay, StepState};

/// A filter compiled into the host, run as a step in place of a Wasm module. Used by the
/// pipeline benchmark to compare a Wasm step with native Rust in the same pipeline.
pub trait NativeFilter: Send + Sync + std::fmt::Debug {
    /// Whether to keep `record`, given the step's config.
    fn keep(&self, record: &Record, config: &BTreeMap<String, String>) -> bool;
}

/// The code a step runs.
#[derive(Debug, Clone)]
pub enum StepCode {
    /// A loaded Wasm component.
    Wasm(Arc<Plugin>),
    /// A native filter given to the service in its config.
    Native(Arc<dyn NativeFilter>),
    /// A built-in aggregation (`count`, `sum`) of the streams layer.
    Aggregate(Aggregation),
}

impl StepCode {
    /// The WIT world it implements (`native` for native filters).
    pub fn world(&self) -> &'static str {
        match self {
            StepCode::Wasm(p) => p.world().name(),
            StepCode::Native(_) => "native",
            StepCode::Aggregate(_) => "streams",
        }
    }

    /// Whether what it emits depends on where a batch ends (see
    /// [`Aggregation::batch_sensitive`]).
    pub fn batch_sensitive(&self) -> bool {
        matches!(self, StepCode::Aggregate(a) if a.batch_sensitive())
    }

    /// Whether it is a stateful processor.
    pub fn is_processor(&self) -> bool {
        matches!(self, StepCode::Wasm(p) if p.world() == crate::runtime::World::Processor)
    }
}

/// What one step runs: a loaded module version and its config.
#[derive(Debug, Clone)]
pub struct StepPlan {
    /// Module name.
    pub module: String,
    /// Module version.
    pub version: u32,
    /// The loaded code.
    pub code: StepCode,
    /// Config handed to the plugin.
    pub config: BTreeMap<String, String>,
}

/// Shortest timer interval honoured, ms: each firing commits and flushes.
pub const MIN_TIMER_MS: u64 = 10;

fn timer_interval(ms: u64) -> i64 {
    ms.clamp(MIN_TIMER_MS, i64::MAX as u64) as i64
}

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
    /// A built-in aggregation.
    #[error(transparent)]
    Streams(#[from] StreamsError),
}

impl StepFault {
    /// Whether the host failed rather than the plugin or its input: a runtime host
    /// fault, or an aggregation's state store.
    pub fn is_host_fault(&self) -> bool {
        match self {
            StepFault::Runtime(e) => e.is_host_fault(),
            StepFault::Streams(_) => true,
        }
    }

    /// The runtime's error, if it was one.
    pub fn runtime(&self) -> Option<&RuntimeError> {
        match self {
            StepFault::Runtime(e) => Some(e),
            StepFault::Streams(_) => None,
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

enum Runner {
    Wasm(Box<Instance>),
    Native(Arc<dyn NativeFilter>, BTreeMap<String, String>),
    /// The aggregation and its state, read and written through the task's overlay so
    /// windows commit with the round's outputs and offsets.
    Aggregate(Aggregation, StepState),
}

struct Step {
    module: String,
    runner: Runner,
    /// A built-in plugin: may route records through [`super::plugins::ROUTE_HEADER`].
    builtin: bool,
}

/// The instances of one task's steps.
pub struct Chain {
    steps: Vec<Step>,
    /// Per step: when its timer fires next (ms since the epoch), if it has one.
    timers: Vec<Option<i64>>,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.steps.iter().map(|s| &s.module))
            .finish()
    }
}

impl Chain {
    /// Instantiates every step; processors get their state in `tree` through `overlay`.
    pub fn build(
        plans: &[StepPlan],
        tree: &sled::Tree,
        overlay: &Overlay,
        limits: Limits,
        log: Arc<dyn LogSink>,
    ) -> Result<Chain, StepError> {
        let mut steps = Vec::with_capacity(plans.len());
        for (i, plan) in plans.iter().enumerate() {
            let module = format!("{}@{}", plan.module, plan.version);
            let runner = match &plan.code {
                StepCode::Native(f) => Runner::Native(f.clone(), plan.config.clone()),
                StepCode::Aggregate(a) => {
                    Runner::Aggregate(*a, StepState::new(tree.clone(), i, overlay.clone()))
                }
                StepCode::Wasm(plugin) => Runner::Wasm(Box::new(
                    Instance::new(
                        plugin.clone(),
                        InstanceConfig {
                            limits,
                            config: plan.config.clone(),
                            log: log.clone(),
                            state: Some(Box::new(StepState::new(tree.clone(), i, overlay.clone()))),
                        },
                    )
                    .map_err(|error| StepError {
                        step: i,
                        module: module.clone(),
                        error: error.into(),
                    })?,
                )),
            };
            let builtin = plan.module.starts_with(super::spec::BUILTIN_PREFIX);
            steps.push(Step {
                module,
                runner,
                builtin,
            });
        }
        let now = crate::broker::now_ms();
        let timers = steps
            .iter()
            .map(|s| match &s.runner {
                Runner::Wasm(i) => i.timer_interval_ms().map(|iv| now + timer_interval(iv)),
                // Until the first input, a restarted task counts as just having seen some.
                Runner::Aggregate(a, _) => a.close_idle_after_ms.map(|idle| now + idle),
                Runner::Native(..) => None,
            })
            .collect();
        Ok(Chain { steps, timers })
    }

    /// When the next timer is due, if any step has one.
    pub fn next_timer_ms(&self) -> Option<i64> {
        self.timers.iter().flatten().min().copied()
    }

    /// Fires the timers due at `now_ms`. Their records go straight to the output topics
    /// (not through later steps), attributed to no input record.
    pub fn fire_timers(&mut self, now_ms: i64) -> Result<Vec<Emitted>, StepError> {
        let mut out = Vec::new();
        for (i, (step, due)) in self.steps.iter_mut().zip(&mut self.timers).enumerate() {
            let Some(at) = due.as_mut() else { continue };
            if *at > now_ms {
                continue;
            }
            let instance = match &mut step.runner {
                Runner::Wasm(instance) => instance,
                Runner::Aggregate(aggregation, state) => {
                    let fault = |error: StreamsError| StepError {
                        step: i,
                        module: step.module.clone(),
                        error: error.into(),
                    };
                    let output = aggregation.advance_to(state, now_ms).map_err(fault)?;
                    // Still idle: the next window to close is when there is more to emit
                    // (never sooner than a timer may fire); none open, until new input.
                    *due = aggregation
                        .next_close_ms(state)
                        .map_err(fault)?
                        .map(|t| t.max(now_ms + MIN_TIMER_MS as i64));
                    out.extend(output.records.into_iter().filter_map(|r| match r.body {
                        Body::New(record) => Some(Emitted {
                            topic: r.topic,
                            record: *record,
                            source: 0,
                        }),
                        Body::Input => None,
                    }));
                    continue;
                }
                Runner::Native(..) => continue,
            };
            let output = instance.on_timer(now_ms).map_err(|error| StepError {
                step: i,
                module: step.module.clone(),
                error: error.into(),
            })?;
            *at = now_ms + timer_interval(instance.timer_interval_ms().unwrap_or(1000));
            for r in output.records {
                if let Body::New(record) = r.body {
                    out.push(Emitted {
                        topic: r.topic,
                        record: *record,
                        source: 0,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Input arrived: steps closing windows on an idle input wait their idle time again.
    fn saw_input(&mut self) {
        let now = crate::broker::now_ms();
        for (step, due) in self.steps.iter().zip(&mut self.timers) {
            if let Runner::Aggregate(a, _) = &step.runner
                && let Some(idle) = a.close_idle_after_ms
            {
                *due = Some(now.saturating_add(idle));
            }
        }
    }

    /// Runs `records` (read from `topic`/`partition` at `offsets`) through every step.
    pub fn run(
        &mut self,
        topic: &str,
        partition: u32,
        offsets: &[i64],
        records: Vec<Record>,
    ) -> Result<ChainOutput, StepError> {
        let mut out = ChainOutput::default();
        if !records.is_empty() {
            self.saw_input();
        }
        let mut current = records;
        let mut sources: Vec<usize> = (0..current.len()).collect();
        let last = self.steps.len().saturating_sub(1);
        for (i, step) in self.steps.iter_mut().enumerate() {
            if current.is_empty() {
                break;
            }
            let origin = Origin {
                topic: topic.to_string(),
                partition,
                offsets: sources.iter().map(|&s| offsets[s]).collect(),
            };
            let output = match &mut step.runner {
                Runner::Wasm(instance) => {
                    let mut output =
                        instance
                            .process(&origin, &current)
                            .map_err(|error| StepError {
                                step: i,
                                module: step.module.clone(),
                                error: error.into(),
                            })?;
                    if step.builtin {
                        for r in &mut output.records {
                            if let Body::New(record) = &mut r.body
                                && let Some(topic) = super::plugins::take_route(record)
                            {
                                r.topic = Some(topic);
                            }
                        }
                    }
                    output
                }
                Runner::Aggregate(aggregation, state) => {
                    let done = aggregation
                        .process(state, &current)
                        .map_err(|error| StepError {
                            step: i,
                            module: step.module.clone(),
                            error: error.into(),
                        })?;
                    out.late += done.late;
                    done.output
                }
                Runner::Native(filter, config) => Output {
                    records: (0..current.len())
                        .filter(|&j| filter.keep(&current[j], config))
                        .map(|j| OutputRecord {
                            source: Some(j as u32),
                            topic: None,
                            body: Body::Input,
                        })
                        .collect(),
                    failures: Vec::new(),
                },
            };
            for f in output.failures {
                if let Some(&source) = sources.get(f.index as usize) {
                    out.failures.push(Failed {
                        source,
                        step: i,
                        message: f.message,
                    });
                }
            }
            let mut next = Vec::new();
            let mut next_sources = Vec::new();
            for r in output.records {
                let index = r.source.map_or(0, |s| s as usize);
                let source = sources.get(index).copied().unwrap_or(0);
                let record = match r.body {
                    Body::New(record) => *record,
                    Body::Input => match current.get(index) {
                        Some(record) => record.clone(),
                        None => continue,
                    },
                };
                if r.topic.is_some() || i == last {
                    out.records.push(Emitted {
                        topic: r.topic,
                        record,
                        source,
                    });
                } else {
                    next.push(record);
                    next_sources.push(source);
                }
            }
            current = next;
            sources = next_sources;
        }
        Ok(out)
    }
}
