//! `weir consume`: prints a topic's records, following it like `kafka-console-consumer`, and
//! optionally commits a consumer group's offsets as it goes.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, BufWriter, Write};

use anyhow::{Context as _, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use clap::ValueEnum;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::client::{ApiError, Client};
use super::{group, topic};

/// Most records asked for in one fetch.
const FETCH_RECORDS: u64 = 1000;
/// How long an idle round over all partitions may wait for new records, in milliseconds; each
/// partition's long-poll gets its share so one quiet partition does not hold up the others.
const IDLE_ROUND_MS: u64 = 1000;
/// Shortest long-poll, in milliseconds, however many partitions there are.
const MIN_POLL_MS: u64 = 100;

/// How records are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Each value on a line of its own, as raw bytes.
    Value,
    /// One JSON object per line: topic, partition, offset, timestamp, key, value, headers.
    Json,
}

/// Arguments of `weir consume`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Without --offset or --from-beginning, reading starts at the group's \
    committed offsets (with --group) or else at the end, printing only new records.\n\n\
    Examples:\n  \
    weir consume orders --from-beginning --exit\n  \
    weir consume orders --group billing --format json"
)]
pub struct ConsumeArgs {
    /// Topic to read.
    topic: String,
    /// Read only this partition (by default all of them, in turn).
    #[arg(short, long)]
    partition: Option<u32>,
    /// Start at this offset (in every partition read).
    #[arg(short, long, conflicts_with = "from_beginning")]
    offset: Option<u64>,
    /// Start at the oldest record still stored.
    #[arg(long)]
    from_beginning: bool,
    /// Consumer group: start at its committed offsets and commit each printed chunk.
    #[arg(short, long)]
    group: Option<String>,
    /// Exit after printing N records.
    #[arg(short = 'n', long = "max-records", value_name = "N")]
    max_records: Option<u64>,
    /// Exit once every partition read is caught up to its high watermark (like `kcat -e`).
    #[arg(short, long)]
    exit: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Value)]
    format: Format,
}

/// `GET /v1/topics/{topic}/partitions/{p}/records` with `encoding=base64`.
#[derive(Deserialize)]
struct FetchResponse {
    records: Vec<ResponseRecord>,
    next_offset: i64,
    high_watermark: i64,
}

#[derive(Deserialize)]
struct ResponseRecord {
    offset: i64,
    timestamp: i64,
    key: Option<String>,
    value: Option<String>,
    #[serde(default)]
    headers: Option<BTreeMap<String, Option<String>>>,
    /// Every header in order; the server adds it when a key repeats.
    #[serde(default)]
    headers_list: Option<Vec<(String, Option<String>)>>,
}

/// A record with its key, value and header values decoded from base64.
struct Record {
    offset: i64,
    timestamp: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    /// In stored order; a key may repeat.
    headers: Vec<(String, Option<Vec<u8>>)>,
}

/// One line of `--format json`; fields in this order.
#[derive(Serialize)]
struct JsonLine<'a> {
    topic: &'a str,
    partition: u32,
    offset: i64,
    timestamp: i64,
    key: Option<String>,
    value: Option<String>,
    /// A repeated key's last value, as the HTTP API shows it.
    headers: BTreeMap<&'a str, Option<String>>,
    /// Every header in order, only when a key repeats (as the HTTP API adds it).
    #[serde(skip_serializing_if = "Option::is_none")]
    headers_list: Option<Vec<(&'a str, Option<String>)>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encoding: Option<&'static str>,
}

/// Where reading one partition has got to.
struct Cursor {
    partition: u32,
    /// The next offset to fetch.
    next: i64,
    /// The partition's high watermark as last seen.
    high_watermark: i64,
}

impl Cursor {
    fn caught_up(&self) -> bool {
        self.next >= self.high_watermark
    }
}

