//! [`Pipelines`]: the service behind the module and pipeline endpoints. Validates specs
//! against the broker and the registry, keeps pipelines durable, and runs their tasks on
//! a dedicated worker runtime so Wasm never blocks the server's async I/O.
//!
//! Every method blocks (sled, file I/O, compiling modules): call it off the async threads.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::watch;

use crate::broker::partitioner::partition_for_key;
use crate::broker::producer::ProducerRegistry;
use crate::broker::{Broker, BrokerError};
use crate::runtime::{Entries, Limits, Runtime, RuntimeConfig};

use super::chain::{NativeFilter, StepCode, StepPlan};
use super::error::PipelineError;
use super::handle::{Desired, PipelineHandle};
use super::logs::PipelineLogs;
use super::registry::{ModuleRegistry, ModuleVersion};
use super::spec::{PipelineSpec, StartPosition};
use super::state::step_prefix;
use super::stats::{TaskStats, quantile};
use super::status::{PipelineStatus, TaskStatus};
use super::store::{self, Checkpoint, Deployment, PipelineRecord, PipelineStore};
use super::task::{self, TaskContext};

/// Settings of the pipeline service.
#[derive(Debug, Clone)]
pub struct PipelinesConfig {
    /// Where modules, the precompiled cache and the pipelines' database live.
    pub dir: PathBuf,
    /// Threads running tasks (0: one per core).
    pub worker_threads: usize,
    /// Largest module accepted, in bytes.
    pub max_module_bytes: usize,
    /// Instance slots of the Wasm runtime's pooling allocator.
    pub max_instances: u32,
    /// Native filters steps may name instead of a module (benchmarks, embedders, tests);
    /// given here so that stored pipelines using them resume at start-up.
    pub natives: BTreeMap<String, Arc<dyn NativeFilter>>,
}

/// The pipeline service.
pub struct Pipelines {
    broker: Arc<Broker>,
    producers: Arc<ProducerRegistry>,
    runtime: Runtime,
    modules: ModuleRegistry,
    store: PipelineStore,
    handles: Mutex<BTreeMap<String, Arc<PipelineHandle>>>,
    /// Serialises create, update and delete.
    ops: Mutex<()>,
    workers: Mutex<Option<tokio::runtime::Runtime>>,
    config: PipelinesConfig,
}

impl std::fmt::Debug for Pipelines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipelines")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn spec_err(field: impl Into<String>, reason: impl Into<String>) -> PipelineError {
    PipelineError::InvalidSpec(super::spec::spec_err(field, reason))
}

/// The sandbox limits a spec asks for, over the runtime's defaults.
pub fn limits_of(spec: &PipelineSpec) -> Limits {
    let mut limits = Limits::default();
    if let Some(mb) = spec.limits.memory_mb {
        limits.memory_bytes = mb as usize * (1 << 20);
    }
    if let Some(ms) = spec.limits.deadline_ms {
        limits.deadline = Duration::from_millis(ms);
    }
    limits
}

