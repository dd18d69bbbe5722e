//! `weir bench kafka --tls-scram`: produce and consume throughput over SASL_SSL with
//! SCRAM-SHA-256 against plaintext without authentication, in the same run, with the
//! ratio (issue 13's goal: TLS at least 0.8× plaintext), by two clients: kcat (a real
//! client, librdkafka with OpenSSL) and weir's native batched client ([`super::dial`],
//! rustls), whose own TLS cost is small, so its ratio shows the broker's.
//!
//! Two in-process brokers, each with its own data directory and flush = "os" (so the
//! disk's fsync cost does not hide the TLS cost), one plaintext and one with `[tls]`
//! and a SCRAM user; a certificate made for the run with the `openssl` CLI. The
//! cases alternate (plaintext, TLS, three rounds) and the best of each is kept, so
//! the machine's noise falls on both alike. Besides wall-clock throughput it reports
//! the CPU time the broker and the client spent per MB (kcat: this process and its
//! children; native: this process less the client threads' own CPU): on a machine
//! where client and broker share the cores, the client's TLS work slows the broker's
//! wall clock too, and the CPU figures tell the two apart.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};

use super::dial::{Conn, Dial};
use super::kafka::{
    ClientRun, KafkaBenchOptions, NATIVE_CONNECTIONS, NATIVE_IN_FLIGHT, kcat_consume, kcat_produce,
    native_consume, native_produce,
};
use crate::auth::{AuthSettings, Authenticator, Principal};
use crate::broker::producer::ProducerRegistry;
use crate::broker::topic_config::TopicConfig;
use crate::broker::txn::TxnCoordinator;
use crate::broker::{Broker, BrokerConfig};
use crate::kafka::tls::{Tls, TlsSettings};
use crate::kafka::{KafkaContext, KafkaListener, KafkaSettings};
use crate::log::FlushPolicy;

const RECORD: usize = 1024;
const USER: &str = "bench";
const PASSWORD: &str = "bench-secret";

const ROUNDS: usize = 3;

/// One broker under test and how kcat reaches it.
struct Target {
    _runtime: tokio::runtime::Runtime,
    broker: Arc<Broker>,
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
    let native_tls = Dial::SaslSsl {
        addr: tls.addr,
        config: Dial::tls_config(&dir.join("server.pem"))?,
        user: USER.into(),
        password: PASSWORD.into(),
    };
    let suite = match native_tls.connect()? {
        Conn::Tls(s) => s
            .conn
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()))
            .unwrap_or_default(),
        Conn::Plain(_) => String::new(),
    };
    let dials = [Dial::Plain(plain.addr), native_tls];
    // [client][target][produce, consume], the best of the rounds for each figure.
    let mut best = [[[Cost::WORST; 2]; 2]; 2];
    for round in 0..ROUNDS {
        for (i, target) in [&plain, &tls].into_iter().enumerate() {
            let topic = format!("bench-{round}");
            let costs = produce_consume(target, &topic, &input, opts.records)?;
            keep_best(&mut best[0][i], costs);
            // Only one case's records on disk at a time.
            target.broker.delete_topic(&topic)?;
            let topic = format!("native-{round}");
            target.broker.create_topic(&topic, 1, Default::default())?;
            let costs = native(&dials[i], &topic, opts)?;
            keep_best(&mut best[1][i], costs);
            target.broker.delete_topic(&topic)?;
        }
    }
    let mb = (opts.records * RECORD) as f64 / 1e6;
    println!(
        "{} × 1 KB records, 1 partition, acks=1, flush os; best of {ROUNDS} alternating rounds; \
         TLS 1.3 suite the server chose: {suite}",
        opts.records
    );
    println!(
        "kcat: linger.ms=5, batch.num.messages=10000; native: 1000-record batches, \
         {NATIVE_CONNECTIONS} connections × {NATIVE_IN_FLIGHT} in flight, 8 MiB fetches"
    );
    println!();
    println!(
        "| client | listener | produce MB/s | consume MB/s | broker CPU ms/MB produce, consume | client CPU ms/MB produce, consume |"
    );
    println!("|---|---|---|---|---|---|");
    let per_mb = |s: f64| s * 1e3 / mb;
    for (client, by_target) in ["kcat", "native"].iter().zip(best) {
        for (name, [p, c]) in ["plaintext, no auth", "SASL_SSL, SCRAM-SHA-256"]
            .iter()
            .zip(by_target)
        {
            println!(
                "| {client} | {name} | {:.0} | {:.0} | {:.2}, {:.2} | {:.2}, {:.2} |",
                mb / p.wall,
                mb / c.wall,
                per_mb(p.broker_cpu),
                per_mb(c.broker_cpu),
                per_mb(p.client_cpu),
                per_mb(c.client_cpu),
            );
        }
    }
    println!();
    for (client, [[pp, pc], [tp, tc]]) in ["kcat", "native"].iter().zip(best) {
        println!(
            "{client}: TLS+SCRAM / plaintext throughput: produce {:.2}×, consume {:.2}×; \
             broker CPU per MB plaintext / TLS: produce {:.2}, consume {:.2}",
            pp.wall / tp.wall,
            pc.wall / tc.wall,
            pp.broker_cpu / tp.broker_cpu,
            pc.broker_cpu / tc.broker_cpu,
        );
    }
    Ok(())
}

