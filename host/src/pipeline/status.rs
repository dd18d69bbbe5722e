//! What `GET /v1/pipelines/{name}` answers: the pipeline's state, deployment history and
//! per-task positions and counters.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::Serialize;

use crate::broker::Broker;

use super::handle::{Desired, PipelineHandle};
use super::spec::PipelineSpec;
use super::stage::Stage;
use super::stats::{TaskState, TaskStats};
use super::store::PipelineRecord;
use super::task::TaskError;

/// One task's status.
#[derive(Debug, Clone, Serialize)]
pub struct TaskStatus {
    /// The input partition.
    pub partition: u32,
    /// Which stage around the `group_by`s the task runs (`upstream`, `middle_1`…,
    /// `downstream`); absent for a pipeline without one.
    #[serde(skip_serializing_if = "Stage::is_whole")]
    pub stage: Stage,
    /// What the task is doing.
    pub state: TaskState,
    /// The committed input offset (the next to process) of the first input.
    pub committed_offset: i64,
    /// Per input topic: the committed next offset.
    pub committed_offsets: BTreeMap<String, i64>,
    /// Records not yet processed, summed over inputs.
    pub lag: i64,
    /// Input records processed.
    pub records_in: u64,
    /// Records appended to outputs.
    pub records_out: u64,
    /// Input records that failed.
    pub records_errored: u64,
    /// Input records aggregation steps dropped as late.
    pub late_records: u64,
    /// The last error, if any.
    pub last_error: Option<String>,
    /// The last error's code (`disk_full`, `plugin_error`, ...), as the API classifies it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error_code: Option<&'static str>,
    /// The HTTP status a request failing the same way would get (507 for a full disk).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error_status: Option<u16>,
    /// The last error itself, for the API to classify.
    #[serde(skip)]
    pub cause: Option<Arc<TaskError>>,
}

impl TaskStatus {
    /// Reads a task's counters; lag is measured against each input's high watermark now.
    pub fn of(stats: &TaskStats, spec: &PipelineSpec, broker: &Broker) -> TaskStatus {
        let inputs = stats.stage.inputs(spec);
        let committed = stats.committed.lock().clone();
        let cause = stats.last_error.lock().clone();
        let mut lag = 0;
        let mut offsets = BTreeMap::new();
        for (topic, &pos) in inputs.iter().zip(&committed) {
            offsets.insert(topic.clone(), pos);
            if let Ok(log) = broker
                .topic(topic)
                .and_then(|t| t.partition(i64::from(stats.partition)))
            {
                lag += (log.high_watermark() - pos).max(0);
            }
        }
        TaskStatus {
            partition: stats.partition,
            stage: stats.stage,
            state: stats.state.lock().clone(),
            committed_offset: committed.first().copied().unwrap_or(0),
            committed_offsets: offsets,
            lag,
            records_in: stats.records_in.load(Ordering::Relaxed),
            records_out: stats.records_out.load(Ordering::Relaxed),
            records_errored: stats.records_errored.load(Ordering::Relaxed),
            late_records: stats.late_records.load(Ordering::Relaxed),
            last_error: cause.as_ref().map(|e| e.to_string()),
            last_error_code: None,
            last_error_status: None,
            cause,
        }
    }
}

/// A step's module, as deployed.
#[derive(Debug, Clone, Serialize)]
pub struct StepStatus {
    /// Module name.
    pub module: String,
    /// Version running.
    pub version: u32,
    /// `transform` or `processor`.
    pub world: String,
}

/// One entry of the version history.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    /// `name@version` per step.
    pub modules: Vec<String>,
    /// When, ms since the epoch.
    pub at_ms: i64,
    /// `created`, `updated`, or why it was rolled back.
    pub reason: String,
}

