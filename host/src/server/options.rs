//! [`ServeOptions`]: the options of a server (the flags of `weir serve`), owned by the
//! server so that the CLI depends on it and not the other way round.

use std::path::PathBuf;

/// Options of `weir serve`. Each one given overrides the config file; unset ones fall back to
/// the config file, then to the built-in defaults.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServeOptions {
    /// Directory holding the topics' logs and the broker metadata.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address for the HTTP API, e.g. 127.0.0.1:9080 (port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    pub http_addr: Option<String>,
    /// Address for the Kafka protocol listener, e.g. 127.0.0.1:9092 (port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    pub kafka_addr: Option<String>,
    /// Address for Kafka Connect's REST API, e.g. 127.0.0.1:8083 (port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    pub connect_addr: Option<String>,
    /// Threads running pipeline tasks (default: one per core).
    #[arg(long, value_name = "N")]
    pub worker_threads: Option<usize>,
    /// Directory of the built-in plugins (default: `plugins/` beside the binary's directory).
    #[arg(long, value_name = "DIR")]
    pub plugins_dir: Option<PathBuf>,
    /// Attached mode: run pipelines on this Kafka-protocol cluster (its bootstrap list,
    /// host:port,...) with no broker of its own (`[cluster] bootstrap.servers`).
    #[arg(long, value_name = "BOOTSTRAP")]
    pub cluster: Option<String>,
    /// Attached mode: the nodes' group; nodes with the same one share pipelines' tasks
    /// (`[cluster] group`).
    #[arg(long, value_name = "G")]
    pub group: Option<String>,
    /// Server config file (TOML), e.g. weir.toml.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// While no users exist, serve clients without credentials on any address, not
    /// just loopback (without it, binding a non-loopback address with no users refuses
    /// to start). Once a user exists, every request must authenticate regardless.
    #[arg(long)]
    pub allow_anonymous: bool,
}
