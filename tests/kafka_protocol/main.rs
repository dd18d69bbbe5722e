//! The Kafka wire protocol at the byte level against a real `weir serve`:
//! ApiVersions fallbacks, bad frames closing only their connection, a fuzz run
//! of random and truncated frames, acks=0, idempotent producer sequences
//! (duplicates, gaps, and both across a restart), and liberal parsing (unknown
//! tagged fields, trailing bytes, librdkafka's bodies, Kafka 3.x versions), and the
//! caps on what one client can make the listener hold, including what one
//! produced batch may decode to (`produce_limits`).

#[path = "../common/mod.rs"]
mod common;
mod helpers;

mod cluster;
mod fetch;
mod fetch_budget;
mod fetch_sessions;
mod frames;
mod group_initial_delay;
mod group_rejoin;
mod groups_admin;
mod liberal;
mod limits;
mod metadata;
mod produce;
mod produce_limits;
mod producer_state;
mod responses;
mod transactions;
