//! `weir bench pipeline`: end-to-end records/s of a pipeline (log → filter step → output
//! topic, exactly-once commits included) with the Rust Wasm filter against the same
//! pipeline with the same filter compiled natively into the host, in the same run; the
//! pause of a hot-swap per task; the Wasm pipeline with 1, 2 and 4 worker threads; the
//! latency and CPU per record under a steady modest load ([`latency`]); and a pipeline of
//! a thousand tasks ([`scale`]); windowed counts against the filter ([`windows`]); a
//! stream–table join against the filter ([`joins`]).

mod joins;
mod latency;
mod scale;
mod windows;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;

use crate::broker::producer::ProducerRegistry;
use crate::broker::topic_config::TopicConfig;
use crate::broker::{Broker, BrokerConfig, ProduceRecord};
use crate::log::FlushPolicy;
use crate::log::batch::Record;
use crate::pipeline::chain::NativeFilter;
use crate::pipeline::{PipelineSpec, Pipelines, PipelinesConfig};

use super::wasm::{PATTERN, contains, records};

/// Options of `weir bench pipeline`.
#[derive(Debug, Clone, clap::Args)]
pub struct PipelineBenchOptions {
    /// Directory holding the built guests (`scripts/build-guests` writes target/guests/wasm).
    #[arg(long, value_name = "DIR", default_value = "target/guests/wasm")]
    pub guests: PathBuf,
    /// Records in the input topic per run (100-byte values, half kept).
    #[arg(long, default_value_t = 400_000)]
    pub records: usize,
    /// Input partitions (one task each).
    #[arg(long, default_value_t = 4)]
    pub partitions: u32,
    /// Hot-swaps measured.
    #[arg(long, default_value_t = 20)]
    pub swaps: usize,
    /// Records per second of the latency run.
    #[arg(long, default_value_t = 10_000)]
    pub rate: u32,
    /// Seconds the latency run measures (after one second of warm-up).
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// The latency run's pipeline `linger_ms` (default: the spec's default). Longer
    /// lingers make longer rounds: less CPU per record, more latency.
    #[arg(long, value_name = "MS")]
    pub linger_ms: Option<u64>,
    /// The latency run's pipeline `commit_interval_ms` (default: the spec's default; 0:
    /// a commit every round, as before the interval existed).
    #[arg(long, value_name = "MS")]
    pub commit_interval_ms: Option<u64>,
    /// Distinct keys (open windows) of the windows part's memory measurement.
    #[arg(long, default_value_t = 1_000_000)]
    pub open_windows: usize,
    /// Tasks (input partitions) of the scale run.
    #[arg(long, default_value_t = 1000)]
    pub tasks: u32,
    /// Runs only these parts (repeatable); default all.
    #[arg(long, value_enum)]
    pub only: Vec<Part>,
}

/// The parts of `weir bench pipeline`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Part {
    /// Wasm against native end to end, with CPU per record.
    Throughput,
    /// Hot-swap pauses.
    Swap,
    /// 1, 2 and 4 worker threads.
    Threads,
    /// Latency and CPU per record at `--rate`.
    Latency,
    /// A pipeline of `--tasks` tasks.
    Scale,
    /// Tumbling-window counts over 10 000 keys against the Wasm filter, same input.
    Windows,
    /// A stream–table join (orders enriched with 10 000 customers) against the Wasm
    /// filter, same orders.
    Join,
}

/// The native twin of the example filter: keeps values containing `pattern`.
#[derive(Debug)]
struct NativeContains;

