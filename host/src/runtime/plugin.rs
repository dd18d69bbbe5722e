//! [`Plugin`]: a validated, precompiled component, ready to instantiate many times.

use std::sync::Arc;

use wasmtime::component::Component;

use super::bindings::aggregator::AggregatorPre;
use super::bindings::joiner::JoinerPre;
use super::bindings::key_selector::KeySelectorPre;
use super::bindings::processor::ProcessorPre;
use super::bindings::sink::SinkConnectorPre;
use super::bindings::source::SourceConnectorPre;
use super::bindings::stream_processor::exports::weir::plugin::stream_time::GuestIndices as StreamTimeIndices;
use super::bindings::transform::TransformPre;
use super::bindings::{
    AGGREGATING_EXPORT, JOINING_EXPORT, KEY_SELECTING_EXPORT, PROCESSING_EXPORT, SINK_TASK_EXPORT,
    SOURCE_TASK_EXPORT, STREAM_TIME_EXPORT, TRANSFORMER_EXPORT,
};
use super::engine::Runtime;
use super::error::RuntimeError;
use super::host::HostState;

/// Which weir world a plugin implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum World {
    /// Stateless: `weir:plugin/transform`.
    Transform,
    /// Stateful: `weir:plugin/processor`.
    Processor,
    /// The functions of a `reduce` or `aggregate` step: `weir:plugin/aggregator`.
    Aggregator,
    /// The new key of a `group_by` step: `weir:plugin/key-selector`.
    KeySelector,
    /// The value joiner of a `join` step: `weir:plugin/joiner`.
    Joiner,
    /// A source connector: `weir:plugin/source-connector`.
    SourceConnector,
    /// A sink connector: `weir:plugin/sink-connector`.
    SinkConnector,
}

impl World {
    /// What the world exports, as the WIT says, for error messages.
    pub fn expected_exports(self) -> &'static str {
        match self {
            World::Transform => {
                "`weir:plugin/transformer@0.1.0` with `process: func(origin, batch) -> result<transform-output, transform-error>`"
            }
            World::Processor => {
                "`weir:plugin/processing@0.1.0` with `init: func(config) -> result<settings, processor-error>`, `process: func(origin, batch) -> result<processor-output, processor-error>` and `on-timer: func(now-ms: s64) -> result<timer-output, processor-error>`"
            }
            World::Aggregator => {
                "`weir:plugin/aggregating@0.1.0` with `initial`, `add`, `merge` and `subtract` (see wit/aggregator.wit)"
            }
            World::KeySelector => {
                "`weir:plugin/key-selecting@0.1.0` with `select: func(origin, batch) -> result<selected-keys, key-selector-error>`"
            }
            World::Joiner => {
                "`weir:plugin/joining@0.1.0` with `join: func(key: option<list<u8>>, left: option<list<u8>>, right: option<list<u8>>) -> result<option<list<u8>>, joiner-error>`"
            }
            World::SourceConnector => {
                "`weir:plugin/connector@0.1.0` and `weir:plugin/source-task@0.1.0` as wit/connector.wit says"
            }
            World::SinkConnector => {
                "`weir:plugin/connector@0.1.0` and `weir:plugin/sink-task@0.1.0` as wit/connector.wit says"
            }
        }
    }

    /// The world's name in `wit/`.
    pub fn name(self) -> &'static str {
        match self {
            World::Transform => "transform",
            World::Processor => "processor",
            World::Aggregator => "aggregator",
            World::KeySelector => "key-selector",
            World::Joiner => "joiner",
            World::SourceConnector => "source-connector",
            World::SinkConnector => "sink-connector",
        }
    }

    /// Whether the world is a connector's (run by connect, never as a pipeline step).
    pub fn is_connector(self) -> bool {
        matches!(self, World::SourceConnector | World::SinkConnector)
    }
}

/// A plugin's pre-instantiated form for its world.
#[derive(Clone)]
pub(crate) enum PluginPre {
    Transform(TransformPre<HostState>),
    Processor(ProcessorPre<HostState>),
    Aggregator(AggregatorPre<HostState>),
    KeySelector(KeySelectorPre<HostState>),
    Joiner(JoinerPre<HostState>),
    Source(SourceConnectorPre<HostState>),
    Sink(SinkConnectorPre<HostState>),
}

