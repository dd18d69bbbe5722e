//! [`SampleRing`]: a pipeline's recent per-task figures — lag, records/s, batch latency —
//! kept in memory for the console's charts (`GET /v1/pipelines/{name}/metrics/history`).
//!
//! The server samples every [`SAMPLE_INTERVAL`] and keeps [`SAMPLES_KEPT`] samples (15
//! minutes), so the ring's size is fixed whatever the traffic. A sample holds the tasks'
//! running totals; rates are differences between neighbours, worked out when read, so
//! a missed tick widens one interval instead of skewing a rate.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::Duration;

use parking_lot::Mutex;
use serde::Serialize;

use super::stage::Stage;
use super::stats::TaskStats;

/// How often the server samples every pipeline.
pub const SAMPLE_INTERVAL: Duration = Duration::from_secs(5);
/// Samples kept per pipeline: 15 minutes at [`SAMPLE_INTERVAL`].
pub const SAMPLES_KEPT: usize = 180;

/// One task's totals at a sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TaskSample {
    /// The input partition.
    pub partition: u32,
    /// The side of a `group_by` it runs.
    pub stage: Stage,
    /// Records not yet processed.
    pub lag: i64,
    /// Input records processed, in total.
    pub records_in: u64,
    /// Batches committed, in total.
    pub batches: u64,
    /// Seconds spent on those batches, in total.
    pub batch_seconds: f64,
}

impl TaskSample {
    /// A task's totals now, with its `lag` measured by the caller.
    pub fn of(stats: &TaskStats, lag: i64) -> TaskSample {
        let (_, batches, batch_seconds) = stats.latency.read();
        TaskSample {
            partition: stats.partition,
            stage: stats.stage,
            lag,
            records_in: stats.records_in.load(Ordering::Relaxed),
            batches,
            batch_seconds,
        }
    }
}

/// Every task's totals at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// When, ms since the epoch.
    pub at_ms: i64,
    /// Per task.
    pub tasks: Vec<TaskSample>,
}

/// The last [`SAMPLES_KEPT`] samples of one pipeline, oldest first.
#[derive(Debug, Default)]
pub struct SampleRing {
    samples: Mutex<VecDeque<Sample>>,
}

impl SampleRing {
    /// Adds a sample, forgetting the oldest when full.
    pub fn push(&self, sample: Sample) {
        let mut samples = self.samples.lock();
        if samples.len() == SAMPLES_KEPT {
            samples.pop_front();
        }
        samples.push_back(sample);
    }

    /// The samples kept, oldest first, with `now` after them: charts end at the present
    /// moment, not at the last tick.
    pub fn history(&self, now: Sample) -> MetricsHistory {
        let mut samples: Vec<Sample> = self.samples.lock().iter().cloned().collect();
        samples.push(now);
        MetricsHistory::of(&samples)
    }
}

/// One task at one point of a chart.
#[derive(Debug, Clone, Serialize)]
pub struct TaskPoint {
    /// The input partition.
    pub partition: u32,
    /// The side of a `group_by` it runs; absent for a pipeline without one.
    #[serde(skip_serializing_if = "Stage::is_whole")]
    pub stage: Stage,
    /// Records not yet processed.
    pub lag: i64,
    /// Input records processed, in total.
    pub records_in: u64,
    /// Input records per second since the previous point (null at the first).
    pub records_per_sec: Option<f64>,
    /// Mean time per batch committed since the previous point, ms (null when none was).
    pub batch_latency_ms: Option<f64>,
}

/// One point of a chart.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryPoint {
    /// When, ms since the epoch.
    pub at_ms: i64,
    /// Per task.
    pub tasks: Vec<TaskPoint>,
}

/// What `GET /v1/pipelines/{name}/metrics/history` answers.
#[derive(Debug, Clone, Serialize)]
pub struct MetricsHistory {
    /// Time between samples, ms.
    pub interval_ms: u64,
    /// Time the ring covers when full, ms.
    pub window_ms: u64,
    /// Oldest first; the last is the moment of the request.
    pub points: Vec<HistoryPoint>,
}

