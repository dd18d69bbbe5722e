//! Live counters of a task, read by status and metrics while the task runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use serde::Serialize;

use super::task::TaskError;

/// Upper bounds (seconds) of the batch latency histogram's buckets.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// A Prometheus-style histogram of durations.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        for (b, bound) in self.buckets.iter().zip(LATENCY_BUCKETS) {
            if secs <= bound {
                b.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    /// Cumulative bucket counts, total count and sum in seconds.
    pub fn read(&self) -> (Vec<u64>, u64, f64) {
        (
            self.buckets
                .iter()
                .map(|b| b.load(Ordering::Relaxed))
                .collect(),
            self.count.load(Ordering::Relaxed),
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6,
        )
    }
}

/// What a task is doing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    /// Building its instances.
    Starting,
    /// Processing (or waiting for input).
    Running,
    /// Paused by the user.
    Paused,
    /// Stopped on an error (`on_error = fail`, or a version that cannot run); see `last_error`.
    Failed,
    /// Stopped for shutdown or deletion.
    Stopped,
}

/// Counters of one task.
#[derive(Debug)]
pub struct TaskStats {
    /// The input partition.
    pub partition: u32,
    /// Which steps the task runs (one side of a `group_by`, or all).
    pub stage: super::stage::Stage,
    /// Input records processed (committed).
    pub records_in: AtomicU64,
    /// Records appended to outputs (main, routed and dead-letter).
    pub records_out: AtomicU64,
    /// Input records that failed (skipped or dead-lettered).
    pub records_errored: AtomicU64,
    /// Records aggregation steps dropped as late: every window they fall in had closed
    /// (stream time past its end + grace).
    pub late_records: AtomicU64,
    /// Batches committed.
    pub batches: AtomicU64,
    /// Batch latency: read, run the chain, append, commit.
    pub latency: Histogram,
    /// Per input: the committed next offset.
    pub committed: Mutex<Vec<i64>>,
    /// The task's state.
    pub state: Mutex<TaskState>,
    /// The last error, if any.
    pub last_error: Mutex<Option<Arc<TaskError>>>,
    /// Recent swap pauses (time between the old version's last batch and the new one's
    /// readiness), newest last, at most [`SWAP_PAUSES_KEPT`].
    pub swap_pauses: Mutex<Vec<Duration>>,
}

/// How many swap pauses a task remembers.
pub const SWAP_PAUSES_KEPT: usize = 1000;

impl TaskStats {
    /// Fresh counters for `partition`, starting at `committed`.
    pub fn new(partition: u32, committed: Vec<i64>) -> TaskStats {
        TaskStats {
            partition,
            stage: super::stage::Stage::Whole,
            records_in: AtomicU64::new(0),
            records_out: AtomicU64::new(0),
            records_errored: AtomicU64::new(0),
            late_records: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            latency: Histogram::default(),
            committed: Mutex::new(committed),
            state: Mutex::new(TaskState::Starting),
            last_error: Mutex::new(None),
            swap_pauses: Mutex::new(Vec::new()),
        }
    }

    /// The same, for a task of `stage`.
    pub fn in_stage(mut self, stage: super::stage::Stage) -> TaskStats {
        self.stage = stage;
        self
    }

    /// Sets the state.
    pub fn set_state(&self, state: TaskState) {
        *self.state.lock() = state;
    }

    /// Marks the task failed with `error`.
    pub fn fail(&self, error: TaskError) {
        *self.last_error.lock() = Some(Arc::new(error));
        self.set_state(TaskState::Failed);
    }

    /// Records one swap pause.
    pub fn swapped(&self, pause: Duration) {
        let mut p = self.swap_pauses.lock();
        if p.len() == SWAP_PAUSES_KEPT {
            p.remove(0);
        }
        p.push(pause);
    }
}

/// The `q` quantile (0..=1) of `values`, or `None` when empty.
pub fn quantile(values: &[Duration], q: f64) -> Option<Duration> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_unstable();
    let i = ((v.len() as f64 - 1.0) * q).round() as usize;
    v.get(i).copied()
}
