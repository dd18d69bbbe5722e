//! [`Pipelines`]: the service behind the module and pipeline endpoints. Validates specs
//! against the broker and the registry, keeps pipelines durable, and runs their tasks on
//! a dedicated worker runtime so Wasm never blocks the server's async I/O.
//!
//! Every method blocks (sled, file I/O, compiling modules): call it off the async threads.
//!
//! - this file: the service's parts, opening it, resuming stored pipelines.
//! - [`modules`]: uploading, listing and deleting module versions.
//! - [`plan`]: a spec checked against the broker and registry and resolved into step plans,
//!   and the Wasm instances a deployment needs checked against the pool.
//! - [`lifecycle`]: creating, starting, updating (hot-swap), pausing, deleting and stopping
//!   pipelines.
//! - [`join_plan`]: a `join` step's plan, with its joiner and key-selector modules.
//! - [`internal_topics`]: refusing a pipeline whose repartition topics another uses.
//! - [`table_plan`]: a table aggregation's plan: its module must have `subtract`.
//! - [`status`]: what users see of running pipelines: status, logs, metrics.
//! - [`playground`]: a module version run over given records, apart from any pipeline.
//! - [`queries`]: queryable state, read from the tasks' committed trees.
//! - [`shared`]: attached mode's shared catalog: changes written there first, and the
//!   node's registry, store and running pipelines made to match it.

mod internal_topics;
mod join_plan;
mod lifecycle;
mod modules;
mod plan;
mod playground;
mod queries;
pub use queries::{AggregateState, TableState};
mod shared;
mod status;
mod table_plan;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::broker::Broker;
use crate::broker::producer::ProducerRegistry;
use crate::runtime::{Runtime, RuntimeConfig, SandboxSettings};

use super::chain::NativeFilter;
use super::error::PipelineError;
use super::handle::PipelineHandle;
use super::plugins::PluginCatalog;
use super::registry::ModuleRegistry;
use super::store::PipelineStore;
use super::workers::Workers;
use crate::broker::SyncedDb;

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
    /// The Wasm runtime's per-call caps and compile concurrency.
    pub sandbox: SandboxSettings,
    /// Where the built-in plugins are.
    pub plugins_dir: PathBuf,
    /// Deployments kept in each pipeline's history (the current one always is).
    pub max_history: usize,
    /// Most windows one record of a windowed aggregation step may fall in
    /// (`pipelines.max_windows_per_record`).
    pub max_windows_per_record: u32,
    /// Most window entries one state query may read
    /// (`pipelines.max_state_query_windows`).
    pub max_state_query_windows: u32,
    /// Most (window, key) aggregates of tumbling or hopping windows one task keeps in
    /// memory (`pipelines.max_open_windows`).
    pub max_open_windows: usize,
    /// Caps on what a task's tables and joins hold (`pipelines.max_table_bytes`,
    /// `max_join_window_records`, `max_table_cache_bytes`).
    pub state_limits: crate::pipeline::StateLimits,
    /// Native filters steps may name instead of a module (benchmarks, embedders, tests);
    /// given here so that stored pipelines using them resume at start-up.
    pub natives: BTreeMap<String, Arc<dyn NativeFilter>>,
    /// Attached mode: where tasks run instead of over the embedded broker (and whose
    /// cluster's topics specs are checked against). `None`: embedded.
    pub external: Option<Arc<dyn super::external::ExternalTasks>>,
    /// Attached mode's shared catalog: where module versions and pipeline records are
    /// kept for every node; this node's registry and store become its cache (see
    /// [`shared`]). `None`: they are the truth.
    pub catalog: Option<Arc<dyn super::catalog::Catalog>>,
    /// The playground's caps (`[playground]`).
    pub playground: super::playground::PlaygroundLimits,
}

/// The pipeline service.
pub struct Pipelines {
    broker: Arc<Broker>,
    producers: Arc<ProducerRegistry>,
    runtime: Runtime,
    modules: ModuleRegistry,
    plugins: PluginCatalog,
    store: PipelineStore,
    handles: Mutex<BTreeMap<String, Arc<PipelineHandle>>>,
    /// Serialises create, update and delete (and applying the shared catalog).
    ops: Mutex<()>,
    /// Shut down: the shared catalog's changes are no longer applied.
    closed: std::sync::atomic::AtomicBool,
    /// The lanes tasks live on: they wait for input and run turns there.
    workers: Arc<Workers>,
    /// The playground's run slots.
    playground: super::playground::PlaygroundSlots,
    config: PipelinesConfig,
}

impl std::fmt::Debug for Pipelines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipelines")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

pub(super) fn spec_err(field: impl Into<String>, reason: impl Into<String>) -> PipelineError {
    PipelineError::InvalidSpec(super::spec::spec_err(field, reason))
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
        // Explicit flushes (a pipeline created or updated, a module uploaded) are answered
        // to the user only once they are fsynced; a round's commits ride sled's own
        // 200 ms flush (a lost one is replayed, see ARCHITECTURE.md).
        let db = SyncedDb::open(
            sled::Config::new().flush_every_ms(Some(200)),
            &config.dir.join("db"),
            true,
        )?;
        let modules = ModuleRegistry::open(&db, &config.dir.join("modules"))?;
        let store = PipelineStore::open(&db, config.max_history)?;
        let runtime = Runtime::new(RuntimeConfig {
            max_instances: config.max_instances,
            sandbox: config.sandbox,
            ..RuntimeConfig::with_cache(config.dir.join("cache"))
        })?;
        let threads = match config.worker_threads {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        let workers = Arc::new(
            Workers::start(threads)
                .map_err(PipelineError::io("starting worker threads", &config.dir))?,
        );
        let plugins = PluginCatalog::load(&config.plugins_dir, &runtime);
        let service = Pipelines {
            broker,
            producers,
            runtime,
            modules,
            plugins,
            store,
            handles: Mutex::new(BTreeMap::new()),
            ops: Mutex::new(()),
            closed: Default::default(),
            workers,
            playground: super::playground::PlaygroundSlots::new(config.playground.max_running),
            config,
        };
        // Shared: the catalog says what runs; the store is its cache from last time.
        if let Some(catalog) = service.shared() {
            service.apply_catalog(catalog.as_ref())?;
            return Ok(service);
        }
        for record in service.store.list()? {
            let name = record.spec.name.clone();
            match service.plans_of(&record.spec, &record.current().modules) {
                Ok(plans) => {
                    service.start(&record, plans, None)?;
                }
                Err(e) => {
                    tracing::error!(pipeline = %name, "cannot resume: {e}");
                    service.start(&record, Arc::new(Vec::new()), Some(Arc::new(e)))?;
                }
            }
        }
        Ok(service)
    }

    /// The largest module accepted, bytes.
    pub fn max_module_bytes(&self) -> usize {
        self.config.max_module_bytes
    }

    /// The built-in plugins.
    pub fn plugins(&self) -> &PluginCatalog {
        &self.plugins
    }

    /// The Wasm runtime (for its cache counters).
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }
}
