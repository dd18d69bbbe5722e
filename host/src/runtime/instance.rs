//! [`Instance`]: one store per task, running batches through a plugin.
//!
//! An instance is either live (a store and its bound exports) or dropped after a trap; the next
//! call builds a fresh store from the plugin's `*Pre` (microseconds), so a poisoned instance is
//! never re-entered. A processor's state backend moves from the dead store to the new one.

use std::collections::BTreeMap;
use std::sync::Arc;

use wasmtime::Store;

use super::answer::Answer;
use super::bindings::aggregator::Aggregator;
use super::bindings::joiner::Joiner;
use super::bindings::key_selector::KeySelector;
use super::bindings::processor::Processor;
use super::bindings::processor::exports::weir::plugin::processing;
use super::bindings::transform::Transform;
use super::bindings::transform::exports::weir::plugin::transformer;
use super::bindings::{Batch, Emit, WitRecordFailure};
use super::caps::Cap;
use super::error::RuntimeError;
use super::flat::{CheckedBatch, FlatEncoder};
use super::guest_output::{LogLevel, LogSink, TracingSink, forward_lines};
use super::host::HostState;
use super::limits::Limits;
use super::plugin::{Plugin, PluginPre};
use super::state::StateBackend;
use crate::record::Record;

pub use super::bindings::WitOrigin as Origin;
use super::output::Output;

/// How to set up an instance.
pub struct InstanceConfig {
    /// Sandbox limits (defaults: see [`Limits`]).
    pub limits: Limits,
    /// The plugin's configuration (the WIT `config` interface; a processor's `init`).
    pub config: BTreeMap<String, String>,
    /// Where plugin log lines and guest stdout/stderr go.
    pub log: Arc<dyn LogSink>,
    /// A processor's state store (ignored by transforms).
    pub state: Option<Box<dyn StateBackend>>,
}

impl Default for InstanceConfig {
    fn default() -> Self {
        InstanceConfig {
            limits: Limits::default(),
            config: BTreeMap::new(),
            log: Arc::new(TracingSink),
            state: None,
        }
    }
}

/// A live store's bound exports, by world.
pub(super) enum Bound {
    Transform(Transform),
    Processor(Processor),
    Aggregator(Aggregator),
    KeySelector(KeySelector),
    Joiner(Joiner),
}

pub(super) struct Live {
    pub(super) store: Store<HostState>,
    pub(super) bound: Bound,
    /// A processor's requested timer interval.
    pub(super) timer_interval_ms: Option<u64>,
    /// A processor's `stream-time` export and what it asked for, if it has one.
    pub(super) stream_time: Option<super::processor::StreamTime>,
}

/// The instance's store: live, or dropped after a trap (keeping what must survive).
enum Slot {
    Live(Box<Live>),
    Dropped {
        state: Option<Box<dyn StateBackend>>,
    },
}

/// A plugin instance owned by one task; not shared between threads at once.
pub struct Instance {
    pub(super) plugin: Arc<Plugin>,
    limits: Limits,
    pub(super) config: Arc<BTreeMap<String, String>>,
    pub(super) log: Arc<dyn LogSink>,
    encoder: FlatEncoder,
    slot: Slot,
    builds: u64,
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance")
            .field("plugin", &self.plugin)
            .field("limits", &self.limits)
            .field("builds", &self.builds)
            .finish_non_exhaustive()
    }
}

impl Instance {
    /// Instantiates `plugin` (and, for a processor, calls its `init` with the config).
    pub fn new(plugin: Arc<Plugin>, config: InstanceConfig) -> Result<Instance, RuntimeError> {
        let mut instance = Instance {
            plugin,
            limits: config.limits,
            config: Arc::new(config.config),
            log: config.log,
            encoder: FlatEncoder::default(),
            slot: Slot::Dropped {
                state: config.state,
            },
            builds: 0,
        };
        instance.live()?;
        Ok(instance)
    }

    /// The plugin this instance runs.
    pub fn plugin(&self) -> &Arc<Plugin> {
        &self.plugin
    }

    /// Where the plugin's log lines go.
    pub(super) fn log_sink(&self) -> Arc<dyn LogSink> {
        self.log.clone()
    }

    /// The instance's sandbox limits.
    pub(super) fn limits(&self) -> Limits {
        self.limits
    }

