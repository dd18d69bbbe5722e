//! `weir bench connect`: a file into a topic through the built-in FileStreamSource connector
//! against `weir produce --file` of the same file, and the same connector with a chain of 3
//! Connect transformations, in the same run, on one server (a child `weir serve` of this
//! binary, in a temp dir, on loopback), rounds rotating which goes first. Each measures from
//! the request (the connector's creation, the CLI's start) until the topic holds every line.
//! A fourth path measures the way back: the built-in FileStreamSink reading a topic of the
//! same lines into a file, until the file holds every byte (a sink task's read, convert and
//! put loop).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::served::Served;

use anyhow::{Context, bail};
use serde_json::json;

/// Options of `weir bench connect`.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectBenchOptions {
    /// Directory of the built-in plugins (`scripts/build-plugins` writes target/plugins).
    #[arg(long, value_name = "DIR", default_value = "target/plugins")]
    pub plugins: PathBuf,
    /// Lines in the file (about 60 bytes each).
    #[arg(long, default_value_t = 1_000_000)]
    pub lines: usize,
    /// Rounds; each moves the file once both ways.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
}

/// `weir produce TOPIC --file FILE` against the server: seconds until every line is in.
fn by_cli(s: &Served, topic: &str, file: &Path, lines: usize) -> anyhow::Result<Duration> {
    s.create_topic(topic)?;
    let start = Instant::now();
    let status = Command::new(std::env::current_exe()?)
        .args(["produce", topic, "--url", &s.http, "--file"])
        .arg(file)
        .stdout(Stdio::null())
        .status()
        .context("running weir produce")?;
    anyhow::ensure!(status.success(), "weir produce failed: {status}");
    s.wait_for(topic, lines)?;
    Ok(start.elapsed())
}

/// A FileStreamSource connector reading FILE into the topic (with a chain of 3
/// transformations: each line hoisted into `{"line": …}`, a static field inserted, the field
/// renamed): seconds until every line is in.
fn by_connector(
    s: &Served,
    topic: &str,
    file: &Path,
    lines: usize,
    chain: bool,
) -> anyhow::Result<Duration> {
    s.create_topic(topic)?;
    let dir = file.parent().context("the file's directory")?;
    let mut config = json!({
        "connector.class": "FileStreamSource",
        "file": file,
        "topic": topic,
        "value.converter": "org.apache.kafka.connect.storage.StringConverter",
        "weir.allow.dirs": format!("{}:ro", dir.display()),
    });
    if chain {
        for (k, v) in [
            ("transforms", "hoist,insert,rename"),
            ("transforms.hoist.type", "HoistField$Value"),
            ("transforms.hoist.field", "line"),
            ("transforms.insert.type", "InsertField$Value"),
            ("transforms.insert.static.field", "source"),
            ("transforms.insert.static.value", "bench"),
            ("transforms.rename.type", "ReplaceField$Value"),
            ("transforms.rename.renames", "line:text"),
            (
                "value.converter",
                "org.apache.kafka.connect.json.JsonConverter",
            ),
            ("value.converter.schemas.enable", "false"),
        ] {
            config[k] = json!(v);
        }
    }
    let start = Instant::now();
    s.send(
        reqwest::Method::POST,
        format!("{}/connectors", s.connect),
        json!({"name": topic, "config": config}),
    )?;
    s.wait_for(topic, lines)?;
    Ok(start.elapsed())
}

/// A FileStreamSink connector reading `topic` (which holds the lines of a file of `bytes`
/// bytes) into a new file in `out`: seconds until that file holds every byte. The connector is
/// deleted afterwards, so that it does not poll beside the next paths.
fn by_sink(
    s: &Served,
    name: &str,
    topic: &str,
    out: &Path,
    bytes: u64,
) -> anyhow::Result<Duration> {
    let file = out.join(format!("{name}.txt"));
    let config = json!({
        "connector.class": "FileStreamSink",
        "file": file,
        "topics": topic,
        "value.converter": "org.apache.kafka.connect.storage.StringConverter",
        "weir.allow.dirs": out.display().to_string(),
    });
    let start = Instant::now();
    s.send(
        reqwest::Method::POST,
        format!("{}/connectors", s.connect),
        json!({"name": name, "config": config}),
    )?;
    let deadline = start + Duration::from_secs(600);
    while std::fs::metadata(&file).map_or(0, |m| m.len()) < bytes {
        if Instant::now() > deadline {
            bail!("{} never got its {bytes} bytes", file.display());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let took = start.elapsed();
    s.delete_connector(name)?;
    Ok(took)
}

/// Runs `weir bench connect` and prints a Markdown table.
pub fn run_connect_bench(opts: &ConnectBenchOptions) -> anyhow::Result<()> {
    anyhow::ensure!(
        opts.lines > 0 && opts.rounds > 0,
        "--lines and --rounds must be at least 1"
    );
    anyhow::ensure!(
        opts.plugins.join("FileStreamSource.wasm").exists(),
        "no FileStreamSource plugin in {}: run scripts/build-plugins first",
        opts.plugins.display()
    );
    let dir = tempfile::tempdir().context("creating a temp directory")?;
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input)?;
    let file = input.join("lines.txt");
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&file)?);
        for i in 0..opts.lines {
            writeln!(
                w,
                "line {i:09} of the connect benchmark, padded to sixty bytes"
            )?;
        }
        w.flush()?;
    }
    let plugins = std::fs::canonicalize(&opts.plugins)?;
    let s = Served::start(&dir.path().join("data"), Some(&plugins))?;
    // The sink path's input: the file's lines in a topic, once, before any round.
    by_cli(&s, "sink-input", &file, opts.lines)?;
    let bytes = std::fs::metadata(&file)?.len();
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out)?;
    // Per path: the CLI, the connector, the connector with 3 transformations, the sink.
    let mut times: [Vec<Duration>; 4] = Default::default();
    for round in 0..opts.rounds {
        for k in 0..4 {
            let path = (round + k) % 4;
            let topic = format!("{}-{round}", ["produce", "source", "chain", "sink"][path]);
            times[path].push(match path {
                0 => by_cli(&s, &topic, &file, opts.lines)?,
                1 => by_connector(&s, &topic, &file, opts.lines, false)?,
                2 => by_connector(&s, &topic, &file, opts.lines, true)?,
                _ => by_sink(&s, &topic, "sink-input", &out, bytes)?,
            });
        }
    }
    let median = |v: &[Duration]| {
        let mut v = v.to_vec();
        v.sort();
        v[v.len() / 2]
    };
    let [cli, conn, chain, sink] = [
        median(&times[0]),
        median(&times[1]),
        median(&times[2]),
        median(&times[3]),
    ];
    let rate = |d: Duration| opts.lines as f64 / d.as_secs_f64();
    println!("| path | lines | median s | lines/s |\n|---|---|---|---|");
    for (name, d) in [
        ("`weir produce --file`", cli),
        ("FileStreamSource connector", conn),
        ("FileStreamSource + 3 transformations", chain),
        ("FileStreamSink connector (topic to file)", sink),
    ] {
        println!(
            "| {name} | {} | {:.2} | {:.0} |",
            opts.lines,
            d.as_secs_f64(),
            rate(d)
        );
    }
    println!(
        "\nFileStreamSource / produce --file: {:.2}x; the chain of 3 costs {:.2} us per record \
         (median of {} rounds, same server)",
        rate(conn) / rate(cli),
        (chain.as_secs_f64() - conn.as_secs_f64()) * 1e6 / opts.lines as f64,
        opts.rounds
    );
    Ok(())
}
