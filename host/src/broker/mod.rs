//! Topics, partitions and consumer groups on top of the log.
//!
//! - [`partitioner`]: Kafka's default partitioner (murmur2).
pub mod partitioner;