impl MetricsHistory {
    /// Points from consecutive samples: each task's rates against its previous sample.
    pub fn of(samples: &[Sample]) -> MetricsHistory {
        let mut points = Vec::with_capacity(samples.len());
        let mut previous: Option<&Sample> = None;
        for sample in samples {
            let tasks = sample
                .tasks
                .iter()
                .map(|t| {
                    let before = previous.and_then(|p| {
                        p.tasks
                            .iter()
                            .find(|b| b.partition == t.partition && b.stage == t.stage)
                            .map(|b| (b, sample.at_ms - p.at_ms))
                    });
                    point(t, before)
                })
                .collect();
            points.push(HistoryPoint {
                at_ms: sample.at_ms,
                tasks,
            });
            previous = Some(sample);
        }
        MetricsHistory {
            interval_ms: SAMPLE_INTERVAL.as_millis() as u64,
            window_ms: (SAMPLE_INTERVAL * SAMPLES_KEPT as u32).as_millis() as u64,
            points,
        }
    }
}

fn point(t: &TaskSample, before: Option<(&TaskSample, i64)>) -> TaskPoint {
    let mut p = TaskPoint {
        partition: t.partition,
        stage: t.stage,
        lag: t.lag,
        records_in: t.records_in,
        records_per_sec: None,
        batch_latency_ms: None,
    };
    // Counters restart from zero with the server: a drop starts the rates afresh.
    if let Some((b, elapsed_ms)) = before
        && elapsed_ms > 0
        && t.records_in >= b.records_in
        && t.batches >= b.batches
    {
        p.records_per_sec = Some((t.records_in - b.records_in) as f64 * 1000.0 / elapsed_ms as f64);
        let batches = t.batches - b.batches;
        if batches > 0 {
            p.batch_latency_ms =
                Some((t.batch_seconds - b.batch_seconds) * 1000.0 / batches as f64);
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at_ms: i64, records_in: u64, batches: u64, batch_seconds: f64) -> Sample {
        Sample {
            at_ms,
            tasks: vec![TaskSample {
                partition: 0,
                stage: Stage::Whole,
                lag: 7,
                records_in,
                batches,
                batch_seconds,
            }],
        }
    }

    #[test]
    fn rates_come_from_neighbouring_samples() {
        let h = MetricsHistory::of(&[
            sample(0, 0, 0, 0.0),
            sample(5000, 500, 10, 0.02),
            sample(10_000, 500, 10, 0.02),
        ]);
        let t: Vec<&TaskPoint> = h.points.iter().map(|p| &p.tasks[0]).collect();
        assert_eq!(t[0].records_per_sec, None);
        assert_eq!(t[1].records_per_sec, Some(100.0));
        assert!((t[1].batch_latency_ms.unwrap() - 2.0).abs() < 1e-9);
        assert_eq!(t[2].records_per_sec, Some(0.0));
        assert_eq!(t[2].batch_latency_ms, None, "no batch, no latency");
        assert_eq!(t[2].lag, 7);
    }

    #[test]
    fn the_ring_keeps_fifteen_minutes_and_ends_now() {
        let ring = SampleRing::default();
        for i in 0..(SAMPLES_KEPT as i64 + 20) {
            ring.push(sample(i * 5000, i as u64, 0, 0.0));
        }
        let h = ring.history(sample(1_000_000, 1000, 0, 0.0));
        assert_eq!(h.points.len(), SAMPLES_KEPT + 1);
        assert_eq!(h.points[0].at_ms, 20 * 5000, "the oldest are forgotten");
        assert_eq!(h.points.last().unwrap().at_ms, 1_000_000);
        assert_eq!(h.window_ms, 15 * 60 * 1000);
    }

    #[test]
    fn a_counter_going_back_restarts_the_rates() {
        let h = MetricsHistory::of(&[sample(0, 900, 5, 1.0), sample(5000, 10, 1, 0.1)]);
        assert_eq!(h.points[1].tasks[0].records_per_sec, None);
    }
}
