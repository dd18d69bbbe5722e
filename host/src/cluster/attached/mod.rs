//! Attached mode: pipelines run on the nodes of a consumer group of another Kafka-protocol
//! cluster (Apache Kafka, Redpanda, or a weir server) instead of over an embedded broker.
//!
//! Per pipeline and node, one consumer in the group `<group>.<pipeline>` splits the
//! inputs' partitions among the nodes; per assigned partition a task runs the step chain
//! over a local state cache (sled) restored from the compacted changelog topics
//! `<pipeline>-<step>-changelog`; each round's outputs, changelog records and input
//! offsets commit in one transaction of the node's producer for the pipeline
//! (`transactional.id` `<group>.<pipeline>.<node>`), Kafka Streams' EOS v2.
//!
//! - this file: [`AttachedConfig`], [`Attached`] (the node: its clients, state cache and
//!   runners; the pipeline service's [`ExternalTasks`]), and what it shows of itself.
//! - [`runner`]: one pipeline's group member: poll, rebalance, round, transaction.
//! - [`task`]: one assigned partition's chain (timers, aggregations included) and what a
//!   round of it comes to.
//! - [`restore`]: a task's state cache brought up to its changelog partitions' ends (the
//!   tail past its mark, or wiped and in full), window space included.
//! - [`global`]: a pipeline's global tables on this node: every partition of their
//!   topics, read before the tasks run and followed after, shared by the node's tasks.
//! - [`global_mark`]: how far a node's global tables are read, and what proves it.
//! - [`mark`]: how far a cache is exact in each changelog, and what proves the log is the
//!   same one.
//! - [`leftovers`]: a deleted pipeline's cache trees removed once its runners stopped.
//! - [`view`]: `GET /v1/cluster`: this node, the groups' members, their tasks and lag.
//! - [`stage`]: a pipeline's stages around its `group_by`s, each a group member of its
//!   own (names, repartition topics, what a stage's task needs beyond its view).
//! - [`names`]: group ids, transactional ids and changelog topics.
//! - [`check`]: the pipelines attached mode runs (all but a table source on both sides
//!   of a `group_by`).
//! - [`error`]: [`AttachedError`], the mode's one error type.

pub mod check;
pub mod error;
pub mod global;
pub mod global_mark;
pub mod leftovers;
pub mod mark;
pub mod names;
pub mod restore;
mod runner;
pub mod stage;
pub mod task;
pub mod view;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use crate::cluster::catalog::{CatalogConfig, ClusterCatalog};
use crate::cluster::{ClientProps, Cluster, ClusterError};
use crate::pipeline::chain::StepPlan;
use crate::pipeline::handle::PipelineHandle;
use crate::pipeline::spec::SpecError;
use crate::pipeline::{ExternalTasks, PipelineError, PipelineSpec};

pub use error::AttachedError;
pub use restore::Restored;

/// The default `session.timeout.ms` of the runners' consumers: how long a node that died
/// keeps its tasks before the group hands them to the others.
pub const DEFAULT_SESSION_TIMEOUT_MS: u64 = 10_000;

/// The `transaction.timeout.ms` of the runners' producers: how long a dead node's open
/// transaction holds read_committed readers of its outputs back (Kafka Streams' EOS
/// default).
pub const TRANSACTION_TIMEOUT_MS: u64 = 10_000;

/// Settings of attached mode (`weir serve --cluster`, or `[cluster]` in `weir.toml`).
#[derive(Debug, Clone)]
pub struct AttachedConfig {
    /// The cluster's client properties (`bootstrap.servers`, `security.protocol`,
    /// `sasl.*`, `ssl.*`), through the allowlist.
    pub props: ClientProps,
    /// The nodes' group (`--group`): nodes with the same one share pipelines' tasks.
    pub group: String,
    /// Consumers' `session.timeout.ms`.
    pub session_timeout_ms: u64,
    /// Where the node keeps its id and state cache.
    pub dir: PathBuf,
}

/// What this node shows of one of its tasks.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TaskView {
    /// `running`, or `failed: why`.
    pub state: String,
}

/// What this node shows of one pipeline.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PipelineView {
    /// Its tasks here, by input partition.
    pub tasks: BTreeMap<i32, TaskView>,
    /// Why its member last stopped, until it joins again.
    pub error: Option<String>,
    /// Rounds committed here.
    pub rounds: u64,
    /// The deployment generation this node's tasks run (counts up with each update).
    pub generation: u64,
    /// Changelog records restored here.
    pub restored_records: u64,
    /// How long those restores took in all, ms.
    pub restore_ms: u64,
    /// Those restores by kind.
    pub restores: RestoreKinds,
}

