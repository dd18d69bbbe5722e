//! [`PipelineHandle`]: a running pipeline's control channel, counters and logs, shared by
//! its tasks and the service that manages it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use tokio::sync::watch;

use super::chain::StepPlan;
use super::logs::PipelineLogs;
use super::spec::PipelineSpec;
use super::stats::TaskStats;
use super::store::{Deployment, PipelineStore};

/// What the tasks of a pipeline should be running; tasks pick a change up between batches.
#[derive(Debug, Clone)]
pub struct Desired {
    /// Counts up with every deployment (update or rollback).
    pub generation: u64,
    /// Number of the deployment in the pipeline's history (forgotten ones counted).
    pub deployment: usize,
    /// The spec of the deployment.
    pub spec: Arc<PipelineSpec>,
    /// The loaded steps.
    pub plans: Arc<Vec<StepPlan>>,
    /// Paused by the user.
    pub paused: bool,
    /// Stop for good (shutdown or deletion).
    pub stop: bool,
    /// Why the deployment cannot run (its modules failed to load at start-up); tasks
    /// wait in the failed state for an update.
    pub broken: Option<Arc<super::PipelineError>>,
}

/// A deployment's spec and loaded steps.
pub type Deployed = (Arc<PipelineSpec>, Arc<Vec<StepPlan>>);

/// A running pipeline.
#[derive(Debug)]
pub struct PipelineHandle {
    /// Pipeline name.
    pub name: String,
    /// What the tasks should run.
    pub desired: watch::Sender<Desired>,
    /// The deployment before the current one: where a failing update rolls back to.
    pub previous: Mutex<Option<Deployed>>,
    /// One per input partition.
    pub tasks: Vec<Arc<TaskStats>>,
    /// Plugin and host log lines.
    pub logs: Arc<PipelineLogs>,
    /// Recent per-task figures for charts, sampled by the server.
    pub samples: super::samples::SampleRing,
    /// Updates applied.
    pub swaps: AtomicU64,
    /// Automatic rollbacks.
    pub rollbacks: AtomicU64,
    /// Why the last rollback happened.
    pub rollback_reason: Mutex<Option<String>>,
    /// The running tasks.
    pub joins: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Caps on what its tasks' tables and joins hold (from the server's config).
    pub state_limits: super::StateLimits,
    /// Records this node's attached tasks dropped as late, in committed rounds (an
    /// attached pipeline has no embedded `tasks` to count them).
    pub attached_late_records: AtomicU64,
    pub(super) store: PipelineStore,
}

impl PipelineHandle {
    /// The current deployment's spec.
    pub fn spec(&self) -> Arc<PipelineSpec> {
        self.desired.borrow().spec.clone()
    }

    /// Rolls the pipeline back from `generation` (which failed with `reason`) to the
    /// previous deployment. Returns false when there is nothing to roll back to or another
    /// task already moved the pipeline on; the caller then treats the failure as its own.
    pub fn rollback(&self, generation: u64, reason: &str) -> bool {
        let mut previous = self.previous.lock();
        let current = self.desired.borrow().generation;
        if current != generation {
            // Another task rolled back (or the user deployed) already.
            return current > generation;
        }
        let Some((spec, plans)) = previous.take() else {
            return false;
        };
        let modules: Vec<(String, u32)> = plans
            .iter()
            .map(|p| (p.module.clone(), p.version))
            .collect();
        let reason = format!(
            "rolled back to {} after the update failed: {reason}",
            modules
                .iter()
                .map(|(m, v)| format!("{m}@{v}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let deployment = match self
            .store
            .record_deployment(&self.name, &spec, modules, &reason)
        {
            Ok(index) => index,
            Err(e) => {
                tracing::error!(pipeline = %self.name, "storing the rollback: {e}");
                // Matches no stored deployment, so tasks never replay across it.
                usize::MAX
            }
        };
        self.logs.note(&reason);
        tracing::warn!(pipeline = %self.name, "{reason}");
        *self.rollback_reason.lock() = Some(reason);
        self.rollbacks.fetch_add(1, Ordering::Relaxed);
        self.desired.send_modify(|d| {
            d.generation += 1;
            d.deployment = deployment;
            d.spec = spec;
            d.plans = plans;
        });
        true
    }
}

impl PipelineStore {
    /// Appends a deployment to a stored pipeline's history and makes `spec` current;
    /// returns its number. Only the last `pipelines.max_history` are kept, so a
    /// pipeline updated (or rolled back) every minute does not grow its record,
    /// which is rewritten whole on every change, without bound.
    pub fn record_deployment(
        &self,
        name: &str,
        spec: &PipelineSpec,
        modules: Vec<(String, u32)>,
        reason: &str,
    ) -> Result<usize, super::PipelineError> {
        let deployment = Deployment {
            modules,
            at_ms: crate::broker::now_ms(),
            reason: reason.to_string(),
        };
        let keep = self.max_history;
        let number = self
            .edit(name, |record| {
                record.push_deployment(spec, deployment, keep);
            })?
            .map_or(0, |r| r.current_number());
        Ok(number)
    }
}
