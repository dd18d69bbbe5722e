//! `weir bench kafka`: the Kafka listener under librdkafka (kcat), against raw
//! sequential disk bandwidth measured in the same run and directory.
//!
//! Produce throughput, to 1 and 4 partitions, per flush policy, by two clients:
//! kcat -P of 1 KB records with acks=1 (a real client, whose per-message work
//! shares the cores with the broker), and a native producer of pre-encoded 1 MB
//! batches over several pipelined connections (the broker's own limit).
//! Consume throughput: kcat -C of the same records from the beginning, and a
//! native consumer fetching with large max_bytes, reading batch headers only.
//! Both against raw sequential write and read bandwidth measured in the same run. Latency: one 1 KB record per Produce request at
//! a fixed rate on one connection, acks=1, p50/p99/max of the round trip.
//! Transactions: see [`super::transactions`].

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::broker::producer::ProducerRegistry;
use crate::broker::topic_config::TopicConfig;
use crate::broker::txn::TxnCoordinator;
use crate::broker::{Broker, BrokerConfig};
use crate::kafka::{KafkaContext, KafkaListener, KafkaSettings};
use crate::log::FlushPolicy;
use crate::log::batch::{BatchIter, Record, encode_batch};

use super::dial::{Conn, Dial};
use super::process;
use super::wire::{self, create_topic, produce_body, round_trip};

/// Options of `weir bench kafka`.
#[derive(Debug, Clone, clap::Args)]
pub struct KafkaBenchOptions {
    /// Directory for the broker's data and the raw file (default: a temp dir).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<std::path::PathBuf>,
    /// 1 KB records produced per throughput case.
    #[arg(long, default_value_t = 200_000)]
    pub records: usize,
    /// Produce requests per second in the latency case.
    #[arg(long, default_value_t = 500)]
    pub rate: u32,
    /// Length of the latency case, seconds.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// max_bytes (and partition_max_bytes) of the native consumer's Fetch requests;
    /// the broker caps it at kafka.fetch_max_bytes (55 MiB).
    #[arg(long, default_value_t = 8 << 20)]
    pub fetch_bytes: i32,
    /// Instead: produce/consume over SASL_SSL with SCRAM against plaintext, same run
    /// (see [`super::tls`]).
    #[arg(long)]
    pub tls_scram: bool,
}

const RECORD: usize = 1024;

/// Connections of the native producer; connection i writes partition i mod partitions.
pub const NATIVE_CONNECTIONS: usize = 4;
/// Produce requests each native connection keeps in flight.
pub const NATIVE_IN_FLIGHT: usize = 4;
/// Records per native batch: 1000 × 1 KB, just under the default max.message.bytes.
const NATIVE_BATCH: usize = 1000;

/// Runs every case and prints a Markdown table.
pub fn run_kafka_bench(opts: &KafkaBenchOptions) -> anyhow::Result<()> {
    if opts.tls_scram {
        return super::tls::compare(opts);
    }
    let scratch = tempfile::Builder::new()
        .prefix("weir-bench-kafka-")
        .tempdir_in(opts.dir.clone().unwrap_or_else(std::env::temp_dir))
        .context("creating the scratch directory")?;
    // One line per record: kcat -l sends each line as a message.
    let input = scratch.path().join("records.txt");
    let line = format!("{}\n", "x".repeat(RECORD - 1));
    std::fs::write(&input, line.repeat(opts.records)).context("writing the input file")?;
    let mb = (opts.records * RECORD) as f64 / 1e6;
    let raw_path = scratch.path().join("raw");
    let len = opts.records * RECORD;
    // Other work on a shared machine moves the disk's bandwidth from one second to
    // the next: each row measures its own raw figures just before its client runs.
    println!(
        "| flush | partitions | client | raw write MB/s | produce MB/s | produce/raw | raw read MB/s | loopback MB/s | consume MB/s | consume/raw read | consume/loopback |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for flush in [FlushPolicy::EveryBatch, FlushPolicy::Os] {
        let name = if flush == FlushPolicy::Os {
            "os"
        } else {
            "every-batch"
        };
        let data = scratch.path().join(format!("data-{name}"));
        let (runtime, addr) = start(&data, flush)?;
        for partitions in [1u32, 4] {
            for client in ["kcat", "native"] {
                let topic = format!("{client}-{partitions}");
                create_topic(&addr, &topic, partitions)?;
                let raw = raw_mb_s(&raw_path, len)?;
                let loopback = loopback_mb_s(len)?;
                let (produce, consume) = if client == "kcat" {
                    kcat(&addr, &topic, &input, opts.records)?
                } else {
                    let dial = Dial::Plain(addr);
                    (
                        native_produce(&dial, &topic, partitions, opts.records)?.secs,
                        native_consume(&dial, &topic, partitions, opts.records, opts.fetch_bytes)?
                            .secs,
                    )
                };
                let (produce, consume) = (mb / produce, mb / consume);
                println!(
                    "| {name} | {partitions} | {client} | {:.0} | {produce:.0} | {:.2} | {:.0} | {loopback:.0} | {consume:.0} | {:.2} | {:.2} |",
                    raw.write,
                    produce / raw.write,
                    raw.read,
                    consume / raw.read,
                    consume / loopback,
                );
            }
        }
        if flush == FlushPolicy::EveryBatch {
            let lat = latency(&addr, opts.rate, opts.seconds)?;
            println!();
            println!(
                "latency (flush {name}, acks=1, 1 KB, {} req/s for {} s): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                opts.rate, opts.seconds, lat.0, lat.1, lat.2
            );
            println!();
            super::transactions::compare(&addr, opts.records, RECORD)?;
            println!();
        }
        drop(runtime);
    }
    Ok(())
}

