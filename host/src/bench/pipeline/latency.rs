//! `weir bench pipeline --only latency`: a pipeline under a steady, modest load, as most
//! pipelines run. A producer writes `--rate` records/s in 1 ms ticks; a consumer waits on
//! the output partitions' high watermarks and reads each record as soon as it is
//! committed; the record carries its produce time, so the consumer measures
//! produce → filter → consumer latency. The process's CPU time over the steady window,
//! per record, is compared with the same per record at full speed (the throughput run).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use bytes::Bytes;
use parking_lot::Mutex;

use crate::broker::{Broker, ProduceRecord};
use crate::log::batch::{BatchIter, Record, decode_records};

use super::super::process::{cpu_by_thread, cpu_time, threads_since};
use super::super::wasm::PATTERN;
use super::{PipelineBenchOptions, Setup, spec};

/// What a latency run measured.
pub struct LatencyRun {
    /// Records produced in the measured window.
    pub records: usize,
    /// Latencies, sorted.
    pub latencies: Vec<Duration>,
    /// Process CPU time per record over the window.
    pub cpu_per_record: Duration,
    /// CPU time over the window by thread name.
    pub by_thread: Vec<(String, Duration)>,
    /// Rounds the pipeline committed (whole run, warm-up included).
    pub rounds: u64,
    /// The pipeline's linger.
    pub linger: Duration,
    /// The pipeline's commit interval.
    pub commit_interval: Duration,
}

/// The value of a timed record: the filter's pattern (so it is kept) and nanoseconds
/// since `epoch`.
fn timed_value(epoch: Instant) -> Bytes {
    Bytes::from(format!("{PATTERN} {:020}", epoch.elapsed().as_nanos()))
}

fn produce_time(value: &[u8]) -> Option<u128> {
    std::str::from_utf8(value.get(PATTERN.len() + 1..)?)
        .ok()?
        .parse()
        .ok()
}

/// Reads every output partition as records arrive and records their latency.
fn consume(
    broker: Arc<Broker>,
    topic: String,
    epoch: Instant,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<(u128, Duration)>>>,
) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let topic = broker.topic(&topic)?;
    rt.block_on(async {
        let mut waits = Vec::new();
        for p in 0..topic.partition_count() {
            let log = topic.partition(i64::from(p))?;
            let (stop, seen) = (stop.clone(), seen.clone());
            waits.push(tokio::spawn(async move {
                let mut hw = log.subscribe();
                let mut pos = 0;
                while !stop.load(Ordering::Relaxed) {
                    // The watch's borrow is dropped before reading: held across the read it
                    // would deadlock with an append, which sends to the watch under the
                    // partition's lock.
                    let woke = matches!(
                        tokio::time::timeout(Duration::from_millis(50), hw.wait_for(|h| *h > pos))
                            .await,
                        Ok(Ok(_))
                    );
                    if !woke {
                        continue;
                    }
                    let Ok(read) = log.read(pos, 1 << 20) else {
                        continue;
                    };
                    let now = epoch.elapsed().as_nanos();
                    let mut got = Vec::new();
                    for batch in BatchIter::new(&read.bytes) {
                        let Ok((_, bytes)) = batch else { break };
                        let Ok(records) = decode_records(bytes) else {
                            break;
                        };
                        let from = pos;
                        for r in records.into_iter().filter(|r| r.offset >= from) {
                            pos = r.offset + 1;
                            if let Some(t) = r.value.as_deref().and_then(produce_time) {
                                let took = Duration::from_nanos(now.saturating_sub(t) as u64);
                                got.push((t, took));
                            }
                        }
                    }
                    seen.lock().extend(got);
                }
            }));
        }
        for w in waits {
            let _ = w.await;
        }
        anyhow::Ok(())
    })
}

/// Runs the steady-load pipeline for `seconds` (after one second of warm-up).
pub fn run(s: &Setup, opts: &PipelineBenchOptions) -> anyhow::Result<LatencyRun> {
    let (partitions, rate, seconds) = (opts.partitions, opts.rate, opts.seconds);
    s.broker
        .create_topic("lat-in", partitions, BTreeMap::new())?;
    s.broker
        .create_topic("lat-out", partitions, BTreeMap::new())?;
    let mut lat = spec("latency", "wasm-filter", "lat-out")?;
    lat.inputs = vec!["lat-in".into()];
    lat.start = crate::pipeline::spec::StartPosition::Latest;
    lat.linger_ms = opts.linger_ms;
    lat.commit_interval_ms = opts.commit_interval_ms;
    let linger = lat.linger();
    let commit_interval = lat.commit_interval();
    s.pipelines.create(lat)?;

    let epoch = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let consumer = {
        let (broker, stop, seen) = (s.broker.clone(), stop.clone(), seen.clone());
        std::thread::Builder::new()
            .name("bench-consumer".into())
            .spawn(move || consume(broker, "lat-out".into(), epoch, stop, seen))?
    };
    let per_tick = (rate / 1000).max(1) as usize;
    let warm_up = Duration::from_secs(1);
    let window = Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let (mut cpu_start, mut produced, mut from) = (None, 0usize, u128::MAX);
    let mut threads_start = Default::default();
    let mut tick = 0u64;
    while started.elapsed() < warm_up + window {
        if cpu_start.is_none() && started.elapsed() >= warm_up {
            cpu_start = Some(cpu_time());
            threads_start = cpu_by_thread();
            from = epoch.elapsed().as_nanos();
            produced = 0;
        }
        let records = (0..per_tick)
            .map(|_| ProduceRecord {
                partition: None,
                record: Record {
                    key: None,
                    value: Some(timed_value(epoch)),
                    headers: Vec::new(),
                    timestamp: -1,
                },
            })
            .collect();
        s.broker.produce("lat-in", records)?;
        produced += per_tick;
        tick += 1;
        let next = started + Duration::from_millis(tick);
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    // Let the last records arrive, then stop the consumer.
    let in_window = |seen: &[(u128, Duration)]| seen.iter().filter(|(t, _)| *t >= from).count();
    let deadline = Instant::now() + Duration::from_secs(5);
    while in_window(&seen.lock()) < produced && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let cpu = cpu_time().saturating_sub(cpu_start.unwrap_or_default());
    let by_thread = threads_since(&threads_start);
    stop.store(true, Ordering::Relaxed);
    match consumer.join() {
        Ok(r) => r?,
        Err(_) => bail!("the latency consumer panicked"),
    }
    let rounds = s
        .pipelines
        .metrics()
        .lines()
        .filter(|l| l.starts_with("weir_pipeline_batch_seconds_count{pipeline=\"latency\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    s.pipelines.delete("latency")?;
    let mut latencies: Vec<Duration> = std::mem::take(&mut *seen.lock())
        .into_iter()
        .filter(|(t, _)| *t >= from)
        .map(|(_, took)| took)
        .collect();
    if latencies.len() < produced {
        bail!(
            "only {} of {produced} records reached the output",
            latencies.len()
        );
    }
    latencies.sort_unstable();
    Ok(LatencyRun {
        linger,
        commit_interval,
        records: produced,
        latencies,
        cpu_per_record: cpu / produced.max(1) as u32,
        by_thread,
        rounds,
    })
}
