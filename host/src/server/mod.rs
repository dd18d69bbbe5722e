//! `weir serve`: loads the config, opens the broker, serves HTTP and Kafka, runs the
//! background flusher and retention cleaner, and shuts down cleanly.
//!
//! - this file: [`serve`] and [`run`], the server's start, its loops and its shutdown.
//! - [`options`]: [`ServeOptions`], what `weir serve` may override.
//! - [`http_listener`]: the HTTP API's accept loop with connection caps and a
//!   header-read timeout.

mod http_listener;
mod options;

pub use options::ServeOptions;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::api::{self, AppState};
use crate::auth::Authenticator;
use crate::broker::Broker;
use crate::broker::history::{self, ThroughputHistory};
use crate::broker::producer::ProducerRegistry;
use crate::broker::txn::TxnCoordinator;
use crate::cluster::attached::Attached;
use crate::cluster::catalog::ClusterCatalog;
use crate::log::cleaner::aborted::AbortedSet;

/// How often open transactions are checked against their timeout: a reader
/// waits at most this long past a dead producer's `transaction.timeout.ms`.
const TXN_TIMEOUT_CHECK: std::time::Duration = std::time::Duration::from_secs(1);
/// How soon a shared catalog change that failed to apply on this node is tried again.
const CATALOG_RETRY: std::time::Duration = std::time::Duration::from_secs(1);
use crate::config::{ServerConfig, Settings};
use crate::connect::service::TaskCaps;
use crate::connect::{ConnectConfig, Connectors};
use crate::kafka::{KafkaContext, KafkaListener};
use crate::pipeline::{Catalog as _, Pipelines};

/// Loads the configuration with the command-line overrides applied.
pub fn settings(opts: &ServeOptions) -> anyhow::Result<Settings> {
    let mut config = ServerConfig::load(opts.config.as_deref())?;
    if let Some(dir) = &opts.data_dir {
        config.data_dir = dir.clone();
    }
    if let Some(addr) = &opts.http_addr {
        config.http_addr = addr.clone();
    }
    if let Some(addr) = &opts.kafka_addr {
        config.kafka_addr = addr.clone();
    }
    if let Some(addr) = &opts.connect_addr {
        config.connect.addr = addr.clone();
    }
    if let Some(dir) = &opts.plugins_dir {
        config.pipelines.plugins_dir = dir.clone();
    }
    if let Some(n) = opts.worker_threads {
        config.pipelines.worker_threads = n;
    }
    if let Some(bootstrap) = &opts.cluster {
        config.cluster.set("bootstrap.servers", bootstrap);
    }
    if let Some(group) = &opts.group {
        config.cluster.set("group", group);
    }
    let mut settings = config.build()?;
    settings.auth.allow_anonymous = opts.allow_anonymous;
    Ok(settings)
}

