//! Connectors created, updated, paused, resumed, stopped, restarted and deleted; each
//! change stored first, then applied to the task threads.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::pipeline::logs::PipelineLogs;
use crate::runtime::connector::ConnectorError;
use crate::runtime::{Limits, Plugin};

use super::super::chain::ConnectorChain;
use super::super::error::ConnectError;
use super::super::sink;
use super::super::source;
use super::super::state::{ConnectorType, TargetState, TaskState};
use super::super::store::StoredConnector;
use super::super::swap::Version;
use super::super::task::{Counters, TaskControl, TaskHandle, Want};
use super::super::transforms::ChainConfig;
use super::super::worker::TaskContext;
use super::{ConnectorInfo, Connectors, Entry, Run, SwapPhase, unknown};

impl Connectors {
    /// Starts a stored connector in its target state; a failure makes it FAILED.
    pub(super) fn start(&self, stored: StoredConnector, budget: u32) -> Entry {
        let logs = Arc::new(PipelineLogs::default());
        let counters = Arc::new(Counters::default());
        let run = match self.start_run(&stored, &logs, &counters, budget) {
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
            swap_failure: None,
            swap: SwapPhase::Settled,
        }
    }

    /// Refuses `asked` tasks of connector `name` beyond a server cap: its own, or the
    /// `budget` the other connectors' tasks leave.
    pub(super) fn within_caps(
        &self,
        name: &str,
        asked: u32,
        budget: u32,
    ) -> Result<(), ConnectError> {
        let refuse = |key, limit, running| ConnectError::TaskLimit {
            name: name.to_string(),
            key,
            limit,
            asked,
            running,
        };
        if asked > self.caps.per_connector {
            return Err(refuse(
                "connect.max_tasks_per_connector",
                self.caps.per_connector,
                0,
            ));
        }
        if asked > budget {
            return Err(refuse(
                "connect.max_tasks",
                self.caps.total,
                self.caps.total - budget,
            ));
        }
        Ok(())
    }

    /// Refuses a config whose tasks would pass a cap, before it is stored.
    fn check_caps(
        &self,
        entries: &BTreeMap<String, Entry>,
        name: &str,
        config: &BTreeMap<String, String>,
        target: TargetState,
    ) -> Result<(), ConnectError> {
        if target == TargetState::Stopped {
            return Ok(());
        }
        if super::mirror::mirror_kind(config).is_some() {
            return self.within_caps(name, 1, self.budget(entries, name));
        }
        let (plugin, _, settings) = self.resolve_config(config)?;
        let n = self
            .split(&plugin, config, settings.tasks_max, &Arc::default())?
            .len() as u32;
        self.within_caps(name, n, self.budget(entries, name))
    }

    /// The connector part's split of `config` into at most `tasks_max` task configs.
    pub(super) fn split(
        &self,
        plugin: &Arc<Plugin>,
        config: &BTreeMap<String, String>,
        tasks_max: u32,
        logs: &Arc<PipelineLogs>,
    ) -> Result<Vec<BTreeMap<String, String>>, ConnectError> {
        let mut inst = self.instance(plugin, config, logs.clone())?;
        let list: Vec<(String, String)> =
            config.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let configs = match inst.task_configs(&list, tasks_max)? {
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
        Ok(configs
            .into_iter()
            .take(tasks_max as usize)
            .map(|c| c.into_iter().collect())
            .collect())
    }

    pub(super) fn start_run(
        &self,
        stored: &StoredConnector,
        logs: &Arc<PipelineLogs>,
        counters: &Arc<Counters>,
        budget: u32,
    ) -> Result<Run, ConnectError> {
        if let Some(kind) = super::mirror::mirror_kind(&stored.config) {
            return self.start_mirror(kind, stored, logs, counters, budget);
        }
        self.offsets_topic()?;
        let (plugin, info, settings) = self.resolve_stored(stored)?;
        let chain = ChainConfig::parse(&stored.config, self.pipelines.plugins())?;
        let task_configs = self.split(&plugin, &stored.config, settings.tasks_max, logs)?;
        if stored.target != TargetState::Stopped {
            self.within_caps(&stored.name, task_configs.len() as u32, budget)?;
        }
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
                    version: Version {
                        plugin: plugin.clone(),
                        config: config.clone(),
                    },
                    settings: settings.clone(),
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
                    denial_counted: Arc::default(),
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

    pub(super) fn info_of(e: &Entry) -> ConnectorInfo {
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
        self.check_caps(&entries, name, &stored.config, target)?;
        let budget = self.budget(&entries, name);
        self.store.put(&stored)?;
        let entry = self.start(stored, budget);
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
        if let Some(e) = entries.get_mut(name) {
            if e.swap == SwapPhase::Pending {
                return Err(ConnectError::SwapPending {
                    name: name.to_string(),
                });
            }
            // A new version of the running plugin is swapped in, as pipelines' are; any other
            // change restarts the tasks (each commits first, so nothing is lost either way).
            // The swap is waited for without the lock (see `swap.rs`).
            if let Some(plan) = self.swap_plan(e, &config)? {
                let order = self.order_swap(e, &config, plan)?;
                drop(entries);
                return Ok((false, self.finish_swap(name, config, order)?));
            }
        }
        let target = entries
            .get(name)
            .map_or(TargetState::Running, |e| e.stored.target);
        self.check_caps(&entries, name, &config, target)?;
        let budget = self.budget(&entries, name);
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
        let entry = self.start(stored, budget);
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

    /// Sets a connector's target state: pause and resume reach running tasks; stop ends
    /// them, and resuming a stopped connector starts them again.
    pub fn set_target(&self, name: &str, target: TargetState) -> Result<(), ConnectError> {
        let mut entries = self.entries.lock();
        let budget = self.budget(&entries, name);
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
        let entry = self.start(stored, budget);
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
        let budget = self.budget(&entries, name);
        let e = entries.get_mut(name).ok_or_else(|| unknown(name))?;
        let failed = matches!(e.run, Run::Failed { .. });
        if failed || (include_tasks && !only_failed) {
            if only_failed && !failed && !include_tasks {
                return Ok(false);
            }
            e.stop_tasks();
            let stored = e.stored.clone();
            let entry = self.start(stored, budget);
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
        // A task restarted mid-swap would run its stored (old) version beside tasks that took
        // the new one: refused, as a second config change is, until the swap has ended.
        if e.swap == SwapPhase::Pending {
            return Err(ConnectError::SwapPending {
                name: name.to_string(),
            });
        }
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
        if let Some(kind) = super::mirror::mirror_kind(&e.stored.config) {
            *slot = self.mirror_task(kind, &e.stored, &e.logs, &e.counters)?;
            return Ok(());
        }
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

    pub(super) fn task_context(
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
            version: Version { plugin, config },
            settings: Arc::new(settings),
            chain: Arc::new(chain),
            broker: self.broker.clone(),
            producers: self.producers.clone(),
            tree: self.store.tree(&stored.name)?,
            logs: logs.clone(),
            counters: counters.clone(),
            denial_counted: Arc::default(),
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
}

pub(super) fn spawn(
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
    let (id, config) = (ctx.task, ctx.version.config.clone());
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
