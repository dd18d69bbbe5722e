//! A task's step chain: one plugin instance (or built-in operator) per step, run in order
//! over a batch, each step over what its input node produced (see [`Graph`]): `inputs`,
//! a source, or an earlier step (by default the previous one).
//!
//! A table source applies its topic's records to its rows before any step runs. The
//! output step's records go to the main output; records a processor routes to a named
//! topic leave the chain at once. Every output remembers which input record it came
//! from, so failures and dead letters point at the original offset.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::log::batch::Record;
use crate::runtime::guest_output::LogSink;
use crate::runtime::{
    Body, Instance, InstanceConfig, Limits, Origin, Output, OutputRecord, Plugin, RuntimeError,
};

use crate::streams::{Aggregation, Join, Late, OpenWindows, Processed, StreamsError, Table};

use super::flows::{Flow, Flows, readers};
use super::join_step::JoinStep;
use super::limits::StateLimits;
use super::spec::{Graph, Node, PipelineSpec, SourceKind, SpecError, Wiring};
use super::state::{Overlay, StepState};
use super::table_cache::CachedState;

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
    /// An aggregation of the streams layer whose arithmetic is a module's (`reduce`,
    /// `aggregate`: a component of the aggregator world).
    ModuleAggregate(Aggregation, Arc<Plugin>),
    /// A `group_by`: a key-selector component's new key for each record.
    GroupBy(Arc<Plugin>),
    /// A `to_table` step.
    Table,
    /// A `join` step, with its joiner module (`None`: the default joiner) and, for a
    /// stream–global_table join, its key-selector module.
    Join {
        /// The join of its inputs.
        join: Join,
        /// The joiner (`"module"`).
        joiner: Option<Arc<Plugin>>,
        /// The key selector (`"key_module"`).
        keys: Option<Arc<Plugin>>,
    },
}

impl StepCode {
    /// The WIT world it implements (`native` for native filters).
    pub fn world(&self) -> &'static str {
        match self {
            StepCode::Wasm(p) => p.world().name(),
            StepCode::Native(_) => "native",
            StepCode::Join {
                joiner: Some(p), ..
            } => p.world().name(),
            StepCode::Aggregate(_) | StepCode::Table | StepCode::Join { .. } => "streams",
            StepCode::ModuleAggregate(_, p) | StepCode::GroupBy(p) => p.world().name(),
        }
    }

    /// Whether what it emits depends on where a batch ends (see
    /// [`Aggregation::batch_sensitive`]).
    pub fn batch_sensitive(&self) -> bool {
        match self {
            StepCode::Aggregate(a) | StepCode::ModuleAggregate(a, _) => a.batch_sensitive(),
            StepCode::Wasm(_)
            | StepCode::Native(_)
            | StepCode::GroupBy(_)
            | StepCode::Table
            | StepCode::Join { .. } => false,
        }
    }

    /// How many Wasm instances each task holds for it.
    pub fn instances(&self) -> usize {
        match self {
            StepCode::Wasm(_) | StepCode::ModuleAggregate(..) | StepCode::GroupBy(_) => 1,
            StepCode::Join { joiner, keys, .. } => {
                usize::from(joiner.is_some()) + usize::from(keys.is_some())
            }
            StepCode::Native(_) | StepCode::Aggregate(_) | StepCode::Table => 0,
        }
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
    /// Of those, the ones whose step sends late records to the dead-letter topic
    /// (`"late": "dead-letter"`), with why.
    pub late_letters: Vec<Failed>,
    /// The results of an `on_update` aggregation whose results go to the main output
    /// unread by any step ([`Chain::defers_updates`]): the task keeps the latest per
    /// window and key until its next commit rather than appending each round's.
    pub updates: Vec<Emitted>,
}

