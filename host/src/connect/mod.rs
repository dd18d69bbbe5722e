//! Connectors (Kafka Connect's model): source and sink connector plugins (Wasm components of
//! the `source-connector` / `sink-connector` worlds, `wit/connector.wit`), their tasks, source
//! offsets, converters and error handling. Uses the broker and the runtime (through
//! `pipeline`'s module registry, built-in catalog and idempotent appends); the Connect-shaped
//! REST API in `api/connect/` is a face over [`Connectors`].
//!
//! - [`service`]: [`Connectors`], the service and every operation the REST API offers.
//! - [`config`]: the keys every connector has, checked once into [`ConnectorSettings`].
//! - [`allow_http`]: `weir.allow.http` and the `weir.http.*` bounds.
//! - [`allow_tcp`]: `weir.allow.tcp`, parsed and resolved into pinned addresses.
//! - [`state`]: target states and task states, as Connect names them.
//! - [`swap`]: a hot-swap's handoff between the service and a task ([`swap::Version`]).
//! - [`task`]: a task thread's control, counters and handle.
//! - [`worker`]: what task threads share ([`worker::TaskContext`]) and plugin answers.
//! - [`source`]: the source task: poll, then commit records with their offsets (exactly once).
//! - [`sink`]: the sink task: read, put, flush, then commit `connect-<name>`.
//! - [`read`]: committed reads of a partition.
//! - [`converter`]: StringConverter, ByteArrayConverter, JsonConverter.
//! - [`chain`]: a task's records through the transformation chain ([`chain::ConnectorChain`]).
//! - [`transforms`]: Connect's `transforms=`/`predicates=` config, checked into a chain of
//!   the built-in transformation plugins.
//! - [`mirror`]: MirrorMaker 2's connectors built in (source, checkpoint, heartbeat), on the
//!   [`crate::cluster`] client; native task threads rather than Wasm plugins.
//! - [`store`]: configs, source offsets and task checkpoints in sled.
//! - [`error`]: [`ConnectError`], the layer's one error type.

pub mod allow_http;
pub mod allow_tcp;
pub mod chain;
pub mod config;
pub mod converter;
pub mod error;
pub mod mirror;
pub mod read;
pub mod service;
pub mod sink;
pub mod source;
pub mod state;
pub mod store;
pub mod swap;
pub mod task;
pub mod transforms;
pub mod worker;

pub use config::ConnectorSettings;
pub use error::ConnectError;
pub use service::{ConnectConfig, Connectors};
pub use state::{ConnectorType, TargetState, TaskState};