impl Pipelines {
    /// Opens the service: the module registry, the pipelines' store and the worker threads,
    /// then resumes every stored pipeline where it committed.
    pub fn open(
        broker: Arc<Broker>,
        producers: Arc<ProducerRegistry>,
        config: PipelinesConfig,
    ) -> Result<Pipelines, PipelineError> {
        std::fs::create_dir_all(&config.dir).map_err(PipelineError::io("creating", &config.dir))?;
        let db = sled::Config::new()
            .path(config.dir.join("db"))
            .flush_every_ms(Some(200))
            .open()?;
        let modules = ModuleRegistry::open(&db, &config.dir.join("modules"))?;
        let store = PipelineStore::open(&db)?;
        let runtime = Runtime::new(RuntimeConfig {
            max_instances: config.max_instances,
            ..RuntimeConfig::with_cache(config.dir.join("cache"))
        })
        .map_err(|e| PipelineError::Runtime(e.to_string()))?;
        let threads = match config.worker_threads {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        let workers = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("weir-task")
            .enable_all()
            .build()
            .map_err(PipelineError::io("starting worker threads", &config.dir))?;
        let service = Pipelines {
            broker,
            producers,
            runtime,
            modules,
            store,
            handles: Mutex::new(BTreeMap::new()),
            ops: Mutex::new(()),
            workers: Mutex::new(Some(workers)),
            config,
        };
        for record in service.store.list()? {
            let name = record.spec.name.clone();
            match service.plans_of(&record.spec, &record.current().modules) {
                Ok(plans) => {
                    service.start(&record, plans, None)?;
                }
                Err(e) => {
                    tracing::error!(pipeline = %name, "cannot resume: {e}");
                    service.start(&record, Arc::new(Vec::new()), Some(e.to_string()))?;
                }
            }
        }
        Ok(service)
    }

    /// The largest module accepted, bytes.
    pub fn max_module_bytes(&self) -> usize {
        self.config.max_module_bytes
    }

    /// The Wasm runtime (for its cache counters).
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    // ---- modules ----

    /// Validates and stores a module; the same bytes again return the existing version.
    /// The bool says whether a version was created.
    pub fn upload_module(
        &self,
        name: &str,
        bytes: &[u8],
    ) -> Result<(ModuleVersion, bool), PipelineError> {
        super::spec::check_name("module", name)
            .map_err(|reason| PipelineError::InvalidModuleName { reason })?;
        if bytes.len() > self.config.max_module_bytes {
            return Err(PipelineError::ModuleTooLarge {
                size: bytes.len(),
                max: self.config.max_module_bytes,
            });
        }
        // Compiling validates the component against the weir worlds and leaves the
        // precompiled artefact in the cache, so deploying it later costs no compile.
        let plugin = self
            .runtime
            .load(name, bytes)
            .map_err(|e| PipelineError::InvalidModule {
                name: name.to_string(),
                reason: e.to_string(),
            })?;
        self.modules.upload(
            name,
            bytes,
            plugin.digest(),
            plugin.world().name(),
            crate::broker::now_ms(),
        )
    }

    /// Every module version.
    pub fn modules(&self) -> Result<Vec<ModuleVersion>, PipelineError> {
        self.modules.list()
    }

    /// Every version of one module.
    pub fn module_versions(&self, name: &str) -> Result<Vec<ModuleVersion>, PipelineError> {
        self.modules.versions(name)
    }

    /// One module version.
    pub fn module(&self, name: &str, version: u32) -> Result<ModuleVersion, PipelineError> {
        self.modules.get(name, Some(version))
    }

    /// Deletes a module version unless a pipeline's current deployment uses it.
    pub fn delete_module(&self, name: &str, version: u32) -> Result<(), PipelineError> {
        let _op = self.ops.lock();
        let in_use = |pipeline: String| PipelineError::ModuleInUse {
            name: name.to_string(),
            version,
            pipeline,
        };
        // The deployment an update would roll back to counts as in use too. The locks are
        // held while the store is read, so a rollback cannot make it current in between.
        let handles: Vec<_> = self.handles.lock().values().cloned().collect();
        let previous: Vec<_> = handles.iter().map(|h| (h, h.previous.lock())).collect();
        for (handle, prev) in &previous {
            if let Some((_, plans)) = &**prev
                && plans
                    .iter()
                    .any(|p| p.module == name && p.version == version)
            {
                return Err(in_use(handle.name.clone()));
            }
        }
        for record in self.store.list()? {
            if record
                .current()
                .modules
                .iter()
                .any(|(m, v)| m == name && *v == version)
            {
                return Err(in_use(record.spec.name));
            }
        }
        self.modules.delete(name, version)
    }

    // ---- pipelines ----

    /// Checks a spec against the broker and registry and loads its steps.
    fn resolve(&self, spec: &PipelineSpec) -> Result<(u32, Arc<Vec<StepPlan>>), PipelineError> {
        spec.check()?;
        let mut partitions = None;
        for (i, t) in spec.inputs.iter().enumerate() {
            let topic = self
                .broker
                .topic(t)
                .map_err(|_| spec_err(format!("inputs[{i}]"), format!("unknown topic {t:?}")))?;
            let n = topic.partition_count();
            match partitions {
                None => partitions = Some(n),
                Some(m) if m != n => {
                    return Err(spec_err(
                        "inputs",
                        format!(
                            "inputs must be co-partitioned: {:?} has {m} partitions, {t:?} has {n}",
                            spec.inputs[0]
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
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
            .map(|s| (s.module.name.clone(), s.module.version))
            .collect();
        let plans = self.load_steps(spec, &modules)?;
        if !spec.outputs.is_empty() && !plans.iter().any(|p| p.code.is_processor()) {
            return Err(spec_err(
                "outputs",
                "routing to named topics needs a processor step; every step is a transform",
            ));
        }
        Ok((partitions.unwrap_or(1), Arc::new(plans)))
    }

    fn load_steps(
        &self,
        spec: &PipelineSpec,
        modules: &[(String, Option<u32>)],
    ) -> Result<Vec<StepPlan>, PipelineError> {
        let mut plans = Vec::with_capacity(modules.len());
        for (i, ((name, version), step)) in modules.iter().zip(&spec.steps).enumerate() {
            let field = format!("steps[{i}].module");
            if let Some(native) = self.config.natives.get(name) {
                plans.push(StepPlan {
                    module: name.clone(),
                    version: 1,
                    code: StepCode::Native(native.clone()),
                    config: step.config.clone(),
                });
                continue;
            }
            let module = self.modules.get(name, *version).map_err(|e| match e {
                PipelineError::UnknownModule { .. } => spec_err(&field, e.to_string()),
                other => other,
            })?;
            let bytes = self.modules.bytes(&module)?;
            let plugin = self
                .runtime
                .load(name, &bytes)
                .map_err(|e| spec_err(&field, format!("{name}@{}: {e}", module.version)))?;
            plans.push(StepPlan {
                module: module.name,
                version: module.version,
                code: StepCode::Wasm(plugin),
                config: step.config.clone(),
            });
        }
        Ok(plans)
    }

    /// The plans of a stored deployment (exact versions).
    fn plans_of(
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
        for p in 0..partitions {
            let tree = self.store.task_tree(&spec.name, p)?;
            let mut inputs = Vec::with_capacity(spec.inputs.len());
            for t in &spec.inputs {
                let stats = self.broker.topic(t)?.partition(i64::from(p))?.stats();
                inputs.push(match spec.start {
                    StartPosition::Earliest => stats.log_start_offset,
                    StartPosition::Latest => stats.high_watermark,
                });
            }
            let checkpoint = Checkpoint {
                producer_id: self.producers.next_producer_id()?,
                inputs,
                sequences: BTreeMap::new(),
                outbox: Vec::new(),
                in_flight: None,
                deployment: Some(0),
            };
            store::commit(&tree, BTreeMap::new(), &checkpoint)?;
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
        };
        self.store.put(&record)?;
        let handle = self.start(&record, plans, None)?;
        Ok(self.status_of(&handle, &record))
    }

    /// Starts the tasks of a stored pipeline. `broken` marks every task failed (a stored
    /// deployment whose modules cannot be loaded).
    fn start(
        &self,
        record: &PipelineRecord,
        plans: Arc<Vec<StepPlan>>,
        broken: Option<String>,
    ) -> Result<Arc<PipelineHandle>, PipelineError> {
        let name = record.spec.name.clone();
        let mut contexts = Vec::new();
        let mut tasks = Vec::new();
        for p in 0..record.partitions {
            let tree = self.store.task_tree(&name, p)?;
            let checkpoint =
                store::load_checkpoint(&tree)?.ok_or_else(|| PipelineError::Corrupt {
                    what: format!("pipeline {name:?} task {p}"),
                    reason: "no checkpoint".into(),
                })?;
            let stats = Arc::new(TaskStats::new(p, checkpoint.inputs.clone()));
            if let Some(e) = &broken {
                stats.fail(e.clone());
            }
            tasks.push(stats.clone());
            contexts.push((tree, checkpoint, stats));
        }
        let (desired, _) = watch::channel(Desired {
            generation: 1,
            deployment: record.history.len() - 1,
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
            swaps: AtomicU64::new(0),
            rollbacks: AtomicU64::new(0),
            rollback_reason: Mutex::new(None),
            joins: Mutex::new(Vec::new()),
            store: self.store.clone(),
        });
        // Tasks run even for a broken deployment: they wait, failed, for an update.
        {
            let workers = self.workers.lock();
            let workers = workers.as_ref().ok_or(PipelineError::ShuttingDown)?;
            let mut joins = handle.joins.lock();
            for (tree, checkpoint, stats) in contexts {
                joins.push(workers.spawn(task::run(TaskContext {
                    broker: self.broker.clone(),
                    producers: self.producers.clone(),
                    handle: handle.clone(),
                    stats,
                    tree,
                    checkpoint,
                })));
            }
        }
        self.handles.lock().insert(name, handle.clone());
        Ok(handle)
    }

    fn handle(&self, name: &str) -> Result<Arc<PipelineHandle>, PipelineError> {
        self.handles
            .lock()
            .get(name)
            .cloned()
            .ok_or_else(|| PipelineError::UnknownPipeline {
                name: name.to_string(),
            })
    }

    fn record(&self, name: &str) -> Result<PipelineRecord, PipelineError> {
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
        let (_, plans) = self.resolve(&spec)?;
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
        self.store.remove(&record)
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
        if let Some(workers) = self.workers.lock().take() {
            workers.shutdown_background();
        }
    }

    /// Status of every pipeline.
    pub fn list(&self) -> Result<Vec<PipelineStatus>, PipelineError> {
        let handles: Vec<_> = self.handles.lock().values().cloned().collect();
        let mut out = Vec::new();
        for h in handles {
            if let Some(record) = self.store.get(&h.name)? {
                out.push(self.status_of(&h, &record));
            }
        }
        Ok(out)
    }

    /// Status of one pipeline.
    pub fn status(&self, name: &str) -> Result<PipelineStatus, PipelineError> {
        let handle = self.handle(name)?;
        let record = self.record(name)?;
        Ok(self.status_of(&handle, &record))
    }

    fn status_of(&self, handle: &PipelineHandle, record: &PipelineRecord) -> PipelineStatus {
        let desired = handle.desired.borrow().clone();
        let tasks: Vec<TaskStatus> = handle
            .tasks
            .iter()
            .map(|t| TaskStatus::of(t, &desired.spec.inputs, &self.broker))
            .collect();
        let pauses = handle
            .tasks
            .iter()
            .flat_map(|t| t.swap_pauses.lock().clone())
            .collect::<Vec<_>>();
        let mut status = PipelineStatus::new(
            record,
            &desired,
            tasks,
            handle,
            [
                quantile(&pauses, 0.5),
                quantile(&pauses, 0.99),
                pauses.iter().max().copied(),
            ],
            pauses.len(),
        );
        for input in &desired.spec.inputs {
            if let Ok(topic) = self.broker.topic(input) {
                let n = topic.partition_count();
                if n != record.partitions {
                    status.warnings.push(format!(
                        "input {input:?} has {n} partitions but the pipeline runs {} tasks \
                         (one per partition when it was created); records in partitions \
                         added since are not processed: create a new pipeline to cover them",
                        record.partitions
                    ));
                }
            }
        }
        status
    }

    /// The newest `tail` log lines of a pipeline.
    pub fn logs(&self, name: &str, tail: usize) -> Result<Vec<String>, PipelineError> {
        Ok(self.handle(name)?.logs.tail(tail))
    }

    /// Committed state of step `step` (an index or a module name): the value under `key`,
    /// found in the task of the partition the key hashes to.
    pub fn state_get(
        &self,
        name: &str,
        step: &str,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>, PipelineError> {
        let (record, step) = self.state_step(name, step)?;
        let full = [&step_prefix(step)[..], key].concat();
        // The task the key hashes to first (where keyed input puts it), then the others:
        // a processor may store keys that are not its input's keys.
        let hinted = partition_for_key(key, record.partitions);
        let order = std::iter::once(hinted).chain((0..record.partitions).filter(|&p| p != hinted));
        for p in order {
            if let Some(v) = self.store.task_tree(name, p)?.get(&full)? {
                return Ok(Some(v.to_vec()));
            }
        }
        Ok(None)
    }

    /// Committed state of step `step` across every task: up to `limit` entries whose key
    /// starts with `prefix`, in key order.
    pub fn state_scan(
        &self,
        name: &str,
        step: &str,
        prefix: &[u8],
        limit: usize,
    ) -> Result<Entries, PipelineError> {
        let (record, step) = self.state_step(name, step)?;
        let full = [&step_prefix(step)[..], prefix].concat();
        let mut all = BTreeMap::new();
        for p in 0..record.partitions {
            let tree = self.store.task_tree(name, p)?;
            for kv in tree.scan_prefix(&full).take(limit) {
                let (k, v) = kv?;
                all.insert(k[3..].to_vec(), v.to_vec());
            }
        }
        Ok(all.into_iter().take(limit).collect())
    }

    fn state_step(&self, name: &str, step: &str) -> Result<(PipelineRecord, usize), PipelineError> {
        let record = self.record(name)?;
        let modules = &record.current().modules;
        let index = match step.parse::<usize>() {
            Ok(i) if i < modules.len() => Some(i),
            _ => modules.iter().position(|(m, _)| m == step),
        };
        let index = index.ok_or_else(|| PipelineError::UnknownStep {
            pipeline: name.to_string(),
            step: step.to_string(),
        })?;
        Ok((record, index))
    }

    /// Prometheus text exposition of every pipeline's counters.
    pub fn metrics(&self) -> String {
        let handles: Vec<_> = self.handles.lock().values().cloned().collect();
        super::metrics::render(&handles, &self.broker, &self.runtime)
    }
}

impl From<BrokerError> for PipelineError {
    fn from(e: BrokerError) -> PipelineError {
        PipelineError::Broker(e.to_string())
    }
}
