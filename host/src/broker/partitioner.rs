//! Kafka default partitioner.
