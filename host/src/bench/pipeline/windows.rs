//! `weir bench pipeline --only windows`: a tumbling-window count over 10 000 keys (emit
//! on close, and on update) against the stateless Wasm filter over the same keyed input
//! of 100-byte records, in the same run, alternating, best of two each. The count keeps
//! its open windows in memory and writes the aggregates a batch changed to the task's
//! state, committed with the round's outputs and offsets; on update holds the latest
//! result per window and key until the commit, which flushes them in its outbox and
//! then appends them (one flush a commit interval). Then the memory of window state: the
//! process's resident memory before and after a count takes in `--open-windows`
//! distinct keys, all in one window that stays open.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::json;

use crate::broker::ProduceRecord;
use crate::log::batch::Record;
use crate::pipeline::PipelineSpec;

use super::super::process::rss_bytes;
use super::super::wasm::{PATTERN, records};
use super::{Drained, PipelineBenchOptions, Setup, drain_spec};

/// Distinct keys in the input.
const KEYS: usize = 10_000;
/// Window size, ms; the input's timestamps advance 1 ms a record.
const WINDOW_MS: u64 = 60_000;

/// Runs the case and prints its figures.
pub fn run(s: &Setup, opts: &PipelineBenchOptions) -> anyhow::Result<()> {
    s.broker
        .create_topic("keyed-in", opts.partitions, BTreeMap::new())?;
    // Timestamps from an hour ago, 1 ms apart: windows close as the input goes on, and
    // time-based retention never sees old records.
    let base = crate::broker::now_ms() - 3_600_000;
    let template = records(1);
    let value = template[0].value.clone();
    let mut i = 0usize;
    while i < opts.records {
        let n = (opts.records - i).min(1000);
        let batch = (i..i + n)
            .map(|j| ProduceRecord {
                partition: None,
                record: Record {
                    key: Some(Bytes::from(format!("user{:05}", j % KEYS))),
                    value: value.clone(),
                    headers: Vec::new(),
                    timestamp: base + j as i64,
                },
            })
            .collect();
        s.broker.produce("keyed-in", batch)?;
        i += n;
    }
    let spec = |name: &str, step: serde_json::Value| -> anyhow::Result<PipelineSpec> {
        Ok(serde_json::from_value(json!({
            "name": name, "inputs": ["keyed-in"], "output": format!("out-{name}"),
            "steps": [step], "start": "earliest",
        }))?)
    };
    let filter = json!({"module": "wasm-filter", "config": {"pattern": PATTERN}});
    let window = json!({"type": "tumbling", "size_ms": WINDOW_MS});
    let on_close = json!({"op": "count", "window": window, "emit": "on_close"});
    let on_update = json!({"op": "count", "window": window, "emit": "on_update"});
    let (mut f, mut c, mut u): (Vec<Drained>, Vec<Drained>, Vec<Drained>) = Default::default();
    for round in 0..2 {
        f.push(drain_spec(
            s,
            spec(&format!("kf{round}"), filter.clone())?,
            opts.records,
        )?);
        c.push(drain_spec(
            s,
            spec(&format!("kc{round}"), on_close.clone())?,
            opts.records,
        )?);
        u.push(drain_spec(
            s,
            spec(&format!("ku{round}"), on_update.clone())?,
            opts.records,
        )?);
    }
    open_windows_memory(s, opts)?;
    let best = |v: &[Drained]| v.iter().map(|r| r.rate).fold(0.0, f64::max);
    let least_cpu = |v: &[Drained]| {
        v.iter()
            .map(|r| r.pipeline.as_secs_f64() * 1e6)
            .fold(f64::INFINITY, f64::min)
    };
    let (filter, close, update) = (best(&f), best(&c), best(&u));
    println!(
        "windowed count, tumbling {} s over {KEYS} keys, {} records, best of 2: wasm filter {:.2} M rec/s; \
         count emit on_close {:.2} M rec/s ({:.2}x the filter); count emit on_update {:.2} M rec/s \
         ({:.2}x); pipeline-thread CPU per record: filter {:.2} us, on_close {:.2} us, on_update {:.2} us",
        WINDOW_MS / 1000,
        opts.records,
        filter / 1e6,
        close / 1e6,
        close / filter,
        update / 1e6,
        update / filter,
        least_cpu(&f),
        least_cpu(&c),
        least_cpu(&u),
    );
    Ok(())
}

