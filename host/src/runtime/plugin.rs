//! [`Plugin`]: a validated, precompiled component, ready to instantiate many times.

use std::sync::Arc;

use wasmtime::component::Component;

use super::bindings::processor::ProcessorPre;
use super::bindings::sink::SinkConnectorPre;
use super::bindings::source::SourceConnectorPre;
use super::bindings::transform::TransformPre;
use super::bindings::{
    PROCESSING_EXPORT, SINK_TASK_EXPORT, SOURCE_TASK_EXPORT, TRANSFORMER_EXPORT,
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
    Source(SourceConnectorPre<HostState>),
    Sink(SinkConnectorPre<HostState>),
}

/// A component checked against its world and linked, instantiable in microseconds.
pub struct Plugin {
    pub(crate) name: Arc<str>,
    digest: String,
    world: World,
    pub(crate) pre: PluginPre,
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
        let (world, pre) = if world == Some(World::Transform) {
            let linked = runtime
                .shared
                .transform_linker
                .instantiate_pre(&component)
                .map_err(mismatch(World::Transform))?;
            let pre = TransformPre::new(linked).map_err(mismatch(World::Transform))?;
            (World::Transform, PluginPre::Transform(pre))
        } else if world == Some(World::Processor) {
            let linked = runtime
                .shared
                .processor_linker
                .instantiate_pre(&component)
                .map_err(mismatch(World::Processor))?;
            let pre = ProcessorPre::new(linked).map_err(mismatch(World::Processor))?;
            (World::Processor, PluginPre::Processor(pre))
        } else if world == Some(World::SourceConnector) {
            let linked = runtime
                .shared
                .source_linker
                .instantiate_pre(&component)
                .map_err(mismatch(World::SourceConnector))?;
            let pre = SourceConnectorPre::new(linked).map_err(mismatch(World::SourceConnector))?;
            (World::SourceConnector, PluginPre::Source(pre))
        } else if world == Some(World::SinkConnector) {
            let linked = runtime
                .shared
                .sink_linker
                .instantiate_pre(&component)
                .map_err(mismatch(World::SinkConnector))?;
            let pre = SinkConnectorPre::new(linked).map_err(mismatch(World::SinkConnector))?;
            (World::SinkConnector, PluginPre::Sink(pre))
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
}
