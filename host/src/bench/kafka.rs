//! `weir bench kafka`: the Kafka listener under librdkafka (kcat), against raw
//! sequential disk bandwidth measured in the same run and directory.
//!
//! Produce throughput: kcat -P of 1 KB records with acks=1, to 1 and 4
//! partitions, per flush policy. Consume throughput: kcat -C of the same
//! records from the beginning. Latency: one 1 KB record per Produce request at
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
use crate::kafka::settings::GroupSettings;
use crate::kafka::{KafkaContext, KafkaListener, KafkaSettings};
use crate::log::FlushPolicy;
use crate::log::batch::{Record, encode_batch};

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
    /// Instead: produce/consume over SASL_SSL with SCRAM against plaintext, same run
    /// (see [`super::tls`]).
    #[arg(long)]
    pub tls_scram: bool,
}

const RECORD: usize = 1024;

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
    let bytes = (opts.records * RECORD) as f64;
    let raw = raw_write_mb_s(&scratch.path().join("raw"), opts.records * RECORD)?;
    println!("raw sequential write + fsync: {raw:.0} MB/s");
    println!();
    println!(
        "| flush | partitions | produce MB/s | produce records/s | produce/raw | consume MB/s | consume records/s |"
    );
    println!("|---|---|---|---|---|---|---|");
    for flush in [FlushPolicy::EveryBatch, FlushPolicy::Os] {
        let name = if flush == FlushPolicy::Os {
            "os"
        } else {
            "every-batch"
        };
        let data = scratch.path().join(format!("data-{name}"));
        let (runtime, addr) = start(&data, flush)?;
        for partitions in [1u32, 4] {
            let topic = format!("bench-{partitions}");
            create_topic(&addr, &topic, partitions)?;
            let start = Instant::now();
            let status = Command::new("kcat")
                .args(["-P", "-b", &addr.to_string(), "-t", &topic, "-l"])
                .arg(&input)
                .args([
                    "-X",
                    "acks=1",
                    "-X",
                    "linger.ms=5",
                    "-X",
                    "batch.num.messages=10000",
                ])
                .status()
                .context("running kcat (install it with scripts/setup)")?;
            if !status.success() {
                bail!("kcat -P failed: {status}");
            }
            let produce = start.elapsed().as_secs_f64();
            let start = Instant::now();
            let out = Command::new("kcat")
                .args([
                    "-C",
                    "-b",
                    &addr.to_string(),
                    "-t",
                    &topic,
                    "-o",
                    "beginning",
                    "-e",
                    "-q",
                ])
                .args(["-f", "%p\n"])
                .stderr(Stdio::inherit())
                .output()
                .context("running kcat -C")?;
            let consume = start.elapsed().as_secs_f64();
            let got = out.stdout.iter().filter(|&&b| b == b'\n').count();
            if got != opts.records {
                bail!("kcat -C read {got} of {} records", opts.records);
            }
            let mb = bytes / 1e6;
            println!(
                "| {name} | {partitions} | {:.0} | {:.0} | {:.2} | {:.0} | {:.0} |",
                mb / produce,
                opts.records as f64 / produce,
                mb / produce / raw,
                mb / consume,
                opts.records as f64 / consume,
            );
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

fn raw_write_mb_s(path: &Path, len: usize) -> anyhow::Result<f64> {
    let chunk = vec![b'x'; 1 << 20];
    let mut file = std::fs::File::create(path)?;
    let start = Instant::now();
    let mut left = len;
    while left > 0 {
        let n = left.min(chunk.len());
        file.write_all(&chunk[..n])?;
        left -= n;
    }
    file.sync_all()?;
    let secs = start.elapsed().as_secs_f64();
    std::fs::remove_file(path)?;
    Ok(len as f64 / 1e6 / secs)
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
    let settings = KafkaSettings {
        addr: "127.0.0.1:0".parse()?,
        advertised: None,
        max_frame_bytes: 100 << 20,
        fetch_max_bytes: 55 << 20,
        auto_create_topics: true,
        default_partitions: 1,
        group: GroupSettings::default(),
        limits: Default::default(),
        tls: None,
    };
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

pub(super) fn create_topic(addr: &SocketAddr, topic: &str, partitions: u32) -> anyhow::Result<()> {
    // kcat has no topic creation; CreateTopics v2 by hand.
    let mut body = Vec::new();
    body.extend_from_slice(&1i32.to_be_bytes());
    body.extend_from_slice(&(topic.len() as i16).to_be_bytes());
    body.extend_from_slice(topic.as_bytes());
    body.extend_from_slice(&(partitions as i32).to_be_bytes());
    body.extend_from_slice(&1i16.to_be_bytes());
    body.extend_from_slice(&0i32.to_be_bytes()); // assignments
    body.extend_from_slice(&0i32.to_be_bytes()); // configs
    body.extend_from_slice(&30_000i32.to_be_bytes());
    body.push(0); // validate_only
    let mut s = TcpStream::connect(addr)?;
    let r = round_trip(&mut s, 19, 2, &body)?;
    // corr, throttle, count, name, error code.
    let at = 4 + 4 + 4 + 2 + topic.len();
    let code = r.get(at..at + 2).map(|b| i16::from_be_bytes([b[0], b[1]]));
    if code != Some(0) {
        bail!("CreateTopics {topic}: error {code:?}");
    }
    Ok(())
}

pub(super) fn round_trip(
    s: &mut TcpStream,
    key: i16,
    version: i16,
    body: &[u8],
) -> anyhow::Result<Vec<u8>> {
    let mut frame = Vec::with_capacity(body.len() + 20);
    frame.extend_from_slice(&key.to_be_bytes());
    frame.extend_from_slice(&version.to_be_bytes());
    frame.extend_from_slice(&1i32.to_be_bytes());
    frame.extend_from_slice(&(-1i16).to_be_bytes()); // null client id
    frame.extend_from_slice(body);
    s.write_all(&(frame.len() as i32).to_be_bytes())?;
    s.write_all(&frame)?;
    let mut len = [0u8; 4];
    s.read_exact(&mut len)?;
    let mut resp = vec![0u8; i32::from_be_bytes(len).max(0) as usize];
    s.read_exact(&mut resp)?;
    Ok(resp)
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
        let mut body = Vec::with_capacity(batch.len() + 64);
        body.extend_from_slice(&(-1i16).to_be_bytes());
        body.extend_from_slice(&1i16.to_be_bytes());
        body.extend_from_slice(&30_000i32.to_be_bytes());
        body.extend_from_slice(&1i32.to_be_bytes());
        body.extend_from_slice(&(topic.len() as i16).to_be_bytes());
        body.extend_from_slice(topic.as_bytes());
        body.extend_from_slice(&1i32.to_be_bytes());
        body.extend_from_slice(&0i32.to_be_bytes());
        body.extend_from_slice(&(batch.len() as i32).to_be_bytes());
        body.extend_from_slice(&batch);
        let sent = Instant::now();
        round_trip(&mut s, 0, 3, &body)?;
        samples.push(sent.elapsed().as_secs_f64() * 1e3);
    }
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    Ok((at(0.5), at(0.99), samples.last().copied().unwrap_or(0.0)))
}
