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
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};

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

/// A PostgreSQL server of the bench's own, stopped on drop.
struct Server {
    child: Child,
    port: u16,
    bin: PathBuf,
    _dir: tempfile::TempDir,
}

fn bin_dir() -> anyhow::Result<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .context("/usr/lib/postgresql: run scripts/setup (it installs postgresql)")?
        .filter_map(|e| {
            let e = e.ok()?;
            let v = e.file_name().to_str()?.parse().ok()?;
            Some((v, e.path().join("bin")))
        })
        .filter(|(_, b)| b.join("postgres").exists())
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, b)| b)
        .context("no PostgreSQL under /usr/lib/postgresql: run scripts/setup")
}

fn as_server_user(bin: &Path, program: &str) -> Command {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--clear-groups",
            "--",
        ])
        .arg(bin.join(program));
        c
    } else {
        Command::new(bin.join(program))
    }
}

impl Server {
    fn start() -> anyhow::Result<Server> {
        let bin = bin_dir()?;
        let dir = tempfile::tempdir()?;
        let data = dir.path().join("data");
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777))?;
        }
        let out = as_server_user(&bin, "initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "-E", "UTF8", "--no-sync", "--auth=trust"])
            .output()
            .context("running initdb")?;
        ensure!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
            let mut child = as_server_user(&bin, "postgres")
                .arg("-D")
                .arg(&data)
                .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-k"])
                .arg(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("running postgres")?;
            let deadline = Instant::now() + Duration::from_secs(60);
            while Instant::now() < deadline {
                if child.try_wait()?.is_some() {
                    break; // the port was taken meanwhile: another one
                }
                let ready = Command::new(bin.join("pg_isready"))
                    .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q"])
                    .status()?;
                if ready.success() {
                    return Ok(Server {
                        child,
                        port,
                        bin,
                        _dir: dir,
                    });
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        bail!("postgres did not start")
    }

    fn psql(&self) -> Command {
        let mut c = Command::new(self.bin.join("psql"));
        c.args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args([
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
            ]);
        c
    }

    fn sql(&self, sql: &str) -> anyhow::Result<String> {
        let out = self.psql().args(["-A", "-t", "-c", sql]).output()?;
        ensure!(
            out.status.success(),
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SAFETY: kill has no memory preconditions; the pid is our child's.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGINT);
        }
        let _ = self.child.wait();
    }
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
    let pg = Server::start()?;
    for t in ["sink", "native"] {
        pg.sql(&format!(
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
        let n: usize = pg.sql(&format!("SELECT count(*) FROM {t}"))?.parse()?;
        ensure!(n == opts.rows, "table {t} has {n} rows, not {}", opts.rows);
    }
    let same = pg.sql(
        "SELECT count(*) FROM sink s JOIN native n USING (id) WHERE s.n = n.n AND s.s = n.s",
    )?;
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
