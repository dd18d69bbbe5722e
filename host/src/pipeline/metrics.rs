//! Prometheus text exposition (`GET /metrics`) of pipeline and task counters.

use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::broker::Broker;
use crate::runtime::Runtime;

use super::handle::PipelineHandle;
use super::stats::LATENCY_BUCKETS;
use super::status::TaskStatus;

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A per-task metric: name, type, help, and how to read it from a task's status.
type TaskMetric = (
    &'static str,
    &'static str,
    &'static str,
    fn(&TaskStatus) -> i64,
);

/// Renders every pipeline's metrics.
pub fn render(handles: &[Arc<PipelineHandle>], broker: &Broker, runtime: &Runtime) -> String {
    let mut out = String::new();
    let per_task: [TaskMetric; 5] = [
        (
            "weir_pipeline_records_in_total",
            "counter",
            "Input records processed and committed.",
            |t| t.records_in as i64,
        ),
        (
            "weir_pipeline_records_out_total",
            "counter",
            "Records appended to output topics.",
            |t| t.records_out as i64,
        ),
        (
            "weir_pipeline_records_errored_total",
            "counter",
            "Input records that failed (skipped or dead-lettered).",
            |t| t.records_errored as i64,
        ),
        (
            "weir_pipeline_late_records_total",
            "counter",
            "Input records aggregation steps dropped as late (every window closed).",
            |t| t.late_records as i64,
        ),
        (
            "weir_pipeline_lag",
            "gauge",
            "Input records not yet processed.",
            |t| t.lag,
        ),
    ];
    let statuses: Vec<(String, Vec<TaskStatus>)> = handles
        .iter()
        .map(|h| {
            let spec = h.spec();
            (
                h.name.clone(),
                h.tasks
                    .iter()
                    .map(|t| TaskStatus::of(t, &spec, broker))
                    .collect(),
            )
        })
        .collect();
    for (name, kind, help, value) in per_task {
        header(&mut out, name, kind, help);
        for (pipeline, tasks) in &statuses {
            for t in tasks {
                let _ = writeln!(
                    out,
                    "{name}{{pipeline=\"{pipeline}\",{}}} {}",
                    task_labels(t.partition, t.stage),
                    value(t)
                );
            }
        }
        // An attached pipeline's tasks are this node's share of its group's: counted per
        // pipeline, without task labels.
        if name == "weir_pipeline_late_records_total" {
            for h in handles.iter().filter(|h| h.tasks.is_empty()) {
                let late = h.attached_late_records.load(Ordering::Relaxed);
                let _ = writeln!(out, "{name}{{pipeline=\"{}\"}} {late}", h.name);
            }
        }
    }
    header(
        &mut out,
        "weir_pipeline_task_failed",
        "gauge",
        "1 while a task is stopped on an error.",
    );
    for (pipeline, tasks) in &statuses {
        for t in tasks {
            let _ = writeln!(
                out,
                "weir_pipeline_task_failed{{pipeline=\"{pipeline}\",{}}} {}",
                task_labels(t.partition, t.stage),
                u8::from(t.last_error.is_some() && t.state == super::stats::TaskState::Failed)
            );
        }
    }
    header(
        &mut out,
        "weir_pipeline_batch_seconds",
        "histogram",
        "Time per committed batch: read, run the steps, append, commit.",
    );
    for h in handles {
        for t in &h.tasks {
            let (buckets, count, sum) = t.latency.read();
            let labels = format!(
                "pipeline=\"{}\",{}",
                h.name,
                task_labels(t.partition, t.stage)
            );
            for (b, n) in LATENCY_BUCKETS.iter().zip(buckets) {
                let _ = writeln!(
                    out,
                    "weir_pipeline_batch_seconds_bucket{{{labels},le=\"{b}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "weir_pipeline_batch_seconds_bucket{{{labels},le=\"+Inf\"}} {count}"
            );
            let _ = writeln!(out, "weir_pipeline_batch_seconds_sum{{{labels}}} {sum}");
            let _ = writeln!(out, "weir_pipeline_batch_seconds_count{{{labels}}} {count}");
        }
    }
    for (name, help, get) in [
        (
            "weir_pipeline_swaps_total",
            "Updates deployed to a running pipeline.",
            (|h: &PipelineHandle| h.swaps.load(Ordering::Relaxed)) as fn(&PipelineHandle) -> u64,
        ),
        (
            "weir_pipeline_rollbacks_total",
            "Updates rolled back automatically.",
            |h: &PipelineHandle| h.rollbacks.load(Ordering::Relaxed),
        ),
    ] {
        header(&mut out, name, "counter", help);
        for h in handles {
            let _ = writeln!(out, "{name}{{pipeline=\"{}\"}} {}", h.name, get(h));
        }
    }
    header(
        &mut out,
        "weir_wasm_compilations_total",
        "counter",
        "Modules compiled (not found in the precompiled cache).",
    );
    let _ = writeln!(
        out,
        "weir_wasm_compilations_total {}",
        runtime.compilations()
    );
    header(
        &mut out,
        "weir_wasm_cache_hits_total",
        "counter",
        "Modules loaded from the precompiled cache.",
    );
    let _ = writeln!(out, "weir_wasm_cache_hits_total {}", runtime.cache_hits());
    out
}

/// A task's labels: its partition, and the stage between `group_by`s it runs when there
/// is one (each stage has a task per partition).
fn task_labels(partition: u32, stage: super::stage::Stage) -> String {
    match stage {
        super::stage::Stage::Whole => format!("partition=\"{partition}\""),
        super::stage::Stage::Upstream => format!("partition=\"{partition}\",stage=\"upstream\""),
        super::stage::Stage::Downstream => {
            format!("partition=\"{partition}\",stage=\"downstream\"")
        }
        super::stage::Stage::Middle(k) => {
            format!("partition=\"{partition}\",stage=\"middle_{k}\"")
        }
    }
}