impl ChainOutput {
    /// Counts an aggregation step's late records, dead-lettering them when the step
    /// says so, and hands back what it emits.
    fn took(
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
fn emitted(records: Vec<OutputRecord>) -> impl Iterator<Item = Emitted> {
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

enum Runner {
    Wasm(Box<Instance>),
    Native(Arc<dyn NativeFilter>, BTreeMap<String, String>),
    /// The aggregation and its state, read and written through the task's overlay so
    /// windows commit with the round's outputs and offsets, and its open windows in
    /// memory in front of that state.
    Aggregate(Aggregation, StepState, OpenWindows),
    /// The same for a `reduce` or `aggregate` step, with the module instance whose
    /// functions do the arithmetic (its windows stay in the store).
    ModuleAggregate(Aggregation, StepState, Box<Instance>),
    /// A `group_by`'s key selector.
    GroupBy(Box<Instance>),
    /// A `to_table` step's rows.
    Table(CachedState),
    /// A join, its own state (windows, results), the rows of its table inputs, and its
    /// modules.
    Join(Box<JoinStep>),
}

impl Runner {
    /// Whether what it emits depends on where a batch ends.
    fn batch_sensitive(&self) -> bool {
        match self {
            Runner::Aggregate(a, ..) | Runner::ModuleAggregate(a, ..) => a.batch_sensitive(),
            Runner::Wasm(_)
            | Runner::Native(..)
            | Runner::GroupBy(_)
            | Runner::Table(_)
            | Runner::Join(_) => false,
        }
    }
}

struct Step {
    module: String,
    runner: Runner,
    wiring: Wiring,
    /// A built-in plugin: may route records through [`super::plugins::ROUTE_HEADER`].
    builtin: bool,
}

/// What a task does with a named source's records.
enum Read {
    /// Passes them on as they are.
    Stream,
    /// Applies them to the table's rows first (a table or global table source).
    Table(CachedState),
}

/// A named source as a task reads it.
struct Source {
    topic: String,
    read: Read,
}

/// The instances of one task's steps.
pub struct Chain {
    steps: Vec<Step>,
    /// Per step: when its timer fires next (ms since the epoch), if it has one.
    timers: Vec<Option<i64>>,
    /// The index in the whole spec of the first step.
    first_step: usize,
    /// The topics of `inputs`, read as one stream.
    inputs: Vec<String>,
    sources: Vec<Source>,
    /// Per node, how many steps read it.
    readers: Vec<usize>,
    /// The step whose results go to the main output.
    output: usize,
    /// The output step, when it is an `on_update` aggregation no step reads and the task
    /// reads one topic: its results are [`ChainOutput::updates`].
    deferred: Option<usize>,
    /// `pipelines.max_table_bytes`: the most one table's rows may take.
    max_table_bytes: u64,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.steps.iter().map(|s| &s.module))
            .finish()
    }
}

impl Chain {
    /// Instantiates every step of `spec`'s graph; processors, aggregations, tables and
    /// joins get their state in `tree` through `overlay`.
    // Each argument is a different part of the task (its tree, overlay, log) or of the
    // server's config; a struct bundling them would exist for this call alone.
    #[allow(clippy::too_many_arguments)]
    pub fn build(
        plans: &[StepPlan],
        spec: &PipelineSpec,
        first_step: usize,
        tree: &sled::Tree,
        overlay: &Overlay,
        limits: Limits,
        state_limits: StateLimits,
        log: Arc<dyn LogSink>,
    ) -> Result<Chain, StepError> {
        let graph = Graph::of(spec).map_err(|e| StepError {
            step: 0,
            module: "graph".into(),
            error: StepFault::Graph(e),
        })?;
        let state = |slot: usize| StepState::new(tree.clone(), slot, overlay.clone());
        // One cache per table slot, shared by the table's writer and the joins reading
        // it, so that every write reaches it.
        let mut tables: BTreeMap<usize, CachedState> = BTreeMap::new();
        let mut table = |slot: usize| {
            tables
                .entry(slot)
                .or_insert_with(|| {
                    CachedState::new(state(slot), state_limits.max_table_cache_bytes)
                })
                .clone()
        };
        let mut steps = Vec::with_capacity(plans.len());
        // Steps are numbered (state keys, errors) as in the whole spec: a task on the far
        // side of a `group_by` runs the steps from `first_step`.
        for (local, (plan, wiring)) in plans.iter().zip(&graph.wiring).enumerate() {
            let i = first_step + local;
            let module = format!("{}@{}", plan.module, plan.version);
            // A key selector's or aggregator's instance: the host keeps the keys and
            // aggregates, so the module gets no state store.
            let stateless = |plugin: &Arc<Plugin>| {
                Instance::new(
                    plugin.clone(),
                    InstanceConfig {
                        limits,
                        config: plan.config.clone(),
                        log: log.clone(),
                        state: None,
                    },
                )
                .map_err(|error| StepError {
                    step: i,
                    module: module.clone(),
                    error: error.into(),
                })
            };
            let runner = match &plan.code {
                StepCode::Native(f) => Runner::Native(f.clone(), plan.config.clone()),
                StepCode::Aggregate(a) => {
                    Runner::Aggregate(*a, state(i), OpenWindows::new(a.max_open_windows))
                }
                StepCode::GroupBy(plugin) => Runner::GroupBy(Box::new(stateless(plugin)?)),
                StepCode::ModuleAggregate(a, plugin) => {
                    Runner::ModuleAggregate(*a, state(i), Box::new(stateless(plugin)?))
                }
                StepCode::Table => Runner::Table(table(i)),
                StepCode::Join { joiner, keys, .. } => {
                    let Wiring::Join {
                        left,
                        right,
                        mut join,
                    } = *wiring
                    else {
                        return Err(StepError {
                            step: i,
                            module,
                            error: StepFault::Streams(StreamsError::NoTable),
                        });
                    };
                    if let crate::streams::JoinPair::StreamStream(w) = &mut join.pair {
                        w.max_records = state_limits.max_join_window_records;
                    }
                    let module = |p: &Option<Arc<Plugin>>| {
                        p.as_ref().map(|p| stateless(p).map(Box::new)).transpose()
                    };
                    Runner::Join(Box::new(JoinStep {
                        join,
                        own: state(i),
                        left: graph.table_slot(spec, left).map(&mut table),
                        right: graph.table_slot(spec, right).map(&mut table),
                        joiner: module(joiner)?,
                        keys: module(keys)?,
                    }))
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
                wiring: *wiring,
                builtin,
            });
        }
        let now = crate::broker::now_ms();
        let timers = steps
            .iter()
            .map(|s| match &s.runner {
                Runner::Wasm(i) => i.timer_interval_ms().map(|iv| now + timer_interval(iv)),
                // Until the first input, a restarted task counts as just having seen some.
                Runner::Aggregate(a, ..) | Runner::ModuleAggregate(a, ..) => {
                    a.close_idle_after_ms.map(|idle| now + idle)
                }
                Runner::Native(..) | Runner::GroupBy(_) | Runner::Table(_) | Runner::Join(_) => {
                    None
                }
            })
            .collect();
        let sources = graph
            .sources
            .iter()
            .enumerate()
            .map(|(s, node)| Source {
                topic: node.topic.clone(),
                read: match graph.table_slot(spec, Node::Source(s)) {
                    Some(slot) if node.kind != SourceKind::Stream => Read::Table(table(slot)),
                    _ => Read::Stream,
                },
            })
            .collect();
        let readers = readers(&graph);
        // Several inputs pin every round's ranges anyway (see the task's round): there
        // the results stay per round.
        let one_input = spec.read_topics().len() + spec.global_topics().len() == 1;
        let deferred = (one_input
            && steps
                .get(graph.output)
                .is_some_and(|s| s.runner.batch_sensitive())
            && !Flows::new(&readers, graph.sources.len()).wanted(Node::Step(graph.output)))
        .then_some(graph.output);
        Ok(Chain {
            steps,
            timers,
            first_step,
            inputs: spec.inputs.clone(),
            sources,
            readers,
            output: graph.output,
            deferred,
            max_table_bytes: state_limits.max_table_bytes,
        })
    }

