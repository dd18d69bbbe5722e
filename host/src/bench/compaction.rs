//! `weir bench compaction`: how fast the log cleaner compacts, and what a pass
//! does to the latency of appends running at the same time.
//!
//! A compacted partition log is filled with `--bytes` of records (64 MiB segments,
//! batches of 100) whose keys are drawn from `--keys` distinct ones, so most records
//! are superseded. A producer thread appends a batch of 10 records every millisecond, first alone (the baseline) and then
//! while one compaction pass runs over the whole log; the table gives the pass's
//! throughput (MB of log read per second) and the append latencies of both phases.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use rand::Rng;

use crate::log::batch::{Record, encode_batch};
use crate::log::{Cleanup, Compaction, FlushPolicy, LogConfig, PartitionLog};

/// Options of `weir bench compaction`.
#[derive(Debug, Clone, clap::Args)]
pub struct CompactionBenchOptions {
    /// Directory for the scratch log (default: a temp dir). Put it on the disk you care about.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Bytes of log to compact.
    #[arg(long, default_value_t = 256 << 20)]
    pub bytes: u64,
    /// Distinct keys in the log.
    #[arg(long, default_value_t = 100_000)]
    pub keys: u64,
    /// Value bytes per record.
    #[arg(long, default_value_t = 100)]
    pub record_size: usize,
    /// Seconds the producer runs alone for the baseline.
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
}

/// Records per batch of the log being compacted.
const BATCH: usize = 100;
/// Records per batch of the latency probe: small, so the probe's own appends fill
/// no segment during the run and no segment roll (an fsync under the lock) is timed.
const PROBE_BATCH: usize = 10;
const SEGMENT_BYTES: u64 = 64 << 20;

fn batch(
    rng: &mut impl Rng,
    records: usize,
    keys: u64,
    value: &Bytes,
    ts: i64,
) -> anyhow::Result<Vec<u8>> {
    let records: Vec<Record> = (0..records)
        .map(|_| Record {
            key: Some(Bytes::from(format!(
                "key-{:010}",
                rng.random_range(0..keys)
            ))),
            value: Some(value.clone()),
            headers: vec![],
            timestamp: ts,
        })
        .collect();
    Ok(encode_batch(&records, 0)?)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Appends one batch every millisecond until `stop`; returns each append's latency.
fn produce(
    log: Arc<PartitionLog>,
    keys: u64,
    value: Bytes,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<Vec<Duration>> {
    let mut rng = rand::rng();
    let mut latencies = Vec::new();
    let mut next = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        let b = batch(&mut rng, PROBE_BATCH, keys, &value, now_ms())?;
        let start = Instant::now();
        log.append(&b, now_ms())?;
        latencies.push(start.elapsed());
        next += Duration::from_millis(1);
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    Ok(latencies)
}

fn percentiles(mut l: Vec<Duration>) -> String {
    l.sort_unstable();
    let at = |q: f64| {
        l.get(((l.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or_default()
    };
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    format!(
        "{:.2} / {:.2} / {:.2}",
        ms(at(0.5)),
        ms(at(0.99)),
        ms(at(1.0))
    )
}

/// Runs `weir bench compaction` and prints a Markdown table.
pub fn run_compaction_bench(opts: &CompactionBenchOptions) -> anyhow::Result<()> {
    let scratch = tempfile::Builder::new()
        .prefix("weir-bench-")
        .tempdir_in(opts.dir.clone().unwrap_or_else(std::env::temp_dir))
        .context("creating the scratch directory")?;
    let log = Arc::new(PartitionLog::open(
        scratch.path(),
        LogConfig {
            flush: FlushPolicy::Os,
            segment_bytes: SEGMENT_BYTES,
            retention_ms: None,
            cleanup: Cleanup::Compact(Compaction {
                min_cleanable_dirty_ratio: 0.0,
                ..Compaction::default()
            }),
            ..LogConfig::default()
        },
    )?);
    let value = Bytes::from(vec![b'x'; opts.record_size]);
    let mut rng = rand::rng();
    let mut written = 0u64;
    while written < opts.bytes {
        let b = batch(&mut rng, BATCH, opts.keys, &value, now_ms())?;
        written += b.len() as u64;
        log.append(&b, now_ms())?;
    }
    log.flush()?;

    let stop = Arc::new(AtomicBool::new(false));
    let run = |stop: &Arc<AtomicBool>| {
        let (log, value, stop) = (log.clone(), value.clone(), stop.clone());
        let keys = opts.keys;
        std::thread::spawn(move || produce(log, keys, value, stop))
    };
    let alone = run(&stop);
    std::thread::sleep(Duration::from_secs_f64(opts.seconds));
    stop.store(true, Ordering::SeqCst);
    let alone = alone
        .join()
        .map_err(|_| anyhow::anyhow!("producer panicked"))??;

    let stop = Arc::new(AtomicBool::new(false));
    let during = run(&stop);
    let start = Instant::now();
    let stats = log.compact(now_ms())?.context("the log was not dirty")?;
    let seconds = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::SeqCst);
    let during = during
        .join()
        .map_err(|_| anyhow::anyhow!("producer panicked"))??;

    println!(
        "| log MB | keys | segments | pass s | compaction MB/s | MB left | records removed | append p50 / p99 / max ms alone | during the pass |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {:.0} | {} | {} | {:.2} | {:.0} | {:.1} | {} | {} | {} |",
        stats.bytes_read as f64 / 1e6,
        opts.keys,
        stats.segments,
        seconds,
        stats.bytes_read as f64 / 1e6 / seconds,
        stats.bytes_written as f64 / 1e6,
        stats.records_removed,
        percentiles(alone),
        percentiles(during),
    );
    Ok(())
}
