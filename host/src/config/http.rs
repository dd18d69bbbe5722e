//! `[http]`: the HTTP listener and API.

use std::time::Duration;

use serde::Deserialize;

use super::ConfigError;

/// `[http]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    /// Largest request body, bytes.
    pub max_body_bytes: usize,
    /// Longest long-poll, ms.
    pub max_poll_ms: u64,
    /// Open connections in all.
    pub max_connections: usize,
    /// Open connections from one address.
    pub max_connections_per_ip: usize,
    /// Time a request's headers may take to arrive (and an idle connection lives), ms.
    pub header_read_timeout_ms: u64,
    /// Most records in one produce request.
    pub max_produce_records: usize,
    /// Most headers on one produced record.
    pub max_headers_per_record: usize,
    /// Longest one records search reads before answering, ms.
    pub max_search_ms: u64,
}

/// Limits of the HTTP listener.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// Open connections in all.
    pub max_connections: usize,
    /// Open connections from one address.
    pub max_connections_per_ip: usize,
    /// A request's headers must arrive within this (and an idle connection lives this long).
    pub header_read_timeout: Duration,
}

impl HttpSection {
    /// The listener's limits, or which key is unusable.
    pub(super) fn limits(&self) -> Result<HttpLimits, ConfigError> {
        if self.max_connections == 0
            || self.max_connections_per_ip == 0
            || self.header_read_timeout_ms == 0
            || self.max_produce_records == 0
            || self.max_search_ms == 0
        {
            return Err(ConfigError::Invalid(
                "http.max_connections, max_connections_per_ip, header_read_timeout_ms, max_produce_records and max_search_ms must be > 0"
                    .into(),
            ));
        }
        Ok(HttpLimits {
            max_connections: self.max_connections,
            max_connections_per_ip: self.max_connections_per_ip,
            header_read_timeout: Duration::from_millis(self.header_read_timeout_ms),
        })
    }
}
