//! [`Record`]: a Kafka record as the layers above the bytes see it — key, value, headers,
//! timestamp. Neutral ground: the log encodes it into batches and the Wasm runtime hands
//! it to plugins, and neither needs the other for that.

use bytes::Bytes;

/// A record: what a producer writes, a plugin receives and returns, a consumer reads.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    /// Partitioning and compaction key; `None` is a null key.
    pub key: Option<Bytes>,
    /// Payload; `None` is a tombstone.
    pub value: Option<Bytes>,
    /// Headers in order, duplicates allowed as in Kafka.
    pub headers: Vec<(String, Option<Bytes>)>,
    /// Create time in milliseconds since the Unix epoch.
    pub timestamp: i64,
}
