//! The one place the host generates bindings for `wit/`: every other module imports from here.
//!
//! The processor, aggregator, key-selector, joiner and connector worlds share the types, config and
//! log interfaces with the transform world (`with`), so one set of record types and one
//! config/log adapter serve all; the two connector worlds share `connect-types` the same way.

/// Bindings of the `transform` world (`TransformPre`, the `types`, `config` and `log` imports).
pub mod transform {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "transform",
    });
}

/// Bindings of the `processor` world (`ProcessorPre`, the `state` import).
pub mod processor {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "processor",
        with: {
            "weir:plugin/types": super::transform::weir::plugin::types,
            "weir:plugin/config": super::transform::weir::plugin::config,
            "weir:plugin/log": super::transform::weir::plugin::log,
        },
    });
}

/// Bindings of the `stream-processor` world: the processor world plus the optional
/// `stream-time` export, whose [`GuestIndices`] the host looks up when a processor has it.
///
/// [`GuestIndices`]: stream_processor::exports::weir::plugin::stream_time::GuestIndices
pub mod stream_processor {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "stream-processor",
        with: {
            "weir:plugin/types": super::transform::weir::plugin::types,
            "weir:plugin/config": super::transform::weir::plugin::config,
            "weir:plugin/log": super::transform::weir::plugin::log,
            "weir:plugin/state": super::processor::weir::plugin::state,
            "weir:plugin/window-state": super::processor::weir::plugin::window_state,
            "weir:plugin/session-state": super::processor::weir::plugin::session_state,
        },
    });
}

/// Bindings of the `aggregator` world (`AggregatorPre`, the `aggregating` export).
pub mod aggregator {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "aggregator",
        with: {
            "weir:plugin/types": super::transform::weir::plugin::types,
            "weir:plugin/config": super::transform::weir::plugin::config,
            "weir:plugin/log": super::transform::weir::plugin::log,
        },
    });
}

/// Bindings of the `key-selector` world (`KeySelectorPre`, the `key-selecting` export).
pub mod key_selector {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "key-selector",
        with: {
            "weir:plugin/types": super::transform::weir::plugin::types,
            "weir:plugin/config": super::transform::weir::plugin::config,
            "weir:plugin/log": super::transform::weir::plugin::log,
        },
    });
}

/// Bindings of the `joiner` world (`JoinerPre`, the `joining` export).
pub mod joiner {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "joiner",
        with: {
            "weir:plugin/types": super::transform::weir::plugin::types,
            "weir:plugin/config": super::transform::weir::plugin::config,
            "weir:plugin/log": super::transform::weir::plugin::log,
        },
    });
}

/// Bindings of the `source-connector` world (`SourceConnectorPre`, `connect-types`).
pub mod source {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "source-connector",
        additional_derives: [PartialEq, Eq],
        with: {
            "weir:plugin/types": super::transform::weir::plugin::types,
            "weir:plugin/config": super::transform::weir::plugin::config,
            "weir:plugin/log": super::transform::weir::plugin::log,
        },
    });
}

/// Bindings of the `sink-connector` world (`SinkConnectorPre`), sharing `connect-types`.
pub mod sink {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "sink-connector",
        additional_derives: [PartialEq, Eq],
        with: {
            "weir:plugin/types": super::transform::weir::plugin::types,
            "weir:plugin/config": super::transform::weir::plugin::config,
            "weir:plugin/log": super::transform::weir::plugin::log,
            "weir:plugin/connect-types": super::source::weir::plugin::connect_types,
        },
    });
}

pub use transform::weir::plugin::types::{
    Batch, Emit, Emitted, Origin as WitOrigin, RecordFailure as WitRecordFailure,
};

/// The export name of the transform world's interface.
pub const TRANSFORMER_EXPORT: &str = "weir:plugin/transformer@0.1.0";
/// The export name of the source-connector world's task interface.
pub const SOURCE_TASK_EXPORT: &str = "weir:plugin/source-task@0.1.0";
/// The export name of the sink-connector world's task interface.
pub const SINK_TASK_EXPORT: &str = "weir:plugin/sink-task@0.1.0";
/// The export name of the processor world's interface.
pub const PROCESSING_EXPORT: &str = "weir:plugin/processing@0.1.0";
/// The export name of the stream-processor world's optional interface.
pub const STREAM_TIME_EXPORT: &str = "weir:plugin/stream-time@0.1.0";
/// The export name of the aggregator world's interface.
pub const AGGREGATING_EXPORT: &str = "weir:plugin/aggregating@0.1.0";
/// The export name of the key-selector world's interface.
pub const KEY_SELECTING_EXPORT: &str = "weir:plugin/key-selecting@0.1.0";
/// The export name of the joiner world's interface.
pub const JOINING_EXPORT: &str = "weir:plugin/joining@0.1.0";