/// Swap pause figures over the tasks' recent swaps, ms.
#[derive(Debug, Clone, Serialize)]
pub struct SwapPause {
    /// Swaps measured.
    pub count: usize,
    /// Median pause.
    pub p50_ms: Option<f64>,
    /// 99th percentile pause.
    pub p99_ms: Option<f64>,
    /// Longest pause.
    pub max_ms: Option<f64>,
}

/// A pipeline's status.
#[derive(Debug, Clone, Serialize)]
pub struct PipelineStatus {
    /// Name.
    pub name: String,
    /// `running`, `paused` or `failed` (some task stopped on an error).
    pub state: &'static str,
    /// The current spec.
    pub spec: PipelineSpec,
    /// The steps running now.
    pub modules: Vec<StepStatus>,
    /// Every deployment, oldest first.
    pub history: Vec<HistoryEntry>,
    /// Updates applied since the server started.
    pub swaps: u64,
    /// Automatic rollbacks since the server started.
    pub rollbacks: u64,
    /// Why the last rollback happened.
    pub last_rollback: Option<String>,
    /// How long tasks paused when swapping.
    pub swap_pause: SwapPause,
    /// Totals over tasks.
    pub records_in: u64,
    /// Totals over tasks.
    pub records_out: u64,
    /// Totals over tasks.
    pub records_errored: u64,
    /// Totals over tasks: records dropped as late by aggregation steps.
    pub late_records: u64,
    /// Totals over tasks.
    pub lag: i64,
    /// Per task.
    pub tasks: Vec<TaskStatus>,
    /// Creation time, ms since the epoch.
    pub created_ms: i64,
    /// Conditions the user should know about (e.g. partitions added to an input).
    pub warnings: Vec<String>,
}

fn ms(d: Option<Duration>) -> Option<f64> {
    d.map(|d| d.as_secs_f64() * 1000.0)
}

impl PipelineStatus {
    /// Assembles a status.
    pub fn new(
        record: &PipelineRecord,
        desired: &Desired,
        tasks: Vec<TaskStatus>,
        handle: &PipelineHandle,
        [p50, p99, max]: [Option<Duration>; 3],
        swaps_measured: usize,
    ) -> PipelineStatus {
        let state = if desired.paused {
            "paused"
        } else if tasks.iter().any(|t| t.state == TaskState::Failed) {
            "failed"
        } else {
            "running"
        };
        PipelineStatus {
            name: record.spec.name.clone(),
            state,
            spec: (*desired.spec).clone(),
            modules: desired
                .plans
                .iter()
                .map(|p| StepStatus {
                    module: p.module.clone(),
                    version: p.version,
                    world: p.code.world().to_string(),
                })
                .collect(),
            history: record
                .history
                .iter()
                .map(|d| HistoryEntry {
                    modules: d.modules.iter().map(|(m, v)| format!("{m}@{v}")).collect(),
                    at_ms: d.at_ms,
                    reason: d.reason.clone(),
                })
                .collect(),
            swaps: handle.swaps.load(Ordering::Relaxed),
            rollbacks: handle.rollbacks.load(Ordering::Relaxed),
            last_rollback: handle.rollback_reason.lock().clone(),
            swap_pause: SwapPause {
                count: swaps_measured,
                p50_ms: ms(p50),
                p99_ms: ms(p99),
                max_ms: ms(max),
            },
            // The pipeline's records in are its inputs' and sources' (each task counts
            // only those), its records out its outputs': not the repartition topics',
            // between the stages of a `group_by`.
            records_in: tasks.iter().map(|t| t.records_in).sum(),
            records_out: tasks
                .iter()
                .filter(|t| t.stage.writes_outputs())
                .map(|t| t.records_out)
                .sum(),
            records_errored: tasks.iter().map(|t| t.records_errored).sum(),
            late_records: tasks.iter().map(|t| t.late_records).sum::<u64>()
                + handle.attached_late_records.load(Ordering::Relaxed),
            lag: tasks.iter().map(|t| t.lag).sum(),
            tasks,
            created_ms: record.created_ms,
            warnings: Vec::new(),
        }
    }
}