/// Resident memory per million open windows: a count in one tumbling window an hour
/// long over `--open-windows` records of distinct keys (one open (window, key) each),
/// the process's RSS before the pipeline starts and once it has taken every record in.
/// The figure is everything window state costs: the aggregates in memory, their writes
/// waiting for a commit, and sled's cache of the committed ones.
fn open_windows_memory(s: &Setup, opts: &PipelineBenchOptions) -> anyhow::Result<()> {
    let n = opts.open_windows;
    s.broker
        .create_topic("distinct-in", opts.partitions, BTreeMap::new())?;
    // Every timestamp in the same hour, whose window stays open: nothing closes.
    let hour = 3_600_000;
    let base = (crate::broker::now_ms() / hour - 2) * hour;
    let value = records(1)[0].value.clone();
    let mut i = 0usize;
    while i < n {
        let m = (n - i).min(1000);
        let batch = (i..i + m)
            .map(|j| ProduceRecord {
                partition: None,
                record: Record {
                    key: Some(Bytes::from(format!("user{j:08}"))),
                    value: value.clone(),
                    headers: Vec::new(),
                    timestamp: base + (j % 3_000_000) as i64,
                },
            })
            .collect();
        s.broker.produce("distinct-in", batch)?;
        i += m;
    }
    let spec: PipelineSpec = serde_json::from_value(json!({
        "name": "open-windows", "inputs": ["distinct-in"], "output": "out-open-windows",
        "steps": [{"op": "count", "window": {"type": "tumbling", "size_ms": hour},
                   "emit": "on_close"}],
        "start": "earliest",
    }))?;
    let before = rss_bytes();
    let drained = drain_spec_kept(s, spec, n)?;
    let after = rss_bytes();
    let per_million = after.saturating_sub(before) as f64 / n.max(1) as f64 * 1e6;
    println!(
        "open windows: {n} (window, key) aggregates over {} tasks, taken in at {:.2} M rec/s; \
         resident memory {:.0} MiB before, {:.0} MiB after: {:.0} MiB per million open windows \
         ({:.0} bytes each)",
        opts.partitions,
        drained / 1e6,
        before as f64 / (1 << 20) as f64,
        after as f64 / (1 << 20) as f64,
        per_million / (1 << 20) as f64,
        per_million / 1e6,
    );
    s.pipelines.delete("open-windows")?;
    map_alone(n)
}

/// The in-memory map's share: `n` (window, key) aggregates taken into one task's
/// [`OpenWindows`](crate::streams::OpenWindows) over a store that keeps nothing, RSS before and after.
fn map_alone(n: usize) -> anyhow::Result<()> {
    use crate::streams::{AggregateSpec, Emit, Op, OpenWindows, WindowSpec};
    let mut aggregation = AggregateSpec {
        op: Op::Count,
        window: Some(WindowSpec::Tumbling {
            size_ms: 3_600_000,
            grace_ms: 0,
        }),
        emit: Some(Emit::OnClose),
        ..AggregateSpec::default()
    }
    .build()
    .map_err(|(field, why)| anyhow::anyhow!("{field}: {why}"))?;
    aggregation.max_open_windows = n.max(1);
    let mut open = OpenWindows::new(n.max(1));
    let mut store = Discard;
    let before = rss_bytes();
    let mut i = 0usize;
    while i < n {
        let m = (n - i).min(8192);
        let batch: Vec<Record> = (i..i + m)
            .map(|j| Record {
                key: Some(Bytes::from(format!("user{j:08}"))),
                value: None,
                headers: Vec::new(),
                timestamp: 1_000,
            })
            .collect();
        aggregation.process_open(&mut store, &mut open, &batch)?;
        i += m;
    }
    let after = rss_bytes();
    println!(
        "open windows, the in-memory map alone: {} aggregates in one task, {:.0} MiB, {:.0} bytes each",
        open.len(),
        after.saturating_sub(before) as f64 / (1 << 20) as f64,
        after.saturating_sub(before) as f64 / n.max(1) as f64,
    );
    Ok(())
}

/// A state store that keeps nothing (what the map alone costs).
struct Discard;

impl crate::runtime::StateBackend for Discard {
    fn get(&self, _: &[u8]) -> Result<Option<Vec<u8>>, crate::runtime::StateError> {
        Ok(None)
    }
    fn put(&mut self, _: &[u8], _: &[u8]) -> Result<(), crate::runtime::StateError> {
        Ok(())
    }
    fn delete(&mut self, _: &[u8]) -> Result<(), crate::runtime::StateError> {
        Ok(())
    }
    fn range(
        &self,
        _: std::ops::Bound<&[u8]>,
        _: std::ops::Bound<&[u8]>,
        _: usize,
    ) -> Result<crate::runtime::Entries, crate::runtime::StateError> {
        Ok(Vec::new())
    }
}

/// Runs `spec` until it has taken `total` records in, leaving it running (its state in
/// memory); returns records/s.
fn drain_spec_kept(s: &Setup, spec: PipelineSpec, total: usize) -> anyhow::Result<f64> {
    let name = spec.name.clone();
    s.broker.create_topic(&spec.output, 4, BTreeMap::new())?;
    let started = std::time::Instant::now();
    s.pipelines.create(spec)?;
    loop {
        let st = s.pipelines.status(&name)?;
        if st.records_in as usize >= total {
            break;
        }
        if st.state == "failed" {
            anyhow::bail!("pipeline {name} failed: {:?}", st.tasks);
        }
        if started.elapsed() > std::time::Duration::from_secs(600) {
            anyhow::bail!("pipeline {name} did not finish in 10 minutes");
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}
