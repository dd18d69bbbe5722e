//! Streams steps and processor timers in attached mode (`weir serve --cluster B --group
//! G`): the same spec and input run embedded (on the cluster, a weir server) and attached
//! (on nodes with no broker of their own) give the same output, read_committed; a node
//! SIGKILLed mid-stream hands its tasks, with their state restored from the changelogs
//! (window stores and stream clocks included), to the other without changing a result.
//!
//! - [`cluster`]: attached nodes, read_committed output, waits on both modes.
//! - [`timers`]: wall-clock timers and stream-time punctuation.
//! - [`aggregations`]: every window type, both emit modes, idle closing, to_table.
//! - [`joins`]: stream–table and table–table joins over co-partitioned sources.

#[path = "../common/mod.rs"]
mod common;

mod aggregations;
mod cluster;
mod joins;
mod timers;