    /// Encodes `records` in the instance's reusable flat buffers and hands the batch to `f`.
    pub(super) fn with_encoded<T>(
        &mut self,
        records: &[Record],
        f: impl FnOnce(&mut Instance, &Batch, usize) -> Result<T, RuntimeError>,
    ) -> Result<T, RuntimeError> {
        let mut encoder = std::mem::take(&mut self.encoder);
        let result = match encoder.encode(records) {
            Ok(batch) => f(self, batch.batch(), batch.records()),
            Err(what) => Err(RuntimeError::BatchTooLarge { what }),
        };
        self.encoder = encoder;
        result
    }

    /// How many stores were built (1 + one per rebuild after a trap).
    pub fn builds(&self) -> u64 {
        self.builds
    }

    /// A processor's requested timer interval, in milliseconds.
    pub fn timer_interval_ms(&self) -> Option<u64> {
        match &self.slot {
            Slot::Live(live) => live.timer_interval_ms,
            Slot::Dropped { .. } => None,
        }
    }

    pub(super) fn live(&mut self) -> Result<&mut Live, RuntimeError> {
        if let Slot::Dropped { state } = &mut self.slot {
            let state = state.take();
            let live = self.build(state)?;
            self.slot = Slot::Live(Box::new(live));
        }
        match &mut self.slot {
            Slot::Live(live) => Ok(live),
            Slot::Dropped { .. } => unreachable!("the slot was just filled"),
        }
    }

    fn build(&mut self, state: Option<Box<dyn StateBackend>>) -> Result<Live, RuntimeError> {
        self.builds += 1;
        let data = HostState::new(
            self.plugin.name.clone(),
            self.plugin.runtime.shared.caps,
            self.limits.memory_bytes,
            self.config.clone(),
            self.log.clone(),
            state,
        );
        let mut store = Store::new(&self.plugin.runtime.shared.engine, data);
        store.limiter(|s| &mut s.limiter);
        self.arm_deadline(&mut store);
        let plugin = self.plugin.name.to_string();
        let bound = match &self.plugin.pre {
            PluginPre::Transform(pre) => pre
                .instantiate(&mut store)
                .map(|b| (Bound::Transform(b), None)),
            PluginPre::Processor(pre) => {
                super::processor::bind(pre, self.plugin.stream_time.as_ref(), &mut store)
                    .map(|(p, st)| (Bound::Processor(p), st))
            }
            PluginPre::Aggregator(pre) => pre
                .instantiate(&mut store)
                .map(|b| (Bound::Aggregator(b), None)),
            PluginPre::KeySelector(pre) => pre
                .instantiate(&mut store)
                .map(|b| (Bound::KeySelector(b), None)),
            PluginPre::Joiner(pre) => pre
                .instantiate(&mut store)
                .map(|b| (Bound::Joiner(b), None)),
            PluginPre::Source(_) | PluginPre::Sink(_) => {
                return Err(RuntimeError::NotAStep {
                    plugin,
                    world: self.plugin.world().name(),
                });
            }
        };
        let (bound, stream_time) = match bound {
            Ok(bound) => bound,
            Err(source) => {
                let err = self.classify(&mut store, source);
                return Err(match err {
                    RuntimeError::Trap { .. } => RuntimeError::Instantiate {
                        plugin,
                        source: wasmtime::Error::msg(err.to_string()),
                    },
                    other => other,
                });
            }
        };
        let mut live = Live {
            store,
            bound,
            timer_interval_ms: None,
            stream_time: None,
        };
        if matches!(live.bound, Bound::Processor(_)) {
            self.init_processor(&mut live, stream_time)?;
        }
        Ok(live)
    }

    fn arm_deadline(&self, store: &mut Store<HostState>) {
        arm_deadline(store, self.plugin.runtime.shared.epoch_tick, self.limits);
    }

    pub(super) fn classify(
        &self,
        store: &mut Store<HostState>,
        source: wasmtime::Error,
    ) -> RuntimeError {
        classify(&self.plugin.name, &*self.log, self.limits, store, source)
    }

    pub(super) fn drain_output(&self, store: &mut Store<HostState>) -> Result<(), RuntimeError> {
        drain_output(&self.plugin.name, &*self.log, store)
    }

    /// Drops the store after a trap, keeping the state backend for the rebuild.
    pub(super) fn poison(&mut self) {
        let slot = std::mem::replace(&mut self.slot, Slot::Dropped { state: None });
        let state = match slot {
            Slot::Live(live) => live.store.into_data().state,
            Slot::Dropped { state } => state,
        };
        self.slot = Slot::Dropped { state };
    }