/// Seconds kcat takes to produce `records` lines of `input` to `topic`, and to
/// consume them back from the beginning.
fn kcat(
    addr: &SocketAddr,
    topic: &str,
    input: &Path,
    records: usize,
) -> anyhow::Result<(f64, f64)> {
    let addr = addr.to_string();
    let start = Instant::now();
    kcat_produce(&addr, topic, input, &[])?;
    let produce = start.elapsed().as_secs_f64();
    let start = Instant::now();
    kcat_consume(&addr, topic, records, &[])?;
    Ok((produce, start.elapsed().as_secs_f64()))
}

/// kcat -P of the lines of `input` into `topic` (acks=1, batches of up to 10 000
/// records), with `extra` arguments (e.g. `-X security.protocol=...`).
pub(super) fn kcat_produce(
    addr: &str,
    topic: &str,
    input: &Path,
    extra: &[&str],
) -> anyhow::Result<()> {
    let status = Command::new("kcat")
        .args(["-P", "-b", addr, "-t", topic, "-l"])
        .arg(input)
        .args(["-X", "acks=1", "-X", "linger.ms=5"])
        .args(["-X", "batch.num.messages=10000"])
        .args(extra)
        .status()
        .context("running kcat (install it with scripts/setup)")?;
    if !status.success() {
        bail!("kcat -P failed: {status}");
    }
    Ok(())
}

/// kcat -C of `topic` from the beginning to its end, with `extra` arguments; fails
/// unless it read exactly `records` records.
pub(super) fn kcat_consume(
    addr: &str,
    topic: &str,
    records: usize,
    extra: &[&str],
) -> anyhow::Result<()> {
    let out = Command::new("kcat")
        .args(["-C", "-b", addr, "-t", topic, "-o", "beginning", "-e", "-q"])
        .args(["-f", "%p\n"])
        .args(extra)
        .stderr(Stdio::inherit())
        .output()
        .context("running kcat -C")?;
    let got = out.stdout.iter().filter(|&&b| b == b'\n').count();
    if got != records {
        bail!("kcat -C read {got} of {records} records from {addr}");
    }
    Ok(())
}

/// Seconds to produce `records` 1 KB records in pre-encoded batches of
/// [`NATIVE_BATCH`], as a producer with big batches does (Kafka's
/// `kafka-producer-perf-test`): [`NATIVE_CONNECTIONS`] connections, each with
/// [`NATIVE_IN_FLIGHT`] requests pipelined, acks=1. The client does no work per
/// record, so the figure is the broker's.
pub fn native_produce(
    dial: &Dial,
    topic: &str,
    partitions: u32,
    records: usize,
) -> anyhow::Result<ClientRun> {
    let value = bytes::Bytes::from(vec![b'x'; RECORD]);
    let now = crate::broker::now_ms();
    let batch: Vec<Record> = (0..NATIVE_BATCH)
        .map(|_| Record {
            value: Some(value.clone()),
            timestamp: now,
            ..Record::default()
        })
        .collect();
    let batch = encode_batch(&batch, 0)?;
    let batches = records.div_ceil(NATIVE_BATCH);
    // Connected (and logged in) before the clocks start: the figures are throughput.
    let conns = (0..NATIVE_CONNECTIONS)
        .map(|_| dial.connect())
        .collect::<anyhow::Result<Vec<_>>>()?;
    let cpu_before = process::cpu_time();
    let start = Instant::now();
    let client_cpu = std::thread::scope(|scope| {
        let workers: Vec<_> = conns
            .into_iter()
            .enumerate()
            .map(|(c, conn)| {
                // Connection c sends batches c, c + N, c + 2N...
                let mine = (c..batches).step_by(NATIVE_CONNECTIONS).count();
                let partition = (c % partitions as usize) as i32;
                let frame = wire::frame(
                    0,
                    3,
                    c as i32,
                    &produce_body(None, 1, topic, partition, &batch),
                );
                scope.spawn(move || pipelined(conn, &frame, mine, topic))
            })
            .collect();
        let mut cpu = Duration::ZERO;
        for w in workers {
            cpu += w
                .join()
                .map_err(|_| anyhow::anyhow!("a producer thread panicked"))??;
        }
        anyhow::Ok(cpu)
    })?;
    // The table counts every case's bytes as `records` records of 1 KB.
    let scale = records as f64 / (batches * NATIVE_BATCH) as f64;
    Ok(ClientRun {
        secs: start.elapsed().as_secs_f64() * scale,
        process_cpu: (process::cpu_time() - cpu_before).as_secs_f64() * scale,
        client_cpu: client_cpu.as_secs_f64() * scale,
    })
}

