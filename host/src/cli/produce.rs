//! `weir produce`: one record per input line, sent in batches (like `kcat -P`).

use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal as _, Read};
use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use indicatif::{ProgressBar, ProgressStyle};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use super::client::Client;
use super::parse_key_value;

/// Most records sent in one request.
const BATCH_RECORDS: usize = 1000;
/// Most bytes of keys and values (as base64, the larger encoding) sent in one request; keeps a
/// request well under common body limits.
const BATCH_BYTES: usize = 1 << 20;
/// How long the first line of a batch may wait for more lines to join it, so that lines typed
/// at a terminal or trickling in (`tail -f app.log | weir produce logs`) go out promptly.
const LINGER: Duration = Duration::from_millis(100);

/// Where lines come from: stdin or `--file`, read on a thread of its own.
type Input = BufReader<Box<dyn Read + Send>>;

/// Arguments of `weir produce`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    echo hello | weir produce greetings\n  \
    weir produce orders --file orders.txt -K : -H source=import")]
pub struct ProduceArgs {
    /// Topic to produce to.
    topic: String,
    /// Key for every record (by default records have no key).
    #[arg(short, long, conflicts_with = "key_delimiter")]
    key: Option<String>,
    /// Split each line into key and value at the first DELIM (like `kcat -K`); lines without
    /// DELIM get no key.
    #[arg(short = 'K', long, value_name = "DELIM")]
    key_delimiter: Option<char>,
    /// Header for every record, e.g. `-H source=import`; repeat for more.
    #[arg(short = 'H', long = "header", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    headers: Vec<(String, String)>,
    /// Partition for every record (by default the server picks one, by key hash for keyed records).
    #[arg(short, long)]
    partition: Option<u32>,
    /// Read lines from FILE instead of stdin; shows progress when stderr is a terminal.
    #[arg(short, long, value_name = "FILE")]
    file: Option<PathBuf>,
}

/// One input line, split into key and value; the trailing newline is gone.
struct Line {
    key: Option<Vec<u8>>,
    value: Vec<u8>,
}

#[derive(Serialize)]
struct ProduceRequest<'a> {
    records: Vec<RecordOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encoding: Option<&'static str>,
}

#[derive(Serialize)]
struct RecordOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// `[key, value]` pairs: a key given twice (`-H a=1 -H a=2`) is sent twice.
    headers: Option<&'a [(String, String)]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    partition: Option<u32>,
}

#[derive(Deserialize)]
struct ProduceResponse {
    /// One per stored record; the CLI only counts them.
    offsets: Vec<IgnoredAny>,
}

/// Collects lines and sends them as batches.
struct Batcher<'a> {
    client: &'a Client,
    topic: &'a str,
    key: Option<&'a str>,
    partition: Option<u32>,
    /// Headers as given, in order, for batches sent as text.
    headers: Vec<(String, String)>,
    /// Headers with base64 values, for batches sent with `"encoding":"base64"`.
    headers_base64: Vec<(String, String)>,
    lines: Vec<Line>,
    bytes: usize,
    produced: u64,
}

/// Runs `weir produce`.
pub fn run(client: &Client, args: ProduceArgs) -> anyhow::Result<()> {
    let (input, progress) = open_input(args.file.as_ref())?;
    let headers = args.headers;
    let mut batcher = Batcher {
        client,
        topic: &args.topic,
        key: args.key.as_deref(),
        partition: args.partition,
        headers_base64: headers
            .iter()
            .map(|(k, v)| (k.clone(), BASE64.encode(v)))
            .collect(),
        headers,
        lines: Vec::new(),
        bytes: 0,
        produced: 0,
    };
    let result = produce_lines(input, args.key_delimiter, &mut batcher);
    if let Some(progress) = progress {
        progress.finish_and_clear();
    }
    let produced = batcher.produced;
    match result {
        Ok(()) => {
            eprintln!("produced {produced} records to {}", args.topic);
            Ok(())
        }
        Err(err) => {
            if produced > 0 {
                eprintln!(
                    "produced {produced} records to {} before the error",
                    args.topic
                );
            }
            Err(err)
        }
    }
}

/// Opens `--file` (with a progress bar when stderr is a terminal) or stdin.
fn open_input(file: Option<&PathBuf>) -> anyhow::Result<(Input, Option<ProgressBar>)> {
    let Some(path) = file else {
        return Ok((BufReader::new(Box::new(io::stdin())), None));
    };
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    if !io::stderr().is_terminal() {
        return Ok((BufReader::new(Box::new(file)), None));
    }
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let style = ProgressStyle::with_template(
        "{bar:40.cyan/blue} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
    )?;
    let progress = ProgressBar::new(len).with_style(style);
    let input = BufReader::new(Box::new(progress.wrap_read(file)) as Box<dyn Read + Send>);
    Ok((input, Some(progress)))
}

