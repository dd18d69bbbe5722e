//! [`ConnectorInstance`]: one store running a connector plugin (the `source-connector` or
//! `sink-connector` world of `wit/connector.wit`), for its connector part or one of its tasks.
//!
//! Unlike a pipeline step's [`super::Instance`], a connector's store is granted what its config
//! grants: the directories of `weir.allow.dirs` are preopened ([`super::grants::DirGrant`]),
//! and its wasi:http requests reach what `weir.allow.http` grants ([`super::http_send`]).
//! and TCP reaches the pinned addresses of `weir.allow.tcp` ([`super::net`]).
//! A trap poisons the store: every later call fails, and the caller (connect) fails the task,
//! whose restart builds a fresh instance.

use std::collections::BTreeMap;
use std::sync::Arc;

use wasmtime::Store;

use super::bindings::sink::SinkConnector;
use super::bindings::sink::exports::weir::plugin::sink_task;
use super::bindings::source::SourceConnector;
use super::bindings::source::exports::weir::plugin::source_task;
use super::error::RuntimeError;
use super::grants::DirGrant;
use super::guest_output::LogSink;
use super::host::{ErrantReport, HostState};
use super::http_send::{HttpAccess, HttpHooks};
use super::instance::{arm_deadline, classify, drain_output};
use super::limits::Limits;
use super::net::NetState;
use super::plugin::{Plugin, PluginPre, World};

pub use super::bindings::source::weir::plugin::connect_types::{
    ConfigDef, ConfigIssue, ConnectorError, Header, Value,
};
pub use sink_task::{SinkRecord, TopicPartitionOffset};
pub use source_task::{CommittedOffset, SourceRecord};

/// A configuration as it crosses the boundary.
pub type ConfigList = Vec<(String, String)>;

enum Bound {
    Source(SourceConnector),
    Sink(SinkConnector),
}

/// The store is usable, or a trap poisoned it.
enum Health {
    Live,
    Poisoned,
}

/// A connector plugin's instance: its connector part and one task's calls.
pub struct ConnectorInstance {
    plugin: Arc<Plugin>,
    store: Store<HostState>,
    bound: Bound,
    limits: Limits,
    log: Arc<dyn LogSink>,
    health: Health,
}

impl std::fmt::Debug for ConnectorInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorInstance")
            .field("plugin", &self.plugin)
            .finish_non_exhaustive()
    }
}

/// A call's answer: the runtime failed it (trap, deadline, cap), or the plugin answered.
pub type Call<T> = Result<T, RuntimeError>;

impl ConnectorInstance {
    /// Instantiates a connector plugin with `config` (its `config` import), the directories,
    /// outbound HTTP and TCP it is granted, and where its log lines go.
    pub fn new(
        plugin: Arc<Plugin>,
        config: BTreeMap<String, String>,
        dirs: &[DirGrant],
        http: &HttpAccess,
        net: NetState,
        limits: Limits,
        log: Arc<dyn LogSink>,
    ) -> Result<ConnectorInstance, RuntimeError> {
        let name = plugin.name.to_string();
        let mut data = HostState::new(
            plugin.name.clone(),
            plugin.runtime.shared.caps,
            limits.memory_bytes,
            Arc::new(config),
            log.clone(),
            None,
        );
        data.http_hooks = HttpHooks::new(
            http.grant.clone(),
            plugin.name.clone(),
            log.clone(),
            http.denials.clone(),
        );
        data.wasi =
            super::grants::connector_wasi_ctx(&name, &data.stdout, &data.stderr, dirs, &net)?;
        data.net = net;
        let mut store = Store::new(&plugin.runtime.shared.engine, data);
        store.limiter(|s| &mut s.limiter);
        arm_deadline(&mut store, plugin.runtime.shared.epoch_tick, limits);
        let bound = match &plugin.pre {
            PluginPre::Source(pre) => pre.instantiate(&mut store).map(Bound::Source),
            PluginPre::Sink(pre) => pre.instantiate(&mut store).map(Bound::Sink),
            PluginPre::Transform(_)
            | PluginPre::Processor(_)
            | PluginPre::Aggregator(_)
            | PluginPre::KeySelector(_)
            | PluginPre::Joiner(_) => {
                return Err(RuntimeError::NotAConnector {
                    plugin: name,
                    world: plugin.world().name(),
                });
            }
        };
        let bound = bound.map_err(|source| RuntimeError::Instantiate {
            plugin: name,
            source,
        })?;
        Ok(ConnectorInstance {
            plugin,
            store,
            bound,
            limits,
            log,
            health: Health::Live,
        })
    }

    /// The plugin's world ([`World::SourceConnector`] or [`World::SinkConnector`]).
    pub fn world(&self) -> World {
        self.plugin.world()
    }

