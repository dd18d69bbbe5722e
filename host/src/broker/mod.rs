//! Topics, partitions and consumer groups on top of the log. Knows nothing of
//! HTTP, Kafka's wire protocol or Wasm.
//!
//! - [`broker`]: [`Broker`], the set of topics; produce, fetch, offsets.
//! - [`topic`]: one topic's partitions and config.
//! - [`topic_name`]: Kafka's topic name rules.
//! - [`topic_config`]: Kafka-named per-topic configs and their defaults.
//! - [`topic_lifecycle`]: creating and deleting topics, adding partitions.
//! - [`topic_limits`]: [`TopicLimits`], caps on topics and partitions.
//! - [`partitioner`]: Kafka's default partitioner (murmur2).
//! - [`record_read`]: [`RecordRead`], committed records of a partition decoded.
//! - [`delete_records`]: moving a partition's log start forward.
//! - [`scrubber`]: the background CRC check of sealed segments after start,
//!   and the damage it found.
//! - [`orphans`]: topic directories the metadata does not list: kept, reported,
//!   adopted or deleted on request.
//! - [`history`]: [`history::ThroughputHistory`], the recent records in/out per
//!   second and totals, sampled into a bounded ring for the console.
//! - [`offsets`]: committing, describing and deleting consumer-group offsets.
//! - [`offset_reset`]: resetting an inactive group's offsets (earliest, latest,
//!   a time, an exact offset).
//! - [`producer`]: idempotent producers: ids, epochs, per-partition sequence windows
//!   (used by the Kafka face and by pipelines' exactly-once output).
//! - [`txn`]: transactions: the coordinator of transactional ids, commit and
//!   abort markers, each partition's last stable offset and aborted list.
//! - [`metadata`]: topics and committed offsets, durable in sled.
//! - [`meta_tree`]: [`MetaTree`], a named tree of that store lent to the auth layer.
//! - [`synced_db`]: [`SyncedDb`], sled with a flush that really fsyncs.
//! - [`error`]: [`BrokerError`], the layer's one error type.
#[allow(clippy::module_inception)]
pub mod broker;
pub mod delete_records;
pub mod error;
pub mod history;
pub mod meta_tree;
pub mod metadata;
pub mod offset_reset;
pub mod offsets;
pub mod orphans;
pub mod partitioner;
pub mod producer;
pub mod record_read;
pub mod scrubber;
pub mod synced_db;
pub mod topic;
pub mod topic_config;
pub mod topic_lifecycle;
pub mod topic_limits;
pub mod topic_name;
pub mod txn;

pub use broker::{Broker, BrokerConfig, ProduceRecord, Produced, TopicInfo, now_ms};
pub use error::BrokerError;
pub use meta_tree::MetaTree;
pub use offsets::{GroupOffset, LiveGroup, LiveGroups, OffsetCommit};
pub use orphans::Orphan;
pub use record_read::RecordRead;
pub use scrubber::{ScrubConfig, Scrubber};
pub use synced_db::SyncedDb;
pub use topic::Topic;
pub use topic_limits::TopicLimits;