/// A native client's run, from its first request to its last answer (connecting
/// and logging in left out), in seconds.
#[derive(Debug, Clone, Copy)]
pub struct ClientRun {
    /// Wall clock.
    pub secs: f64,
    /// CPU of the whole process meanwhile (the client's threads and, in process,
    /// the broker's).
    pub process_cpu: f64,
    /// CPU of the client's threads (user + system), apart from the broker's.
    pub client_cpu: f64,
}

/// Sends `frame` `count` times on `s` with up to [`NATIVE_IN_FLIGHT`]
/// unanswered, checking each answer's error code; returns the thread's CPU time.
fn pipelined(mut s: Conn, frame: &[u8], count: usize, topic: &str) -> anyhow::Result<Duration> {
    let cpu_before = process::thread_cpu_time();
    let mut resp = Vec::new();
    let (mut sent, mut answered) = (0, 0);
    while answered < count {
        while sent < count && sent - answered < NATIVE_IN_FLIGHT {
            s.write_all(frame)?;
            sent += 1;
        }
        s.flush()?;
        wire::read_response(&mut s, &mut resp)?;
        let code = wire::produce_error(&resp, topic)?;
        if code != 0 {
            bail!("Produce: error {code}");
        }
        answered += 1;
    }
    Ok(process::thread_cpu_time().saturating_sub(cpu_before))
}

/// Seconds to fetch every partition of `topic` from the beginning, one connection
/// per partition, each Fetch asking for `fetch_bytes`; only batch
/// headers are read (to count records and find the next offset), as a consumer
/// handing batches on without decoding them would.
pub fn native_consume(
    dial: &Dial,
    topic: &str,
    partitions: u32,
    records: usize,
    fetch_bytes: i32,
) -> anyhow::Result<ClientRun> {
    let conns = (0..partitions)
        .map(|_| dial.connect())
        .collect::<anyhow::Result<Vec<_>>>()?;
    let cpu_before = process::cpu_time();
    let start = Instant::now();
    let (counted, client_cpu) = std::thread::scope(|scope| {
        let workers: Vec<_> = conns
            .into_iter()
            .enumerate()
            .map(|(p, conn)| scope.spawn(move || fetch_all(conn, topic, p as i32, fetch_bytes)))
            .collect();
        let (mut total, mut cpu) = (0, Duration::ZERO);
        for w in workers {
            let (n, used) = w
                .join()
                .map_err(|_| anyhow::anyhow!("a consumer thread panicked"))??;
            total += n;
            cpu += used;
        }
        anyhow::Ok((total, cpu))
    })?;
    let secs = start.elapsed().as_secs_f64();
    let produced = records.div_ceil(NATIVE_BATCH) * NATIVE_BATCH;
    if counted != produced {
        bail!("native consume read {counted} of {produced} records");
    }
    let scale = records as f64 / produced as f64;
    Ok(ClientRun {
        secs: secs * scale,
        process_cpu: (process::cpu_time() - cpu_before).as_secs_f64() * scale,
        client_cpu: client_cpu.as_secs_f64() * scale,
    })
}

/// Records in partition `p`, fetched on `s` until a Fetch comes back empty, and
/// the thread's CPU time.
fn fetch_all(
    mut s: Conn,
    topic: &str,
    p: i32,
    fetch_bytes: i32,
) -> anyhow::Result<(usize, Duration)> {
    let cpu_before = process::thread_cpu_time();
    let (mut offset, mut counted) = (0i64, 0usize);
    let mut resp = Vec::new();
    loop {
        let body = wire::fetch_body(topic, p, offset, fetch_bytes);
        s.write_all(&wire::frame(1, 4, p, &body))?;
        s.flush()?;
        wire::read_response(&mut s, &mut resp)?;
        let records = wire::fetch_records(&resp, topic)?;
        if records.is_empty() {
            return Ok((
                counted,
                process::thread_cpu_time().saturating_sub(cpu_before),
            ));
        }
        for batch in BatchIter::new(records) {
            let (header, _) = batch?;
            counted += usize::try_from(header.record_count).unwrap_or(0);
            offset = header.next_offset();
        }
    }
}