/// Keeps the least of each figure of `costs` in `best`.
fn keep_best(best: &mut [Cost; 2], costs: [Cost; 2]) {
    for (b, c) in best.iter_mut().zip(costs) {
        *b = b.best(c);
    }
}

/// The native client's produce then consume of `opts.records` records through
/// `dial`. Its threads run in this process: their CPU is taken out of the
/// process's to leave the broker's.
fn native(dial: &Dial, topic: &str, opts: &KafkaBenchOptions) -> anyhow::Result<[Cost; 2]> {
    let cost = |r: ClientRun| Cost {
        wall: r.secs,
        broker_cpu: (r.process_cpu - r.client_cpu).max(0.0),
        client_cpu: r.client_cpu,
    };
    let produce = cost(native_produce(dial, topic, 1, opts.records)?);
    let consume = cost(native_consume(
        dial,
        topic,
        1,
        opts.records,
        opts.fetch_bytes,
    )?);
    Ok([produce, consume])
}

/// What one produce or consume case cost, in seconds.
#[derive(Debug, Clone, Copy)]
struct Cost {
    wall: f64,
    /// CPU of this process: the broker.
    broker_cpu: f64,
    /// CPU of the kcat child.
    client_cpu: f64,
}

impl Cost {
    const WORST: Cost = Cost {
        wall: f64::MAX,
        broker_cpu: f64::MAX,
        client_cpu: f64::MAX,
    };

    /// The least of each figure (each is a lower bound disturbed only upwards).
    fn best(self, other: Cost) -> Cost {
        Cost {
            wall: self.wall.min(other.wall),
            broker_cpu: self.broker_cpu.min(other.broker_cpu),
            client_cpu: self.client_cpu.min(other.client_cpu),
        }
    }
}

/// CPU seconds (user + system) of this process and of its waited-for children.
fn cpu() -> (f64, f64) {
    let of = |who| {
        // SAFETY: getrusage only writes the struct it is given.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(who, &mut usage) };
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        secs(usage.ru_utime) + secs(usage.ru_stime)
    };
    (of(libc::RUSAGE_SELF), of(libc::RUSAGE_CHILDREN))
}

/// Runs `case`, measuring its wall clock and CPU.
fn measured(case: impl FnOnce() -> anyhow::Result<()>) -> anyhow::Result<Cost> {
    let (self0, children0) = cpu();
    let start = Instant::now();
    case()?;
    let wall = start.elapsed().as_secs_f64();
    let (self1, children1) = cpu();
    Ok(Cost {
        wall,
        broker_cpu: self1 - self0,
        client_cpu: children1 - children0,
    })
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
        // A leaf, not a CA: webpki (the native client's rustls) refuses a CA
        // certificate as the server's.
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
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
        tls,
        ..KafkaSettings::loopback()
    };
    let broker_handle = broker.clone();
    let producers = Arc::new(ProducerRegistry::new(broker.clone()));
    let txns = Arc::new(TxnCoordinator::open(broker.clone(), producers.clone())?);
    let listener = runtime.block_on(KafkaListener::bind(KafkaContext::new(
        broker, producers, txns, auth, settings,
    )))?;
    let addr = listener.local_addr()?;
    runtime.spawn(listener.serve(std::future::pending()));
    Ok(Target {
        _runtime: runtime,
        broker: broker_handle,
        addr,
        security: Vec::new(),
    })
}

/// kcat -P of `input` into `topic` (auto-created), then kcat -C of it all.
fn produce_consume(
    target: &Target,
    topic: &str,
    input: &Path,
    records: usize,
) -> anyhow::Result<[Cost; 2]> {
    let security: Vec<&str> = target
        .security
        .iter()
        .flat_map(|s| ["-X", s.as_str()])
        .collect();
    let addr = target.addr.to_string();
    let produce = measured(|| kcat_produce(&addr, topic, input, &security))?;
    let consume = measured(|| kcat_consume(&addr, topic, records, &security))?;
    Ok([produce, consume])
}