/// A component checked against its world and linked, instantiable in microseconds.
pub struct Plugin {
    pub(crate) name: Arc<str>,
    digest: String,
    world: World,
    pub(crate) pre: PluginPre,
    /// A processor's optional `stream-time` export (world `stream-processor`), found at load:
    /// processors built before it existed have none and run as they did.
    pub(crate) stream_time: Option<StreamTimeIndices>,
    pub(crate) runtime: Runtime,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.name)
            .field("digest", &self.digest)
            .field("world", &self.world)
            .finish_non_exhaustive()
    }
}

/// Well-known exports, to say what a non-weir component looks like.
const LOOKALIKES: &[(&str, &str)] = &[
    ("wasi:cli/run", "a WASI command (wasi:cli/command)"),
    (
        "wasi:http/incoming-handler",
        "a WASI HTTP handler (wasi:http/proxy)",
    ),
    (
        "weir:plugin/",
        "a different version of the weir plugin interface",
    ),
];

impl Plugin {
    pub(crate) fn prepare(
        runtime: &Runtime,
        name: &str,
        digest: String,
        component: Component,
    ) -> Result<Plugin, RuntimeError> {
        let engine = &runtime.shared.engine;
        let exports: Vec<String> = component
            .component_type()
            .exports(engine)
            .map(|(n, _)| n.to_owned())
            .collect();
        let has = |wanted: &str| exports.iter().any(|e| e == wanted);
        let mismatch = |world: World| {
            move |source| RuntimeError::WorldMismatch {
                plugin: name.to_owned(),
                world: world.name(),
                expected: world.expected_exports(),
                source,
            }
        };
        let world = if has(TRANSFORMER_EXPORT) {
            Some(World::Transform)
        } else if has(PROCESSING_EXPORT) {
            Some(World::Processor)
        } else if has(AGGREGATING_EXPORT) {
            Some(World::Aggregator)
        } else if has(KEY_SELECTING_EXPORT) {
            Some(World::KeySelector)
        } else if has(JOINING_EXPORT) {
            Some(World::Joiner)
        } else if has(SOURCE_TASK_EXPORT) {
            Some(World::SourceConnector)
        } else if has(SINK_TASK_EXPORT) {
            Some(World::SinkConnector)
        } else {
            None
        };
        if let Some(world) = world {
            super::grants::check_imports(name, world, &component, engine)?;
        }
        let shared = &runtime.shared;
        let (world, pre, stream_time) = if let Some(world) = world {
            // The aggregator, key-selector and joiner worlds import a subset of the transform
            // world's interfaces (types, config, log): its linker serves them.
            let linker = match world {
                World::Processor => &shared.processor_linker,
                World::SourceConnector => &shared.source_linker,
                World::SinkConnector => &shared.sink_linker,
                _ => &shared.transform_linker,
            };
            let linked = linker
                .instantiate_pre(&component)
                .map_err(mismatch(world))?;
            let stream_time = if world == World::Processor && has(STREAM_TIME_EXPORT) {
                Some(StreamTimeIndices::new(&linked).map_err(mismatch(world))?)
            } else {
                None
            };
            let pre = match world {
                World::Transform => TransformPre::new(linked).map(PluginPre::Transform),
                World::Processor => ProcessorPre::new(linked).map(PluginPre::Processor),
                World::Aggregator => AggregatorPre::new(linked).map(PluginPre::Aggregator),
                World::KeySelector => KeySelectorPre::new(linked).map(PluginPre::KeySelector),
                World::Joiner => JoinerPre::new(linked).map(PluginPre::Joiner),
                World::SourceConnector => SourceConnectorPre::new(linked).map(PluginPre::Source),
                World::SinkConnector => SinkConnectorPre::new(linked).map(PluginPre::Sink),
            }
            .map_err(mismatch(world))?;
            (world, pre, stream_time)
        } else {
            let looks_like = LOOKALIKES
                .iter()
                .find(|(prefix, _)| exports.iter().any(|e| e.starts_with(prefix)))
                .map(|(_, what)| (*what).to_owned());
            return Err(RuntimeError::NoWeirWorld {
                plugin: name.to_owned(),
                exports: exports.join(", "),
                looks_like,
            });
        };
        Ok(Plugin {
            name: name.into(),
            digest,
            world,
            pre,
            stream_time,
            runtime: runtime.clone(),
        })
    }

    /// The plugin's name (in logs and errors).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Hex SHA-256 of the component bytes.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The world it implements.
    pub fn world(&self) -> World {
        self.world
    }

    /// Whether it is a processor exporting `stream-time` (world `stream-processor`).
    pub fn has_stream_time(&self) -> bool {
        self.stream_time.is_some()
    }
}
