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
