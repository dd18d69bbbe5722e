//! Pipelines: uploaded modules and the step chains that run them over topics.
//! Joins the broker and the Wasm runtime; knows nothing of HTTP or Kafka.
//!
//! - [`service`]: [`Pipelines`], the service: modules, pipelines, the worker threads.
//! - [`spec`]: the pipeline spec users send, and its structural checks.
//! - [`registry`]: uploaded modules, versioned, durable.
//! - [`catalog`]: [`Catalog`], modules and pipeline records wherever they are kept (this
//!   node's registry and store, or a cluster's topics), for the API and the runner.
//! - [`plugins`]: the built-in plugins that ship with weir, listed for `GET /v1/plugins`.
//! - [`store`]: pipeline records and task checkpoints in sled.
//! - [`handle`]: a running pipeline's control channel (update, pause, rollback).
//! - [`task`]: one task: read, run the chain, append idempotently, commit.
//! - [`stage`]: [`stage::Stage`], which steps a task runs: all, or one side of a `group_by`.
//! - [`workers`]: the fixed threads task turns run on, apart from where tasks wait.
//! - [`outputs`]: output groups and their sequence numbers, the outbox form, dead letters.
//! - [`chain`]: a task's step instances and how a batch flows through them.
//! - [`join_step`]: a task's `join` step with its joiner and key-selector modules.
//! - [`flows`]: what each node of the step graph produced from one batch.
//! - [`state`]: a step's state view: the task tree plus the batch's uncommitted writes.
//! - [`table_cache`]: [`table_cache::CachedState`], a table's rows in memory in front of
//!   its state, shared by the table's writers and the joins reading it.
//! - [`playground`]: a module run over given records apart from pipelines, and its caps.
//! - [`samples`]: [`samples::SampleRing`], a pipeline's recent per-task figures for charts.
//! - [`limits`]: [`StateLimits`], the caps on what a task's tables and joins hold.
//! - [`stats`], [`status`], [`metrics`], [`logs`]: what users see of a running pipeline.
//! - [`external`]: [`ExternalTasks`], where tasks run in attached mode (on another
//!   cluster's consumer group) instead of over the embedded broker.
//! - [`error`]: [`PipelineError`], the layer's one error type.
pub mod catalog;
pub mod chain;
pub mod error;
pub mod external;
pub mod flows;
pub mod handle;
mod join_step;
pub mod limits;
pub mod logs;
pub mod metrics;
pub mod outputs;
pub mod playground;
pub mod plugins;
pub mod registry;
pub mod samples;
pub mod service;
pub mod spec;
pub mod stage;
pub mod state;
pub mod stats;
pub mod status;
pub mod store;
pub mod table_cache;
pub mod task;
#[cfg(test)]
mod tests;
pub mod workers;

pub use catalog::{Catalog, LocalCatalog, ModuleUpload};
pub use error::PipelineError;
pub use external::ExternalTasks;
pub use limits::StateLimits;
pub use registry::{ModuleRegistry, ModuleVersion};
pub use service::{AggregateState, Pipelines, PipelinesConfig, TableState};
pub use spec::{PipelineSpec, SpecError};
pub use status::PipelineStatus;
