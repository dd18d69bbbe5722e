//! [`ExternalTasks`]: where a pipeline's tasks run when they do not run here over the
//! embedded broker (attached mode: on the nodes of a consumer group of another cluster).
//!
//! The service keeps modules, specs and deployment history as always; it asks this for the
//! topics' partition counts in place of the broker, and hands it each started pipeline's
//! handle. The handle's `desired` channel is the change notification: updates (the
//! hot-swap), pauses and deletion reach the external tasks as they reach embedded ones.
//! Defined here and implemented above (`cluster`), so the dependency points down.

use std::sync::Arc;

use super::chain::StepPlan;
use super::error::PipelineError;
use super::handle::PipelineHandle;
use super::spec::{PipelineSpec, SpecError};

/// Runs pipelines' tasks somewhere other than this node's embedded broker.
pub trait ExternalTasks: Send + Sync + std::fmt::Debug {
    /// `topic`'s partition count where the tasks read and write; `None`: no such topic.
    fn partitions(&self, topic: &str) -> Result<Option<u32>, PipelineError>;
    /// Why `spec` (with its loaded steps) cannot run there, if it cannot: steps the
    /// external tasks do not run yet.
    fn check(&self, spec: &PipelineSpec, plans: &[StepPlan]) -> Result<(), SpecError>;
    /// A pipeline started (created, or resumed at start-up): run its tasks, following
    /// `handle.desired` until it says stop.
    fn started(&self, handle: Arc<PipelineHandle>);
    /// `pipeline` was deleted (here or by another node), `handle` (if it ran here) told to
    /// stop: what the tasks keep of it locally may go once they have stopped.
    fn deleted(&self, pipeline: &str, handle: Option<&Arc<PipelineHandle>>) {
        let _ = (pipeline, handle);
    }
}