    /// Whether the chain's `on_update` results wait for the task's commit
    /// ([`ChainOutput::updates`]): the task then appends only at commits.
    pub fn defers_updates(&self) -> bool {
        self.deferred.is_some()
    }

    /// Whether a round's outputs depend on where its batch ends (an `on_update`
    /// aggregation whose results are not deferred), so its input range must be pinned.
    pub fn pins_rounds(&self) -> bool {
        self.steps
            .iter()
            .enumerate()
            .any(|(i, s)| s.runner.batch_sensitive() && Some(i) != self.deferred)
    }

    /// When the next timer is due, if any step has one.
    pub fn next_timer_ms(&self) -> Option<i64> {
        self.timers.iter().flatten().min().copied()
    }

    /// Fires the timers due at `now_ms`. Their records go straight to the output topics
    /// (not through later steps), attributed to no input record.
    pub fn fire_timers(&mut self, now_ms: i64) -> Result<Vec<Emitted>, StepError> {
        let mut out = Vec::new();
        let first = self.first_step;
        for (i, (step, due)) in self.steps.iter_mut().zip(&mut self.timers).enumerate() {
            let i = first + i;
            let Some(at) = due.as_mut() else { continue };
            if *at > now_ms {
                continue;
            }
            let (aggregation, state, open) = match &mut step.runner {
                Runner::Wasm(instance) => {
                    let output = instance.on_timer(now_ms).map_err(|error| StepError {
                        step: i,
                        module: step.module.clone(),
                        error: error.into(),
                    })?;
                    *at = now_ms + timer_interval(instance.timer_interval_ms().unwrap_or(1000));
                    out.extend(emitted(output.records));
                    continue;
                }
                Runner::Aggregate(aggregation, state, open) => (aggregation, state, Some(open)),
                Runner::ModuleAggregate(aggregation, state, _) => (aggregation, state, None),
                Runner::Native(..) | Runner::GroupBy(_) | Runner::Table(_) | Runner::Join(_) => {
                    continue;
                }
            };
            let fault = |error: StreamsError| StepError {
                step: i,
                module: step.module.clone(),
                error: error.into(),
            };
            // Count and sum keep their open windows in memory; a module's stay in the store.
            let output = match open {
                Some(open) => aggregation.advance_open(state, open, now_ms),
                None => aggregation.advance_to(state, now_ms),
            }
            .map_err(fault)?;
            // Still idle: the next window to close is when there is more to emit
            // (never sooner than a timer may fire); none open, until new input.
            *due = aggregation
                .next_close_ms(state)
                .map_err(fault)?
                .map(|t| t.max(now_ms + MIN_TIMER_MS as i64));
            out.extend(emitted(output.records));
        }
        Ok(out)
    }

