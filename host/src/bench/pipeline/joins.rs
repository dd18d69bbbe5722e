//! `weir bench pipeline --only join`: orders enriched with customers — a stream–table
//! left join (default joiner) over 10 000 customer keys — against the stateless Wasm
//! filter over the same keyed orders of 100-byte records, in the same run, alternating,
//! best of two each. The join's table source is read from the start too, so its run
//! reads the customers before the orders; its rate counts orders only.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::json;

use crate::broker::ProduceRecord;
use crate::log::batch::Record;
use crate::pipeline::PipelineSpec;

use super::super::wasm::{PATTERN, records};
use super::{Drained, PipelineBenchOptions, Setup, drain_spec};

/// Distinct customers (keys).
const KEYS: usize = 10_000;

fn produce(
    s: &Setup,
    topic: &str,
    n: usize,
    value: &dyn Fn(usize) -> Option<Bytes>,
) -> anyhow::Result<()> {
    let base = crate::broker::now_ms() - 3_600_000;
    let mut i = 0usize;
    while i < n {
        let m = (n - i).min(1000);
        let batch = (i..i + m)
            .map(|j| ProduceRecord {
                partition: None,
                record: Record {
                    key: Some(Bytes::from(format!("user{:05}", j % KEYS))),
                    value: value(j),
                    headers: Vec::new(),
                    timestamp: base + j as i64,
                },
            })
            .collect();
        s.broker.produce(topic, batch)?;
        i += m;
    }
    Ok(())
}

/// Runs the case and prints its figures.
pub fn run(s: &Setup, opts: &PipelineBenchOptions) -> anyhow::Result<()> {
    s.broker
        .create_topic("orders-in", opts.partitions, BTreeMap::new())?;
    s.broker
        .create_topic("customers-in", opts.partitions, BTreeMap::new())?;
    let order = records(1)[0].value.clone();
    produce(s, "orders-in", opts.records, &|_| order.clone())?;
    produce(s, "customers-in", KEYS, &|j| {
        Some(Bytes::from(format!(
            "customer {j:05}, 1 Long Street, Springfield"
        )))
    })?;
    let filter = |name: &str| -> anyhow::Result<PipelineSpec> {
        Ok(serde_json::from_value(json!({
            "name": name, "inputs": ["orders-in"], "output": format!("out-{name}"),
            "steps": [{"module": "wasm-filter", "config": {"pattern": PATTERN}}],
            "start": "earliest",
        }))?)
    };
    let join = |name: &str| -> anyhow::Result<PipelineSpec> {
        Ok(serde_json::from_value(json!({
            "name": name,
            "sources": {"orders": {"topic": "orders-in"},
                        "customers": {"topic": "customers-in", "as": "table"}},
            "output": format!("out-{name}"),
            "steps": [{"op": "join", "left": "orders", "right": "customers", "type": "left"}],
            "start": "earliest",
        }))?)
    };
    let (mut f, mut j): (Vec<Drained>, Vec<Drained>) = Default::default();
    for round in 0..2 {
        f.push(drain_spec(s, filter(&format!("jf{round}"))?, opts.records)?);
        let mut d = drain_spec(s, join(&format!("jj{round}"))?, opts.records + KEYS)?;
        // Orders per second: the customers were read too, in the same time.
        d.rate *= opts.records as f64 / (opts.records + KEYS) as f64;
        j.push(d);
    }
    let best = |v: &[Drained]| v.iter().map(|r| r.rate).fold(0.0, f64::max);
    let least_cpu = |v: &[Drained]| {
        v.iter()
            .map(|r| r.pipeline.as_secs_f64() * 1e6)
            .fold(f64::INFINITY, f64::min)
    };
    let (filter, joined) = (best(&f), best(&j));
    println!(
        "stream-table join, {} orders over {KEYS} customers, best of 2: wasm filter {:.2} M rec/s; \
         left join (default joiner) {:.2} M orders/s ({:.2}x the filter); pipeline-thread CPU per \
         record: filter {:.2} us, join {:.2} us",
        opts.records,
        filter / 1e6,
        joined / 1e6,
        joined / filter,
        least_cpu(&f),
        least_cpu(&j),
    );
    Ok(())
}
