//! A Kafka client for other clusters, behind a small trait so that what uses it (the mirror
//! connectors today, attached mode later) never sees the library, and the embedded path keeps
//! its direct log access. Knows nothing of weir's broker: a weir server is just another
//! cluster to it, reached over the Kafka protocol.
//!
//! - [`Cluster`]: a connection's factory of consumers, producers and admin handles.
//! - [`props`]: [`ClientProps`], Kafka client properties (`bootstrap.servers`,
//!   `security.protocol`, `sasl.*`, `ssl.*`) passed through, checked once.
//! - [`consumer`]: the [`Consumer`] trait (groups, assign, seek, poll, commit, rebalance
//!   listeners) and the records it returns.
//! - [`producer`]: the [`Producer`] trait (idempotent, or transactional) and its records.
//! - [`admin`]: the [`Admin`] trait (topics, partitions, configs, offsets, groups).
//! - [`attached`]: attached mode, pipelines' tasks on a consumer group of the cluster
//!   with changelogged state and exactly-once rounds.
//! - [`rd`]: the implementation on librdkafka (the `rdkafka` crate).
//! - [`catalog`]: attached mode's shared catalog: modules and pipeline records in the
//!   compacted topics `_weir_modules` and `_weir_pipelines`, read by every node.
//! - [`error`]: [`ClusterError`], the layer's one error type.
//!
//! Every call blocks the calling thread (up to its timeout) and never a tokio worker:
//! librdkafka does its network I/O on its own threads, and weir's callers are task threads
//! (connector and pipeline tasks); async code calls through `spawn_blocking`.

pub mod admin;
pub mod attached;
pub mod catalog;
pub mod consumer;
pub mod error;
pub mod producer;
pub mod props;
pub mod rd;

pub use admin::{Admin, GroupInfo, MemberInfo, TopicInfo};
pub use consumer::{Consumer, Fetched, GroupMetadata, Rebalance, RebalanceListener, TopicOffset};
pub use error::ClusterError;
pub use producer::{Delivered, OutRecord, Producer, ProducerMode};
pub use props::ClientProps;

/// A connection to one cluster: makes its clients.
pub trait Cluster: Send + Sync {
    /// A consumer; in consumer group `group` if given (offsets commit there), otherwise
    /// one that only assigns partitions and commits nothing.
    fn consumer(&self, group: Option<&str>) -> Result<Box<dyn Consumer>, ClusterError>;
    /// A producer: idempotent always, transactional with a `transactional.id`.
    fn producer(&self, mode: ProducerMode) -> Result<Box<dyn Producer>, ClusterError>;
    /// An admin handle.
    fn admin(&self) -> Result<Box<dyn Admin>, ClusterError>;
}

/// The cluster at `props`, on librdkafka.
pub fn connect(props: ClientProps) -> std::sync::Arc<dyn Cluster> {
    std::sync::Arc::new(rd::RdCluster::new(props))
}