/// Sends the input's lines in batches: a batch goes out when full or [`LINGER`] after its
/// first line, whichever comes first.
fn produce_lines(
    input: Input,
    key_delimiter: Option<char>,
    batcher: &mut Batcher<'_>,
) -> anyhow::Result<()> {
    let (lines, received) = mpsc::sync_channel(BATCH_RECORDS);
    // Detached rather than scoped: after a failed request it may still be blocked reading
    // stdin, and must not keep the process from exiting with the error.
    thread::spawn(move || read_lines(input, key_delimiter, &lines));
    let mut deadline: Option<Instant> = None;
    loop {
        let next = match deadline {
            None => received.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(at) => received.recv_timeout(at.saturating_duration_since(Instant::now())),
        };
        match next {
            Ok(Ok(line)) => batcher.push(line)?,
            Ok(Err(err)) => return Err(anyhow::Error::new(err).context("cannot read input")),
            Err(RecvTimeoutError::Timeout) => batcher.flush()?,
            Err(RecvTimeoutError::Disconnected) => return batcher.flush(),
        }
        deadline = match deadline {
            _ if batcher.lines.is_empty() => None,
            Some(at) => Some(at),
            None => Some(Instant::now() + LINGER),
        };
    }
}

/// Reads lines until the input ends, fails, or nobody listens any more.
fn read_lines(mut input: Input, key_delimiter: Option<char>, lines: &SyncSender<io::Result<Line>>) {
    let mut delimiter = [0; 4];
    let delimiter = key_delimiter.map(|c| &*c.encode_utf8(&mut delimiter));
    loop {
        let mut buf = Vec::new();
        let line = match input.read_until(b'\n', &mut buf) {
            Ok(0) => return,
            Ok(_) => {
                let mut line = buf.as_slice();
                if let Some(rest) = line.strip_suffix(b"\n") {
                    line = rest.strip_suffix(b"\r").unwrap_or(rest);
                }
                Ok(split_key(line, delimiter.map(str::as_bytes)))
            }
            Err(err) => Err(err),
        };
        let failed = line.is_err();
        if lines.send(line).is_err() || failed {
            return;
        }
    }
}

/// Splits a line at the first `delimiter` into key and value; without one the line is the value.
fn split_key(line: &[u8], delimiter: Option<&[u8]>) -> Line {
    let at = delimiter.and_then(|d| Some((line.windows(d.len()).position(|w| w == d)?, d.len())));
    match at {
        Some((at, len)) => Line {
            key: Some(line[..at].to_vec()),
            value: line[at + len..].to_vec(),
        },
        None => Line {
            key: None,
            value: line.to_vec(),
        },
    }
}

impl Batcher<'_> {
    fn push(&mut self, line: Line) -> anyhow::Result<()> {
        let key_len = line
            .key
            .as_ref()
            .map_or(self.key.map_or(0, str::len), Vec::len);
        // Base64 size, the larger of the two encodings, plus room for the JSON around it.
        self.bytes += (key_len.div_ceil(3) + line.value.len().div_ceil(3)) * 4 + 64;
        self.lines.push(line);
        if self.lines.len() >= BATCH_RECORDS || self.bytes >= BATCH_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    /// Sends the collected lines as one request: as text if every key and value is UTF-8, else
    /// all base64 with `"encoding":"base64"`.
    fn flush(&mut self) -> anyhow::Result<()> {
        if self.lines.is_empty() {
            return Ok(());
        }
        let is_utf8 = |bytes: &[u8]| std::str::from_utf8(bytes).is_ok();
        let text = self
            .lines
            .iter()
            .all(|l| is_utf8(&l.value) && l.key.as_deref().is_none_or(is_utf8));
        let encode = |bytes: &[u8]| {
            if text {
                String::from_utf8_lossy(bytes).into_owned()
            } else {
                BASE64.encode(bytes)
            }
        };
        let headers = if text {
            &self.headers
        } else {
            &self.headers_base64
        };
        let records = self
            .lines
            .iter()
            .map(|line| RecordOut {
                key: match &line.key {
                    Some(key) => Some(encode(key)),
                    None => self.key.map(|key| encode(key.as_bytes())),
                },
                value: encode(&line.value),
                headers: (!headers.is_empty()).then_some(headers.as_slice()),
                partition: self.partition,
            })
            .collect();
        let request = ProduceRequest {
            records,
            encoding: (!text).then_some("base64"),
        };
        let response: ProduceResponse = self
            .client
            .post(&["v1", "topics", self.topic, "records"], &request)?;
        self.produced += response.offsets.len() as u64;
        self.lines.clear();
        self.bytes = 0;
        Ok(())
    }
}
