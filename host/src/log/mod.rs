//! The durable partition log.
//!
//! - [`batch`]: Kafka record batch v2 codec (the on-disk and on-wire format).
//! - [`varint`]: zig-zag varints used inside records.
