//! A task's step chain: one plugin instance (or built-in operator) per step, run in order
//! over a batch, each step over what its input node produced (see [`Graph`]): `inputs`,
//! a source, or an earlier step (by default the previous one).
//!
//! A table source applies its topic's records to its rows before any step runs. The
//! output step's records go to the main output; records a processor routes to a named
//! topic leave the chain at once. Every output remembers which input record it came
//! from, so failures and dead letters point at the original offset.
//!
//! - [`code`]: what a step runs ([`StepCode`], [`StepPlan`]).
//! - [`global_rows`]: global tables' rows kept outside the task (attached mode).
//! - [`output`]: what a batch came to ([`ChainOutput`]) and how a step fails ([`StepError`]).
//! - [`rekey`]: a `group_by`'s records with the keys its key selector chose.
//! - [`sources`]: how a task reads a named source's records (a table source's rows change
//!   before any step runs).
//! - [`updates`]: [`PendingUpdates`], where an `on_update` output step's results wait
//!   for the task's commit.
//! - [`punctuate`]: a processor step's stream time, stream-time punctuation and window
//!   retention.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::log::batch::Record;
use crate::runtime::guest_output::LogSink;
use crate::runtime::{
    Body, Instance, InstanceConfig, Limits, Origin, Output, OutputRecord, Plugin,
};

use crate::streams::{Aggregation, OpenWindows, StreamsError, Table};

use super::flows::{Flow, Flows, readers};
use super::join_step::JoinStep;
use super::limits::StateLimits;
use super::spec::{Graph, Node, PipelineSpec, SourceKind, Wiring};
use super::state::{Overlay, StepState};
use super::table_cache::CachedState;

mod code;
mod global_rows;
mod output;
mod punctuate;
mod rekey;
mod sources;
mod updates;

pub use code::{NativeFilter, StepCode, StepPlan};
use output::emitted;
pub use output::{ChainOutput, Emitted, Failed, StepError, StepFault};
use punctuate::StreamClock;
use rekey::{NullKeys, null_keys, regrouped, rekeyed, routed};
use sources::{Read, Source};
pub use updates::PendingUpdates;

/// Shortest timer interval honoured, ms: each firing commits and flushes.
pub const MIN_TIMER_MS: u64 = 10;

fn timer_interval(ms: u64) -> i64 {
    ms.clamp(MIN_TIMER_MS, i64::MAX as u64) as i64
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
    /// A `group_by`'s key selector, and what becomes of a null new key.
    GroupBy(Box<Instance>, NullKeys),
    /// A `group_by` of a table: its key selector, run over each row's new and old value.
    GroupTable(Box<Instance>),
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
            | Runner::GroupBy(..)
            | Runner::GroupTable(_)
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
    /// A `group_by` of a run but the last: its records go to its repartition topic.
    sink: Option<String>,
}