    /// Input arrived: steps closing windows on an idle input wait their idle time again.
    fn saw_input(&mut self) {
        let now = crate::broker::now_ms();
        for (step, due) in self.steps.iter().zip(&mut self.timers) {
            if let Runner::Aggregate(a, ..) | Runner::ModuleAggregate(a, ..) = &step.runner
                && let Some(idle) = a.close_idle_after_ms
            {
                *due = Some(now.saturating_add(idle));
            }
        }
    }

    /// Runs `records` (read from `topic`/`partition` at `offsets`) through every step
    /// that reads them, directly or through earlier steps.
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
        let mut flows = Flows::new(&self.readers, self.sources.len());
        let all: Vec<usize> = (0..records.len()).collect();
        // A topic is read once: by `inputs` or by one source (the spec refuses twice).
        match self.sources.iter().position(|s| s.topic == topic) {
            Some(s) => {
                let flow = match &mut self.sources[s].read {
                    Read::Stream => Flow {
                        records,
                        sources: all,
                    },
                    // A table source's rows change before any step reads them.
                    Read::Table(rows) => {
                        let max = self.max_table_bytes;
                        let output = Table.update_within(rows, &records, max).map_err(|error| {
                            StepError {
                                step: 0,
                                module: format!("source {topic}"),
                                error: error.into(),
                            }
                        })?;
                        for f in output.failures {
                            out.failures.push(Failed {
                                source: f.index as usize,
                                step: 0,
                                message: format!("table source of {topic:?}: {}", f.message),
                            });
                        }
                        // The changelog: the records applied, in order (a subset).
                        let mut applied = output.records.iter().filter_map(|r| r.source).peekable();
                        let mut flow = Flow::default();
                        for (j, record) in records.into_iter().enumerate() {
                            if applied.peek() == Some(&(j as u32)) {
                                applied.next();
                                flow.records.push(record);
                                flow.sources.push(j);
                            }
                        }
                        flow
                    }
                };
                flows.put(Node::Source(s), flow);
            }
            None if self.inputs.iter().any(|t| t == topic) => {
                flows.put(
                    Node::Inputs,
                    Flow {
                        records,
                        sources: all,
                    },
                );
            }
            None => {}
        }
        let first = self.first_step;
        for (local, step) in self.steps.iter_mut().enumerate() {
            // Graph nodes count from this task's first step; errors and state from the spec's.
            let i = first + local;
            let (input, sides) = match step.wiring {
                Wiring::From(node) => (flows.take(node), None),
                Wiring::Join { left, right, .. } => {
                    let (flow, sides) = Flow::merge(flows.take(left), flows.take(right));
                    (flow, Some(sides))
                }
            };
            if input.is_empty() {
                continue;
            }
            let Flow {
                records: current,
                sources,
            } = input;
            let fault = |error: StepFault| StepError {
                step: i,
                module: step.module.clone(),
                error,
            };
            let origin = Origin {
                topic: topic.to_string(),
                partition,
                offsets: sources.iter().map(|&s| offsets[s]).collect(),
            };
            let output = match &mut step.runner {
                Runner::Wasm(instance) => {
                    let mut output = instance
                        .process(&origin, &current)
                        .map_err(|e| fault(e.into()))?;
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
                Runner::Aggregate(aggregation, state, open) => {
                    let done = aggregation.process_open(state, open, &current);
                    out.took(aggregation, i, &step.module, done, &sources, &current)?
                }
                Runner::ModuleAggregate(aggregation, state, instance) => {
                    let done = aggregation.process_with(&mut **instance, state, &current);
                    out.took(aggregation, i, &step.module, done, &sources, &current)?
                }
                Runner::GroupBy(instance) => {
                    let selected = instance
                        .select_keys(&origin, &current)
                        .map_err(|e| fault(e.into()))?;
                    rekeyed(&current, selected)
                }
                Runner::Table(rows) => Table
                    .update_within(rows, &current, self.max_table_bytes)
                    .map_err(|e| fault(e.into()))?,
                Runner::Join(joining) => {
                    let sides = sides.unwrap_or_default();
                    let done = joining.run(&origin, &current, &sides).map_err(fault)?;
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
            let mut next = Flow::default();
            let feeds = flows.wanted(Node::Step(local));
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
                if r.topic.is_some() {
                    out.records.push(Emitted {
                        topic: r.topic,
                        record,
                        source,
                    });
                    continue;
                }
                if local == self.output {
                    if self.deferred == Some(local) {
                        out.updates.push(Emitted {
                            topic: None,
                            record,
                            source,
                        });
                        continue;
                    }
                    if !feeds {
                        out.records.push(Emitted {
                            topic: None,
                            record,
                            source,
                        });
                        continue;
                    }
                    out.records.push(Emitted {
                        topic: None,
                        record: record.clone(),
                        source,
                    });
                } else if !feeds {
                    continue;
                }
                next.records.push(record);
                next.sources.push(source);
            }
            flows.put(Node::Step(local), next);
        }
        Ok(out)
    }
}

/// A batch with the keys a `group_by` selected: each record with its new key (headers,
/// value and timestamp kept), a record without one dropped (as Kafka drops a record whose
/// new key is null), failures passed on.
fn rekeyed(records: &[Record], selected: crate::runtime::key_selector::Selected) -> Output {
    let mut out = Output {
        records: Vec::with_capacity(records.len()),
        failures: selected.failures,
    };
    for (j, (record, key)) in records.iter().zip(selected.keys).enumerate() {
        if let Some(key) = key {
            let mut record = record.clone();
            record.key = Some(key.into());
            out.records.push(OutputRecord {
                source: Some(j as u32),
                topic: None,
                body: Body::New(Box::new(record)),
            });
        }
    }
    out
}