    /// Runs one call into the guest with the deadline armed; a trap poisons the store.
    fn call<T>(
        &mut self,
        f: impl FnOnce(&Bound, &mut Store<HostState>) -> wasmtime::Result<T>,
    ) -> Call<T> {
        if let Health::Poisoned = self.health {
            return Err(RuntimeError::Trap {
                plugin: self.plugin.name.to_string(),
                message: "the instance trapped earlier and cannot be entered again".into(),
                guest_output: String::new(),
            });
        }
        let tick = self.plugin.runtime.shared.epoch_tick;
        arm_deadline(&mut self.store, tick, self.limits);
        let res = f(&self.bound, &mut self.store);
        let name = self.plugin.name.clone();
        match res {
            Ok(v) => {
                drain_output(&name, &*self.log, &mut self.store)?;
                Ok(v)
            }
            Err(source) => {
                self.health = Health::Poisoned;
                Err(classify(
                    &name,
                    &*self.log,
                    self.limits,
                    &mut self.store,
                    source,
                ))
            }
        }
    }

    /// The config keys the connector takes.
    pub fn config_defs(&mut self) -> Call<Vec<ConfigDef>> {
        self.call(|b, s| match b {
            Bound::Source(c) => c.weir_plugin_connector().call_config_defs(s),
            Bound::Sink(c) => c.weir_plugin_connector().call_config_defs(s),
        })
    }

    /// The connector's check of `config`, per key.
    pub fn validate(&mut self, config: &ConfigList) -> Call<Vec<ConfigIssue>> {
        self.call(|b, s| match b {
            Bound::Source(c) => c.weir_plugin_connector().call_validate(s, config),
            Bound::Sink(c) => c.weir_plugin_connector().call_validate(s, config),
        })
    }

    /// At most `max_tasks` task configurations.
    pub fn task_configs(
        &mut self,
        config: &ConfigList,
        max_tasks: u32,
    ) -> Call<Result<Vec<ConfigList>, ConnectorError>> {
        self.call(|b, s| match b {
            Bound::Source(c) => c
                .weir_plugin_connector()
                .call_task_configs(s, config, max_tasks),
            Bound::Sink(c) => c
                .weir_plugin_connector()
                .call_task_configs(s, config, max_tasks),
        })
    }

    fn not_source(&self) -> RuntimeError {
        RuntimeError::NotAConnector {
            plugin: self.plugin.name.to_string(),
            world: self.plugin.world().name(),
        }
    }

    /// Starts a source task.
    pub fn source_start(
        &mut self,
        config: &ConfigList,
        offsets: &[CommittedOffset],
    ) -> Call<Result<(), ConnectorError>> {
        let err = self.not_source();
        self.call(|b, s| match b {
            Bound::Source(c) => c.weir_plugin_source_task().call_start(s, config, offsets),
            Bound::Sink(_) => Err(err.into()),
        })
    }

    /// Polls a source task for up to `max` records.
    pub fn poll(&mut self, max: u32) -> Call<Result<Vec<SourceRecord>, ConnectorError>> {
        let err = self.not_source();
        self.call(|b, s| match b {
            Bound::Source(c) => c.weir_plugin_source_task().call_poll(s, max),
            Bound::Sink(_) => Err(err.into()),
        })
    }

    /// Tells a source task which offsets are committed.
    pub fn committed(&mut self, offsets: &[CommittedOffset]) -> Call<()> {
        let err = self.not_source();
        self.call(|b, s| match b {
            Bound::Source(c) => c.weir_plugin_source_task().call_committed(s, offsets),
            Bound::Sink(_) => Err(err.into()),
        })
    }

    /// Starts a sink task with the position its last committed flush answered.
    pub fn sink_start(
        &mut self,
        config: &ConfigList,
        committed: Option<&str>,
    ) -> Call<Result<(), ConnectorError>> {
        let err = self.not_source();
        self.call(|b, s| match b {
            Bound::Sink(c) => c.weir_plugin_sink_task().call_start(s, config, committed),
            Bound::Source(_) => Err(err.into()),
        })
    }

    /// Hands a sink task a batch. Records it reports it cannot deliver are then in
    /// [`ConnectorInstance::take_errant`].
    pub fn put(&mut self, records: &[SinkRecord]) -> Call<Result<(), ConnectorError>> {
        let err = self.not_source();
        let data = self.store.data_mut();
        data.errant.clear();
        data.errant_cap = records.len();
        self.call(|b, s| match b {
            Bound::Sink(c) => c.weir_plugin_sink_task().call_put(s, records),
            Bound::Source(_) => Err(err.into()),
        })
    }

    /// The records the last `put` reported it cannot deliver, each of that batch.
    pub fn take_errant(&mut self) -> Vec<ErrantReport> {
        let data = self.store.data_mut();
        data.errant_cap = 0;
        std::mem::take(&mut data.errant)
    }

    /// Asks a sink task to flush; answers its position.
    pub fn flush(
        &mut self,
        offsets: &[TopicPartitionOffset],
    ) -> Call<Result<String, ConnectorError>> {
        let err = self.not_source();
        self.call(|b, s| match b {
            Bound::Sink(c) => c.weir_plugin_sink_task().call_flush(s, offsets),
            Bound::Source(_) => Err(err.into()),
        })
    }

    /// Stops the task (source or sink).
    pub fn stop(&mut self) -> Call<()> {
        self.call(|b, s| match b {
            Bound::Source(c) => c.weir_plugin_source_task().call_stop(s),
            Bound::Sink(c) => c.weir_plugin_sink_task().call_stop(s),
        })
    }
}
