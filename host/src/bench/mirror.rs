//! `weir bench mirror`: two `weir serve` children (a and b). In the same run, rounds
//! rotating which goes first:
//! - throughput: `--records` records of `--value-bytes` copied a→b by the
//!   MirrorSourceConnector (running on b, from its creation until b's copy holds them all),
//!   against a plain consume+produce copy with the same client (weir's cluster client, one
//!   consumer assigned, one idempotent producer, flushed at the end);
//! - latency: records produced to a at `--rate` per second for `--seconds`, mirrored to b
//!   and read there by a consumer; each record's latency is its arrival on b's consumer
//!   minus its create time on a (p50/p99), what the mirror adds plus one fetch on each side.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;

use crate::cluster::{self, Cluster, OutRecord, ProducerMode, TopicOffset};

use super::served::Served;

/// Options of `weir bench mirror`.
#[derive(Debug, Clone, clap::Args)]
pub struct MirrorBenchOptions {
    /// Records per throughput round.
    #[arg(long, default_value_t = 200_000)]
    pub records: usize,
    /// Value size, bytes (keys are 8 bytes).
    #[arg(long, default_value_t = 100)]
    pub value_bytes: usize,
    /// Throughput rounds.
    #[arg(long, default_value_t = 2)]
    pub rounds: usize,
    /// The latency run's rate, records per second.
    #[arg(long, default_value_t = 10_000)]
    pub rate: u64,
    /// The latency run's length, seconds.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
}

fn props(kafka: &str) -> anyhow::Result<cluster::ClientProps> {
    Ok(cluster::ClientProps::new(
        [("bootstrap.servers".to_string(), kafka.to_string())].into(),
    )?)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Fills `topic` on `c` with `n` records.
fn fill(c: &dyn Cluster, topic: &str, n: usize, value_bytes: usize) -> anyhow::Result<()> {
    let mut p = c.producer(ProducerMode::Idempotent)?;
    let value = vec![b'v'; value_bytes];
    for i in 0..n {
        p.send(OutRecord {
            topic: topic.to_string(),
            partition: Some(0),
            timestamp: None,
            key: Some((i as u64).to_be_bytes().to_vec()),
            value: Some(value.clone()),
            headers: Vec::new(),
        })?;
        if i % 50_000 == 49_999 {
            p.flush(Duration::from_secs(120))?;
        }
    }
    p.flush(Duration::from_secs(120))?;
    Ok(())
}

/// A plain copy of `n` records of `from` on `a` to `to` on `b`: seconds.
fn plain_copy(
    a: &dyn Cluster,
    b: &dyn Cluster,
    from: &str,
    to: &str,
    n: usize,
) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let mut c = a.consumer(None)?;
    c.assign(&[TopicOffset {
        topic: from.to_string(),
        partition: 0,
        offset: 0,
    }])?;
    let mut p = b.producer(ProducerMode::Idempotent)?;
    let mut copied = 0;
    while copied < n {
        if start.elapsed() > Duration::from_secs(600) {
            bail!("the plain copy stalled at {copied} of {n}");
        }
        for r in c.poll(2000, Duration::from_millis(200))? {
            p.send(OutRecord {
                topic: to.to_string(),
                partition: Some(r.partition),
                timestamp: r.timestamp,
                key: r.key,
                value: r.value,
                headers: r.headers,
            })?;
            copied += 1;
        }
    }
    p.flush(Duration::from_secs(120))?;
    Ok(start.elapsed())
}

/// The MirrorSourceConnector on `b` copying `topic` of `a`: seconds from its creation until
/// b's copy holds `n` records.
fn mirror(a: &Served, b: &Served, name: &str, topic: &str, n: usize) -> anyhow::Result<Duration> {
    let start = Instant::now();
    b.send(
        reqwest::Method::POST,
        format!("{}/connectors", b.http),
        json!({"name": name, "config": {
            "connector.class": "org.apache.kafka.connect.mirror.MirrorSourceConnector",
            "source.cluster.alias": "a",
            "target.cluster.alias": "b",
            "source.cluster.bootstrap.servers": a.kafka,
            "target.cluster.bootstrap.servers": b.kafka,
            "topics": topic,
        }}),
    )?;
    b.wait_for(&format!("a.{topic}"), n)?;
    Ok(start.elapsed())
}

