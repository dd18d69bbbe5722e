//! Kafka Connect: connectors and their transformation chains.
pub mod transforms;