/// Runs `weir consume`.
pub fn run(client: &Client, args: ConsumeArgs) -> anyhow::Result<()> {
    let mut cursors = start_positions(client, &args)?;
    let mut out = BufWriter::new(io::stdout().lock());
    let mut remaining = args.max_records;
    let poll_ms = (IDLE_ROUND_MS / cursors.len() as u64).max(MIN_POLL_MS);
    let mut idle = false;
    loop {
        if remaining == Some(0) || (args.exit && cursors.iter().all(Cursor::caught_up)) {
            return Ok(());
        }
        let mut printed_any = false;
        for cursor in &mut cursors {
            if args.exit && cursor.caught_up() {
                continue;
            }
            let max = remaining.map_or(FETCH_RECORDS, |n| n.min(FETCH_RECORDS));
            // With --exit only partitions known to hold more records are read, so never wait.
            let timeout_ms = if args.exit || !idle { 0 } else { poll_ms };
            let fetched = fetch(client, &args.topic, cursor, max, timeout_ms)?;
            let mut records = fetched.records;
            if let Some(n) = remaining {
                records.truncate(usize::try_from(n).unwrap_or(usize::MAX));
            }
            for record in &records {
                print_record(&mut out, args.format, &args.topic, cursor.partition, record)?;
            }
            // Everything printed must be out before the group says it was consumed.
            out.flush()?;
            let next = match records.last() {
                Some(last) if records.len() < fetched.count => last.offset + 1,
                _ => fetched.next_offset.max(cursor.next),
            };
            if args.exit && records.is_empty() && next == cursor.next {
                // No progress although the high watermark is ahead: nothing readable is left.
                cursor.high_watermark = cursor.next;
            } else {
                cursor.high_watermark = fetched.high_watermark;
            }
            if let Some(group) = &args.group
                && next != cursor.next
            {
                commit(client, group, &args.topic, cursor.partition, next)?;
            }
            cursor.next = next;
            printed_any |= !records.is_empty();
            if let Some(n) = &mut remaining {
                *n -= records.len() as u64;
                if *n == 0 {
                    return Ok(());
                }
            }
        }
        idle = !printed_any;
    }
}

/// Decides where each partition starts: `--offset`, `--from-beginning`, the group's committed
/// offset, else the end.
fn start_positions(client: &Client, args: &ConsumeArgs) -> anyhow::Result<Vec<Cursor>> {
    let topic = topic::describe(client, &args.topic)?;
    let mut partitions = topic.partitions;
    partitions.sort_by_key(|p| p.partition);
    if let Some(wanted) = args.partition {
        if !partitions.iter().any(|p| p.partition == wanted) {
            bail!(
                "topic {} has no partition {wanted} (it has {})",
                args.topic,
                partitions.len()
            );
        }
        partitions.retain(|p| p.partition == wanted);
    }
    if partitions.is_empty() {
        bail!("topic {} has no partitions", args.topic);
    }
    let committed: HashMap<u32, i64> = match &args.group {
        Some(group) if args.offset.is_none() && !args.from_beginning => {
            group::committed_offsets(client, group)?
                .into_iter()
                .filter(|o| o.topic == args.topic)
                .filter_map(|o| Some((o.partition, o.committed_offset.filter(|&c| c >= 0)?)))
                .collect()
        }
        _ => HashMap::new(),
    };
    let offset = args
        .offset
        .map(i64::try_from)
        .transpose()
        .context("--offset is too large")?;
    Ok(partitions
        .into_iter()
        .map(|p| Cursor {
            partition: p.partition,
            next: match offset {
                Some(offset) => offset,
                None if args.from_beginning => p.log_start_offset,
                None => committed
                    .get(&p.partition)
                    .copied()
                    .unwrap_or(p.high_watermark),
            },
            high_watermark: p.high_watermark,
        })
        .collect())
}

/// The decoded answer to one fetch.
struct Fetch {
    records: Vec<Record>,
    /// How many records the server sent, before any were dropped for `-n`.
    count: usize,
    next_offset: i64,
    high_watermark: i64,
}

