//! [`Connectors`], the service: connectors' configs and target states (durable), their
//! plugins, their task threads, and the operations Connect's REST API offers.
//!
//! - this file: the service, its entries (a connector's stored config and what runs), and
//!   the types its answers use.
//! - [`plugins`]: `connector.class` resolved to a loaded plugin; the installed plugins.
//! - [`validate`]: Connect's `config/validate` per key, and the check before a config is stored.
//! - [`lifecycle`]: creating, updating, pausing, stopping, restarting and deleting connectors,
//!   and starting their task threads.
//! - [`queries`]: info, tasks, status, logs, topics and `/metrics`.
//! - [`offsets`]: KIP-875's offsets: read, altered and reset while STOPPED.
//! - [`mirror`]: the built-in MirrorMaker 2 connectors' checks and task threads.
//! - [`swap`]: a running connector's plugin swapped for a new version, or rolled back.

mod lifecycle;
mod mirror;
mod offsets;
mod plugins;
mod queries;
mod swap;
mod validate;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::broker::producer::ProducerRegistry;
use crate::broker::{Broker, BrokerError};
use crate::pipeline::Pipelines;
use crate::pipeline::logs::PipelineLogs;
use crate::runtime::connector::ConfigDef;
use crate::runtime::{Plugin, World};

use super::error::ConnectError;
use super::source::{OFFSETS_PARTITIONS, OFFSETS_TOPIC};
use super::state::{ConnectorType, TaskState};
use super::store::{ConnectStore, StoredConnector};
use super::task::{Counters, TaskHandle, Want};

/// Settings of the connect service.
#[derive(Debug, Clone)]
pub struct ConnectConfig {
    /// Where its database lives.
    pub dir: PathBuf,
    /// The worker id status answers show (the Connect listener's address).
    pub worker_id: String,
    /// How many tasks may run.
    pub caps: TaskCaps,
}

/// How many connector tasks may run, and what one may hold (`[connect]` in `weir.toml`).
#[derive(Debug, Clone, Copy)]
pub struct TaskCaps {
    /// In all (`connect.max_tasks`).
    pub total: u32,
    /// Of one connector (`connect.max_tasks_per_connector`).
    pub per_connector: u32,
    /// TCP sockets one task may hold open: the ceiling of `weir.tcp.max.sockets`
    /// (`connect.max_tcp_sockets_per_task`).
    pub sockets_per_task: usize,
}

/// An installed connector plugin, as `GET /connector-plugins` lists it.
#[derive(Debug, Clone)]
pub struct PluginInfo {
    /// Connect's class name (an alias for weir's built-ins, `module:NAME@VERSION` for uploads).
    pub class: String,
    /// Source or sink.
    pub kind: ConnectorType,
    /// Its version.
    pub version: String,
}

/// Built-ins that stand in for one of Connect's own connectors, with its class name.
const CONNECT_CLASSES: &[(&str, &str)] = &[
    (
        "FileStreamSource",
        "org.apache.kafka.connect.file.FileStreamSourceConnector",
    ),
    (
        "FileStreamSink",
        "org.apache.kafka.connect.file.FileStreamSinkConnector",
    ),
    (
        "PostgresSink",
        "io.confluent.connect.jdbc.JdbcSinkConnector",
    ),
];

/// A connector as `GET /connectors/{name}` shows it.
#[derive(Debug, Clone)]
pub struct ConnectorInfo {
    /// Name.
    pub name: String,
    /// Configuration.
    pub config: BTreeMap<String, String>,
    /// Task ids.
    pub tasks: Vec<u32>,
    /// Source or sink (`None` when its plugin cannot be found).
    pub kind: Option<ConnectorType>,
}

/// A task's id and configuration.
pub type TaskConfig = (u32, BTreeMap<String, String>);

/// A counter of [`Counters`] for `/metrics`: name, help, how to read it.
type Series = (&'static str, &'static str, fn(&Counters) -> u64);

/// A task's status.
#[derive(Debug, Clone)]
pub struct TaskStatus {
    /// Task id.
    pub id: u32,
    /// Where it is.
    pub state: TaskState,
}

/// A connector's status (`GET /connectors/{name}/status`).
#[derive(Debug, Clone)]
pub struct ConnectorStatus {
    /// Name.
    pub name: String,
    /// The connector's own state.
    pub state: TaskState,
    /// Its tasks'.
    pub tasks: Vec<TaskStatus>,
    /// Source or sink.
    pub kind: Option<ConnectorType>,
    /// Calls refused a capability the config does not grant.
    pub denied: u64,
    /// Why the last hot-swap of the connector's plugin was rolled back, while the old
    /// version runs on.
    pub swap_failure: Option<String>,
    /// A mirror connector's figures (MM2's names: `record-count`,
    /// `replication-latency-ms-avg`, ..., and `lag`).
    pub mirror: Option<Vec<(&'static str, i64)>>,
}

/// One key of a validation answer (`PUT /connector-plugins/{type}/config/validate`).
#[derive(Debug, Clone)]
pub struct ValidatedKey {
    /// The key's definition.
    pub def: ConfigDef,
    /// The group it is shown in ("Common" or the plugin's).
    pub group: &'static str,
    /// The value given, if any.
    pub value: Option<String>,
    /// What is wrong with it.
    pub errors: Vec<String>,
}

/// A connector that runs (or could not start).
enum Run {
    /// Its plugin, config or task split failed: `trace` says why.
    Failed { trace: String },
    /// Started: its tasks (none while STOPPED).
    Started {
        info: PluginInfo,
        task_configs: Vec<BTreeMap<String, String>>,
        tasks: Vec<TaskHandle>,
    },
}

/// Where a connector's hot-swap is (see [`swap`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SwapPhase {
    /// No swap under way: a config change may be applied.
    Settled,
    /// A swap was ordered to the tasks and is waited for without the lock: another config
    /// change is refused until it ends.
    Pending,
}

