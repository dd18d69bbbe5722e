//! `weir bench`: benchmarks whose results go into BENCHMARKS.md.
//!
//! `weir bench log` measures the partition log's append and read throughput for
//! each record size, batch size and flush policy, and in the same run writes and
//! reads the same bytes with plain sequential file I/O and the same fsync policy:
//! the physical limit the log is compared against.
//!
//! `weir bench kafka` ([`kafka`]) measures the Kafka listener with librdkafka and with a
//! native client of pre-encoded batches ([`wire`], the hand-made protocol both it and
//! [`transactions`] speak), ([`transactions`]) transactional against idempotent produce,
//! and with `--tls-scram` ([`tls`]) SASL_SSL with SCRAM against plaintext.
//! `weir bench wasm` ([`wasm`]) measures plugins against native Rust.
//! `weir bench pipeline` ([`pipeline`]) measures pipelines end to end and hot-swap pauses.
//! `weir bench compaction` ([`compaction`]) measures the log cleaner and its effect on appends.
//! `weir bench acl` ([`acl`]) measures the per-request ACL check as ACLs accumulate.
//! `weir bench transforms` ([`transforms`]) measures Kafka Connect's transformations per record.
//! `weir bench connect` ([`connect`]) measures FileStreamSource against `weir produce --file`.
//! `weir bench mirror` ([`mirror`]) measures the MirrorSourceConnector between two servers
//! ([`served`]) against a plain consume+produce copy with the same client, and replication
//! latency at a fixed rate.
//! `weir bench attached` ([`attached`]) measures a stateful pipeline embedded against 1 and 2
//! attached nodes, and the changelog restore rate of a node joining.
//! `weir bench postgres` ([`postgres`]) measures PostgresSink against psql's batched upserts,
//! in a PostgreSQL of its own ([`postgres_server`], which the PostgresSink tests use too).

pub mod acl;
pub mod attached;
pub mod compaction;
pub mod connect;
pub mod dial;
pub mod kafka;
pub mod mirror;
pub mod pipeline;
pub mod postgres;
pub mod postgres_server;
pub mod process;
pub mod served;
pub mod tls;
pub mod transactions;
pub mod transforms;
pub mod wire;

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use bytes::Bytes;

use crate::log::batch::{Record, encode_batch};
use crate::log::{FlushPolicy, LogConfig, PartitionLog};

pub mod wasm;

/// Options of `weir bench log`.
#[derive(Debug, Clone, clap::Args)]
pub struct LogBenchOptions {
    /// Directory for the scratch files (default: a temp dir). Put it on the disk you care about.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Bytes of payload written per case when not fsyncing each batch.
    #[arg(long, default_value_t = 64 << 20)]
    pub bytes: u64,
    /// Upper bound on the time spent per case, in seconds.
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
}

/// One measured case.
#[derive(Debug, Clone)]
struct Case {
    record_size: usize,
    batch: usize,
}

fn policy_name(p: FlushPolicy) -> &'static str {
    match p {
        FlushPolicy::EveryBatch => "every-batch",
        FlushPolicy::Interval { .. } => "interval",
        FlushPolicy::Os => "os",
    }
}

fn make_batches(case: &Case, count: usize) -> anyhow::Result<Vec<Vec<u8>>> {
    let value = Bytes::from(vec![b'x'; case.record_size]);
    let records: Vec<Record> = (0..case.batch)
        .map(|i| Record {
            key: Some(Bytes::from(format!("{i:08}"))),
            value: Some(value.clone()),
            headers: vec![("h".into(), Some(Bytes::from_static(b"v")))],
            timestamp: 1_700_000_000_000 + i as i64,
        })
        .collect();
    let one = encode_batch(&records, 0)?;
    Ok(vec![one; count])
}

struct Measured {
    seconds: f64,
    bytes: u64,
}

fn faster(a: Measured, b: Measured) -> Measured {
    if a.bytes as f64 / a.seconds >= b.bytes as f64 / b.seconds {
        a
    } else {
        b
    }
}

fn raw_write(path: &Path, batches: &[Vec<u8>], fsync_each: bool) -> anyhow::Result<Measured> {
    let mut file = File::create(path)?;
    let start = Instant::now();
    let mut bytes = 0u64;
    for b in batches {
        file.write_all(b)?;
        if fsync_each {
            file.sync_data()?;
        }
        bytes += b.len() as u64;
    }
    Ok(Measured {
        seconds: start.elapsed().as_secs_f64(),
        bytes,
    })
}

fn raw_read(path: &Path) -> anyhow::Result<Measured> {
    let mut file = File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    let start = Instant::now();
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
    }
    Ok(Measured {
        seconds: start.elapsed().as_secs_f64(),
        bytes,
    })
}