    /// Runs one batch through the plugin. `origin.offsets` must hold one offset per record.
    /// The records are first written into the instance's reusable flat buffers.
    pub fn process(&mut self, origin: &Origin, records: &[Record]) -> Result<Output, RuntimeError> {
        let mut encoder = std::mem::take(&mut self.encoder);
        let result = match encoder.encode(records) {
            Ok(batch) => self.run_batch(origin, batch.batch(), batch.records()),
            Err(what) => Err(RuntimeError::BatchTooLarge { what }),
        };
        self.encoder = encoder;
        result
    }

    /// Runs a batch already in flat form (and checked: see [`CheckedBatch`]) through the
    /// plugin: the bytes are copied once, straight into the guest's memory. `origin.offsets`
    /// must hold one offset per record.
    pub fn process_flat(
        &mut self,
        origin: &Origin,
        batch: &CheckedBatch,
    ) -> Result<Output, RuntimeError> {
        self.run_batch(origin, batch.batch(), batch.records())
    }

    fn run_batch(
        &mut self,
        origin: &Origin,
        batch: &Batch,
        inputs: usize,
    ) -> Result<Output, RuntimeError> {
        if origin.offsets.len() != inputs {
            return Err(RuntimeError::BadInput {
                reason: format!(
                    "origin has {} offsets for {inputs} records",
                    origin.offsets.len()
                ),
            });
        }
        let result = self.call_process(origin, batch, inputs);
        if result.as_ref().is_err_and(RuntimeError::poisons_instance) {
            self.poison();
        }
        result
    }

    fn call_process(
        &mut self,
        origin: &Origin,
        batch: &Batch,
        inputs: usize,
    ) -> Result<Output, RuntimeError> {
        let (main, routes, failures) = self.call_with(origin, batch)?;
        let caps = self.plugin.runtime.shared.caps;
        let mut answer = Answer::to_batch(&self.plugin.name, caps, batch, inputs);
        answer.failures(failures);
        answer.emit(None, main)?;
        for (topic, emit) in routes {
            answer.emit(Some(topic), emit)?;
        }
        Ok(answer.finish())
    }

    #[allow(clippy::type_complexity)]
    fn call_with(
        &mut self,
        origin: &Origin,
        batch: &Batch,
    ) -> Result<(Emit, Vec<(String, Emit)>, Vec<WitRecordFailure>), RuntimeError> {
        let name = self.plugin.name.clone();
        let log = self.log.clone();
        let limits = self.limits;
        let tick = self.plugin.runtime.shared.epoch_tick;
        let world = self.plugin.world().name();
        let live = self.live()?;
        arm_deadline(&mut live.store, tick, limits);
        let result = match &live.bound {
            Bound::Aggregator(_) | Bound::KeySelector(_) | Bound::Joiner(_) => {
                return Err(RuntimeError::Unsupported {
                    plugin: name.to_string(),
                    world,
                    call: "process",
                });
            }
            Bound::Transform(t) => t
                .weir_plugin_transformer()
                .call_process(&mut live.store, origin, batch)
                .map(|r| {
                    r.map(|o| (o.emit, Vec::new(), o.failures))
                        .map_err(|e| match e {
                            transformer::TransformError::InvalidConfig(m) => ("invalid-config", m),
                            transformer::TransformError::Failed(m) => ("failed", m),
                        })
                }),
            Bound::Processor(p) => p
                .weir_plugin_processing()
                .call_process(&mut live.store, origin, batch)
                .map(|r| {
                    r.map(|o| {
                        let routes = o.routes.into_iter().map(|r| (r.topic, r.emit)).collect();
                        (o.main, routes, o.failures)
                    })
                    .map_err(processor_error_parts)
                }),
        };
        match result {
            Ok(Ok(answer)) => {
                drain_output(&name, &*log, &mut live.store)?;
                Ok(answer)
            }
            Ok(Err((kind, message))) => {
                drain_output(&name, &*log, &mut live.store)?;
                Err(RuntimeError::Plugin {
                    plugin: name.to_string(),
                    kind,
                    message,
                })
            }
            Err(source) => Err(classify(&name, &*log, limits, &mut live.store, source)),
        }
    }
}

