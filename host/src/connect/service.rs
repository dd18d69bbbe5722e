//! [`Connectors`], the service: connectors' configs and target states (durable), their
//! plugins, their task threads, and the operations Connect's REST API offers.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::broker::producer::ProducerRegistry;
use crate::broker::{Broker, BrokerError, OffsetCommit, ProduceRecord};
use crate::pipeline::Pipelines;
use crate::pipeline::logs::PipelineLogs;
use crate::record::Record;
use crate::runtime::connector::{ConfigDef, ConnectorError};
use crate::runtime::net::NetState;
use crate::runtime::{ConnectorInstance, Limits, Plugin, World};

use super::chain::ConnectorChain;
use super::config::ConnectorSettings;
use super::error::ConnectError;
use super::sink;
use super::source::{self, OFFSETS_PARTITIONS, OFFSETS_TOPIC};
use super::state::{ConnectorType, TargetState, TaskState};
use super::store::{self, ConnectStore, StoredConnector};
use super::task::{Counters, TaskControl, TaskHandle, Want};
use super::transforms::ChainConfig;
use super::worker::{TaskContext, canonical_object};

/// Settings of the connect service.
#[derive(Debug, Clone)]
pub struct ConnectConfig {
    /// Where its database lives.
    pub dir: PathBuf,
    /// The worker id status answers show (the Connect listener's address).
    pub worker_id: String,
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

struct Entry {
    stored: StoredConnector,
    run: Run,
    logs: Arc<PipelineLogs>,
    counters: Arc<Counters>,
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
        World::Transform | World::Processor | World::Aggregator | World::KeySelector => None,
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
        };
        for stored in service.store.list()? {
            let entry = service.start(stored);
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

    /// Loads the plugin `class` names: a built-in (by plugin name, or Connect's class name or
    /// its short alias) or `module:NAME@VERSION` (`module:NAME`: the newest version).
    pub fn resolve(&self, class: &str) -> Result<(Arc<Plugin>, PluginInfo), ConnectError> {
        let runtime = self.pipelines.runtime();
        let (key, plugin, shown, version) = if let Some(m) = class.strip_prefix("module:") {
            let (name, version) = match m.split_once('@') {
                Some((n, v)) => match v.parse::<u32>() {
                    Ok(v) => (n, Some(v)),
                    Err(_) => {
                        return Err(ConnectError::BadRequest(format!(
                            "connector.class {class:?}: the version after '@' must be a number"
                        )));
                    }
                },
                None => (m, None),
            };
            let (module, bytes) = self.pipelines.module_bytes(name, version)?;
            let key = format!("module:{}@{}", module.name, module.version);
            let cached = self.loaded.lock().get(&key).cloned();
            let plugin = match cached {
                Some(p) => p,
                None => runtime.load(&key, &bytes)?,
            };
            (key.clone(), plugin, key, module.version.to_string())
        } else {
            let simple = class.rsplit('.').next().unwrap_or(class);
            let name = simple.strip_suffix("Connector").unwrap_or(simple);
            // A class whose simple name is not the plugin's (Confluent's JDBC sink).
            let name = CONNECT_CLASSES
                .iter()
                .find(|(_, c)| *c == class)
                .map_or(name, |(n, _)| *n);
            let builtin = self
                .pipelines
                .plugins()
                .get(name)
                .filter(|p| p.world.ends_with("-connector"))
                .cloned()
                .ok_or_else(|| ConnectError::UnknownClass {
                    class: class.to_string(),
                    available: self
                        .plugins()
                        .iter()
                        .map(|p| p.class.clone())
                        .collect::<Vec<_>>()
                        .join(", "),
                })?;
            let key = format!("builtin:{}", builtin.name);
            let cached = self.loaded.lock().get(&key).cloned();
            let plugin = match cached {
                Some(p) => p,
                None => runtime.load_file(&builtin.path)?,
            };
            let shown = CONNECT_CLASSES
                .iter()
                .find(|(n, _)| *n == builtin.name)
                .map_or(builtin.name.clone(), |(_, c)| c.to_string());
            (key, plugin, shown, builtin.version.clone())
        };
        let kind = kind_of(plugin.world()).ok_or_else(|| {
            ConnectError::Runtime(crate::runtime::RuntimeError::NotAConnector {
                plugin: class.to_string(),
                world: plugin.world().name(),
            })
        })?;
        self.loaded.lock().insert(key, plugin.clone());
        Ok((
            plugin,
            PluginInfo {
                class: shown,
                kind,
                version,
            },
        ))
    }

    /// The installed connector plugins (built-ins; uploaded modules are named by
    /// `module:NAME@VERSION`).
    pub fn plugins(&self) -> Vec<PluginInfo> {
        self.pipelines
            .plugins()
            .list()
            .iter()
            .filter_map(|p| {
                let kind = match p.world {
                    "source-connector" => ConnectorType::Source,
                    "sink-connector" => ConnectorType::Sink,
                    _ => return None,
                };
                let class = CONNECT_CLASSES
                    .iter()
                    .find(|(n, _)| *n == p.name)
                    .map_or(p.name.clone(), |(_, c)| c.to_string());
                Some(PluginInfo {
                    class,
                    kind,
                    version: p.version.clone(),
                })
            })
            .collect()
    }

    fn instance(
        &self,
        plugin: &Arc<Plugin>,
        config: &BTreeMap<String, String>,
        logs: Arc<PipelineLogs>,
    ) -> Result<ConnectorInstance, ConnectError> {
        Ok(ConnectorInstance::new(
            plugin.clone(),
            config.clone(),
            &[],
            NetState::default(),
            Limits::default(),
            logs,
        )?)
    }

    /// The config keys of plugin `class`: the common ones, then the plugin's.
    pub fn plugin_config(&self, class: &str) -> Result<Vec<ConfigDef>, ConnectError> {
        let (plugin, info) = self.resolve(class)?;
        let mut inst = self.instance(&plugin, &BTreeMap::new(), Arc::default())?;
        let mut defs = common_defs(info.kind);
        defs.extend(inst.config_defs()?);
        Ok(defs)
    }

    /// Validates `config` for plugin `class`, per key (Connect's `config/validate`).
    pub fn validate(
        &self,
        class: &str,
        config: &BTreeMap<String, String>,
    ) -> Result<(String, Vec<ValidatedKey>), ConnectError> {
        let (plugin, info) = self.resolve(class)?;
        let mut inst = self.instance(&plugin, config, Arc::default())?;
        let list: Vec<(String, String)> =
            config.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let mut issues: Vec<(String, String)> =
            match ConnectorSettings::parse(config, Some(info.kind)) {
                Ok(_) => Vec::new(),
                Err(i) => i,
            };
        issues.extend(ConnectorChain::issues(config, self.pipelines.plugins()));
        issues.extend(
            inst.validate(&list)?
                .into_iter()
                .map(|i| (i.key, i.message)),
        );
        let mut keys = Vec::new();
        let common = common_defs(info.kind);
        let n_common = common.len();
        for (i, def) in common.into_iter().chain(inst.config_defs()?).enumerate() {
            let errors: Vec<String> = issues
                .iter()
                .filter(|(k, _)| *k == def.name)
                .map(|(_, m)| m.clone())
                .collect();
            keys.push(ValidatedKey {
                value: config
                    .get(&def.name)
                    .cloned()
                    .or_else(|| def.default_value.clone()),
                group: if i < n_common { "Common" } else { "Connector" },
                def,
                errors,
            });
        }
        // Problems with keys no definition names (weir.allow.*, converters' sub-keys).
        for (k, m) in &issues {
            if !keys.iter().any(|v| v.def.name == *k) {
                keys.push(ValidatedKey {
                    def: ConfigDef {
                        name: k.clone(),
                        kind: "STRING".into(),
                        required: false,
                        default_value: None,
                        importance: "LOW".into(),
                        documentation: String::new(),
                    },
                    group: "Common",
                    value: config.get(k).cloned(),
                    errors: vec![m.clone()],
                });
            }
        }
        Ok((info.class, keys))
    }

    /// Checks a full configuration; every problem, each naming its key.
    fn check(
        &self,
        config: &BTreeMap<String, String>,
    ) -> Result<(Arc<Plugin>, PluginInfo), ConnectError> {
        let class = config
            .get("connector.class")
            .map(|c| c.trim().to_string())
            .unwrap_or_default();
        if class.is_empty() {
            let errors = match ConnectorSettings::parse(config, None) {
                Err(issues) => issues.into_iter().map(|(_, m)| m).collect(),
                Ok(_) => vec!["Missing required configuration \"connector.class\" which has no default value.".into()],
            };
            return Err(ConnectError::InvalidConfig { errors });
        }
        let (_, keys) = self.validate(&class, config)?;
        let errors: Vec<String> = keys
            .iter()
            .flat_map(|k| k.errors.iter().map(|m| format!("{}: {m}", k.def.name)))
            .collect();
        if !errors.is_empty() {
            return Err(ConnectError::InvalidConfig { errors });
        }
        self.resolve(&class)
    }

    /// Starts a stored connector in its target state; a failure makes it FAILED.
    fn start(&self, stored: StoredConnector) -> Entry {
        let logs = Arc::new(PipelineLogs::default());
        let counters = Arc::new(Counters::default());
        let run = match self.start_run(&stored, &logs, &counters) {
            Ok(run) => run,
            Err(e) => {
                let trace = e.to_string();
                logs.note(&format!("connector failed to start: {trace}"));
                tracing::warn!(connector = %stored.name, "connector failed to start: {trace}");
                Run::Failed { trace }
            }
        };
        Entry {
            stored,
            run,
            logs,
            counters,
        }
    }

    /// A stored connector's plugin (by its `connector.class`) and its settings, checked.
    fn resolve_stored(
        &self,
        stored: &StoredConnector,
    ) -> Result<(Arc<Plugin>, PluginInfo, ConnectorSettings), ConnectError> {
        let class = stored
            .config
            .get("connector.class")
            .map_or("", |c| c.trim());
        let (plugin, info) = self.resolve(class)?;
        let settings =
            ConnectorSettings::parse(&stored.config, Some(info.kind)).map_err(|issues| {
                ConnectError::InvalidConfig {
                    errors: issues
                        .into_iter()
                        .map(|(k, m)| format!("{k}: {m}"))
                        .collect(),
                }
            })?;
        Ok((plugin, info, settings))
    }

    fn start_run(
        &self,
        stored: &StoredConnector,
        logs: &Arc<PipelineLogs>,
        counters: &Arc<Counters>,
    ) -> Result<Run, ConnectError> {
        self.offsets_topic()?;
        let (plugin, info, settings) = self.resolve_stored(stored)?;
        let chain = ChainConfig::parse(&stored.config, self.pipelines.plugins())?;
        let mut inst = self.instance(&plugin, &stored.config, logs.clone())?;
        let list: Vec<(String, String)> = stored
            .config
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let configs = match inst.task_configs(&list, settings.tasks_max)? {
            Ok(c) => c,
            Err(ConnectorError::Denied(message)) => {
                return Err(ConnectError::Denied {
                    stage: "task-configs",
                    message,
                });
            }
            Err(
                ConnectorError::InvalidConfig(m)
                | ConnectorError::Failed(m)
                | ConnectorError::Retriable(m),
            ) => {
                return Err(ConnectError::Plugin {
                    stage: "task-configs",
                    message: m,
                });
            }
        };
        let task_configs: Vec<BTreeMap<String, String>> = configs
            .into_iter()
            .take(settings.tasks_max as usize)
            .map(|c| c.into_iter().collect())
            .collect();
        let settings = Arc::new(settings);
        let mut tasks = Vec::new();
        if stored.target != TargetState::Stopped {
            let tree = self.store.tree(&stored.name)?;
            let n = task_configs.len() as u32;
            for (id, config) in task_configs.iter().enumerate() {
                let ctx = TaskContext {
                    connector: stored.name.clone(),
                    task: id as u32,
                    tasks: n,
                    plugin: plugin.clone(),
                    settings: settings.clone(),
                    config: config.clone(),
                    // Each task its own chain: a plugin instance serves one thread.
                    chain: Arc::new(ConnectorChain::build(
                        &chain,
                        self.pipelines.plugins(),
                        Limits::default(),
                    )?),
                    broker: self.broker.clone(),
                    producers: self.producers.clone(),
                    tree: tree.clone(),
                    logs: logs.clone(),
                    counters: counters.clone(),
                    limits: Limits::default(),
                };
                tasks.push(spawn(ctx, info.kind, stored.target)?);
            }
        }
        Ok(Run::Started {
            info,
            task_configs,
            tasks,
        })
    }

    /// Names of every connector.
    pub fn list(&self) -> Vec<String> {
        self.entries.lock().keys().cloned().collect()
    }

    fn info_of(e: &Entry) -> ConnectorInfo {
        let tasks = match &e.run {
            Run::Started { task_configs, .. } => (0..task_configs.len() as u32).collect(),
            Run::Failed { .. } => Vec::new(),
        };
        ConnectorInfo {
            name: e.stored.name.clone(),
            config: e.stored.config.clone(),
            tasks,
            kind: e.kind(),
        }
    }

    /// Creates a connector (`POST /connectors`).
    pub fn create(
        &self,
        mut config: BTreeMap<String, String>,
        name: &str,
        target: TargetState,
    ) -> Result<ConnectorInfo, ConnectError> {
        config.insert("name".into(), name.to_string());
        if self.entries.lock().contains_key(name) {
            return Err(ConnectError::ConnectorExists {
                name: name.to_string(),
            });
        }
        self.check(&config)?;
        let stored = StoredConnector {
            name: name.to_string(),
            config,
            target,
            created_ms: crate::broker::now_ms(),
        };
        let mut entries = self.entries.lock();
        if entries.contains_key(name) {
            return Err(ConnectError::ConnectorExists {
                name: name.to_string(),
            });
        }
        self.store.put(&stored)?;
        let entry = self.start(stored);
        let info = Self::info_of(&entry);
        entries.insert(name.to_string(), entry);
        Ok(info)
    }

    /// Creates or replaces a connector's config (`PUT /connectors/{name}/config`): answers
    /// whether it was created.
    pub fn put_config(
        &self,
        name: &str,
        mut config: BTreeMap<String, String>,
    ) -> Result<(bool, ConnectorInfo), ConnectError> {
        if let Some(n) = config.get("name")
            && n != name
        {
            return Err(ConnectError::BadRequest(format!(
                "Connector name configuration ({n}) doesn't match connector name in the URL ({name})"
            )));
        }
        config.insert("name".into(), name.to_string());
        self.check(&config)?;
        let mut entries = self.entries.lock();
        let (created, target, created_ms) = match entries.get_mut(name) {
            Some(e) => {
                e.stop_tasks();
                (false, e.stored.target, e.stored.created_ms)
            }
            None => (true, TargetState::Running, crate::broker::now_ms()),
        };
        let stored = StoredConnector {
            name: name.to_string(),
            config,
            target,
            created_ms,
        };
        self.store.put(&stored)?;
        let entry = self.start(stored);
        let info = Self::info_of(&entry);
        entries.insert(name.to_string(), entry);
        Ok((created, info))
    }

    /// Applies a patch to a connector's config (`PATCH`: a `None` value removes the key).
    pub fn patch_config(
        &self,
        name: &str,
        patch: BTreeMap<String, Option<String>>,
    ) -> Result<ConnectorInfo, ConnectError> {
        let mut config = self
            .entries
            .lock()
            .get(name)
            .ok_or_else(|| unknown(name))?
            .stored
            .config
            .clone();
        for (k, v) in patch {
            match v {
                Some(v) => config.insert(k, v),
                None => config.remove(&k),
            };
        }
        Ok(self.put_config(name, config)?.1)
    }

    /// A connector's info.
    pub fn get(&self, name: &str) -> Result<ConnectorInfo, ConnectError> {
        self.entries
            .lock()
            .get(name)
            .map(Self::info_of)
            .ok_or_else(|| unknown(name))
    }

    /// A connector's tasks and their configs.
    pub fn tasks(&self, name: &str) -> Result<Vec<TaskConfig>, ConnectError> {
        let entries = self.entries.lock();
        let e = entries.get(name).ok_or_else(|| unknown(name))?;
        Ok(match &e.run {
            Run::Started { task_configs, .. } => task_configs
                .iter()
                .cloned()
                .enumerate()
                .map(|(i, c)| (i as u32, c))
                .collect(),
            Run::Failed { .. } => Vec::new(),
        })
    }

    /// A connector's status.
    pub fn status(&self, name: &str) -> Result<ConnectorStatus, ConnectError> {
        let entries = self.entries.lock();
        let e = entries.get(name).ok_or_else(|| unknown(name))?;
        let (state, tasks) = match &e.run {
            Run::Failed { trace } => (
                TaskState::Failed {
                    trace: trace.clone(),
                },
                Vec::new(),
            ),
            Run::Started { tasks, .. } => (
                match e.stored.target {
                    TargetState::Running => TaskState::Running,
                    TargetState::Paused => TaskState::Paused,
                    TargetState::Stopped => TaskState::Stopped,
                },
                tasks
                    .iter()
                    .map(|t| TaskStatus {
                        id: t.id,
                        state: t.control.state(),
                    })
                    .collect(),
            ),
        };
        Ok(ConnectorStatus {
            name: name.to_string(),
            state,
            tasks,
            kind: e.kind(),
            denied: e.counters.denied.load(std::sync::atomic::Ordering::Relaxed),
        })
    }

    /// One task's status.
    pub fn task_status(&self, name: &str, task: u32) -> Result<TaskStatus, ConnectError> {
        self.status(name)?
            .tasks
            .into_iter()
            .find(|t| t.id == task)
            .ok_or(ConnectError::UnknownTask {
                name: name.to_string(),
                task,
            })
    }

    /// A connector's recent log lines (its plugin's and the host's about it).
    pub fn logs(&self, name: &str, n: usize) -> Result<Vec<String>, ConnectError> {
        Ok(self
            .entries
            .lock()
            .get(name)
            .ok_or_else(|| unknown(name))?
            .logs
            .tail(n))
    }

    /// Sets a connector's target state: pause and resume reach running tasks; stop ends
    /// them, and resuming a stopped connector starts them again.
    pub fn set_target(&self, name: &str, target: TargetState) -> Result<(), ConnectError> {
        let mut entries = self.entries.lock();
        let e = entries.get_mut(name).ok_or_else(|| unknown(name))?;
        let before = e.stored.target;
        e.stored.target = target;
        self.store.put(&e.stored)?;
        let restart = target == TargetState::Stopped
            || before == TargetState::Stopped
            || matches!(e.run, Run::Failed { .. });
        if !restart {
            if let Run::Started { tasks, .. } = &e.run {
                let want = if target == TargetState::Paused {
                    Want::Pause
                } else {
                    Want::Run
                };
                for t in tasks {
                    t.control.set_want(want);
                }
            }
            return Ok(());
        }
        e.stop_tasks();
        let stored = e.stored.clone();
        let entry = self.start(stored);
        entries.insert(name.to_string(), entry);
        Ok(())
    }

    /// Restarts a connector (`POST .../restart`): with `include_tasks` its tasks too (only
    /// the failed ones with `only_failed`). Answers whether anything was restarted.
    pub fn restart(
        &self,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> Result<bool, ConnectError> {
        let mut entries = self.entries.lock();
        let e = entries.get_mut(name).ok_or_else(|| unknown(name))?;
        let failed = matches!(e.run, Run::Failed { .. });
        if failed || (include_tasks && !only_failed) {
            if only_failed && !failed && !include_tasks {
                return Ok(false);
            }
            e.stop_tasks();
            let stored = e.stored.clone();
            let entry = self.start(stored);
            entries.insert(name.to_string(), entry);
            return Ok(true);
        }
        if !include_tasks {
            // The connector part holds nothing between calls: nothing to restart.
            return Ok(!only_failed);
        }
        let ids: Vec<u32> = match &e.run {
            Run::Started { tasks, .. } => tasks
                .iter()
                .filter(|t| t.control.state().trace().is_some())
                .map(|t| t.id)
                .collect(),
            Run::Failed { .. } => Vec::new(),
        };
        drop(entries);
        for id in &ids {
            self.restart_task(name, *id)?;
        }
        Ok(!ids.is_empty())
    }

    /// Restarts one task with its configuration.
    pub fn restart_task(&self, name: &str, task: u32) -> Result<(), ConnectError> {
        let mut entries = self.entries.lock();
        let e = entries.get_mut(name).ok_or_else(|| unknown(name))?;
        let target = e.stored.target;
        let Run::Started { info, tasks, .. } = &mut e.run else {
            return Err(ConnectError::UnknownTask {
                name: name.to_string(),
                task,
            });
        };
        let kind = info.kind;
        let count = tasks.len() as u32;
        let slot = tasks
            .iter_mut()
            .find(|t| t.id == task)
            .ok_or(ConnectError::UnknownTask {
                name: name.to_string(),
                task,
            })?;
        slot.control.set_state(TaskState::Restarting);
        slot.stop();
        let ctx = self.task_context(
            &e.stored,
            (task, count),
            slot.config.clone(),
            &e.logs,
            &e.counters,
        )?;
        let fresh = spawn(ctx, kind, target)?;
        let Run::Started { tasks, .. } = &mut e.run else {
            return Ok(());
        };
        if let Some(s) = tasks.iter_mut().find(|t| t.id == task) {
            *s = fresh;
        }
        Ok(())
    }

    fn task_context(
        &self,
        stored: &StoredConnector,
        (task, tasks): (u32, u32),
        config: BTreeMap<String, String>,
        logs: &Arc<PipelineLogs>,
        counters: &Arc<Counters>,
    ) -> Result<TaskContext, ConnectError> {
        let (plugin, _, settings) = self.resolve_stored(stored)?;
        // Each task builds its own chain: a plugin instance serves one thread.
        let chain = ConnectorChain::from_config(
            &stored.config,
            self.pipelines.plugins(),
            Limits::default(),
        )?;
        Ok(TaskContext {
            connector: stored.name.clone(),
            task,
            tasks,
            plugin,
            settings: Arc::new(settings),
            config,
            chain: Arc::new(chain),
            broker: self.broker.clone(),
            producers: self.producers.clone(),
            tree: self.store.tree(&stored.name)?,
            logs: logs.clone(),
            counters: counters.clone(),
            limits: Limits::default(),
        })
    }

    /// Deletes a connector: stops its tasks, forgets its config and source offsets (a sink's
    /// consumer group stays, as in Connect).
    pub fn delete(&self, name: &str) -> Result<(), ConnectError> {
        let mut entries = self.entries.lock();
        let mut e = entries.remove(name).ok_or_else(|| unknown(name))?;
        e.stop_tasks();
        self.store.remove(name)
    }

    /// The topics a connector uses (KIP-558): a source's outputs, a sink's inputs.
    pub fn topics(&self, name: &str) -> Result<Vec<String>, ConnectError> {
        let entries = self.entries.lock();
        let e = entries.get(name).ok_or_else(|| unknown(name))?;
        let mut topics = std::collections::BTreeSet::new();
        match e.kind() {
            Some(ConnectorType::Source) => {
                let tree = self.store.tree(name)?;
                let n = match &e.run {
                    Run::Started { task_configs, .. } => task_configs.len() as u32,
                    Run::Failed { .. } => 0,
                };
                for t in 0..n {
                    if let Some(cp) = store::checkpoint(&tree, t)? {
                        topics.extend(cp.sequences.into_keys().filter(|t| t != OFFSETS_TOPIC));
                    }
                }
            }
            Some(ConnectorType::Sink) => {
                if let Ok(rows) = self.broker.group_offsets(&sink::group(name)) {
                    topics.extend(rows.into_iter().map(|r| r.topic));
                }
            }
            None => {}
        }
        Ok(topics.into_iter().collect())
    }

    /// A connector's offsets (KIP-875): (partition, offset) JSON pairs.
    pub fn offsets(
        &self,
        name: &str,
    ) -> Result<Vec<(serde_json::Value, serde_json::Value)>, ConnectError> {
        let kind = self
            .entries
            .lock()
            .get(name)
            .ok_or_else(|| unknown(name))?
            .kind();
        match kind {
            Some(ConnectorType::Sink) => match self.broker.group_offsets(&sink::group(name)) {
                Ok(rows) => Ok(rows
                    .into_iter()
                    .map(|r| {
                        (
                            serde_json::json!({"kafka_topic": r.topic, "kafka_partition": r.partition}),
                            serde_json::json!({"kafka_offset": r.committed.offset}),
                        )
                    })
                    .collect()),
                Err(BrokerError::UnknownGroup { .. }) => Ok(Vec::new()),
                Err(e) => Err(e.into()),
            },
            _ => {
                let tree = self.store.tree(name)?;
                let mut out = Vec::new();
                for (p, o) in store::offsets(&tree)? {
                    let parse = |s: &str| {
                        serde_json::from_str(s).map_err(|e| ConnectError::Corrupt { what: format!("offset {s}"), reason: e.to_string() })
                    };
                    out.push((parse(&p)?, parse(&o)?));
                }
                Ok(out)
            }
        }
    }

    fn stopped(&self, name: &str) -> Result<Option<ConnectorType>, ConnectError> {
        let entries = self.entries.lock();
        let e = entries.get(name).ok_or_else(|| unknown(name))?;
        if e.stored.target != TargetState::Stopped {
            return Err(ConnectError::NotStopped {
                name: name.to_string(),
            });
        }
        Ok(e.kind())
    }

    /// Alters offsets (`PATCH .../offsets`, STOPPED only): `None` resets a partition.
    pub fn alter_offsets(
        &self,
        name: &str,
        changes: Vec<(serde_json::Value, Option<serde_json::Value>)>,
    ) -> Result<(), ConnectError> {
        let kind = self.stopped(name)?;
        if kind == Some(ConnectorType::Sink) {
            let group = sink::group(name);
            let mut commits = Vec::new();
            let mut resets = Vec::new();
            for (p, o) in changes {
                let topic = p.get("kafka_topic").and_then(|t| t.as_str());
                let partition = p.get("kafka_partition").and_then(|t| t.as_u64());
                let (Some(topic), Some(partition)) = (topic, partition) else {
                    return Err(ConnectError::BadRequest(format!(
                        "Partition {p} of a sink connector must name \"kafka_topic\" and \"kafka_partition\""
                    )));
                };
                match o {
                    None => resets.push((topic.to_string(), partition as u32)),
                    Some(o) => match o.get("kafka_offset").and_then(|x| x.as_i64()) {
                        Some(offset) if offset >= 0 => commits.push(OffsetCommit {
                            topic: topic.to_string(),
                            partition: partition as i64,
                            offset,
                            metadata: None,
                        }),
                        _ => {
                            return Err(ConnectError::BadRequest(format!(
                                "Offset {o} of a sink connector must have a non-negative \"kafka_offset\""
                            )));
                        }
                    },
                }
            }
            if !commits.is_empty() {
                self.broker.commit_offsets(&group, commits)?;
            }
            if !resets.is_empty() {
                self.broker.delete_offsets(&group, &resets)?;
            }
            return Ok(());
        }
        let mut rows = Vec::new();
        for (p, o) in changes {
            let Some(partition) = canonical_object(&p.to_string()) else {
                return Err(ConnectError::BadRequest(format!(
                    "Partition {p} must be a JSON object"
                )));
            };
            let offset = match o {
                None => None,
                Some(o) => Some(canonical_object(&o.to_string()).ok_or_else(|| {
                    ConnectError::BadRequest(format!("Offset {o} must be a JSON object or null"))
                })?),
            };
            rows.push((partition, offset));
        }
        self.publish_offsets(name, &rows)?;
        store::set_offsets(&self.store.tree(name)?, &rows)
    }

    /// Resets every offset (`DELETE .../offsets`, STOPPED only).
    pub fn reset_offsets(&self, name: &str) -> Result<(), ConnectError> {
        let kind = self.stopped(name)?;
        if kind == Some(ConnectorType::Sink) {
            return match self.broker.delete_group(&sink::group(name)) {
                Ok(()) | Err(BrokerError::UnknownGroup { .. }) => Ok(()),
                Err(e) => Err(e.into()),
            };
        }
        let tree = self.store.tree(name)?;
        let rows: Vec<(String, Option<String>)> = store::offsets(&tree)?
            .into_iter()
            .map(|(p, _)| (p, None))
            .collect();
        self.publish_offsets(name, &rows)?;
        store::set_offsets(&tree, &rows)
    }

    /// Writes offset changes to `connect-offsets` (a null value for a reset).
    fn publish_offsets(
        &self,
        name: &str,
        rows: &[(String, Option<String>)],
    ) -> Result<(), ConnectError> {
        if rows.is_empty() {
            return Ok(());
        }
        self.offsets_topic()?;
        let records = rows
            .iter()
            .map(|(p, o)| ProduceRecord {
                partition: None,
                record: Record {
                    key: Some(source::offsets_key(name, p).into()),
                    value: o.clone().map(Into::into),
                    headers: Vec::new(),
                    timestamp: -1,
                },
            })
            .collect();
        self.broker.produce(OFFSETS_TOPIC, records)?;
        Ok(())
    }

    /// Counters in Prometheus' text format, for `/metrics`.
    pub fn metrics(&self) -> String {
        use std::fmt::Write;
        use std::sync::atomic::Ordering::Relaxed;
        let entries = self.entries.lock();
        let mut out = String::new();
        let series: [Series; 3] = [
            (
                "weir_connector_records_total",
                "Records a connector moved (appended by a source, put by a sink).",
                |c| c.records.load(Relaxed),
            ),
            (
                "weir_connector_skipped_total",
                "Records skipped under errors.tolerance=all.",
                |c| c.skipped.load(Relaxed),
            ),
            (
                "weir_connector_denied_total",
                "Calls refused a capability the connector's weir.allow.* config does not grant.",
                |c| c.denied.load(Relaxed),
            ),
        ];
        for (metric, help, get) in series {
            let _ = writeln!(out, "# HELP {metric} {help}\n# TYPE {metric} counter");
            for (name, e) in entries.iter() {
                let _ = writeln!(
                    out,
                    "{metric}{{connector=\"{}\"}} {}",
                    name.replace('\\', "\\\\").replace('"', "\\\""),
                    get(&e.counters)
                );
            }
        }
        out
    }
}

/// The keys every connector has, as `config` definitions.
fn common_defs(kind: ConnectorType) -> Vec<ConfigDef> {
    let d = |name: &str, kind: &str, required: bool, default: Option<&str>, doc: &str| ConfigDef {
        name: name.into(),
        kind: kind.into(),
        required,
        default_value: default.map(Into::into),
        importance: if required { "HIGH" } else { "LOW" }.into(),
        documentation: doc.into(),
    };
    let mut defs = vec![
        d(
            "name",
            "STRING",
            true,
            None,
            "Globally unique name to use for this connector.",
        ),
        d(
            "connector.class",
            "STRING",
            true,
            None,
            "Name of the class for this connector: Connect's class name, its alias, or module:NAME@VERSION.",
        ),
        d(
            "tasks.max",
            "INT",
            false,
            Some("1"),
            "Maximum number of tasks to use for this connector.",
        ),
        d(
            "key.converter",
            "CLASS",
            false,
            Some("org.apache.kafka.connect.json.JsonConverter"),
            "Converter class used to convert between Kafka Connect format and the serialized form that is written to Kafka.",
        ),
        d(
            "value.converter",
            "CLASS",
            false,
            Some("org.apache.kafka.connect.json.JsonConverter"),
            "Converter class used to convert between Kafka Connect format and the serialized form that is written to Kafka.",
        ),
        d(
            "header.converter",
            "CLASS",
            false,
            Some("org.apache.kafka.connect.storage.SimpleHeaderConverter"),
            "HeaderConverter class used to convert between Kafka Connect format and the serialized form that is written to Kafka.",
        ),
        d(
            "transforms",
            "LIST",
            false,
            Some(""),
            "Aliases for the transformations to be applied to records.",
        ),
        d(
            "errors.tolerance",
            "STRING",
            false,
            Some("none"),
            "Behavior for tolerating errors during connector operation: none or all.",
        ),
        d(
            "errors.retry.timeout",
            "LONG",
            false,
            Some("0"),
            "The maximum duration in milliseconds that a failed operation will be reattempted.",
        ),
        d(
            "errors.retry.delay.max.ms",
            "LONG",
            false,
            Some("60000"),
            "The maximum duration in milliseconds between consecutive retry attempts.",
        ),
        d(
            "errors.log.enable",
            "BOOLEAN",
            false,
            Some("false"),
            "If true, write each error and the details of the failed operation to the connector's log.",
        ),
        d(
            "errors.log.include.messages",
            "BOOLEAN",
            false,
            Some("false"),
            "Whether to include the record that failed in the log.",
        ),
        d(
            "weir.allow.dirs",
            "LIST",
            false,
            Some(""),
            "Directories the connector may use, comma-separated absolute path[:ro]; nothing else on disk is reachable.",
        ),
        d(
            "weir.allow.tcp",
            "LIST",
            false,
            Some(""),
            "Hosts the connector may open TCP connections to, comma-separated host:port; names are resolved by weir once and pinned.",
        ),
    ];
    if kind == ConnectorType::Sink {
        defs.insert(
            3,
            d(
                "topics",
                "LIST",
                false,
                Some(""),
                "List of topics to consume, separated by commas",
            ),
        );
        defs.insert(
            4,
            d(
                "topics.regex",
                "STRING",
                false,
                Some(""),
                "Regular expression giving topics to consume.",
            ),
        );
        defs.push(d("errors.deadletterqueue.topic.name", "STRING", false, Some(""), "The name of the topic to be used as the dead letter queue (DLQ) for messages that result in an error."));
        defs.push(d("errors.deadletterqueue.context.headers.enable", "BOOLEAN", false, Some("false"), "If true, add headers containing error context to the messages written to the dead letter queue."));
    }
    defs
}

fn spawn(
    ctx: TaskContext,
    kind: ConnectorType,
    target: TargetState,
) -> Result<TaskHandle, ConnectError> {
    let want = if target == TargetState::Paused {
        Want::Pause
    } else {
        Want::Run
    };
    let control = TaskControl::new(want);
    let (id, config) = (ctx.task, ctx.config.clone());
    let name = format!("connect-{}-{id}", ctx.connector);
    let c = control.clone();
    let thread = std::thread::Builder::new()
        .name(name.chars().take(15).collect())
        .spawn(move || match kind {
            ConnectorType::Source => source::run(ctx, c),
            ConnectorType::Sink => sink::run(ctx, c),
        })
        .map_err(ConnectError::Thread)?;
    Ok(TaskHandle {
        id,
        config,
        control,
        thread: Some(thread),
    })
}
