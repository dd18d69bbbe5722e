//! `weir bench kafka --tls-scram`: kcat produce and consume throughput over SASL_SSL
//! with SCRAM-SHA-256 against plaintext without authentication, in the same run,
//! with the ratio (issue 13's goal: TLS at least 0.8× plaintext).
//!
//! Two in-process brokers, each with its own data directory and flush = "os" (so the
//! disk's fsync cost does not hide the TLS cost), one plaintext and one with `[tls]`
//! and a SCRAM user; a certificate made for the run with the `openssl` CLI. The
//! cases alternate (plaintext, TLS, plaintext, TLS) and the best of each is kept, so
//! the machine's noise falls on both alike.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};

use super::kafka::KafkaBenchOptions;
use crate::auth::{AuthSettings, Authenticator, Principal};
use crate::broker::producer::ProducerRegistry;
use crate::broker::topic_config::TopicConfig;
use crate::broker::txn::TxnCoordinator;
use crate::broker::{Broker, BrokerConfig};
use crate::kafka::settings::GroupSettings;
use crate::kafka::tls::{Tls, TlsSettings};
use crate::kafka::{KafkaContext, KafkaListener, KafkaSettings};
use crate::log::FlushPolicy;

const RECORD: usize = 1024;
const USER: &str = "bench";
const PASSWORD: &str = "bench-secret";

/// One broker under test and how kcat reaches it.
struct Target {
    _runtime: tokio::runtime::Runtime,
    addr: SocketAddr,
    /// kcat `-X` settings: none for plaintext; SASL_SSL and SCRAM for TLS.
    security: Vec<String>,
}

/// Runs the comparison and prints a Markdown table.
pub fn compare(opts: &KafkaBenchOptions) -> anyhow::Result<()> {
    let scratch = tempfile::Builder::new()
        .prefix("weir-bench-tls-")
        .tempdir_in(opts.dir.clone().unwrap_or_else(std::env::temp_dir))
        .context("creating the scratch directory")?;
    let dir = scratch.path();
    let input = dir.join("records.txt");
    let line = format!("{}\n", "x".repeat(RECORD - 1));
    std::fs::write(&input, line.repeat(opts.records)).context("writing the input file")?;
    certificate(dir)?;
    let plain = start(&dir.join("data-plain"), None)?;
    let mut tls = start(
        &dir.join("data-tls"),
        Some(TlsSettings {
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
            client: None,
        }),
    )?;
    tls.security = [
        "security.protocol=SASL_SSL".to_string(),
        format!("ssl.ca.location={}", dir.join("server.pem").display()),
        "sasl.mechanisms=SCRAM-SHA-256".into(),
        format!("sasl.username={USER}"),
        format!("sasl.password={PASSWORD}"),
    ]
    .to_vec();
    // (produce s, consume s), best of the rounds.
    let mut best = [(f64::MAX, f64::MAX); 2];
    for round in 0..2 {
        for (i, target) in [&plain, &tls].into_iter().enumerate() {
            let topic = format!("bench-{round}");
            let (p, c) = produce_consume(target, &topic, &input, opts.records)?;
            best[i] = (best[i].0.min(p), best[i].1.min(c));
        }
    }
    let mb = (opts.records * RECORD) as f64 / 1e6;
    println!(
        "kcat, {} × 1 KB records, 1 partition, acks=1, flush os; best of 2 alternating rounds",
        opts.records
    );
    println!();
    println!("| listener | produce MB/s | consume MB/s |");
    println!("|---|---|---|");
    for (name, (p, c)) in ["plaintext, no auth", "SASL_SSL, SCRAM-SHA-256"]
        .iter()
        .zip(best)
    {
        println!("| {name} | {:.0} | {:.0} |", mb / p, mb / c);
    }
    println!();
    println!(
        "TLS+SCRAM / plaintext: produce {:.2}×, consume {:.2}×",
        best[0].0 / best[1].0,
        best[0].1 / best[1].1
    );
    Ok(())
}

/// A self-signed certificate for 127.0.0.1 (its own CA for kcat).
fn certificate(dir: &Path) -> anyhow::Result<()> {
    let status = Command::new("openssl")
        .args(["req", "-x509", "-nodes", "-days", "1", "-newkey", "ec"])
        .args(["-pkeyopt", "ec_paramgen_curve:prime256v1"])
        .args([
            "-keyout",
            "server.key",
            "-out",
            "server.pem",
            "-subj",
            "/CN=localhost",
        ])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .context("running openssl (install it)")?;
    if !status.success() {
        bail!("openssl req failed: {status}");
    }
    Ok(())
}

/// An in-process broker with only the Kafka face, TLS and a SCRAM user when `tls`.
fn start(data: &Path, tls: Option<TlsSettings>) -> anyhow::Result<Target> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let broker = Arc::new(Broker::open(BrokerConfig {
        data_dir: data.to_path_buf(),
        flush: FlushPolicy::Os,
        index_interval_bytes: 4096,
        topic_defaults: TopicConfig::default(),
        limits: Default::default(),
    })?);
    let auth = Arc::new(Authenticator::open(&broker, AuthSettings::default())?);
    let tls = match tls {
        Some(settings) => {
            auth.add_user(
                &Principal::Anonymous,
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                USER,
                PASSWORD,
            )?;
            Some(Tls::load(&settings)?)
        }
        None => None,
    };
    let settings = KafkaSettings {
        addr: "127.0.0.1:0".parse()?,
        advertised: None,
        max_frame_bytes: 100 << 20,
        fetch_max_bytes: 55 << 20,
        auto_create_topics: true,
        default_partitions: 1,
        group: GroupSettings::default(),
        limits: Default::default(),
        tls,
    };
    let producers = Arc::new(ProducerRegistry::new(broker.clone()));
    let txns = Arc::new(TxnCoordinator::open(broker.clone(), producers.clone())?);
    let listener = runtime.block_on(KafkaListener::bind(KafkaContext::new(
        broker, producers, txns, auth, settings,
    )))?;
    let addr = listener.local_addr()?;
    runtime.spawn(listener.serve(std::future::pending()));
    Ok(Target {
        _runtime: runtime,
        addr,
        security: Vec::new(),
    })
}

/// kcat -P of `input` into `topic` (auto-created), then kcat -C of it all: seconds each.
fn produce_consume(
    target: &Target,
    topic: &str,
    input: &Path,
    records: usize,
) -> anyhow::Result<(f64, f64)> {
    let security: Vec<&str> = target
        .security
        .iter()
        .flat_map(|s| ["-X", s.as_str()])
        .collect();
    let addr = target.addr.to_string();
    let start = Instant::now();
    let status = Command::new("kcat")
        .args(["-P", "-b", &addr, "-t", topic, "-l"])
        .arg(input)
        .args(["-X", "acks=1", "-X", "linger.ms=5"])
        .args(["-X", "batch.num.messages=10000"])
        .args(&security)
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
            &addr,
            "-t",
            topic,
            "-o",
            "beginning",
            "-e",
            "-q",
        ])
        .args(["-f", "%p\n"])
        .args(&security)
        .stderr(Stdio::inherit())
        .output()
        .context("running kcat -C")?;
    let consume = start.elapsed().as_secs_f64();
    let got = out.stdout.iter().filter(|&&b| b == b'\n').count();
    if got != records {
        bail!("kcat -C read {got} of {records} records from {addr}");
    }
    Ok((produce, consume))
}
