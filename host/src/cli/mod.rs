//! The `weir` command line. Apart from `serve`, every command talks to a running server only
//! through its HTTP API, never through host internals.
//!
//! - [`client`]: the blocking HTTP client and the API's error shape.
//! - `weir serve` starts a server with [`ServeOptions`] (owned by [`crate::server`]).
//! - [`topic`]: `weir topic create|list|describe|delete|add-partitions`.
//! - [`produce`]: `weir produce`, one record per input line.
//! - [`consume`]: `weir consume`, prints records, optionally committing a group's offsets.
//! - [`group`]: `weir group list|describe`.
//! - [`orphan`]: `weir orphans list|adopt|delete`, log directories the metadata lost.
//! - [`module`]: `weir module push|list|delete`, the module registry.
//! - [`pipeline`]: `weir pipeline create|list|status|swap|pause|resume|delete|logs`.
//! - [`plugin`]: `weir plugin test|new`, run locally through [`crate::runtime`] (no server).
//! - [`acl`]: `weir acl add|list|remove`, ACLs in Kafka's model.
//! - [`user`]: `weir user add|list|delete` and `weir token create|list|revoke`.
//! - `weir bench` runs [`crate::bench`] in-process.

mod acl;
mod client;
mod connector;
mod consume;
mod group;
mod mirror;
mod module;
mod orphan;
mod pipeline;
mod plugin;
mod produce;
mod scaffold;
mod topic;
mod user;

#[doc(hidden)]
pub use pipeline::spec_from_text;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use crate::server::ServeOptions;

/// Command-line arguments shared by every command.
#[derive(Debug, Parser)]
#[command(
    name = "weir",
    version,
    about = "weir: a Kafka-compatible broker with WebAssembly stream processing"
)]
struct Cli {
    /// URL of the weir server's HTTP API (used by every command but serve).
    #[arg(
        long,
        global = true,
        display_order = 100,
        env = "WEIR_URL",
        default_value = "http://127.0.0.1:9080"
    )]
    url: String,

    /// Bearer token for the HTTP API (from `weir token create`); needed once users exist.
    #[arg(
        long,
        global = true,
        display_order = 101,
        env = "WEIR_TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,

    /// User for HTTP basic authentication, instead of a token (`--user` and
    /// `--password` belong to `weir token create` and `weir user add`).
    #[arg(
        long,
        global = true,
        display_order = 102,
        env = "WEIR_USER",
        conflicts_with = "token"
    )]
    auth_user: Option<String>,

    /// Password of --auth-user.
    #[arg(
        long,
        global = true,
        display_order = 103,
        env = "WEIR_PASSWORD",
        hide_env_values = true,
        requires = "auth_user"
    )]
    auth_password: Option<String>,

    /// PEM CA bundle to check an https --url's certificate against, besides the
    /// system's roots (for a weir with a private CA's or a self-signed certificate).
    #[arg(
        long,
        global = true,
        display_order = 104,
        env = "WEIR_CA_CERT",
        value_name = "FILE"
    )]
    ca_cert: Option<std::path::PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a weir server (HTTP API and Kafka listener).
    Serve(ServeOptions),
    /// Create, list, inspect and delete topics.
    #[command(subcommand)]
    Topic(topic::TopicCommand),
    /// Produce records to a topic, one per input line (like `kcat -P`).
    Produce(produce::ProduceArgs),
    /// Print records from a topic (like `kcat -C`).
    Consume(consume::ConsumeArgs),
    /// List and inspect consumer groups.
    #[command(subcommand)]
    Group(group::GroupCommand),
    /// Log directories the metadata does not list: list, adopt as a topic, or delete.
    #[command(subcommand)]
    Orphans(orphan::OrphanCommand),
    /// Upload and list Wasm modules.
    #[command(subcommand)]
    Module(module::ModuleCommand),
    /// Create, inspect, hot-swap, pause and delete pipelines.
    #[command(subcommand)]
    Pipeline(pipeline::PipelineCommand),
    /// Kafka Connect connectors: create (JSON or .properties), list, status, pause, resume,
    /// stop, restart, delete, offsets.
    #[command(subcommand)]
    Connector(connector::ConnectorCommand),
    /// MirrorMaker 2 mirroring: create the connectors of an MM2 properties file's flows.
    #[command(subcommand)]
    Mirror(mirror::MirrorCommand),
    /// Test a plugin locally on JSON-lines records, or scaffold a new one (no server needed).
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    /// Add, list and delete users (SCRAM credentials for Kafka SASL, basic for HTTP).
    #[command(subcommand)]
    User(user::UserCommand),
    /// Create, list and revoke the HTTP API's bearer tokens.
    #[command(subcommand)]
    Token(user::TokenCommand),
    /// Add, list and remove ACLs (who may do what to which topic, group, module…).
    #[command(subcommand)]
    Acl(acl::AclCommand),
    /// Run the benchmarks recorded in BENCHMARKS.md (locally, no server needed).
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Partition log append/read throughput against raw sequential file I/O.
    Log(crate::bench::LogBenchOptions),
    /// Kafka produce/consume throughput with librdkafka (kcat) against raw disk
    /// bandwidth, and producer latency at a fixed rate.
    Kafka(crate::bench::kafka::KafkaBenchOptions),
    /// Wasm plugin throughput against the same filter in native Rust; instantiate and load times.
    Wasm(crate::bench::wasm::WasmBenchOptions),
    /// Pipelines end to end (Wasm filter vs native filter step), hot-swap pauses, and
    /// throughput with 1, 2, 4 worker threads.
    Pipeline(crate::bench::pipeline::PipelineBenchOptions),
    /// Log compaction throughput and append latency during a compaction pass.
    Compaction(crate::bench::compaction::CompactionBenchOptions),
    /// The per-request ACL check with 1 to 10 001 ACLs, against a super user's.
    Acl(crate::bench::acl::AclBenchOptions),
    /// Kafka Connect's transformations: a chain of 3 against none, cost per record.
    Transforms(crate::bench::transforms::TransformsBenchOptions),
    /// A file into a topic: the FileStreamSource connector against `weir produce --file`.
    Connect(crate::bench::connect::ConnectBenchOptions),
    /// MirrorSourceConnector between two servers against a plain consume+produce copy with
    /// the same client, and replication latency p50/p99 at a fixed rate.
    Mirror(crate::bench::mirror::MirrorBenchOptions),
    /// PostgresSink rows/s against the same rows as psql's batched upserts.
    Postgres(crate::bench::postgres::PostgresBenchOptions),
    /// A stateful pipeline embedded against 1, 2 and 3 attached nodes (`serve --cluster`), and
    /// the changelog restore rate.
    Attached(crate::bench::attached::AttachedBenchOptions),
}