/// MB/s of `len` bytes through one loopback TCP connection in 1 MiB writes and
/// reads: what any consumer on this machine gets at most, whatever the broker.
fn loopback_mb_s(len: usize) -> anyhow::Result<f64> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let start = Instant::now();
    let sender = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut s, _) = listener.accept()?;
        let chunk = vec![b'x'; 1 << 20];
        let mut left = len;
        while left > 0 {
            let n = left.min(chunk.len());
            s.write_all(&chunk[..n])?;
            left -= n;
        }
        Ok(())
    });
    let mut s = TcpStream::connect(addr)?;
    let mut chunk = vec![0u8; 1 << 20];
    let mut got = 0;
    while got < len {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        got += n;
    }
    let secs = start.elapsed().as_secs_f64();
    sender
        .join()
        .map_err(|_| anyhow::anyhow!("the loopback sender panicked"))??;
    if got != len {
        bail!("loopback read {got} of {len} bytes");
    }
    Ok(len as f64 / 1e6 / secs)
}

/// Raw sequential bandwidth of the disk under the scratch directory, MB/s.
struct Raw {
    /// 1 MiB writes, then one fsync.
    write: f64,
    /// 1 MiB reads of the file just written (from the page cache, as the broker's
    /// reads of what was just produced are).
    read: f64,
}

fn raw_mb_s(path: &Path, len: usize) -> anyhow::Result<Raw> {
    let mut chunk = vec![b'x'; 1 << 20];
    let mut file = std::fs::File::create(path)?;
    let start = Instant::now();
    let mut left = len;
    while left > 0 {
        let n = left.min(chunk.len());
        file.write_all(&chunk[..n])?;
        left -= n;
    }
    file.sync_all()?;
    let write = len as f64 / 1e6 / start.elapsed().as_secs_f64();
    let mut file = std::fs::File::open(path)?;
    let start = Instant::now();
    let mut read = 0;
    loop {
        let n = file.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        read += n;
    }
    let secs = start.elapsed().as_secs_f64();
    std::fs::remove_file(path)?;
    if read != len {
        bail!("raw read {read} of {len} bytes");
    }
    Ok(Raw {
        write,
        read: len as f64 / 1e6 / secs,
    })
}

/// An in-process broker with only the Kafka face, on a free port.
fn start(data: &Path, flush: FlushPolicy) -> anyhow::Result<(tokio::runtime::Runtime, SocketAddr)> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let broker = Arc::new(Broker::open(BrokerConfig {
        data_dir: data.to_path_buf(),
        flush,
        index_interval_bytes: 4096,
        topic_defaults: TopicConfig::default(),
        limits: Default::default(),
    })?);
    let settings = KafkaSettings::loopback();
    let producers = Arc::new(ProducerRegistry::new(broker.clone()));
    let txns = Arc::new(TxnCoordinator::open(broker.clone(), producers.clone())?);
    let auth = Arc::new(crate::auth::Authenticator::open(
        &broker,
        crate::auth::AuthSettings::default(),
    )?);
    let listener = runtime.block_on(KafkaListener::bind(KafkaContext::new(
        broker, producers, txns, auth, settings,
    )))?;
    let addr = listener.local_addr()?;
    runtime.spawn(listener.serve(std::future::pending()));
    Ok((runtime, addr))
}

/// (p50, p99, max) in ms of sequential acks=1 produce round trips at `rate`/s.
fn latency(addr: &SocketAddr, rate: u32, seconds: u64) -> anyhow::Result<(f64, f64, f64)> {
    let topic = "bench-latency";
    let mut s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    let value = bytes::Bytes::from(vec![b'x'; RECORD]);
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let total = u64::from(rate) * seconds;
    let mut samples = Vec::with_capacity(total as usize);
    let begin = Instant::now();
    for i in 0..total {
        // Fixed schedule: a slow answer does not shift later sends.
        let due = begin + interval * i as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let batch = encode_batch(
            &[Record {
                value: Some(value.clone()),
                timestamp: crate::broker::now_ms(),
                ..Record::default()
            }],
            0,
        )?;
        let body = produce_body(None, 1, topic, 0, &batch);
        let sent = Instant::now();
        round_trip(&mut s, 0, 3, &body)?;
        samples.push(sent.elapsed().as_secs_f64() * 1e3);
    }
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    Ok((at(0.5), at(0.99), samples.last().copied().unwrap_or(0.0)))
}