fn log_write(
    dir: &Path,
    mut batches: Vec<Vec<u8>>,
    flush: FlushPolicy,
) -> anyhow::Result<(Measured, PartitionLog)> {
    let log = PartitionLog::open(
        dir,
        LogConfig {
            flush,
            retention_ms: None,
            ..LogConfig::default()
        },
    )?;
    let bytes: u64 = batches.iter().map(|b| b.len() as u64).sum();
    let start = Instant::now();
    for b in &mut batches {
        log.append(b, 1_700_000_000_000)?;
    }
    Ok((
        Measured {
            seconds: start.elapsed().as_secs_f64(),
            bytes,
        },
        log,
    ))
}

fn log_read(log: &PartitionLog) -> anyhow::Result<Measured> {
    let start = Instant::now();
    let end = log.high_watermark();
    let mut offset = 0;
    let mut bytes = 0u64;
    while offset < end {
        let r = log.read(offset, 1 << 20)?;
        let mut next = offset;
        for item in crate::log::batch::BatchIter::new(&r.bytes) {
            next = item?.0.next_offset();
        }
        anyhow::ensure!(next > offset, "read made no progress at offset {offset}");
        bytes += r.bytes.len() as u64;
        offset = next;
    }
    Ok(Measured {
        seconds: start.elapsed().as_secs_f64(),
        bytes,
    })
}

/// Runs `weir bench log` and prints a Markdown table.
pub fn run_log_bench(opts: &LogBenchOptions) -> anyhow::Result<()> {
    let scratch = tempfile::Builder::new()
        .prefix("weir-bench-")
        .tempdir_in(opts.dir.clone().unwrap_or_else(std::env::temp_dir))
        .context("creating the scratch directory")?;
    println!(
        "| record | batch | flush | log append MB/s | raw write MB/s | append/raw | log records/s | log read MB/s | raw read MB/s | read/raw |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let mut n = 0;
    for record_size in [100usize, 1024] {
        for batch in [1usize, 100, 1000] {
            for flush in [FlushPolicy::EveryBatch, FlushPolicy::Os] {
                n += 1;
                let case = Case { record_size, batch };
                let batch_len = make_batches(&case, 1)?[0].len() as u64;
                // Calibrate the count on raw writes so each case takes at most `seconds`.
                let fsync = flush == FlushPolicy::EveryBatch;
                let wanted = (opts.bytes / batch_len).max(1) as usize;
                let probe = make_batches(&case, wanted.min(200))?;
                let p = raw_write(&scratch.path().join("probe"), &probe, fsync)?;
                let per_batch = p.seconds / probe.len() as f64;
                let budget = (opts.seconds / 2.0 / per_batch.max(1e-9)) as usize;
                let count = wanted.min(budget).max(20);
                // Two alternating rounds, best of each: whichever writer runs second
                // otherwise pays for the first one's dirty-page writeback.
                let mut best: Option<(Measured, Measured, Measured, Measured)> = None;
                for round in 0..2 {
                    let raw_path = scratch.path().join(format!("raw-{n}-{round}"));
                    let log_dir = scratch.path().join(format!("log-{n}-{round}"));
                    let (raw_w, log_w, log) = if round == 0 {
                        let raw_w = raw_write(&raw_path, &make_batches(&case, count)?, fsync)?;
                        let (log_w, log) = log_write(&log_dir, make_batches(&case, count)?, flush)?;
                        (raw_w, log_w, log)
                    } else {
                        let (log_w, log) = log_write(&log_dir, make_batches(&case, count)?, flush)?;
                        let raw_w = raw_write(&raw_path, &make_batches(&case, count)?, fsync)?;
                        (raw_w, log_w, log)
                    };
                    let raw_r = raw_read(&raw_path)?;
                    let log_r = log_read(&log)?;
                    drop(log);
                    std::fs::remove_file(&raw_path)?;
                    std::fs::remove_dir_all(&log_dir)?;
                    best = Some(match best {
                        None => (raw_w, log_w, raw_r, log_r),
                        Some((a, b, c, d)) => (
                            faster(a, raw_w),
                            faster(b, log_w),
                            faster(c, raw_r),
                            faster(d, log_r),
                        ),
                    });
                }
                let Some((raw_w, log_w, raw_r, log_r)) = best else {
                    continue;
                };
                let mbps = |m: &Measured| m.bytes as f64 / m.seconds / 1e6;
                println!(
                    "| {} B | {} | {} | {:.1} | {:.1} | {:.2}× | {:.0} | {:.0} | {:.0} | {:.2}× |",
                    record_size,
                    batch,
                    policy_name(flush),
                    mbps(&log_w),
                    mbps(&raw_w),
                    mbps(&log_w) / mbps(&raw_w),
                    (count * batch) as f64 / log_w.seconds,
                    mbps(&log_r),
                    mbps(&raw_r),
                    mbps(&log_r) / mbps(&raw_r),
                );
            }
        }
    }
    Ok(())
}