/// Runs a server until SIGTERM or Ctrl-C.
pub fn serve(opts: ServeOptions) -> anyhow::Result<()> {
    init_tracing();
    let settings = settings(&opts)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("weir")
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(run(settings, shutdown_signal()))
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WEIR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// Opens the broker, binds the listeners and serves until `shutdown` completes.
/// Prints `weir: HTTP API on http://ADDR` on stdout once ready (tests read it
/// to learn the port when started with port 0).
pub async fn run(
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let broker_config = settings.broker.clone();
    let started = std::time::Instant::now();
    let broker = tokio::task::spawn_blocking(move || Broker::open(broker_config))
        .await?
        .with_context(|| {
            format!(
                "opening data directory {}",
                settings.broker.data_dir.display()
            )
        })?;
    let broker = Arc::new(broker);
    tracing::info!(
        data_dir = %settings.broker.data_dir.display(),
        topics = broker.topics().len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "recovered broker"
    );
    let auth = Arc::new(Authenticator::open(&broker, settings.auth.clone())?);
    // Before anything binds: a server nobody could authenticate to stays off the network.
    auth.check_bind("the HTTP API", settings.http_addr)?;
    auth.check_bind("the Kafka listener", settings.kafka.addr)?;
    auth.check_bind("the Connect API", settings.connect.addr)?;
    if auth.required() {
        tracing::info!("users exist: every request must authenticate");
    } else if settings.auth.allow_anonymous {
        tracing::warn!("no users and --allow-anonymous: serving anyone without credentials");
    } else {
        tracing::info!("no users: serving loopback clients only, without credentials");
    }
    let producers = Arc::new(ProducerRegistry::with_limits(
        broker.clone(),
        settings.producers,
    ));
    // Attached: pipelines run on the cluster's consumer groups; the broker opened above
    // keeps only this node's users and ACLs, and serves no topics.
    let (attached, catalog) = attach(&settings).await?;
    let mut pipelines_config = settings.pipelines.clone();
    pipelines_config.external = attached
        .clone()
        .map(|a| Arc::new(a) as Arc<dyn crate::pipeline::ExternalTasks>);
    pipelines_config.catalog = catalog
        .clone()
        .map(|c| c as Arc<dyn crate::pipeline::Catalog>);
    // Before the service applies the catalog at open: a change after that is not missed.
    let catalog_changes = catalog.as_ref().map(|c| c.subscribe());
    let (b, p, config) = (broker.clone(), producers.clone(), pipelines_config);
    let pipelines = tokio::task::spawn_blocking(move || Pipelines::open(b, p, config))
        .await?
        .context("starting pipelines")?;
    let pipelines = Arc::new(pipelines);
    let listener = TcpListener::bind(settings.http_addr)
        .await
        .with_context(|| format!("binding the HTTP API to {}", settings.http_addr))?;
    let http_addr: SocketAddr = listener.local_addr()?;
    let connect_listener = match TcpListener::bind(settings.connect.addr).await {
        Ok(l) => Some(l),
        // Connect's default port taken (another worker, another weir): the API stays on
        // the HTTP listener. An address the user chose must bind.
        Err(e) if settings.connect.is_default && e.kind() == std::io::ErrorKind::AddrInUse => {
            tracing::warn!(
                addr = %settings.connect.addr,
                "the Connect API's default address is in use: serving it on the HTTP API only"
            );
            None
        }
        Err(e) => {
            return Err(e)
                .with_context(|| format!("binding the Connect API to {}", settings.connect.addr));
        }
    };
    let connect_addr = match &connect_listener {
        Some(l) => l.local_addr()?,
        None => http_addr,
    };
    let (b, p, pl) = (broker.clone(), producers.clone(), pipelines.clone());
    let connect_config = ConnectConfig {
        dir: settings.broker.data_dir.join("connect"),
        worker_id: connect_addr.to_string(),
        caps: TaskCaps {
            total: settings.connect.max_tasks,
            per_connector: settings.connect.max_tasks_per_connector,
            sockets_per_task: settings.connect.max_tcp_sockets_per_task as usize,
        },
    };
    let connectors =
        tokio::task::spawn_blocking(move || Connectors::open(b, p, pl, connect_config))
            .await?
            .context("starting connectors")?;
    let connectors = Arc::new(connectors);
    // Flips to true when shutdown starts, so long polls answer at once instead
    // of holding the graceful shutdown up for their whole timeout.
    let (closing_tx, closing) = tokio::sync::watch::channel(false);
    let throughput = Arc::new(ThroughputHistory::new(history::SAMPLES_KEPT));
    api::bounded::set_limits(settings.produce_limits.0, settings.produce_limits.1);
    let state = AppState {
        broker: broker.clone(),
        producers: producers.clone(),
        default_partitions: settings.default_partitions,
        max_poll: settings.max_poll,
        max_search: settings.max_search,
        closing,
        pipelines: pipelines.clone(),
        auth: auth.clone(),
        connect: connectors.clone(),
        history: throughput.clone(),
        log_follows: Arc::new(tokio::sync::Semaphore::new(
            api::pipeline_live::MAX_LOG_FOLLOWS,
        )),
        attached: attached.clone(),
    };
    let connect_app = api::connect_router(state.clone(), settings.max_body_bytes);
    let app = api::router(state, settings.max_body_bytes);
    let (b, p) = (broker.clone(), producers.clone());
    let txns = tokio::task::spawn_blocking(move || TxnCoordinator::open(b, p))
        .await?
        .context("recovering transactions")?;
    let txns = Arc::new(txns);
    // Attached: no Kafka listener; the cluster is the clients' broker.
    let kafka = match &attached {
        Some(_) => None,
        None => Some(
            KafkaListener::bind(KafkaContext::new(
                broker.clone(),
                producers.clone(),
                txns.clone(),
                auth.clone(),
                settings.kafka.clone(),
            ))
            .await
            .with_context(|| format!("binding the Kafka listener to {}", settings.kafka.addr))?,
        ),
    };
    let kafka_addr = kafka.as_ref().map(|k| k.local_addr()).transpose()?;
    let mut background = spawn_background(&broker, &producers, &settings);
    if let Some(changes) = catalog_changes {
        background.push(follow_catalog(pipelines.clone(), changes));
    }
    let sampled = pipelines.clone();
    background.push(every(
        crate::pipeline::samples::SAMPLE_INTERVAL,
        "pipeline samples",
        move || sampled.sample(),
    ));
    let b = broker.clone();
    background.push(every(
        history::SAMPLE_INTERVAL,
        "throughput history",
        move || match b.totals() {
            Ok(totals) => throughput.record(totals),
            Err(e) => tracing::warn!("sampling the throughput history: {e}"),
        },
    ));
    background.push(every(
        TXN_TIMEOUT_CHECK,
        "transaction timeouts",
        move || {
            let n = txns.abort_expired(crate::broker::now_ms());
            if n > 0 {
                tracing::info!(transactions = n, "aborted timed-out transactions");
            }
        },
    ));
    // One shutdown signal stops both faces.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let kafka_task = kafka.map(|k| tokio::spawn(k.serve(stopped())));
    let connect_task = connect_listener.map(|l| {
        tokio::spawn(http_listener::serve_http(
            l,
            connect_app,
            settings.http_limits.clone(),
            settings.tls.clone(),
            stopped(),
        ))
    });
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
        closing_tx.send_replace(true);
    });
    let scheme = if settings.tls.is_some() {
        "https"
    } else {
        "http"
    };
    println!("weir: HTTP API on {scheme}://{http_addr}");
    match (&kafka_addr, &attached) {
        (Some(kafka_addr), _) => println!("weir: Kafka API on {kafka_addr}"),
        (None, Some(a)) => println!(
            "weir: attached to {} as node {} in group {}",
            a.bootstrap(),
            a.node(),
            a.group()
        ),
        (None, None) => {}
    }
    println!("weir: Connect API on {scheme}://{connect_addr}");
    tracing::info!(%http_addr, ?kafka_addr, "serving the APIs");
    http_listener::serve_http(
        listener,
        app,
        settings.http_limits.clone(),
        settings.tls.clone(),
        stopped(),
    )
    .await;
    if let Some(t) = kafka_task {
        let _ = t.await;
    }
    if let Some(t) = connect_task {
        let _ = t.await;
    }
    tracing::info!("shutting down");
    let c = connectors.clone();
    tokio::task::spawn_blocking(move || c.shutdown()).await?;
    for task in background {
        task.abort();
    }
    let p = pipelines.clone();
    tokio::task::spawn_blocking(move || p.shutdown()).await?;
    if let Some(a) = attached {
        // After the pipelines said stop: each runner leaves its group.
        tokio::task::spawn_blocking(move || a.shutdown()).await?;
    }
    let b = broker.clone();
    tokio::task::spawn_blocking(move || b.close())
        .await?
        .context("closing the broker")?;
    tracing::info!("shut down cleanly");
    Ok(())
}

