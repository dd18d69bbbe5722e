//! `group_by` in attached mode (`weir serve --cluster B --group G`): each stage of a
//! pipeline a consumer group of its own, the stages joined by the repartition topics on
//! the cluster. The same spec and input run embedded (on the cluster, a weir server) and
//! attached (on two nodes with no broker of their own) give the same output,
//! read_committed, also when one node is SIGKILLed mid-stream.
//!
//! - [`stages`]: waits on every stage's group of an attached pipeline.
//! - [`counts`]: issue 12's repartition count over a 3-partition input, exact across a
//!   kill and a hot-swap; two `group_by`s (a middle stage) before a windowed count, as
//!   embedded.
//! - [`joins`]: a `group_by` then a left join with a co-partitioned table, null new keys
//!   kept as embedded keeps them (KIP-962), across a kill.
//! - [`cleanup`]: a deleted pipeline's cache trees removed from the node's disk.

#[path = "../common/mod.rs"]
mod common;

// The attached Streams tests' helpers (read_committed output, both modes compared).
#[allow(dead_code)]
#[path = "../attached_streams/cluster.rs"]
mod cluster;

mod cleanup;
mod counts;
mod joins;
mod stages;