/// Records at `rate`/s for `seconds` into `topic` on `a`, mirrored to b and read there:
/// latencies in ms, sorted.
fn latency(
    a: &Served,
    b: &Served,
    ca: &Arc<dyn Cluster>,
    cb: &Arc<dyn Cluster>,
    opts: &MirrorBenchOptions,
) -> anyhow::Result<(Vec<i64>, u64)> {
    a.create_topic("lat")?;
    mirror(a, b, "lat", "lat", 0)?;
    // Records flow from when the copy exists (the connector created it and assigned the
    // source), so the figures are the steady state, not the connector's start.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !topic_exists(b, "a.lat")? {
        if Instant::now() > deadline {
            bail!("a.lat never appeared on b");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut consumer = cb.consumer(None)?;
    let total = opts.rate * opts.seconds;
    let done = Arc::new(AtomicBool::new(false));
    let ca = ca.clone();
    let (rate, value_bytes) = (opts.rate, opts.value_bytes);
    let stop = done.clone();
    let producer = std::thread::spawn(move || -> anyhow::Result<u64> {
        let mut p = ca.producer(ProducerMode::Idempotent)?;
        let start = Instant::now();
        let value = vec![b'v'; value_bytes];
        let mut sent = 0u64;
        while sent < total && !stop.load(Ordering::Relaxed) {
            // Paced in 1 ms steps: the records due by now.
            let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
            while sent < due.min(total) {
                p.send(OutRecord {
                    topic: "lat".into(),
                    partition: Some(0),
                    timestamp: Some(now_ms()),
                    key: Some(sent.to_be_bytes().to_vec()),
                    value: Some(value.clone()),
                    headers: Vec::new(),
                })?;
                sent += 1;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        p.flush(Duration::from_secs(60))?;
        Ok(sent)
    });
    consumer.assign(&[TopicOffset {
        topic: "a.lat".into(),
        partition: 0,
        offset: 0,
    }])?;
    let mut lat = Vec::with_capacity(total as usize);
    let end = Instant::now() + Duration::from_secs(opts.seconds + 60);
    while (lat.len() as u64) < total && Instant::now() < end {
        for r in consumer.poll(5000, Duration::from_millis(100))? {
            lat.push(now_ms() - r.timestamp.unwrap_or(0));
        }
    }
    done.store(true, Ordering::Relaxed);
    let sent = producer
        .join()
        .map_err(|_| anyhow::anyhow!("the producer thread panicked"))??;
    lat.sort_unstable();
    Ok((lat, sent))
}

fn topic_exists(s: &Served, topic: &str) -> anyhow::Result<bool> {
    Ok(s.client
        .get(format!("{}/v1/topics/{topic}", s.http))
        .send()?
        .status()
        .is_success())
}

fn pct(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return -1;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Runs `weir bench mirror`.
pub fn run_mirror_bench(opts: &MirrorBenchOptions) -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("a scratch directory")?;
    let a = Served::start(&dir.path().join("a"), None)?;
    let b = Served::start(&dir.path().join("b"), None)?;
    let ca = cluster::connect(props(&a.kafka)?);
    let cb = cluster::connect(props(&b.kafka)?);
    println!(
        "weir bench mirror: {} records of {} B per round, {} rounds; latency at {}/s for {} s",
        opts.records, opts.value_bytes, opts.rounds, opts.rate, opts.seconds
    );
    let (mut mirror_s, mut plain_s) = (Duration::ZERO, Duration::ZERO);
    for round in 0..opts.rounds {
        let src = format!("src{round}");
        a.create_topic(&src)?;
        b.create_topic(&format!("copy{round}"))?;
        fill(&*ca, &src, opts.records, opts.value_bytes)?;
        let run_mirror = || mirror(&a, &b, &format!("m{round}"), &src, opts.records);
        let run_plain = || plain_copy(&*ca, &*cb, &src, &format!("copy{round}"), opts.records);
        let (m, p) = if round % 2 == 0 {
            let m = run_mirror()?;
            (m, run_plain()?)
        } else {
            let p = run_plain()?;
            (run_mirror()?, p)
        };
        let rate = |d: Duration| opts.records as f64 / d.as_secs_f64();
        println!(
            "round {round}: mirror {:.0} records/s ({:.2} s), plain copy {:.0} records/s ({:.2} s)",
            rate(m),
            m.as_secs_f64(),
            rate(p),
            p.as_secs_f64()
        );
        mirror_s += m;
        plain_s += p;
    }
    let total = (opts.records * opts.rounds) as f64;
    println!(
        "throughput: mirror {:.0} records/s, plain copy {:.0} records/s: mirror/plain {:.2}x",
        total / mirror_s.as_secs_f64(),
        total / plain_s.as_secs_f64(),
        plain_s.as_secs_f64() / mirror_s.as_secs_f64()
    );
    let (lat, sent) = latency(&a, &b, &ca, &cb, opts)?;
    println!(
        "latency at {}/s: {} of {} records arrived; p50 {} ms, p99 {} ms, max {} ms",
        opts.rate,
        lat.len(),
        sent,
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        lat.last().copied().unwrap_or(-1)
    );
    Ok(())
}