/// Attached mode's node and shared catalog (`settings.attached`), the catalog read up to
/// its end before anything answers; `(None, None)` when embedded.
async fn attach(
    settings: &Settings,
) -> anyhow::Result<(Option<Attached>, Option<Arc<ClusterCatalog>>)> {
    let Some(config) = settings.attached.clone() else {
        return Ok((None, None));
    };
    let bootstrap = config.props.bootstrap().to_string();
    let a = tokio::task::spawn_blocking(move || Attached::open(config))
        .await?
        .with_context(|| format!("attaching to the cluster at {bootstrap}"))?;
    let (node, max) = (a.clone(), settings.pipelines.max_module_bytes);
    let catalog = tokio::task::spawn_blocking(move || node.open_catalog(max))
        .await?
        .with_context(|| format!("reading the shared catalog of the cluster at {bootstrap}"))?;
    Ok((Some(a), Some(catalog)))
}

/// Attached: applies each change of the shared catalog (made on any node) to this node's
/// pipelines; one that failed to apply is tried again a second later.
fn follow_catalog(
    pipelines: Arc<Pipelines>,
    mut changes: tokio::sync::watch::Receiver<u64>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut retry = false;
        loop {
            let changed = if retry {
                let wait = tokio::time::timeout(CATALOG_RETRY, changes.changed()).await;
                wait.unwrap_or(Ok(()))
            } else {
                changes.changed().await
            };
            if changed.is_err() {
                break;
            }
            let p = pipelines.clone();
            retry = match tokio::task::spawn_blocking(move || p.follow_catalog()).await {
                Ok(Ok(())) => false,
                Ok(Err(e)) => {
                    tracing::warn!("applying the shared catalog: {e}");
                    true
                }
                Err(e) => {
                    tracing::error!("applying the shared catalog failed: {e}");
                    true
                }
            };
        }
    })
}

fn spawn_background(
    broker: &Arc<Broker>,
    producers: &Arc<ProducerRegistry>,
    settings: &Settings,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    let b = broker.clone();
    tasks.push(every(
        settings.retention_check_interval,
        "retention",
        move || {
            let n = b.apply_retention();
            if n > 0 {
                tracing::info!(segments = n, "retention deleted segments");
            }
        },
    ));
    let (b, txns) = (broker.clone(), producers.clone());
    tasks.push(every(
        settings.cleaner_check_interval,
        "compaction",
        // An open transaction bounds what may be cleaned; if its state cannot be read,
        // nothing is.
        move || {
            b.compact_all(|topic, p| {
                txns.cleaner_bounds(topic, p)
                    .unwrap_or((i64::MIN, AbortedSet::default()))
            })
        },
    ));
    let scrubber = Arc::new(crate::broker::Scrubber::new(broker.clone(), settings.scrub));
    if scrubber.enabled() {
        tasks.push(every(crate::broker::scrubber::STEP, "scrub", move || {
            scrubber.step()
        }));
    }
    if let Some(period) = settings.flush_interval {
        let b = broker.clone();
        tasks.push(every(period, "flush", move || b.flush_all()));
    }
    tasks
}

/// Runs blocking `work` on the blocking pool every `period`, one run at a time.
fn every(
    period: std::time::Duration,
    name: &'static str,
    work: impl Fn() + Send + Sync + 'static,
) -> tokio::task::JoinHandle<()> {
    let work = Arc::new(work);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let w = work.clone();
            if let Err(e) = tokio::task::spawn_blocking(move || w()).await {
                tracing::error!("{name} task failed: {e}");
            }
        }
    })
}