/// A node's restores of one pipeline's tasks, by kind.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct RestoreKinds {
    /// Wiped and read in full (a task new to this node, or a mark that did not prove itself).
    pub full: RestoreTotals,
    /// Only the changelogs' tails past the cache's mark (a task back on this node).
    pub tail: RestoreTotals,
}

/// Restores of one kind.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct RestoreTotals {
    /// Task restores.
    pub tasks: u64,
    /// Changelog records they applied.
    pub records: u64,
    /// How long they took in all, ms.
    pub ms: u64,
}

/// The node: its clients, state cache and pipeline runners.
pub struct Node {
    config: AttachedConfig,
    /// This node's id (kept in its data directory): its producers' and consumers' name.
    node: String,
    /// Clients for the runners' group consumers (session timeout, client id); a partition
    /// the group has no offset for starts at its earliest record.
    consumers: Arc<dyn Cluster>,
    /// The same, for pipelines whose spec says `start: latest`: such a partition starts
    /// at its end when the group first takes it.
    latest: Arc<dyn Cluster>,
    /// Clients for the runners' transactional producers (transaction timeout, murmur2).
    producers: Arc<dyn Cluster>,
    /// Clients for admin calls and restores.
    plain: Arc<dyn Cluster>,
    db: sled::Db,
    /// The shared catalog once opened, for its figures in `GET /v1/cluster` (weak: the
    /// server owns it and drops it at shutdown).
    catalog: std::sync::OnceLock<Weak<ClusterCatalog>>,
    views: Mutex<BTreeMap<String, PipelineView>>,
    /// The runners alive, and deleted pipelines' trees waiting for them to stop.
    leftovers: leftovers::Leftovers,
    stopping: AtomicBool,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
}

impl Node {
    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    fn set_tasks(&self, pipeline: &str, tasks: BTreeMap<i32, TaskView>) {
        self.views
            .lock()
            .entry(pipeline.to_string())
            .or_default()
            .tasks = tasks;
    }

    fn set_error(&self, pipeline: &str, error: Option<String>) {
        self.views
            .lock()
            .entry(pipeline.to_string())
            .or_default()
            .error = error;
    }

    fn set_generation(&self, pipeline: &str, generation: u64) {
        self.views
            .lock()
            .entry(pipeline.to_string())
            .or_default()
            .generation = generation;
    }

    fn note_restore(&self, pipeline: &str, r: Restored) {
        let mut views = self.views.lock();
        let v = views.entry(pipeline.to_string()).or_default();
        v.restored_records += r.records;
        v.restore_ms += r.took.as_millis() as u64;
        let kind = if r.tail {
            &mut v.restores.tail
        } else {
            &mut v.restores.full
        };
        kind.tasks += 1;
        kind.records += r.records;
        kind.ms += r.took.as_millis() as u64;
    }

    fn count_round(&self, pipeline: &str) {
        self.views
            .lock()
            .entry(pipeline.to_string())
            .or_default()
            .rounds += 1;
    }

    fn forget(&self, pipeline: &str) {
        self.views.lock().remove(pipeline);
    }
}

/// Attached mode on this node: the pipeline service's [`ExternalTasks`].
#[derive(Clone)]
pub struct Attached(Arc<Node>);

impl std::fmt::Debug for Attached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attached")
            .field("bootstrap", &self.0.config.props.bootstrap())
            .field("group", &self.0.config.group)
            .field("node", &self.0.node)
            .finish_non_exhaustive()
    }
}

impl Attached {
    /// Opens the node's id and state cache under `config.dir` and its clients.
    pub fn open(config: AttachedConfig) -> Result<Attached, AttachedError> {
        std::fs::create_dir_all(&config.dir).map_err(io("creating", &config.dir))?;
        let node = node_id(&config.dir)?;
        let db = sled::Config::new()
            .path(config.dir.join("state"))
            .flush_every_ms(Some(1000))
            .open()?;
        // What the cache held before a restart stays: each task tree's mark says how far
        // it is exact (one sled batch wrote both), so a task that comes back here reads
        // only the changelogs' tails.
        let props = config.props.clone().tuned("client.id", &node);
        let member = props
            .clone()
            .tuned("session.timeout.ms", &config.session_timeout_ms.to_string())
            // Range gives partition p of every co-partitioned input (the same partition
            // count) to the same member, so one task joins them; roundrobin and
            // cooperative-sticky do not.
            .tuned("partition.assignment.strategy", "range");
        let consumers = crate::cluster::connect(member.clone());
        let latest = crate::cluster::connect(member.tuned("auto.offset.reset", "latest"));
        let producers = crate::cluster::connect(
            props
                .clone()
                .tuned(
                    "transaction.timeout.ms",
                    &TRANSACTION_TIMEOUT_MS.to_string(),
                )
                // Java's partitioner, so keys land where Java clients put them.
                .tuned("partitioner", "murmur2_random"),
        );
        let plain = crate::cluster::connect(props);
        Ok(Attached(Arc::new(Node {
            config,
            node,
            consumers,
            latest,
            producers,
            plain,
            db,
            catalog: std::sync::OnceLock::new(),
            views: Mutex::new(BTreeMap::new()),
            leftovers: leftovers::Leftovers::default(),
            stopping: AtomicBool::new(false),
            threads: Mutex::new(Vec::new()),
        })))
    }

