//! `weir bench transforms`: the cost per record of Kafka Connect's transformations, run as a
//! connector's records run through them (`connect::transforms::TransformChain`, the built-in
//! `connect-transforms` plugin): a chain of 3 against the same records through a chain of
//! none, in the same run, measured in alternation.
//!
//! Records are JSON objects of about 100 bytes (five fields) with an 8-byte key and one
//! header, all on one topic, in batches of `--batch`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use bytes::Bytes;

use crate::connect::transforms::{ChainConfig, ChainRecord, TransformChain};
use crate::pipeline::plugins::PluginCatalog;
use crate::record::Record;
use crate::runtime::{Limits, Runtime, RuntimeConfig};

/// Options of `weir bench transforms`.
#[derive(Debug, Clone, clap::Args)]
pub struct TransformsBenchOptions {
    /// Directory of the built-in plugins (`scripts/build-plugins` writes target/plugins).
    #[arg(long, value_name = "DIR", default_value = "target/plugins")]
    pub plugins: PathBuf,
    /// Time spent per chain, in seconds (split into rounds alternating the chains).
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
    /// Records per batch.
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
}

/// Rounds each chain runs, alternating, so load that comes and goes weighs on all alike.
const ROUNDS: usize = 9;

/// The chains measured: a name and the connector config keys.
fn chains() -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
    vec![
        ("none", vec![]),
        (
            "InsertField$Value",
            vec![
                ("transforms", "insert"),
                ("transforms.insert.type", "InsertField$Value"),
                ("transforms.insert.static.field", "source"),
                ("transforms.insert.static.value", "weir"),
            ],
        ),
        (
            "InsertField$Value, ReplaceField$Value, RegexRouter",
            vec![
                ("transforms", "insert,replace,route"),
                ("transforms.insert.type", "InsertField$Value"),
                ("transforms.insert.static.field", "source"),
                ("transforms.insert.static.value", "weir"),
                ("transforms.replace.type", "ReplaceField$Value"),
                ("transforms.replace.exclude", "secret"),
                ("transforms.replace.renames", "amount:total"),
                ("transforms.route.type", "RegexRouter"),
                ("transforms.route.regex", "(.*)-raw"),
                ("transforms.route.replacement", "$1-clean"),
            ],
        ),
    ]
}

fn records(n: usize) -> Vec<ChainRecord> {
    (0..n)
        .map(|i| ChainRecord {
            topic: "orders-raw".into(),
            partition: Some(0),
            offset: Some(i as i64),
            record: Record {
                key: Some(Bytes::from(format!("{i:08}"))),
                value: Some(Bytes::from(format!(
                    "{{\"id\":{i},\"customer\":\"c-{:06}\",\"amount\":{}.25,\"secret\":\"s3cr3t\",\"ok\":true}}",
                    i % 1000,
                    i % 500
                ))),
                headers: vec![("h".into(), Some(Bytes::from_static(b"v")))],
                timestamp: 1_700_000_000_000 + i as i64,
            },
        })
        .collect()
}

/// Runs `weir bench transforms` and prints a Markdown table.
pub fn run_transforms_bench(opts: &TransformsBenchOptions) -> anyhow::Result<()> {
    anyhow::ensure!(opts.batch > 0, "--batch must be at least 1");
    let cache = tempfile::tempdir().context("creating a cache directory")?;
    let runtime = Runtime::new(RuntimeConfig::with_cache(cache.path()))?;
    let catalog = PluginCatalog::load(&opts.plugins, &runtime);
    anyhow::ensure!(
        catalog.get("connect-transforms").is_some(),
        "no connect-transforms plugin in {}: run scripts/build-plugins first",
        opts.plugins.display()
    );
    let mut built = Vec::new();
    for (name, keys) in chains() {
        let config: BTreeMap<String, String> = keys
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let chain = ChainConfig::parse(&config, &catalog)?;
        built.push((
            name,
            TransformChain::build(&chain, &catalog, Limits::default())?,
        ));
    }
    let input = records(opts.batch);
    // Each chain keeps every record; check it once, and that the 3-chain routed them.
    for (name, chain) in &mut built {
        let out = chain.apply(input.clone())?;
        anyhow::ensure!(
            out.records.len() == input.len() && out.failures.is_empty(),
            "chain {name} dropped or failed records: {:?}",
            out.failures.first()
        );
    }
    let round = opts.seconds / ROUNDS as f64;
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); built.len()];
    for _ in 0..ROUNDS {
        for (i, (_, chain)) in built.iter_mut().enumerate() {
            let start = Instant::now();
            let mut done = 0usize;
            while start.elapsed().as_secs_f64() < round {
                // The copy is the caller's (a connector hands its batch over); every chain,
                // "none" included, pays it alike.
                let out = chain.apply(input.clone())?;
                done += std::hint::black_box(out.records.len());
            }
            rates[i].push(done as f64 / start.elapsed().as_secs_f64());
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let rates: Vec<f64> = rates.into_iter().map(median).collect();
    let base = rates[0];
    println!(
        "Connect transformation chains over batches of {} JSON records (~100-byte values), median of {ROUNDS} alternating rounds:",
        opts.batch
    );
    println!();
    println!("| chain | records/s | µs per record | added per record vs none |");
    println!("|---|---|---|---|");
    for ((name, _), rate) in built.iter().zip(&rates) {
        println!(
            "| {name} | {:.3} M | {:.3} | {:.3} µs |",
            rate / 1e6,
            1e6 / rate,
            1e6 / rate - 1e6 / base
        );
    }
    Ok(())
}
