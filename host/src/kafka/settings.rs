//! The Kafka listener's runtime settings, built from `[kafka]` in `weir.toml`.

use std::net::SocketAddr;
use std::time::Duration;

/// Validated settings of the Kafka listener.
#[derive(Debug, Clone)]
pub struct KafkaSettings {
    /// Address to bind.
    pub addr: SocketAddr,
    /// Host and port clients are told to connect to; `None` = the bound address.
    pub advertised: Option<(String, u16)>,
    /// Largest request frame accepted, bytes; larger closes the connection.
    pub max_frame_bytes: usize,
    /// Cap on a Fetch response's `max_bytes` and each partition's
    /// `partition_max_bytes`, bytes (the first batch found is still sent whole).
    pub fetch_max_bytes: usize,
    /// Create unknown topics on Metadata and Produce (`auto.create.topics.enable`).
    pub auto_create_topics: bool,
    /// Partitions of an auto-created topic.
    pub default_partitions: u32,
    /// Consumer group coordinator settings.
    pub group: GroupSettings,
    /// What one client may make the listener hold.
    pub limits: ConnectionLimits,
    /// TLS (`[tls]` in weir.toml); `None`: plain TCP.
    pub tls: Option<super::tls::Tls>,
}

/// Caps on connections and the time they may hold the broker's resources.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Open connections in all (Kafka's `max.connections`).
    pub max_connections: usize,
    /// Open connections from one address (Kafka's `max.connections.per.ip`).
    pub max_connections_per_ip: usize,
    /// A connection with no request for this long is closed (Kafka's
    /// `connections.max.idle.ms`).
    pub idle_timeout: Duration,
    /// Once a request's size prefix arrived, the whole request must arrive within this.
    pub request_read_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: 10_000,
            max_connections_per_ip: 1_000,
            idle_timeout: Duration::from_millis(600_000),
            request_read_timeout: Duration::from_millis(30_000),
        }
    }
}

/// Consumer group timeouts (Kafka's `group.*` broker configs).
#[derive(Debug, Clone)]
pub struct GroupSettings {
    /// Smallest session timeout a member may ask for.
    pub min_session_timeout: Duration,
    /// Largest session timeout a member may ask for.
    pub max_session_timeout: Duration,
}

impl Default for GroupSettings {
    fn default() -> Self {
        GroupSettings {
            min_session_timeout: Duration::from_millis(6_000),
            max_session_timeout: Duration::from_millis(1_800_000),
        }
    }
}
