//! `weir bench postgres`: PostgresSink's rows/s against the same rows sent as batched upserts
//! by PostgreSQL's own client (`psql`, libpq) in the same run, into a PostgreSQL the bench
//! starts itself (initdb in a temp dir, 127.0.0.1, a free port; as the `postgres` user when
//! run as root, which PostgreSQL refuses).
//!
//! The sink runs as a connector task does: the built-in plugin in its sandbox, granted the
//! server's address by `weir.allow.tcp`, handed batches of converted records (`put`), one
//! transaction per batch. The native side pipes the same batches to one `psql` as multi-row
//! `INSERT … ON CONFLICT DO UPDATE` statements, one transaction each. Rounds alternate; each
//! upserts every key once more (the first inserts, the rest update).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, ensure};

use super::postgres_server::{Auth, LocalPostgres, Tuning};
use crate::pipeline::plugins::PluginCatalog;
use crate::runtime::connector::{SinkRecord, Value};
use crate::runtime::guest_output::TracingSink;
use crate::runtime::net::{DEFAULT_MAX_SOCKETS, NetState, TcpEntry, TcpGrant};
use crate::runtime::{ConnectorInstance, Limits, Runtime, RuntimeConfig};

/// Options of `weir bench postgres`.
#[derive(Debug, Clone, clap::Args)]
pub struct PostgresBenchOptions {
    /// Directory of the built-in plugins (`scripts/build-plugins` writes target/plugins).
    #[arg(long, value_name = "DIR", default_value = "target/plugins")]
    pub plugins: PathBuf,
    /// Distinct keys (rows) upserted per round.
    #[arg(long, default_value_t = 20_000)]
    pub rows: usize,
    /// Rows per batch (one transaction each), on both sides.
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
    /// Rounds per side, alternating.
    #[arg(long, default_value_t = 5)]
    pub rounds: usize,
}

/// Round `round`'s value of key `i`: about 100 bytes of JSON.
fn value(i: usize, round: usize) -> (i64, String) {
    (
        (i * 31 + round) as i64,
        format!("customer-{:06}-round-{round}-{}", i % 1000, "x".repeat(48)),
    )
}

fn sink_batch(start: usize, end: usize, round: usize) -> Vec<SinkRecord> {
    (start..end)
        .map(|i| {
            let (n, s) = value(i, round);
            SinkRecord {
                topic: "bench".into(),
                partition: 0,
                offset: i as i64,
                key: Value::Text(format!("k{i:08}")),
                value: Value::Json(format!("{{\"n\":{n},\"s\":\"{s}\"}}")),
                headers: Vec::new(),
                timestamp: 1_700_000_000_000,
            }
        })
        .collect()
}

fn native_script(rows: usize, batch: usize, round: usize) -> String {
    let mut out = String::with_capacity(rows * 120);
    for start in (0..rows).step_by(batch) {
        out.push_str("BEGIN;\nINSERT INTO native (id, n, s) VALUES ");
        for i in start..(start + batch).min(rows) {
            let (n, s) = value(i, round);
            if i > start {
                out.push(',');
            }
            out.push_str(&format!("('k{i:08}',{n},'{s}')"));
        }
        out.push_str(" ON CONFLICT (id) DO UPDATE SET n = EXCLUDED.n, s = EXCLUDED.s;\nCOMMIT;\n");
    }
    out
}

