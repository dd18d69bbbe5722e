//! `[connect]`: where Kafka Connect's REST API is served besides the HTTP listener, and how
//! many connector tasks the server runs.

use std::net::SocketAddr;

use serde::Deserialize;

use super::ConfigError;

/// Connect's default REST port, on loopback.
pub const DEFAULT_CONNECT_ADDR: &str = "127.0.0.1:8083";

/// `[connect]` of `weir.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectSection {
    /// Listen address of the Connect REST API (`weir serve --connect-addr`).
    pub addr: String,
    /// Most connector tasks (threads, each with a Wasm instance) the server runs at once.
    pub max_tasks: u32,
    /// Most tasks one connector may run, whatever its `tasks.max`.
    pub max_tasks_per_connector: u32,
    /// Most TCP sockets one connector task may hold open: the ceiling of a connector's
    /// `weir.tcp.max.sockets`.
    pub max_tcp_sockets_per_task: u32,
}

/// Where the Connect REST API listens, and whether the address was the default (a default
/// port already taken leaves the API on the HTTP listener only, with a warning).
#[derive(Debug, Clone, Copy)]
pub struct ConnectSettings {
    /// The address.
    pub addr: SocketAddr,
    /// Whether it is [`DEFAULT_CONNECT_ADDR`], not one a user chose.
    pub is_default: bool,
    /// `connect.max_tasks`.
    pub max_tasks: u32,
    /// `connect.max_tasks_per_connector`.
    pub max_tasks_per_connector: u32,
    /// `connect.max_tcp_sockets_per_task`.
    pub max_tcp_sockets_per_task: u32,
}

impl ConnectSection {
    /// Validates the address and the task caps.
    pub fn build(&self) -> Result<ConnectSettings, ConfigError> {
        if self.max_tasks == 0
            || self.max_tasks_per_connector == 0
            || self.max_tcp_sockets_per_task == 0
        {
            return Err(ConfigError::Invalid(
                "connect.max_tasks, connect.max_tasks_per_connector and connect.max_tcp_sockets_per_task must be at least 1".into(),
            ));
        }
        let addr = self.addr.parse().map_err(|e| {
            ConfigError::Invalid(format!(
                "connect.addr {:?} is not host:port: {e}",
                self.addr
            ))
        })?;
        Ok(ConnectSettings {
            addr,
            is_default: self.addr == DEFAULT_CONNECT_ADDR,
            max_tasks: self.max_tasks,
            max_tasks_per_connector: self.max_tasks_per_connector,
            max_tcp_sockets_per_task: self.max_tcp_sockets_per_task,
        })
    }
}