/// Runs the `weir` binary: parses the arguments, runs the command and prints any error as
/// `error: ...` on stderr. A closed stdout (e.g. `weir consume t | head`) is a success.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let credentials = match (&cli.token, &cli.auth_user) {
        (Some(token), _) => client::Credentials::Token(token.clone()),
        (None, Some(user)) => client::Credentials::Basic {
            user: user.clone(),
            password: cli.auth_password.clone().unwrap_or_default(),
        },
        (None, None) => client::Credentials::None,
    };
    let client = || client::Client::new(&cli.url, credentials.clone(), cli.ca_cert.as_deref());
    match cli.command {
        Command::Serve(opts) => crate::server::serve(opts),
        Command::Topic(cmd) => topic::run(&client()?, cmd),
        Command::Produce(args) => produce::run(&client()?, args),
        Command::Consume(args) => consume::run(&client()?, args),
        Command::Group(cmd) => group::run(&client()?, cmd),
        Command::Module(cmd) => module::run(&client()?, cmd),
        Command::Orphans(cmd) => orphan::run(&client()?, cmd),
        Command::Pipeline(cmd) => pipeline::run(&client()?, cmd),
        Command::Connector(cmd) => connector::run(&client()?, cmd),
        Command::Mirror(cmd) => mirror::run(&client()?, cmd),
        Command::User(cmd) => user::run_user(&client()?, cmd),
        Command::Token(cmd) => user::run_token(&client()?, cmd),
        Command::Acl(cmd) => acl::run(&client()?, cmd),
        Command::Plugin(plugin::PluginCommand::Test(args)) => plugin::run_test(args),
        Command::Plugin(plugin::PluginCommand::New(args)) => plugin::run_new(args),
        Command::Bench(BenchCommand::Log(opts)) => crate::bench::run_log_bench(&opts),
        Command::Bench(BenchCommand::Kafka(opts)) => crate::bench::kafka::run_kafka_bench(&opts),
        Command::Bench(BenchCommand::Wasm(opts)) => crate::bench::wasm::run_wasm_bench(&opts),
        Command::Bench(BenchCommand::Pipeline(opts)) => {
            crate::bench::pipeline::run_pipeline_bench(&opts)
        }
        Command::Bench(BenchCommand::Transforms(opts)) => {
            crate::bench::transforms::run_transforms_bench(&opts)
        }
        Command::Bench(BenchCommand::Connect(opts)) => {
            crate::bench::connect::run_connect_bench(&opts)
        }
        Command::Bench(BenchCommand::Compaction(opts)) => {
            crate::bench::compaction::run_compaction_bench(&opts)
        }
        Command::Bench(BenchCommand::Mirror(opts)) => crate::bench::mirror::run_mirror_bench(&opts),
        Command::Bench(BenchCommand::Acl(opts)) => crate::bench::acl::run_acl_bench(&opts),
        Command::Bench(BenchCommand::Attached(opts)) => {
            crate::bench::attached::run_attached_bench(&opts)
        }
        Command::Bench(BenchCommand::Postgres(opts)) => {
            crate::bench::postgres::run_postgres_bench(&opts)
        }
    }
}

/// Whether the error comes from writing to a reader that went away, which is how `| head` ends.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|cause| cause.downcast_ref::<io::Error>())
        .any(|io| io.kind() == io::ErrorKind::BrokenPipe)
}

/// Writes rows as left-aligned columns separated by two spaces, the header row first.
fn print_table<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> io::Result<()> {
    // In chars, as `format!` pads.
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = io::stdout().lock();
    let header = header.map(str::to_owned);
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
            if i + 1 == N {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  "));
            }
        }
        writeln!(out, "{line}")?;
    }
    out.flush()
}

/// Prints a JSON value, pretty, on stdout (the `--json` flags).
fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    // Serialise first: serde_json hides the io::Error that marks a broken pipe.
    let text = serde_json::to_string_pretty(value)?;
    let mut out = io::stdout().lock();
    writeln!(out, "{text}")?;
    out.flush()?;
    Ok(())
}

/// Parses a `key=value` argument (topic configs, record headers).
fn parse_key_value(arg: &str) -> Result<(String, String), String> {
    match arg.split_once('=') {
        Some(("", _)) => Err(format!("empty key in `{arg}`")),
        Some((key, value)) => Ok((key.to_owned(), value.to_owned())),
        None => Err(format!("expected key=value, got `{arg}`")),
    }
}
