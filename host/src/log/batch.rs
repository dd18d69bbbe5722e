//! Kafka record batch v2 codec.