fn fetch(
    client: &Client,
    topic: &str,
    cursor: &Cursor,
    max: u64,
    timeout_ms: u64,
) -> anyhow::Result<Fetch> {
    let partition = cursor.partition.to_string();
    let query = [
        ("offset", cursor.next.to_string()),
        ("max", max.to_string()),
        ("timeout_ms", timeout_ms.to_string()),
        ("encoding", "base64".to_owned()),
    ];
    let path = ["v1", "topics", topic, "partitions", &partition, "records"];
    let fetched: FetchResponse = match client.get(&path, &query) {
        Ok(fetched) => fetched,
        Err(err)
            if ApiError::has_code(&err, "offset_out_of_range")
                || ApiError::has_status(&err, reqwest::StatusCode::RANGE_NOT_SATISFIABLE) =>
        {
            return Err(err.context(format!(
                "offset {} is not in {topic} partition {partition} (see `weir topic describe \
                 {topic}`; --from-beginning starts at the oldest record)",
                cursor.next
            )));
        }
        Err(err) => return Err(err),
    };
    let records = fetched
        .records
        .into_iter()
        .map(decode)
        .collect::<anyhow::Result<Vec<_>>>()
        .with_context(|| format!("bad record from {topic} partition {partition}"))?;
    Ok(Fetch {
        count: records.len(),
        records,
        next_offset: fetched.next_offset,
        high_watermark: fetched.high_watermark,
    })
}

fn decode(record: ResponseRecord) -> anyhow::Result<Record> {
    let bytes = |text: Option<String>, what: &str| {
        text.map(|t| BASE64.decode(t))
            .transpose()
            .with_context(|| format!("{what} of offset {} is not base64", record.offset))
    };
    // The list when the server sent one (a key repeats): the object holds only the last.
    let given = match record.headers_list {
        Some(list) => list,
        None => record.headers.unwrap_or_default().into_iter().collect(),
    };
    let mut headers = Vec::with_capacity(given.len());
    for (name, value) in given {
        let value = bytes(value, &format!("header {name}"))?;
        headers.push((name, value));
    }
    Ok(Record {
        offset: record.offset,
        timestamp: record.timestamp,
        key: bytes(record.key, "key")?,
        value: bytes(record.value, "value")?,
        headers,
    })
}

fn print_record(
    out: &mut impl Write,
    format: Format,
    topic: &str,
    partition: u32,
    record: &Record,
) -> io::Result<()> {
    match format {
        Format::Value => {
            out.write_all(record.value.as_deref().unwrap_or_default())?;
            out.write_all(b"\n")
        }
        Format::Json => {
            // Text where every byte string is UTF-8; otherwise all of them in base64, flagged
            // the way the HTTP API flags it.
            let text = std::iter::once(&record.key)
                .chain([&record.value])
                .chain(record.headers.iter().map(|(_, v)| v))
                .flatten()
                .all(|b| std::str::from_utf8(b).is_ok());
            let show = |bytes: &Option<Vec<u8>>| {
                bytes.as_deref().map(|b| {
                    if text {
                        String::from_utf8_lossy(b).into_owned()
                    } else {
                        BASE64.encode(b)
                    }
                })
            };
            let repeats = {
                let mut names: Vec<&str> = record.headers.iter().map(|(k, _)| k.as_str()).collect();
                names.sort_unstable();
                names.windows(2).any(|w| w[0] == w[1])
            };
            let line = JsonLine {
                topic,
                partition,
                offset: record.offset,
                timestamp: record.timestamp,
                key: show(&record.key),
                value: show(&record.value),
                headers: record
                    .headers
                    .iter()
                    .map(|(name, value)| (name.as_str(), show(value)))
                    .collect(),
                headers_list: repeats.then(|| {
                    record
                        .headers
                        .iter()
                        .map(|(name, value)| (name.as_str(), show(value)))
                        .collect()
                }),
                encoding: (!text).then_some("base64"),
            };
            let line = serde_json::to_string(&line).map_err(io::Error::other)?;
            writeln!(out, "{line}")
        }
    }
}

fn commit(
    client: &Client,
    group: &str,
    topic: &str,
    partition: u32,
    offset: i64,
) -> anyhow::Result<()> {
    let body = json!({ "offsets": [{ "topic": topic, "partition": partition, "offset": offset }] });
    client
        .post::<IgnoredAny>(&["v1", "groups", group, "offsets"], &body)
        .with_context(|| {
            format!(
                "cannot commit offset {offset} of {topic} partition {partition} for group {group}"
            )
        })?;
    Ok(())
}
