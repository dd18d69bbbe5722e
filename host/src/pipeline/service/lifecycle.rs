//! A pipeline's life: specs checked against the broker and registry, tasks created
//! and started, updates published to running tasks (the hot-swap), pause, resume,
//! deletion and shutdown.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::watch;

use super::super::chain::{StepCode, StepPlan};
use super::super::error::PipelineError;
use super::super::handle::{Desired, PipelineHandle};
use super::super::logs::PipelineLogs;
use super::super::registry::ModuleVersion;
use super::super::spec::{BUILTIN_PREFIX, Graph, PipelineSpec, StartPosition, Wiring};
use super::super::stage::Stage;
use super::super::stats::TaskStats;
use super::super::status::PipelineStatus;
use super::super::store::{self, Checkpoint, Deployment, PipelineRecord};
use super::super::task::{self, TaskContext, TaskError};
use super::{Pipelines, spec_err};
use crate::runtime::{Plugin, World};
use crate::streams::Op;

impl Pipelines {
    /// Checks a spec against the broker and registry and loads its steps.
    fn resolve(&self, spec: &PipelineSpec) -> Result<(u32, Arc<Vec<StepPlan>>), PipelineError> {
        spec.check()?;
        let partitions = self.co_partitioned(spec)?;
        let check_out = |field: String, t: &str| {
            self.broker
                .topic(t)
                .map(|_| ())
                .map_err(|_| spec_err(field, format!("unknown topic {t:?}")))
        };
        check_out("output".into(), &spec.output)?;
        for (i, t) in spec.outputs.iter().enumerate() {
            check_out(format!("outputs[{i}]"), t)?;
        }
        if let Some(t) = &spec.dead_letter_topic {
            check_out("dead_letter_topic".into(), t)?;
        }
        let modules: Vec<(String, Option<u32>)> = spec
            .steps
            .iter()
            .map(|s| match &s.module {
                Some(m) => (m.name.clone(), m.version),
                None => (s.op.name().to_string(), Some(BUILTIN_VERSION)),
            })
            .collect();
        let plans = self.load_steps(spec, &modules)?;
        let routes = |p: &StepPlan| p.code.is_processor() || p.module.starts_with(BUILTIN_PREFIX);
        if !spec.outputs.is_empty() && !plans.iter().any(routes) {
            return Err(spec_err(
                "outputs",
                "routing to named topics needs a processor or built-in router step; every step \
                 is a transform",
            ));
        }
        Ok((partitions.unwrap_or(1), Arc::new(plans)))
    }