/// A connector: its stored config and target state, and what runs of it.
struct Entry {
    stored: StoredConnector,
    run: Run,
    logs: Arc<PipelineLogs>,
    counters: Arc<Counters>,
    /// Why the last hot-swap was rolled back (cleared by the next swap that succeeds, or
    /// a restart): shown as the running connector's trace.
    swap_failure: Option<String>,
    /// Whether a hot-swap is under way.
    swap: SwapPhase,
}

impl Entry {
    fn kind(&self) -> Option<ConnectorType> {
        match &self.run {
            Run::Started { info, .. } => Some(info.kind),
            Run::Failed { .. } => None,
        }
    }

    fn stop_tasks(&mut self) {
        if let Run::Started { tasks, .. } = &mut self.run {
            for t in tasks.iter() {
                // A swap order the task has not taken is withdrawn, so that its waiter (which
                // holds no lock) learns at once that the task is gone.
                t.control.swap.withdraw();
                t.control.set_want(Want::Exit);
            }
            for t in tasks.iter_mut() {
                t.stop();
            }
            tasks.clear();
        }
    }
}

/// The connect service.
pub struct Connectors {
    broker: Arc<Broker>,
    producers: Arc<ProducerRegistry>,
    pipelines: Arc<Pipelines>,
    store: ConnectStore,
    entries: Mutex<BTreeMap<String, Entry>>,
    loaded: Mutex<BTreeMap<String, Arc<Plugin>>>,
    worker_id: String,
    caps: TaskCaps,
}

impl std::fmt::Debug for Connectors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connectors")
            .field("worker_id", &self.worker_id)
            .finish_non_exhaustive()
    }
}

fn unknown(name: &str) -> ConnectError {
    ConnectError::UnknownConnector {
        name: name.to_string(),
    }
}

fn kind_of(world: World) -> Option<ConnectorType> {
    match world {
        World::SourceConnector => Some(ConnectorType::Source),
        World::SinkConnector => Some(ConnectorType::Sink),
        World::Transform
        | World::Processor
        | World::Aggregator
        | World::KeySelector
        | World::Joiner => None,
    }
}

impl Connectors {
    /// Opens the service: its store and every stored connector, resumed in its target
    /// state. `connect-offsets` is created with the first connector, not here: a broker
    /// nobody runs connectors on lists no topic of theirs.
    pub fn open(
        broker: Arc<Broker>,
        producers: Arc<ProducerRegistry>,
        pipelines: Arc<Pipelines>,
        config: ConnectConfig,
    ) -> Result<Connectors, ConnectError> {
        let store = ConnectStore::open(&config.dir)?;
        let service = Connectors {
            broker,
            producers,
            pipelines,
            store,
            entries: Mutex::new(BTreeMap::new()),
            loaded: Mutex::new(BTreeMap::new()),
            worker_id: config.worker_id,
            caps: config.caps,
        };
        for stored in service.store.list()? {
            let budget = service.budget(&service.entries.lock(), &stored.name);
            let entry = service.start(stored, budget);
            service
                .entries
                .lock()
                .insert(entry.stored.name.clone(), entry);
        }
        Ok(service)
    }

    /// Creates `connect-offsets` (compacted) if it is not there yet: Connect's 25
    /// partitions (`offset.storage.partitions`), or fewer if the broker allows fewer.
    fn offsets_topic(&self) -> Result<(), ConnectError> {
        match self.broker.topic(OFFSETS_TOPIC) {
            Ok(_) => Ok(()),
            Err(BrokerError::UnknownTopic { .. }) => {
                let compact =
                    BTreeMap::from([("cleanup.policy".to_string(), "compact".to_string())]);
                let partitions =
                    OFFSETS_PARTITIONS.min(self.broker.config().limits.max_partitions_per_topic);
                match self.broker.create_topic(OFFSETS_TOPIC, partitions, compact) {
                    Ok(_) | Err(BrokerError::TopicExists { .. }) => Ok(()),
                    Err(e) => Err(e.into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// How many more tasks connector `name` may run besides the others' (`connect.max_tasks`).
    fn budget(&self, entries: &BTreeMap<String, Entry>, name: &str) -> u32 {
        let others: usize = entries
            .iter()
            .filter(|(n, _)| n.as_str() != name)
            .map(|(_, e)| match &e.run {
                Run::Started { tasks, .. } => tasks.len(),
                Run::Failed { .. } => 0,
            })
            .sum();
        self.caps.total.saturating_sub(others as u32)
    }

    /// The worker id status answers show.
    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// Stops every task (sinks flush and commit first).
    pub fn shutdown(&self) {
        let mut entries = self.entries.lock();
        for e in entries.values_mut() {
            e.stop_tasks();
        }
    }
}