/// Instantiates `plugin` once in a throwaway store that grants nothing. wasmtime checks the
/// types of a world's exports only when it binds them at instantiation, so this is where a
/// plugin built against other types is caught, at load rather than at its first batch.
pub(crate) fn probe(plugin: &Plugin) -> Result<(), wasmtime::Error> {
    let limits = Limits::default();
    let data = HostState::new(
        plugin.name.clone(),
        plugin.runtime.shared.caps,
        limits.memory_bytes,
        Arc::default(),
        Arc::new(TracingSink),
        None,
    );
    let mut store = Store::new(&plugin.runtime.shared.engine, data);
    store.limiter(|s| &mut s.limiter);
    arm_deadline(&mut store, plugin.runtime.shared.epoch_tick, limits);
    match &plugin.pre {
        PluginPre::Transform(pre) => pre.instantiate(&mut store).map(drop),
        PluginPre::Processor(pre) => {
            super::processor::bind(pre, plugin.stream_time.as_ref(), &mut store).map(drop)
        }
        PluginPre::Aggregator(pre) => pre.instantiate(&mut store).map(drop),
        PluginPre::KeySelector(pre) => pre.instantiate(&mut store).map(drop),
        PluginPre::Joiner(pre) => pre.instantiate(&mut store).map(drop),
        PluginPre::Source(pre) => pre.instantiate(&mut store).map(drop),
        PluginPre::Sink(pre) => pre.instantiate(&mut store).map(drop),
    }
}

pub(super) fn processor_error_parts(e: processing::ProcessorError) -> (&'static str, String) {
    match e {
        processing::ProcessorError::InvalidConfig(m) => ("invalid-config", m),
        processing::ProcessorError::State(m) => ("state", m),
        processing::ProcessorError::Failed(m) => ("failed", m),
    }
}

pub(crate) fn arm_deadline(
    store: &mut Store<HostState>,
    tick: std::time::Duration,
    limits: Limits,
) {
    store
        .data_mut()
        .start_call(std::time::Instant::now() + limits.deadline);
    let ticks = limits.deadline.as_nanos() / tick.as_nanos().max(1);
    // One extra tick: the current one may be about to end.
    store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX).saturating_add(1));
}

/// Turns a wasmtime error from a call into a typed error, using what the limiter and the
/// guest's stderr recorded.
pub(crate) fn classify(
    plugin: &str,
    log: &dyn LogSink,
    limits: Limits,
    store: &mut Store<HostState>,
    source: wasmtime::Error,
) -> RuntimeError {
    let guest_output = store.data().stderr.take();
    let data = store.data_mut();
    let caps = data.caps;
    forward_lines(
        log,
        plugin,
        &mut data.log_budget,
        caps,
        LogLevel::Warn,
        &guest_output,
    );
    data.log_budget.finish(log, plugin, caps);
    let plugin = plugin.to_owned();
    if let Some((cap, used, limit)) = data.crossed.take() {
        return RuntimeError::CapExceeded {
            plugin,
            cap,
            used,
            limit,
        };
    }
    if let Some(requested) = store.data_mut().limiter.refused.take() {
        return RuntimeError::MemoryLimit {
            plugin,
            requested,
            limit: limits.memory_bytes,
        };
    }
    // A full resource table is the WASI resource cap, not a fault of the guest's code.
    if let Some(wasmtime::component::ResourceTableError::Full) =
        source.downcast_ref::<wasmtime::component::ResourceTableError>()
    {
        let limit = caps.max_wasi_resources;
        return RuntimeError::CapExceeded {
            plugin,
            cap: Cap::MaxWasiResources,
            // The one it could not add.
            used: limit.saturating_add(1),
            limit,
        };
    }
    if let Some(wasmtime::Trap::Interrupt) = source.downcast_ref::<wasmtime::Trap>() {
        return RuntimeError::Deadline {
            plugin,
            deadline: limits.deadline,
        };
    }
    RuntimeError::Trap {
        plugin,
        message: format!("{source:#}"),
        guest_output,
    }
}

/// Ends a call that returned: forwards guest output through the call's log budget, and fails
/// the call if a host call refused a cap during it.
pub(crate) fn drain_output(
    plugin: &str,
    log: &dyn LogSink,
    store: &mut Store<HostState>,
) -> Result<(), RuntimeError> {
    let data = store.data_mut();
    let caps = data.caps;
    let (stdout, stderr) = (data.stdout.take(), data.stderr.take());
    let budget = &mut data.log_budget;
    forward_lines(log, plugin, budget, caps, LogLevel::Info, &stdout);
    forward_lines(log, plugin, budget, caps, LogLevel::Warn, &stderr);
    budget.finish(log, plugin, caps);
    match data.crossed.take() {
        Some((cap, used, limit)) => Err(RuntimeError::CapExceeded {
            plugin: plugin.to_owned(),
            cap,
            used,
            limit,
        }),
        None => Ok(()),
    }
}