    /// The partition count every topic a task reads one partition of shares (a join's
    /// inputs first, so its refusal names both sides' topics).
    fn co_partitioned(&self, spec: &PipelineSpec) -> Result<Option<u32>, PipelineError> {
        let count = |field: String, t: &str| {
            self.broker
                .topic(t)
                .map(|topic| topic.partition_count())
                .map_err(|_| spec_err(field, format!("unknown topic {t:?}")))
        };
        for (i, t) in spec.inputs.iter().enumerate() {
            count(format!("inputs[{i}]"), t)?;
        }
        for (name, s) in &spec.sources {
            count(format!("sources.{name}.topic"), &s.topic)?;
        }
        let graph = Graph::of(spec)?;
        for (i, w) in graph.wiring.iter().enumerate() {
            let Wiring::Join { left, right, join } = *w else {
                continue;
            };
            // A global table is read whole by every task: nothing to line up.
            if join.pair == crate::streams::JoinPair::StreamGlobal {
                continue;
            }
            for l in graph.topics_of(spec, left) {
                for r in graph.topics_of(spec, right) {
                    let (m, n) = (count(String::new(), l)?, count(String::new(), r)?);
                    if m != n {
                        return Err(spec_err(
                            format!("steps[{i}]"),
                            format!(
                                "the inputs of a join must be co-partitioned: {l:?} has {m} partitions, {r:?} has {n}"
                            ),
                        ));
                    }
                }
            }
        }
        let topics = spec.read_topics();
        let mut partitions = None;
        for t in &topics {
            let n = count(String::new(), t)?;
            match partitions {
                None => partitions = Some(n),
                Some(m) if m != n => {
                    return Err(spec_err(
                        if spec.sources.is_empty() {
                            "inputs"
                        } else {
                            "sources"
                        },
                        format!(
                            "inputs must be co-partitioned: {:?} has {m} partitions, {t:?} has {n}",
                            topics[0]
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(partitions)
    }

    fn load_steps(
        &self,
        spec: &PipelineSpec,
        modules: &[(String, Option<u32>)],
    ) -> Result<Vec<StepPlan>, PipelineError> {
        let mut plans = Vec::with_capacity(modules.len());
        for (i, ((name, version), step)) in modules.iter().zip(&spec.steps).enumerate() {
            let field = format!("steps[{i}].module");
            if step.op.is_aggregation() {
                let mut aggregation = step
                    .aggregate_spec()
                    .build()
                    .map_err(|(f, reason)| spec_err(format!("steps[{i}].{f}"), reason))?;
                if let Some(w) = aggregation.grouping.time()
                    && w.windows_per_record() > i64::from(self.config.max_windows_per_record)
                {
                    return Err(spec_err(
                        format!("steps[{i}].window"),
                        format!(
                            "each record would fall in {} windows (size_ms / advance_ms); \
                             pipelines.max_windows_per_record is {}",
                            w.windows_per_record(),
                            self.config.max_windows_per_record
                        ),
                    ));
                }
                aggregation.max_open_windows = self.config.max_open_windows;
                if !step.op.takes_module() {
                    plans.push(StepPlan {
                        module: step.op.name().to_string(),
                        version: BUILTIN_VERSION,
                        code: StepCode::Aggregate(aggregation),
                        config: BTreeMap::new(),
                    });
                    continue;
                }
                let (module, plugin) = self.load_module(&field, name, *version)?;
                if plugin.world() != World::Aggregator {
                    return Err(spec_err(
                        &field,
                        format!(
                            "{name}@{} is a {} module; \"{}\" needs one of the aggregator world (wit/aggregator.wit)",
                            module.version,
                            plugin.world().name(),
                            step.op.name()
                        ),
                    ));
                }
                plans.push(StepPlan {
                    module: module.name,
                    version: module.version,
                    code: StepCode::ModuleAggregate(aggregation, plugin),
                    config: step.config.clone(),
                });
                continue;
            }
            if step.op == Op::Join
                && let Some(Wiring::Join { join, .. }) = Graph::of(spec)?.wiring.get(i)
            {
                plans.push(self.join_step(i, *join, name, *version, step)?);
                continue;
            }
            let builtin = match step.op {
                Op::ToTable => Some(StepCode::Table),
                _ => None,
            };
            if let Some(code) = builtin {
                plans.push(StepPlan {
                    module: step.op.name().to_string(),
                    version: BUILTIN_VERSION,
                    code,
                    config: BTreeMap::new(),
                });
                continue;
            }
            if let Some(builtin) = name.strip_prefix(BUILTIN_PREFIX) {
                plans.push(self.builtin_step(i, name, builtin, step)?);
                continue;
            }
            if let Some(native) = self.config.natives.get(name) {
                plans.push(StepPlan {
                    module: name.clone(),
                    version: 1,
                    code: StepCode::Native(native.clone()),
                    config: step.config.clone(),
                });
                continue;
            }
            let (module, plugin) = self.load_module(&field, name, *version)?;
            if step.op == Op::GroupBy {
                if plugin.world() != World::KeySelector {
                    return Err(spec_err(
                        &field,
                        format!(
                            "{name}@{} is a {} module; \"group_by\" needs one of the key-selector world (wit/key-selector.wit)",
                            module.version,
                            plugin.world().name(),
                        ),
                    ));
                }
                plans.push(StepPlan {
                    module: module.name,
                    version: module.version,
                    code: StepCode::GroupBy(plugin),
                    config: step.config.clone(),
                });
                continue;
            }
            if !matches!(plugin.world(), World::Transform | World::Processor) {
                return Err(spec_err(
                    &field,
                    format!(
                        "{name}@{} is a{} {} module; a \"map\" step needs a transform or processor",
                        module.version,
                        if plugin.world() == World::Aggregator {
                            "n"
                        } else {
                            ""
                        },
                        plugin.world().name(),
                    ),
                ));
            }
            plans.push(StepPlan {
                module: module.name,
                version: module.version,
                code: StepCode::Wasm(plugin),
                config: step.config.clone(),
            });
        }
        Ok(plans)
    }

    /// Module `name` (at `version`, or the newest) loaded; errors name `field`.
    pub(super) fn load_module(
        &self,
        field: &str,
        name: &str,
        version: Option<u32>,
    ) -> Result<(ModuleVersion, Arc<Plugin>), PipelineError> {
        let module = self.modules.get(name, version).map_err(|e| match e {
            PipelineError::UnknownModule { .. } => spec_err(field, e.to_string()),
            other => other,
        })?;
        let bytes = self.modules.bytes(&module)?;
        let plugin = self.runtime.load(name, &bytes).map_err(|e| {
            if e.is_host_fault() {
                PipelineError::Runtime(e)
            } else {
                spec_err(field, format!("{name}@{}: {e}", module.version))
            }
        })?;
        Ok((module, plugin))
    }

    /// A `builtin:NAME` step: the catalog's plugin, told its type in the config key `type`
    /// when NAME was one of the types it lists.
    fn builtin_step(
        &self,
        i: usize,
        module: &str,
        builtin: &str,
        step: &super::super::spec::StepSpec,
    ) -> Result<StepPlan, PipelineError> {
        let resolved = self.plugins.resolve(builtin).ok_or_else(|| {
            let known: Vec<&str> = self
                .plugins
                .list()
                .iter()
                .flat_map(|p| {
                    std::iter::once(p.name.as_str()).chain(p.types.iter().map(String::as_str))
                })
                .collect();
            spec_err(
                format!("steps[{i}].module"),
                format!(
                    "no built-in plugin is called {builtin:?} (built-in: {})",
                    if known.is_empty() {
                        "none installed".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            )
        })?;
        let mut config = step.config.clone();
        if let Some(t) = resolved.type_name {
            match config.get("type") {
                Some(given) if given != t && given != builtin => {
                    return Err(spec_err(
                        format!("steps[{i}].config.type"),
                        format!("is {given:?}, but the module {module:?} runs {t:?}; leave it out"),
                    ));
                }
                _ => {
                    config.insert("type".into(), t.to_string());
                }
            }
        }
        Ok(StepPlan {
            module: module.to_string(),
            version: BUILTIN_VERSION,
            code: StepCode::Wasm(resolved.plugin.plugin.clone()),
            config,
        })
    }

    /// The plans of a stored deployment (exact versions).
    pub(super) fn plans_of(
        &self,
        spec: &PipelineSpec,
        modules: &[(String, u32)],
    ) -> Result<Arc<Vec<StepPlan>>, PipelineError> {
        let modules: Vec<(String, Option<u32>)> =
            modules.iter().map(|(m, v)| (m.clone(), Some(*v))).collect();
        Ok(Arc::new(self.load_steps(spec, &modules)?))
    }

    /// Creates and starts a pipeline.
    pub fn create(&self, spec: PipelineSpec) -> Result<PipelineStatus, PipelineError> {
        let _op = self.ops.lock();
        if self.store.get(&spec.name)?.is_some() {
            return Err(PipelineError::PipelineExists {
                name: spec.name.clone(),
            });
        }
        let (partitions, plans) = self.resolve(&spec)?;
        self.check_instances(&spec.name, partitions, &plans)?;
        for r in spec.repartitions() {
            self.repartition_topic(&r.topic, partitions)?;
        }
        for stage in Stage::of(&spec) {
            for p in 0..partitions {
                let tree = self.store.stage_tree(&spec.name, stage, p)?;
                let topics = stage.inputs(&spec);
                let mut inputs = Vec::with_capacity(topics.len());
                for t in &topics {
                    let stats = self.broker.topic(t)?.partition(i64::from(p))?.stats();
                    inputs.push(match spec.start {
                        StartPosition::Earliest => stats.log_start_offset,
                        StartPosition::Latest => stats.high_watermark,
                    });
                }
                // A global table is read whole, from its start, by every task.
                let mut globals = BTreeMap::new();
                if stage.reads_inputs() {
                    for t in spec.global_topics() {
                        let topic = self.broker.topic(&t)?;
                        let mut positions = Vec::new();
                        for gp in 0..topic.partition_count() {
                            positions
                                .push(topic.partition(i64::from(gp))?.stats().log_start_offset);
                        }
                        globals.insert(t, positions);
                    }
                }
                let checkpoint = Checkpoint {
                    producer_id: self.producers.next_producer_id()?,
                    inputs,
                    sequences: BTreeMap::new(),
                    outbox: Vec::new(),
                    in_flight: None,
                    globals,
                    in_flight_globals: None,
                    deployment: Some(0),
                };
                store::commit(&tree, &BTreeMap::new(), &checkpoint)?;
            }
        }
        let record = PipelineRecord {
            spec: spec.clone(),
            partitions,
            paused: false,
            created_ms: crate::broker::now_ms(),
            history: vec![Deployment {
                modules: plans
                    .iter()
                    .map(|p| (p.module.clone(), p.version))
                    .collect(),
                at_ms: crate::broker::now_ms(),
                reason: "created".into(),
            }],
            specs: vec![spec],
            forgotten: 0,
        };
        self.store.put(&record)?;
        let handle = self.start(&record, plans, None)?;
        Ok(self.status_of(&handle, &record))
    }

    /// Starts the tasks of a stored pipeline. `broken` marks every task failed (a stored
    /// deployment whose modules cannot be loaded).
    pub(super) fn start(
        &self,
        record: &PipelineRecord,
        plans: Arc<Vec<StepPlan>>,
        broken: Option<Arc<PipelineError>>,
    ) -> Result<Arc<PipelineHandle>, PipelineError> {
        let name = record.spec.name.clone();
        let mut contexts = Vec::new();
        let mut tasks = Vec::new();
        for stage in Stage::of(&record.spec) {
            for p in 0..record.partitions {
                let tree = self.store.stage_tree(&name, stage, p)?;
                let checkpoint =
                    store::load_checkpoint(&tree)?.ok_or_else(|| PipelineError::Corrupt {
                        what: format!("pipeline {name:?} task {p}{}", stage.tree_suffix()),
                        reason: "no checkpoint".into(),
                    })?;
                let stats = Arc::new(TaskStats::new(p, checkpoint.inputs.clone()).in_stage(stage));
                if let Some(e) = &broken {
                    stats.fail(TaskError::Undeployable(e.clone()));
                }
                tasks.push(stats.clone());
                contexts.push((tree, checkpoint, stats));
            }
        }
        let (desired, _) = watch::channel(Desired {
            generation: 1,
            deployment: record.current_number(),
            spec: Arc::new(record.spec.clone()),
            plans,
            paused: record.paused,
            stop: false,
            broken: broken.clone(),
        });
        let handle = Arc::new(PipelineHandle {
            name: name.clone(),
            desired,
            previous: Mutex::new(None),
            tasks,
            logs: Arc::new(PipelineLogs::default()),
            samples: Default::default(),
            swaps: AtomicU64::new(0),
            rollbacks: AtomicU64::new(0),
            rollback_reason: Mutex::new(None),
            joins: Mutex::new(Vec::new()),
            state_limits: self.config.state_limits,
            store: self.store.clone(),
        });
        // Tasks run even for a broken deployment: they wait, failed, for an update.
        {
            let mut joins = handle.joins.lock();
            for (tree, checkpoint, stats) in contexts {
                self.producers.reserve_internal(checkpoint.producer_id);
                let stage = stats.stage;
                let task = self.workers.spawn(task::run(TaskContext {
                    broker: self.broker.clone(),
                    producers: self.producers.clone(),
                    handle: handle.clone(),
                    stats,
                    tree,
                    checkpoint,
                    workers: self.workers.clone(),
                    stage,
                }));
                joins.push(task.ok_or(PipelineError::ShuttingDown)?);
            }
        }
        self.handles.lock().insert(name, handle.clone());
        Ok(handle)
    }

    /// Creates the internal topic a `group_by` repartitions through, with the inputs'
    /// partition count, or checks the one there (left by a pipeline of the same name).
    fn repartition_topic(&self, topic: &str, partitions: u32) -> Result<(), PipelineError> {
        match self.broker.topic(topic) {
            Ok(t) if t.partition_count() == partitions => Ok(()),
            Ok(t) => Err(spec_err(
                "steps",
                format!(
                    "the repartition topic {topic:?} exists with {} partitions; the inputs have {partitions}: delete it first",
                    t.partition_count()
                ),
            )),
            Err(_) => {
                self.broker
                    .create_topic(topic, partitions, BTreeMap::new())?;
                Ok(())
            }
        }
    }

    pub(super) fn handle(&self, name: &str) -> Result<Arc<PipelineHandle>, PipelineError> {
        self.handles
            .lock()
            .get(name)
            .cloned()
            .ok_or_else(|| PipelineError::UnknownPipeline {
                name: name.to_string(),
            })
    }

    pub(super) fn record(&self, name: &str) -> Result<PipelineRecord, PipelineError> {
        self.store
            .get(name)?
            .ok_or_else(|| PipelineError::UnknownPipeline {
                name: name.to_string(),
            })
    }

    /// Deploys a new spec on a running pipeline (the hot-swap): every task finishes its
    /// batch, commits, and continues with the new steps and the same state. A version that
    /// fails to start or fails its first batches is rolled back by the tasks.
    pub fn update(&self, name: &str, spec: PipelineSpec) -> Result<PipelineStatus, PipelineError> {
        let _op = self.ops.lock();
        let handle = self.handle(name)?;
        let record = self.record(name)?;
        if spec.name != name {
            return Err(spec_err(
                "name",
                format!(
                    "{:?} differs from the pipeline being updated, {name:?}",
                    spec.name
                ),
            ));
        }
        if spec.inputs != record.spec.inputs {
            return Err(spec_err(
                "inputs",
                "the inputs of a pipeline cannot change; create a new pipeline instead",
            ));
        }
        if spec.sources != record.spec.sources {
            return Err(spec_err(
                "sources",
                "the sources of a pipeline cannot change; create a new pipeline instead",
            ));
        }
        same_aggregations(&record.spec, &spec)?;
        let (_, plans) = self.resolve(&spec)?;
        self.check_instances(name, record.partitions, &plans)?;
        let modules: Vec<(String, u32)> = plans
            .iter()
            .map(|p| (p.module.clone(), p.version))
            .collect();
        // Held across storing and publishing, as `rollback` holds it, so a rollback and
        // an update cannot interleave and leave the store and the tasks disagreeing.
        let mut previous = handle.previous.lock();
        let deployment = self
            .store
            .record_deployment(name, &spec, modules, "updated")?;
        let current = handle.desired.borrow().clone();
        // A deployment that never loaded is no state to roll back to.
        *previous = current
            .broken
            .is_none()
            .then_some((current.spec, current.plans));
        handle.desired.send_modify(|d| {
            d.generation += 1;
            d.deployment = deployment;
            d.spec = Arc::new(spec);
            d.plans = plans;
            d.broken = None;
        });
        drop(previous);
        handle.swaps.fetch_add(1, Ordering::Relaxed);
        handle.logs.note("updated");
        let record = self.record(name)?;
        Ok(self.status_of(&handle, &record))
    }

    /// Pauses or resumes a pipeline (resuming also restarts tasks stopped by an error).
    pub fn set_paused(&self, name: &str, paused: bool) -> Result<PipelineStatus, PipelineError> {
        let _op = self.ops.lock();
        let handle = self.handle(name)?;
        let record = self
            .store
            .edit(name, |r| r.paused = paused)?
            .ok_or_else(|| PipelineError::UnknownPipeline {
                name: name.to_string(),
            })?;
        // Resuming a deployment that failed to load at start-up tries to load it again.
        let broken = handle.desired.borrow().broken.clone();
        if !paused && broken.is_some() {
            let plans = self.plans_of(&record.spec, &record.current().modules)?;
            self.check_instances(name, record.partitions, &plans)?;
            handle.desired.send_modify(|d| {
                d.generation += 1;
                d.plans = plans;
                d.broken = None;
            });
        }
        handle.desired.send_modify(|d| d.paused = paused);
        handle.logs.note(if paused { "paused" } else { "resumed" });
        Ok(self.status_of(&handle, &record))
    }

    /// Stops and deletes a pipeline with its state and checkpoints.
    pub fn delete(&self, name: &str) -> Result<(), PipelineError> {
        let _op = self.ops.lock();
        let handle = self.handle(name)?;
        let record = self.record(name)?;
        self.stop(&handle);
        self.handles.lock().remove(name);
        self.store.remove(&record)?;
        // The repartition topic is the pipeline's own: it goes with it (after the
        // tasks that read it, and its record, so a restart does not look for it).
        for r in record.spec.repartitions() {
            if let Err(e) = self.broker.delete_topic(&r.topic) {
                tracing::warn!(pipeline = name, topic = %r.topic, "repartition topic not deleted: {e}");
            }
        }
        Ok(())
    }

    /// Asks the tasks to stop after their current batch and waits for them (bounded).
    fn stop(&self, handle: &PipelineHandle) {
        handle.desired.send_modify(|d| d.stop = true);
        let joins = std::mem::take(&mut *handle.joins.lock());
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        for j in joins {
            while !j.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if !j.is_finished() {
                j.abort();
            }
        }
    }

    /// Stops every pipeline (each task commits its batch first) and the worker threads.
    pub fn shutdown(&self) {
        let handles: Vec<_> = self.handles.lock().values().cloned().collect();
        for h in &handles {
            self.stop(h);
        }
        if let Err(e) = self.store.flush() {
            tracing::error!("flushing pipeline state: {e}");
        }
        self.workers.stop();
    }

    /// Refuses a deployment whose tasks would need more Wasm instances than the pool has
    /// free (one per Wasm step per task; the pipeline's own current ones count as free,
    /// since a swap frees them before building), so it fails now, clearly, and not later
    /// in its tasks.
    fn check_instances(
        &self,
        name: &str,
        partitions: u32,
        plans: &[StepPlan],
    ) -> Result<(), PipelineError> {
        let needed = partitions as usize * wasm_steps(plans);
        let in_use: usize = self
            .handles
            .lock()
            .values()
            .filter(|h| h.name != name)
            .map(|h| {
                // A pipeline that may still roll back holds room for the larger of its two
                // deployments.
                let current = wasm_steps(&h.desired.borrow().plans);
                let previous = h.previous.lock().as_ref().map_or(0, |(_, p)| wasm_steps(p));
                h.tasks.len() * current.max(previous)
            })
            .sum();
        let max = self.config.max_instances as usize;
        if in_use + needed > max {
            return Err(PipelineError::InstanceLimit {
                needed,
                in_use,
                max,
            });
        }
        Ok(())
    }
}

/// Refuses an update that would read an aggregation's state with other rules (or move a
/// `group_by`, which splits the tasks in two around it): state is kept by step index, so windows of another size, another op, or a step moved to or
/// from an aggregation's index would meet entries they cannot mean (a processor's keys
/// read as windows). Emit mode, formats and retention may change.
fn same_aggregations(old: &PipelineSpec, new: &PipelineSpec) -> Result<(), PipelineError> {
    if let Some((a, b)) = old
        .repartitions()
        .into_iter()
        .zip(new.repartitions())
        .find(|(a, b)| a.topic != b.topic)
    {
        return Err(spec_err(
            format!("steps[{}].name", b.step),
            format!(
                "the group_by repartitions through {:?}; renaming the step would need another topic: create a new pipeline instead",
                a.topic
            ),
        ));
    }
    let steps = old.steps.len().max(new.steps.len());
    for i in 0..steps {
        let (a, b) = (old.steps.get(i), new.steps.get(i));
        // Tables and joins keep state by position too.
        let aggregating = |s: Option<&super::super::spec::StepSpec>| {
            s.is_some_and(|s| {
                s.op.is_aggregation() || matches!(s.op, Op::GroupBy | Op::Join | Op::ToTable)
            })
        };
        if !aggregating(a) && !aggregating(b) {
            continue;
        }
        let same = matches!((a, b), (Some(a), Some(b)) if a.op == b.op && a.window == b.window
            && a.left == b.left && a.right == b.right && a.join_type == b.join_type);
        if !same {
            return Err(spec_err(
                format!("steps[{i}]"),
                "an aggregation, table or join step keeps its state by position: its op, \
                 window and inputs, and whether step i keeps such state, cannot change in an \
                 update; create a new pipeline instead",
            ));
        }
    }
    Ok(())
}

/// The version recorded for a built-in step in a deployment's module list: module
/// versions start at 1, so 0 never names an uploaded module.
pub(super) const BUILTIN_VERSION: u32 = 0;

/// Wasm instances a deployment's task holds: one per module step, and a join's joiner and
/// key selector.
fn wasm_steps(plans: &[StepPlan]) -> usize {
    plans.iter().map(|p| p.code.instances()).sum()
}
