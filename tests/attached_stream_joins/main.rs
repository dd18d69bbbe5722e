//! Windowed stream–stream joins and versioned-table joins in attached mode (`weir serve
//! --cluster B --group G`): the same spec and input run embedded (on the cluster, a weir
//! server) and attached (on nodes with no broker of their own) give the same output,
//! read_committed; a node SIGKILLed mid-stream hands its tasks to the other, their join
//! window stores, waiting (unmatched) records and table histories restored from the
//! changelogs, without changing a result or emitting one twice.
//!
//! - `cluster`: attached_streams' helpers (attached nodes, read_committed output, waits
//!   on both modes), shared by path.
//! - [`windows`]: left and outer windowed joins with out-of-order, late and null-key input.
//! - [`versioned`]: a left join with a versioned table and a grace period.

#[path = "../common/mod.rs"]
mod common;

#[allow(dead_code)]
#[path = "../attached_streams/cluster.rs"]
mod cluster;

mod phases;
mod versioned;
mod windows;
