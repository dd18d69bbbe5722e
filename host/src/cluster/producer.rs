//! The [`Producer`] trait and its records.

use std::time::Duration;

use super::consumer::{GroupMetadata, TopicOffset};
use super::error::ClusterError;

/// How a producer writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProducerMode {
    /// Idempotent (`enable.idempotence`): retries write nothing twice, order per partition
    /// is kept. At-least-once across a restart.
    Idempotent,
    /// Transactional with this `transactional.id` (idempotent too): writes and consumer
    /// offsets commit or abort together; a newer producer with the same id fences this one.
    Transactional {
        /// The `transactional.id`.
        id: String,
    },
}

/// A record to write to another cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutRecord {
    /// The topic.
    pub topic: String,
    /// The partition (`None`: the client's partitioner picks by key).
    pub partition: Option<i32>,
    /// The timestamp (ms; `None`: now).
    pub timestamp: Option<i64>,
    /// The key.
    pub key: Option<Vec<u8>>,
    /// The value (`None`: a tombstone).
    pub value: Option<Vec<u8>>,
    /// The headers, in order.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

/// Where a record landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    /// Its partition.
    pub partition: i32,
    /// Its offset there.
    pub offset: i64,
}

/// A producer to another cluster. Sends are asynchronous; [`Producer::flush`] answers
/// where each record since the last flush landed, in send order.
pub trait Producer: Send {
    /// Queues `record`.
    fn send(&mut self, record: OutRecord) -> Result<(), ClusterError>;
    /// Waits until every queued record is delivered (or `timeout` passes): their places,
    /// in send order, or the first failure.
    fn flush(&mut self, timeout: Duration) -> Result<Vec<Delivered>, ClusterError>;
    /// Without waiting: the places of the records at the head of those sent since the last
    /// `flush`/`ready` whose delivery has completed, in send order, up to the first still
    /// pending (so a caller can act on a prefix while the rest is in flight), or the first
    /// failure.
    fn ready(&mut self) -> Result<Vec<Delivered>, ClusterError>;
    /// Registers the transactional id and fences older producers (transactional only).
    fn init_transactions(&mut self, timeout: Duration) -> Result<(), ClusterError>;
    /// Begins a transaction.
    fn begin(&mut self) -> Result<(), ClusterError>;
    /// Adds a consumer group's offsets to the open transaction.
    fn send_offsets(
        &mut self,
        offsets: &[TopicOffset],
        group: &GroupMetadata,
        timeout: Duration,
    ) -> Result<(), ClusterError>;
    /// Commits the open transaction.
    fn commit(&mut self, timeout: Duration) -> Result<(), ClusterError>;
    /// Aborts the open transaction.
    fn abort(&mut self, timeout: Duration) -> Result<(), ClusterError>;
}