/// Runs `weir bench postgres` and prints a Markdown table.
pub fn run_postgres_bench(opts: &PostgresBenchOptions) -> anyhow::Result<()> {
    ensure!(
        opts.batch > 0 && opts.rows > 0 && opts.rounds > 0,
        "--rows, --batch and --rounds must be at least 1"
    );
    let dir = tempfile::tempdir().context("creating the server's directory")?;
    let pg = LocalPostgres::start(dir.path(), Auth::Trust, Tuning::Default)?;
    let sql = |q: &str| {
        pg.try_sql(q)
            .map(|o| o.trim().to_string())
            .map_err(|e| anyhow::anyhow!("psql {q:?}: {e}"))
    };
    for t in ["sink", "native"] {
        sql(&format!(
            "CREATE TABLE {t} (id TEXT PRIMARY KEY, n BIGINT, s TEXT)"
        ))?;
    }
    let cache = tempfile::tempdir().context("creating a cache directory")?;
    let runtime = Runtime::new(RuntimeConfig::with_cache(cache.path()))?;
    let catalog = PluginCatalog::load(&opts.plugins, &runtime);
    let builtin = catalog.get("PostgresSink").with_context(|| {
        format!(
            "no PostgresSink plugin in {}: run scripts/build-plugins first",
            opts.plugins.display()
        )
    })?;
    let plugin = runtime.load_file(&builtin.path)?;
    let config: BTreeMap<String, String> = [
        (
            "connection.url",
            format!("jdbc:postgresql://127.0.0.1:{}/postgres", pg.port),
        ),
        ("table.name.format", "sink".into()),
        ("insert.mode", "upsert".into()),
        ("pk.mode", "record_key".into()),
        ("pk.fields", "id".into()),
        ("batch.size", opts.batch.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let grant = TcpGrant {
        entries: vec![TcpEntry {
            host: "127.0.0.1".into(),
            port: pg.port,
            addrs: vec![std::net::Ipv4Addr::LOCALHOST.into()],
        }],
        max_sockets: DEFAULT_MAX_SOCKETS,
    };
    let net = NetState::new(
        Arc::new(grant),
        Arc::new(|m: &str| tracing::warn!("bench sink denied: {m}")),
    );
    let mut sink = ConnectorInstance::new(
        plugin,
        config.clone(),
        &[],
        &Default::default(),
        net,
        Limits::default(),
        Arc::new(TracingSink),
    )?;
    let list: Vec<(String, String)> = config.into_iter().collect();
    sink.sink_start(&list, None)?
        .map_err(|e| anyhow::anyhow!("PostgresSink start: {e:?}"))?;
    let (mut sink_rates, mut native_rates) = (Vec::new(), Vec::new());
    for round in 0..opts.rounds {
        // The sink: batches built before the clock starts, as a task has them from the log.
        let batches: Vec<Vec<SinkRecord>> = (0..opts.rows)
            .step_by(opts.batch)
            .map(|s| sink_batch(s, (s + opts.batch).min(opts.rows), round))
            .collect();
        let start = Instant::now();
        for b in &batches {
            sink.put(b)?
                .map_err(|e| anyhow::anyhow!("PostgresSink put: {e:?}"))?;
        }
        sink_rates.push(opts.rows as f64 / start.elapsed().as_secs_f64());

        let script = native_script(opts.rows, opts.batch, round);
        let start = Instant::now();
        let mut child = pg
            .psql()
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()?;
        child
            .stdin
            .take()
            .context("psql stdin")?
            .write_all(script.as_bytes())?;
        let status = child.wait()?;
        ensure!(status.success(), "psql failed");
        native_rates.push(opts.rows as f64 / start.elapsed().as_secs_f64());
    }
    let _ = sink.stop();
    for t in ["sink", "native"] {
        let n: usize = sql(&format!("SELECT count(*) FROM {t}"))?.parse()?;
        ensure!(n == opts.rows, "table {t} has {n} rows, not {}", opts.rows);
    }
    let same =
        sql("SELECT count(*) FROM sink s JOIN native n USING (id) WHERE s.n = n.n AND s.s = n.s")?;
    ensure!(
        same == opts.rows.to_string(),
        "the two tables differ ({same} rows equal)"
    );
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (s, n) = (median(sink_rates), median(native_rates));
    println!(
        "PostgresSink vs psql batched upserts: {} keys per round, batches of {}, median of {} alternating rounds:",
        opts.rows, opts.batch, opts.rounds
    );
    println!();
    println!("| writer | rows/s | vs native |");
    println!("|---|---|---|");
    println!(
        "| psql, multi-row INSERT … ON CONFLICT per batch | {:.0} | 1.00× |",
        n
    );
    println!(
        "| PostgresSink (Wasm, weir.allow.tcp) | {:.0} | {:.2}× |",
        s,
        s / n
    );
    Ok(())
}