/// The instances of one task's steps.
pub struct Chain {
    steps: Vec<Step>,
    /// Per step: when its timer fires next (ms since the epoch), if it has one.
    timers: Vec<Option<i64>>,
    /// Per step: a processor's stream clock, if it asked for stream time.
    clocks: Vec<Option<StreamClock>>,
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
    /// The table nodes a `group_by` reads: their flows carry each row's old value.
    changes: Vec<Node>,
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
        let mut changes = Vec::new();
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
                StepCode::GroupBy(plugin) => match spec.grouped_table(&graph, local) {
                    Some(node) => {
                        changes.push(node);
                        Runner::GroupTable(Box::new(stateless(plugin)?))
                    }
                    None => Runner::GroupBy(Box::new(stateless(plugin)?), null_keys(spec, local)),
                },
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
                    match &mut join.pair {
                        crate::streams::JoinPair::StreamStream(w) => {
                            w.max_records = state_limits.max_join_window_records;
                        }
                        crate::streams::JoinPair::StreamVersioned(v) => {
                            v.max_buffered = state_limits.max_join_window_records;
                        }
                        _ => {}
                    }
                    let module = |p: &Option<Arc<Plugin>>| {
                        p.as_ref().map(|p| stateless(p).map(Box::new)).transpose()
                    };
                    Runner::Join(Box::new(JoinStep {
                        join,
                        own: state(i),
                        left: slot_of(&graph, spec, first_step, left).map(&mut table),
                        right: slot_of(&graph, spec, first_step, right).map(&mut table),
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
                sink: spec.routed_group_by(local, graph.output),
            });
        }
        let clocks = StreamClock::of_steps(&mut steps, tree, first_step, overlay)?;
        let now = crate::broker::now_ms();
        let timers = steps
            .iter()
            .map(|s| match &s.runner {
                Runner::Wasm(i) => i.timer_interval_ms().map(|iv| now + timer_interval(iv)),
                // Until the first input, a restarted task counts as just having seen some.
                Runner::Aggregate(a, ..) | Runner::ModuleAggregate(a, ..) => {
                    a.close_idle_after_ms.map(|idle| now + idle)
                }
                Runner::Native(..)
                | Runner::GroupBy(..)
                | Runner::GroupTable(_)
                | Runner::Table(_)
                | Runner::Join(_) => None,
            })
            .collect();
        let sources = graph
            .sources
            .iter()
            .enumerate()
            .map(|(s, node)| Source {
                topic: node.topic.clone(),
                read: match graph.table_slot(spec, Node::Source(s)) {
                    Some(slot) if node.kind != SourceKind::Stream => match node.history_ms {
                        Some(ms) => Read::Versioned(
                            table(slot),
                            crate::streams::VersionedTable {
                                history_ms: ms as i64,
                            },
                        ),
                        None => Read::Table(table(slot)),
                    },
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
        let mut chain = Chain {
            steps,
            timers,
            clocks,
            first_step,
            inputs: spec.inputs.clone(),
            sources,
            readers,
            output: graph.output,
            deferred,
            max_table_bytes: state_limits.max_table_bytes,
            changes,
        };
        chain.defer_open_windows();
        Ok(chain)
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
                Runner::Native(..)
                | Runner::GroupBy(..)
                | Runner::GroupTable(_)
                | Runner::Table(_)
                | Runner::Join(_) => {
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
    /// that reads them, directly or through earlier steps. Borrowed: the task keeps the
    /// batch for its dead letters, and steps that only read it copy nothing.
    pub fn run(
        &mut self,
        topic: &str,
        partition: u32,
        offsets: &[i64],
        records: &[Record],
    ) -> Result<ChainOutput, StepError> {
        let mut out = ChainOutput::default();
        if !records.is_empty() {
            self.saw_input();
        }
        let mut flows = Flows::new(&self.readers, self.sources.len());
        self.read(topic, records, &mut flows, &mut out)?;
        let first = self.first_step;
        for (local, (step, clock)) in self.steps.iter_mut().zip(&mut self.clocks).enumerate() {
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
                old_values,
            } = input;
            // A to_table step a group_by reads: each applied record's old value.
            let mut olds = None;
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
                    let mut output = match clock {
                        Some(clock) => clock.process(instance, &origin, &current),
                        None => instance.process(&origin, &current).map_err(Into::into),
                    }
                    .map_err(fault)?;
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
                Runner::GroupBy(instance, null_keys) => {
                    let selected = instance
                        .select_keys(&origin, &current)
                        .map_err(|e| fault(e.into()))?;
                    routed(rekeyed(&current, selected, *null_keys), &step.sink)
                }
                Runner::GroupTable(instance) => routed(
                    regrouped(instance, &origin, &current, &old_values)
                        .map_err(|e| fault(e.into()))?,
                    &step.sink,
                ),
                Runner::Table(rows) if self.changes.contains(&Node::Step(local)) => {
                    let (output, old) = Table
                        .changes_within(rows, &current, self.max_table_bytes)
                        .map_err(|e| fault(e.into()))?;
                    olds = Some(old);
                    output
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
            let mut next_records = Vec::new();
            let feeds = flows.wanted(Node::Step(local));
            // The output step's records go to `out` (grown at once: a record is large, and
            // doubling moved a big batch's results several times).
            if local == self.output && self.deferred != Some(local) {
                out.records.reserve(output.records.len());
            }
            if feeds {
                next_records.reserve(output.records.len());
            }
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
                if let Some(olds) = &olds {
                    next.old_values.push(olds.get(index).cloned().flatten());
                }
                next_records.push(record);
                next.sources.push(source);
            }
            next.records = std::borrow::Cow::Owned(next_records);
            flows.put(Node::Step(local), next);
        }
        Ok(out)
    }
}

/// The state slot of `node`'s table rows in a task running the steps from `first_step`:
/// a step's rows are kept under its index in the whole spec, as the step keeps them.
fn slot_of(graph: &Graph, spec: &PipelineSpec, first_step: usize, node: Node) -> Option<usize> {
    let slot = graph.table_slot(spec, node)?;
    Some(match node {
        Node::Step(_) => first_step + slot,
        Node::Inputs | Node::Source(_) => slot,
    })
}