impl NativeFilter for NativeContains {
    fn keep(&self, record: &Record, config: &BTreeMap<String, String>) -> bool {
        let pattern = config.get("pattern").map_or(&b""[..], |p| p.as_bytes());
        record.value.as_ref().is_some_and(|v| contains(v, pattern))
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    broker: Arc<Broker>,
    pipelines: Pipelines,
}

fn setup(
    opts: &PipelineBenchOptions,
    workers: usize,
    max_instances: u32,
    count: usize,
) -> anyhow::Result<Setup> {
    let dir = tempfile::tempdir()?;
    let broker = Arc::new(Broker::open(BrokerConfig {
        data_dir: dir.path().join("data"),
        flush: FlushPolicy::Os,
        index_interval_bytes: 4096,
        topic_defaults: TopicConfig::default(),
        limits: Default::default(),
    })?);
    let producers = Arc::new(ProducerRegistry::new(broker.clone()));
    let pipelines = Pipelines::open(
        broker.clone(),
        producers,
        PipelinesConfig {
            dir: dir.path().join("data/pipelines"),
            worker_threads: workers,
            max_module_bytes: 256 << 20,
            max_instances,
            sandbox: crate::runtime::SandboxSettings::default(),
            plugins_dir: dir.path().join("plugins"),
            max_history: 100,
            max_windows_per_record: 1000,
            max_state_query_windows: 100_000,
            max_open_windows: crate::streams::DEFAULT_MAX_OPEN_WINDOWS,
            state_limits: crate::pipeline::StateLimits::default(),
            natives: [(
                "native-filter".to_string(),
                Arc::new(NativeContains) as Arc<dyn NativeFilter>,
            )]
            .into(),
            external: None,
            catalog: None,
            playground: Default::default(),
        },
    )?;
    let wasm = std::fs::read(opts.guests.join("rust-filter.wasm")).with_context(|| {
        format!(
            "reading rust-filter.wasm from {} (run scripts/build-guests first)",
            opts.guests.display()
        )
    })?;
    pipelines.upload_module("wasm-filter", &wasm)?;
    broker.create_topic("in", opts.partitions, BTreeMap::new())?;
    broker.create_topic("out", opts.partitions, BTreeMap::new())?;
    let batch = records(1000);
    let mut left = count;
    let mut p = 0;
    while left > 0 {
        let n = left.min(batch.len());
        let recs = batch[..n]
            .iter()
            .map(|r| ProduceRecord {
                partition: Some(i64::from(p % opts.partitions)),
                record: Record {
                    key: None,
                    ..r.clone()
                },
            })
            .collect();
        broker.produce("in", recs)?;
        left -= n;
        p += 1;
    }
    Ok(Setup {
        _dir: dir,
        broker,
        pipelines,
    })
}

fn spec(name: &str, module: &str, output: &str) -> anyhow::Result<PipelineSpec> {
    Ok(serde_json::from_value(json!({
        "name": name,
        "inputs": ["in"],
        "output": output,
        "steps": [{"module": module, "config": {"pattern": PATTERN}}],
        "start": "earliest",
    }))?)
}

/// Runs a pipeline over the whole input; returns records/s and the process's CPU time
/// per record.
fn drain(s: &Setup, name: &str, module: &str, total: usize) -> anyhow::Result<Drained> {
    let out = format!("out-{name}");
    drain_spec(s, spec(name, module, &out)?, total)
}

/// Runs the pipeline `spec` (its output topic is created here) until it has read
/// `total` records, then deletes it.
fn drain_spec(s: &Setup, spec: PipelineSpec, total: usize) -> anyhow::Result<Drained> {
    let name = spec.name.clone();
    let name = name.as_str();
    s.broker.create_topic(&spec.output, 4, BTreeMap::new())?;
    let cpu = super::process::cpu_time();
    let threads = super::process::cpu_by_thread();
    let started = Instant::now();
    s.pipelines
        .create(spec)
        .with_context(|| format!("creating pipeline {name}"))?;
    loop {
        let st = s
            .pipelines
            .status(name)
            .with_context(|| format!("status of pipeline {name}"))?;
        if st.records_in as usize >= total {
            break;
        }
        if st.state == "failed" {
            bail!("pipeline {name} failed: {:?}", st.tasks);
        }
        if started.elapsed() > Duration::from_secs(600) {
            bail!("pipeline {name} did not finish in 10 minutes");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let secs = started.elapsed().as_secs_f64();
    let n = total.max(1) as u32;
    let cpu = super::process::cpu_time().saturating_sub(cpu) / n;
    let pipeline = super::process::pipeline_cpu(&super::process::threads_since(&threads)) / n;
    s.pipelines
        .delete(name)
        .with_context(|| format!("deleting pipeline {name}"))?;
    Ok(Drained {
        rate: total as f64 / secs,
        cpu,
        pipeline,
    })
}

/// What draining the input through a pipeline measured.
struct Drained {
    /// Records per second.
    rate: f64,
    /// Process CPU per record.
    cpu: Duration,
    /// CPU of the pipeline's threads per record.
    pipeline: Duration,
}

/// Runs `weir bench pipeline`.
pub fn run_pipeline_bench(opts: &PipelineBenchOptions) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let wanted = |part: Part| opts.only.is_empty() || opts.only.contains(&part);
    println!(
        "pipeline: {} records of 100 bytes over {} partitions, half kept; {cores} cores; flush=os",
        opts.records, opts.partitions
    );
    let mut full_speed_cpu = None;
    if wanted(Part::Throughput) || wanted(Part::Swap) || wanted(Part::Latency) {
        let s = setup(opts, 0, 64, opts.records)?;
        if wanted(Part::Throughput) {
            full_speed_cpu = Some(throughput(&s, opts)?);
        }
        if wanted(Part::Swap) {
            swaps(&s, opts)?;
        }
        if wanted(Part::Latency) {
            let run = latency::run(&s, opts)?;
            let q = |q: f64| {
                let i = ((run.latencies.len() - 1) as f64 * q).round() as usize;
                run.latencies[i].as_secs_f64() * 1000.0
            };
            let us = |d: Duration| d.as_secs_f64() * 1e6;
            let pipeline = super::process::pipeline_cpu(&run.by_thread) / run.records.max(1) as u32;
            println!(
                "steady {} rec/s over {} partitions, linger {} ms, commit interval {} ms, {} records: produce -> filter -> consumer \
                 p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; CPU per record: process {:.1} us, \
                 pipeline threads {:.1} us{}",
                opts.rate,
                opts.partitions,
                run.linger.as_millis(),
                run.commit_interval.as_millis(),
                run.records,
                q(0.5),
                q(0.99),
                q(1.0),
                us(run.cpu_per_record),
                us(pipeline),
                full_speed_cpu
                    .as_ref()
                    .map_or(String::new(), |full: &Drained| format!(
                        " ({:.1}x and {:.1}x the {:.2} us and {:.2} us at full speed)",
                        us(run.cpu_per_record) / us(full.cpu),
                        us(pipeline) / us(full.pipeline),
                        us(full.cpu),
                        us(full.pipeline),
                    )),
            );
            let secs = opts.seconds;
            let threads: Vec<String> = run
                .by_thread
                .iter()
                .map(|(name, t)| format!("{name} {:.1}%", t.as_secs_f64() / secs * 100.0))
                .collect();
            println!(
                "  CPU by thread (% of a core): {}; {} rounds, {:.1} records per round",
                threads.join(", "),
                run.rounds,
                (opts.seconds + 1.0) * f64::from(opts.rate) / run.rounds.max(1) as f64
            );
        }
        s.pipelines.shutdown();
    }
    if wanted(Part::Threads) {
        for workers in [1, 2, 4] {
            let s = setup(opts, workers, 64, opts.records)?;
            let rate = drain(&s, "w", "wasm-filter", opts.records)?.rate;
            println!(
                "worker threads {workers}: wasm filter {:.2} M rec/s",
                rate / 1e6
            );
            s.pipelines.shutdown();
        }
    }
    if wanted(Part::Windows) {
        let s = setup(opts, 0, 64, 0)?;
        windows::run(&s, opts)?;
        s.pipelines.shutdown();
    }
    if wanted(Part::Join) {
        let s = setup(opts, 0, 64, 0)?;
        joins::run(&s, opts)?;
        s.pipelines.shutdown();
    }
    if wanted(Part::Scale) {
        let s = setup(opts, 0, opts.tasks + 64, 0)?;
        scale::run(&s, opts.tasks)?;
        s.pipelines.shutdown();
    }
    Ok(())
}

/// Wasm against native, alternating, best of two each; returns the Wasm run with the least
/// CPU per record.
fn throughput(s: &Setup, opts: &PipelineBenchOptions) -> anyhow::Result<Drained> {
    // Alternate so neither side always runs on a warmer cache.
    let mut wasm = Vec::new();
    let mut native = Vec::new();
    for round in 0..2 {
        wasm.push(drain(s, &format!("w{round}"), "wasm-filter", opts.records)?);
        native.push(drain(
            s,
            &format!("n{round}"),
            "native-filter",
            opts.records,
        )?);
    }
    let best = |v: &[Drained]| v.iter().map(|r| r.rate).fold(0.0, f64::max);
    let (best_wasm, best_native) = (best(&wasm), best(&native));
    let least = wasm
        .into_iter()
        .min_by_key(|r| r.cpu)
        .ok_or_else(|| anyhow::anyhow!("no wasm run"))?;
    println!(
        "end to end, best of 2: wasm filter {:.2} M rec/s, native filter {:.2} M rec/s, ratio {:.2}; \
         CPU per record (wasm): process {:.2} us, pipeline threads {:.2} us",
        best_wasm / 1e6,
        best_native / 1e6,
        best_wasm / best_native,
        least.cpu.as_secs_f64() * 1e6,
        least.pipeline.as_secs_f64() * 1e6,
    );
    Ok(least)
}

/// Swap pauses: a pipeline kept busy by a steady producer, swapped back and forth.
fn swaps(s: &Setup, opts: &PipelineBenchOptions) -> anyhow::Result<()> {
    s.pipelines.upload_module("wasm-filter-b", &{
        let mut bytes = std::fs::read(opts.guests.join("rust-filter.wasm"))?;
        // A custom section makes different bytes (a new module) with the same code.
        bytes.extend_from_slice(&[0, 4, 1, b'b', 0xAA, 0xBB]);
        bytes
    })?;
    s.broker.create_topic("out-swap", 4, BTreeMap::new())?;
    s.pipelines
        .create(spec("swap", "wasm-filter", "out-swap")?)?;
    for i in 0..opts.swaps {
        let module = if i % 2 == 0 {
            "wasm-filter-b"
        } else {
            "wasm-filter"
        };
        s.pipelines
            .update("swap", spec("swap", module, "out-swap")?)?;
        let batch: Vec<ProduceRecord> = records(2000)
            .into_iter()
            .map(|record| ProduceRecord {
                partition: None,
                record: Record {
                    key: None,
                    ..record
                },
            })
            .collect();
        s.broker.produce("in", batch)?;
        std::thread::sleep(Duration::from_millis(100));
    }
    let st = s.pipelines.status("swap")?;
    let sp = &st.swap_pause;
    println!(
        "hot-swap pause per task over {} task swaps: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; rollbacks {}",
        sp.count,
        sp.p50_ms.unwrap_or(f64::NAN),
        sp.p99_ms.unwrap_or(f64::NAN),
        sp.max_ms.unwrap_or(f64::NAN),
        st.rollbacks
    );
    s.pipelines.delete("swap")?;
    Ok(())
}
