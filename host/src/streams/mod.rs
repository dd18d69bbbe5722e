//! Streams: the operators a pipeline step can be besides a module, with Kafka Streams'
//! semantics. The host owns time and state here: event time is the record timestamp,
//! stream time the largest one a task has seen, and window state lives in the task's
//! state store (the pipeline hands in a [`crate::runtime::StateBackend`] that writes
//! through the task's overlay, so state commits with outputs and input offsets).
//!
//! - [`spec`]: what a step asks for (`op`, `window`, `emit`, formats), checked, and built
//!   into an [`Aggregation`].
//! - [`window`]: [`TimeWindows`], epoch-aligned tumbling and hopping windows.
//! - [`sliding`]: [`SlidingWindows`], Kafka's record-driven windows, both ends inclusive.
//! - [`session`]: [`SessionWindows`], per-key sessions that merge, and their state.
//! - [`number`]: [`Decimal`], the exact decimal numbers `sum` adds.
//! - [`store`]: the key layout of aggregate state and its value encoding.
//! - [`aggregate`]: [`Aggregation::process`], the aggregation operator over a batch
//!   (`count`, `sum`, and with a module's functions `reduce` and `aggregate`).
//! - [`changes`]: a grouped table's changes: [`changes::regroup`] before its
//!   repartition topic, [`Aggregation::process_changes`] after it (Kafka's
//!   `KGroupedTable` aggregations, with the aggregator's `subtract`).
//! - [`functions`]: [`Functions`], a module's aggregator functions, and how a record is
//!   folded into an aggregate or two aggregates merged.
//! - [`open`]: [`OpenWindows`], a task's open tumbling and hopping windows in memory
//!   between batches, in front of the store.
//! - [`in_memory`]: [`Aggregation::process_open`], the operator over them (what the
//!   pipeline runs for count and sum; `process` is its store-only twin and its fallback).
//! - [`pending`]: [`Aggregation::uncommitted_updates`], `on_update` results built at
//!   the pipeline's commit from the store's uncommitted writes.
//! - [`idle`]: [`Aggregation::advance_to`], stream time following the wall clock on an
//!   idle input (`close_idle_after_ms`).
//! - [`query`]: [`Aggregation::lookup`] and [`Aggregation::lookup_windows`], the
//!   queryable state of a step.
//! - [`table`]: [`Table`], the latest value per key of a `table` source or `to_table`
//!   step, and its rows.
//! - [`versioned`]: [`VersionedTable`], a table source keeping its versions for a
//!   history retention, looked up as of a timestamp.
//! - [`join`]: [`Join`], the `join` step: stream–table and table–table joins, and
//!   [`JoinType`].
//! - [`join_versioned`]: [`VersionedJoin`], a stream–table join over a versioned table,
//!   with its grace buffer.
//! - [`join_window`]: [`JoinWindows`], the stream–stream join and its window stores.
//! - [`joiner`]: [`ValueJoiner`], a join result's value: a joiner module's, or the
//!   built-in [`DefaultJoiner`]'s.
//! - [`error`]: [`StreamsError`], why an operator failed a whole batch.

pub mod aggregate;
pub mod changes;
pub mod error;
pub mod functions;
pub mod idle;
pub mod in_memory;
pub mod join;
pub mod join_versioned;
pub mod join_window;
pub mod joiner;
pub mod number;
pub mod open;
pub mod pending;
pub mod query;
pub mod session;
pub mod sliding;
pub mod spec;
pub mod store;
pub mod table;
pub mod versioned;
pub mod window;

#[cfg(test)]
mod changes_tests;
#[cfg(test)]
mod join_tests;
#[cfg(test)]
mod limits_tests;
#[cfg(test)]
mod module_tests;
#[cfg(test)]
mod open_tests;
#[cfg(test)]
mod pending_tests;
#[cfg(test)]
mod session_tests;
#[cfg(test)]
mod sliding_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod versioned_tests;

pub use aggregate::{Aggregation, Grouping, Kind, LateRecord, Processed};
pub use error::StreamsError;
pub use functions::Functions;
pub use join::{Join, JoinPair, JoinType, Joined, Side};
pub use join_versioned::VersionedJoin;
pub use join_window::{JoinWindowSpec, JoinWindows};
pub use joiner::{DefaultJoiner, ValueJoiner};
pub use number::Decimal;
pub use open::{DEFAULT_MAX_OPEN_WINDOWS, OpenWindows};
pub use query::WindowValue;
pub use session::SessionWindows;
pub use sliding::SlidingWindows;
pub use spec::{AggregateSpec, Emit, KeyFormat, Late, Op, StepWindow, ValueFormat, WindowSpec};
pub use store::Value;
pub use table::{Row, Table};
pub use versioned::VersionedTable;
pub use window::{TimeWindows, Window};

/// Header naming a windowed result's window start, ms since the epoch, decimal text.
pub const WINDOW_START_HEADER: &str = "weir.window.start";
/// Header naming a windowed result's window end (exclusive), ms since the epoch.
pub const WINDOW_END_HEADER: &str = "weir.window.end";
