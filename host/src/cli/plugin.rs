//! `weir plugin test|new`: run a plugin locally over JSON lines, scaffold a plugin project.
//! Both work without a server: they use the runtime in-process, like `weir bench`.

use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::log::batch::Record;
use crate::runtime::guest_output::TracingSink;
use crate::runtime::{
    CapturedLog, Limits, Runtime, RuntimeConfig, Trial, TrialBounds, TrialFailure,
};

/// `weir plugin ...`.
#[derive(Debug, clap::Subcommand)]
pub enum PluginCommand {
    /// Run a plugin over records from a JSON-lines file and print what it emits (no server).
    Test(TestArgs),
    /// Write a new plugin project that builds with one command.
    New(NewArgs),
}

/// How record bytes are written in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Encoding {
    /// UTF-8 text.
    Utf8,
    /// Standard base64.
    Base64,
}

/// Options of `weir plugin test`.
#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// The plugin component (.wasm).
    file: PathBuf,
    /// Records, one JSON object per line: {"key"?, "value", "headers"?: {"k": "v"}, "timestamp"?}
    /// (`-` reads standard input).
    #[arg(long, value_name = "FILE")]
    input: PathBuf,
    /// A configuration entry for the plugin (repeatable).
    #[arg(long = "config", value_name = "KEY=VALUE", value_parser = super::parse_key_value)]
    config: Vec<(String, String)>,
    /// Records per call into the plugin.
    #[arg(long, default_value_t = 100)]
    batch_size: usize,
    /// How keys and values are written, in the input and the output.
    #[arg(long, value_enum, default_value = "utf8")]
    encoding: Encoding,
    /// Linear-memory cap in MiB.
    #[arg(long, default_value_t = crate::runtime::limits::DEFAULT_MEMORY_BYTES >> 20)]
    memory_mb: usize,
    /// Per-call deadline in milliseconds.
    #[arg(long, default_value_t = crate::runtime::limits::DEFAULT_DEADLINE.as_millis() as u64)]
    deadline_ms: u64,
    /// Keep precompiled components here, so the next run does not compile again
    /// (Python and JS plugins take seconds to compile).
    #[arg(long, value_name = "DIR", env = "WEIR_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
}

/// One input line, in the shape the HTTP produce API takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    value: Option<String>,
    /// An object or `[key, value]` pairs, as the HTTP API takes them: a key may repeat.
    #[serde(default, deserialize_with = "crate::api::bounded::headers")]
    headers: Vec<(String, Option<String>)>,
    #[serde(default)]
    timestamp: Option<i64>,
}

fn decode(enc: Encoding, what: &str, s: String) -> anyhow::Result<Bytes> {
    match enc {
        Encoding::Utf8 => Ok(Bytes::from(s.into_bytes())),
        Encoding::Base64 => B64
            .decode(s.as_bytes())
            .map(Bytes::from)
            .with_context(|| format!("{what} is not valid base64")),
    }
}

fn encode(enc: Encoding, what: &str, b: &[u8]) -> anyhow::Result<Value> {
    match enc {
        Encoding::Base64 => Ok(json!(B64.encode(b))),
        Encoding::Utf8 => match std::str::from_utf8(b) {
            Ok(s) => Ok(json!(s)),
            Err(_) => bail!("the {what} is not valid UTF-8; use --encoding base64"),
        },
    }
}

fn parse_line(enc: Encoding, n: usize, text: &str) -> anyhow::Result<Record> {
    let line: Line =
        serde_json::from_str(text).with_context(|| format!("input line {n} is not a record"))?;
    let bytes = |what: &str, s: Option<String>| {
        s.map(|s| decode(enc, &format!("line {n}: {what}"), s))
            .transpose()
    };
    let mut headers = Vec::with_capacity(line.headers.len());
    for (k, v) in line.headers {
        let v = bytes(&format!("header {k}"), v)?;
        headers.push((k, v));
    }
    Ok(Record {
        key: bytes("key", line.key)?,
        value: bytes("value", line.value)?,
        headers,
        timestamp: line.timestamp.unwrap_or(0),
    })
}