    /// This node's id.
    pub fn node(&self) -> &str {
        &self.0.node
    }

    /// The nodes' group.
    pub fn group(&self) -> &str {
        &self.0.config.group
    }

    /// The cluster's bootstrap list.
    pub fn bootstrap(&self) -> &str {
        self.0.config.props.bootstrap()
    }

    /// Opens the shared catalog on the cluster (`_weir_modules`, `_weir_pipelines`), its
    /// module bytes cached under the node's directory, modules up to `max_module_bytes`;
    /// returns once both topics are read to their end.
    pub fn open_catalog(
        &self,
        max_module_bytes: usize,
    ) -> Result<Arc<ClusterCatalog>, ClusterError> {
        let mut config = CatalogConfig::new(self.0.config.dir.join("catalog"));
        config.max_module_bytes = max_module_bytes;
        let catalog = Arc::new(ClusterCatalog::open(self.0.plain.clone(), config)?);
        let _ = self.0.catalog.set(Arc::downgrade(&catalog));
        Ok(catalog)
    }

    /// Stops every runner (each commits nothing more; its member leaves the group).
    pub fn shutdown(&self) {
        self.0.stopping.store(true, Ordering::SeqCst);
        for t in std::mem::take(&mut *self.0.threads.lock()) {
            let _ = t.join();
        }
    }
}

impl ExternalTasks for Attached {
    fn partitions(&self, topic: &str) -> Result<Option<u32>, PipelineError> {
        let boxed = |e: crate::cluster::ClusterError| PipelineError::Cluster {
            source: Box::new(e),
        };
        let topics = self
            .0
            .plain
            .admin()
            .map_err(boxed)?
            .topics()
            .map_err(boxed)?;
        Ok(topics
            .into_iter()
            .find(|t| t.name == topic)
            .map(|t| t.partitions.max(0) as u32))
    }

    fn check(&self, spec: &PipelineSpec, plans: &[StepPlan]) -> Result<(), SpecError> {
        check::check(spec, plans)
    }

    fn started(&self, handle: Arc<PipelineHandle>) {
        // A runner per stage: updates never add or move a `group_by`, so the stages stay.
        let stages = stage::Staged::of(&handle.desired.borrow().spec);
        for stage in stages {
            let node = self.0.clone();
            let handle = handle.clone();
            let name = format!("attached-{}", stage.key(&handle.name));
            let (me, pipeline) = leftovers::incarnation(&handle);
            let pipeline = pipeline.to_string();
            self.0.leftovers.started((me, &pipeline));
            match std::thread::Builder::new()
                .name(name)
                .spawn(move || runner::run(node, handle, stage))
            {
                Ok(t) => self.0.threads.lock().push(t),
                Err(e) => {
                    self.0.leftovers.stopped(&self.0.db, (me, &pipeline));
                    tracing::error!("starting an attached runner: {e}");
                }
            }
        }
    }

    fn deleted(&self, pipeline: &str, handle: Option<&Arc<PipelineHandle>>) {
        let me = handle.map(|h| leftovers::incarnation(h).0);
        self.0.leftovers.deleted(&self.0.db, pipeline, me);
    }
}

/// This node's id: read from `dir/node-id`, made (random) and kept there the first time.
fn node_id(dir: &Path) -> Result<String, AttachedError> {
    let path = dir.join("node-id");
    match std::fs::read_to_string(&path) {
        Ok(id) if !id.trim().is_empty() => return Ok(id.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io("reading", &path)(e)),
    }
    let id = format!("node-{:016x}", rand::random::<u64>());
    std::fs::write(&path, &id).map_err(io("writing", &path))?;
    Ok(id)
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> AttachedError {
    let path = path.to_path_buf();
    move |source| AttachedError::Io {
        action,
        path,
        source,
    }
}
