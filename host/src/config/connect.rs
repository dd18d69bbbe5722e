//! `[connect]`: where Kafka Connect's REST API is served besides the HTTP listener.

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
}

/// Where the Connect REST API listens, and whether the address was the default (a default
/// port already taken leaves the API on the HTTP listener only, with a warning).
#[derive(Debug, Clone, Copy)]
pub struct ConnectSettings {
    /// The address.
    pub addr: SocketAddr,
    /// Whether it is [`DEFAULT_CONNECT_ADDR`], not one a user chose.
    pub is_default: bool,
}

impl ConnectSection {
    /// Validates the address.
    pub fn build(&self) -> Result<ConnectSettings, ConfigError> {
        let addr = self.addr.parse().map_err(|e| {
            ConfigError::Invalid(format!(
                "connect.addr {:?} is not host:port: {e}",
                self.addr
            ))
        })?;
        Ok(ConnectSettings {
            addr,
            is_default: self.addr == DEFAULT_CONNECT_ADDR,
        })
    }
}