fn to_json(enc: Encoding, topic: Option<&str>, r: &Record) -> anyhow::Result<Value> {
    let opt = |what: &str, b: &Option<Bytes>| -> anyhow::Result<Value> {
        b.as_deref()
            .map_or(Ok(Value::Null), |b| encode(enc, what, b))
    };
    // As the HTTP API shows headers: a repeated key's last value in the object, and
    // then every header in order in `headers_list`.
    let repeats = crate::api::headers::repeats_a_key(&r.headers);
    let (mut headers, mut list) = (serde_json::Map::new(), Vec::new());
    for (k, v) in &r.headers {
        let v = opt("header value", v)?;
        if repeats {
            list.push(json!([k, v]));
        }
        headers.insert(k.clone(), v);
    }
    let mut obj = json!({
        "key": opt("key", &r.key)?,
        "value": opt("value", &r.value)?,
        "headers": headers,
        "timestamp": r.timestamp,
    });
    if repeats {
        obj["headers_list"] = Value::Array(list);
    }
    if let (Some(topic), Some(map)) = (topic, obj.as_object_mut()) {
        map.insert("topic".into(), json!(topic));
    }
    Ok(obj)
}

/// Runs `weir plugin test`: prints each output record as a JSON line on stdout, each error on
/// stderr; fails at the end if any record or batch failed. The run itself is the runtime's
/// [`Trial`], the same the HTTP playground uses.
pub fn run_test(args: TestArgs) -> anyhow::Result<()> {
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: args.cache_dir.clone(),
        ..RuntimeConfig::default()
    })?;
    let plugin = runtime.load_file(&args.file)?;
    let input: Box<dyn BufRead> = if args.input == Path::new("-") {
        Box::new(io::stdin().lock())
    } else {
        let file = std::fs::File::open(&args.input)
            .with_context(|| format!("opening {}", args.input.display()))?;
        Box::new(io::BufReader::new(file))
    };
    let mut records = Vec::new();
    let mut lines = Vec::new();
    for (i, line) in input.lines().enumerate() {
        let line = line.context("reading the input")?;
        if line.trim().is_empty() {
            continue;
        }
        records.push(parse_line(args.encoding, i + 1, &line)?);
        lines.push(i as i64 + 1);
    }
    let trial = Trial {
        limits: Limits {
            memory_bytes: args.memory_mb << 20,
            deadline: std::time::Duration::from_millis(args.deadline_ms),
        },
        config: args.config.into_iter().collect(),
        batch_size: args.batch_size,
        topic: "input".into(),
        partition: 0,
        bounds: TrialBounds::NONE,
    };
    // Plugin lines go to the host log as they come, as a pipeline's would; none are kept.
    let log = Arc::new(CapturedLog::new(0, Some(Arc::new(TracingSink))));
    let outcome = trial.run(plugin, &records, &lines, log)?;
    let mut out = io::stdout().lock();
    let mut errors = 0usize;
    for o in &outcome.outputs {
        match to_json(args.encoding, o.topic.as_deref(), &o.record) {
            Ok(v) => writeln!(out, "{v}")?,
            Err(e) => {
                errors += 1;
                eprintln!("error: output record: {e:#}");
            }
        }
    }
    for f in &outcome.failures {
        match f {
            TrialFailure::Record { offset, message } => {
                errors += 1;
                eprintln!("error: record on line {offset} failed: {message}");
            }
            TrialFailure::Batch {
                first,
                last,
                count,
                error,
            } => {
                errors += count;
                eprintln!("error: lines {first}-{last}: {error}");
            }
            TrialFailure::UnknownSource { .. } => {
                errors += 1;
                eprintln!("error: {f}");
            }
        }
    }
    out.flush()?;
    if errors > 0 {
        bail!("{errors} record(s) failed");
    }
    Ok(())
}

/// Options of `weir plugin new`.
#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// Name of the plugin (and of the directory created).
    name: String,
    /// Language of the project.
    #[arg(long, value_enum)]
    lang: Lang,
    /// Directory to create the project in (default: the current directory).
    #[arg(long, value_name = "DIR", default_value = ".")]
    dir: PathBuf,
}

/// Languages `weir plugin new` can scaffold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// Rust with weir-guest.
    Rust,
    /// Python with componentize-py.
    Python,
    /// JavaScript with componentize-qjs.
    Js,
}

/// Runs `weir plugin new`.
pub fn run_new(args: NewArgs) -> anyhow::Result<()> {
    super::scaffold::write(&args.name, args.lang, &args.dir)
}
