//! [`Join`]: a `join` step with Kafka Streams' semantics for each pair of inputs. Which
//! pair it is follows from what the inputs are (see [`JoinPair`]):
//!
//! - stream–stream ([`super::join_window`]): records within the join window of each
//!   other match; left/outer results of unmatched records come when the window closes;
//! - stream–table (`KStreamKTableJoin`): only a stream record triggers; it looks its key
//!   up in the table as the table stands at its arrival; table updates only change state;
//! - stream–versioned table ([`super::join_versioned`]): a lookup as of the stream
//!   record's timestamp, the stream record waiting out the join's grace period first;
//! - table–table (`KTableKTableJoin`): an update on either side emits the new result for
//!   its key, or a tombstone when it ends, by the rules of Kafka's processors;
//! - stream–global table (`KStreamGlobalKTableJoin`): as stream–table, looking up the
//!   stream record's key, or the key the step's key module selected for it
//!   ([`Join::process_looked_up`]).
//!
//! The joiner makes the value ([`super::joiner`]): a joiner module's, or without one
//! [`super::joiner::DefaultJoiner`]'s JSON `{"left": L, "right": R}`.

use serde::{Deserialize, Serialize};

use crate::record::Record;
use crate::runtime::joiner::JoinAnswered;
use crate::runtime::{Body, Output, OutputRecord, RecordFailure, StateBackend};

use super::error::StreamsError;
use super::join_versioned::VersionedJoin;
use super::join_window::JoinWindows;
use super::joiner::ValueJoiner;
use super::table::Table;

/// Which records of each side appear in the results.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinType {
    /// Only matches.
    #[default]
    Inner,
    /// Matches, and left records without one (joined with null).
    Left,
    /// Matches, and records of either side without one.
    Outer,
}

impl JoinType {
    /// The name the spec uses.
    pub fn name(self) -> &'static str {
        match self {
            JoinType::Inner => "inner",
            JoinType::Left => "left",
            JoinType::Outer => "outer",
        }
    }

    /// Whether a record of `side` without a match still yields a result.
    pub fn keeps(self, side: Side) -> bool {
        match (self, side) {
            (JoinType::Inner, _) => false,
            (JoinType::Left, Side::Left) => true,
            (JoinType::Left, Side::Right) => false,
            (JoinType::Outer, _) => true,
        }
    }
}

/// Which input of a join a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// `left`.
    Left,
    /// `right`.
    Right,
}

impl Side {
    /// The other side.
    pub fn other(self) -> Side {
        match self {
            Side::Left => Side::Right,
            Side::Right => Side::Left,
        }
    }

    /// One byte naming the side in state keys.
    pub(crate) fn byte(self) -> u8 {
        match self {
            Side::Left => 0,
            Side::Right => 1,
        }
    }
}

/// What a join's two inputs are, which decides its semantics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinPair {
    /// Two streams, matched within a window.
    StreamStream(JoinWindows),
    /// A stream (left) looked up in a co-partitioned table (right).
    StreamTable,
    /// A stream (left) looked up in a co-partitioned versioned table (right) as of each
    /// stream record's timestamp, with the grace period its records wait for late table
    /// updates.
    StreamVersioned(VersionedJoin),
    /// Two co-partitioned tables.
    TableTable,
    /// A stream (left) looked up, by its key, in a global table (right): every task
    /// holds all of it, so no co-partitioning is needed.
    StreamGlobal,
}

impl JoinPair {
    /// The name errors use.
    pub fn name(self) -> &'static str {
        match self {
            JoinPair::StreamStream(_) => "stream–stream",
            JoinPair::StreamTable | JoinPair::StreamVersioned(_) => "stream–table",
            JoinPair::TableTable => "table–table",
            JoinPair::StreamGlobal => "stream–global_table",
        }
    }
}

/// A built join step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Join {
    /// Inner, left or outer.
    pub join_type: JoinType,
    /// What its inputs are.
    pub pair: JoinPair,
}

/// What one batch of a join came to.
#[derive(Debug, Default)]
pub struct Joined {
    /// The results, each attributed to the input record that triggered it, and failures.
    pub output: Output,
    /// Stream records dropped because their join window had closed.
    pub late: u64,
}

/// The states a join reads and writes: its own, and the tables of its table inputs.
pub struct JoinStores<'a> {
    /// The join step's own state (windows, results that exist).
    pub own: &'a mut dyn StateBackend,
    /// The left input's table (table–table joins).
    pub left_table: Option<&'a dyn StateBackend>,
    /// The right input's table (stream–table and table–table joins).
    pub right_table: Option<&'a dyn StateBackend>,
}

/// First byte of a table–table join's record of which sides of a key exist.
const RESULT_TAG: u8 = b'e';

pub(crate) fn emit(out: &mut Output, index: u32, record: Record) {
    out.records.push(OutputRecord {
        source: Some(index),
        topic: None,
        body: Body::New(Box::new(record)),
    });
}

pub(crate) fn fail(out: &mut Output, index: u32, message: String) {
    out.failures.push(RecordFailure { index, message });
}

/// The joiner's answer for the stream record `record` (at `index` of the batch) of a
/// stream–table lookup: the joined value under the stream record's key, headers and
/// timestamp, or the failure the joiner named.
pub(crate) fn answer(out: &mut Output, index: u32, record: &Record, answered: JoinAnswered) {
    match answered {
        Ok(v) => emit(
            out,
            index,
            Record {
                key: record.key.clone(),
                value: v.map(Into::into),
                headers: record.headers.clone(),
                timestamp: record.timestamp,
            },
        ),
        Err(m) => fail(out, index, m),
    }
}

impl Join {
    /// Runs `records` (each from the side `sides` names, in arrival order) through the
    /// join.
    pub fn process(
        &self,
        stores: JoinStores<'_>,
        joiner: &mut dyn ValueJoiner,
        records: &[Record],
        sides: &[Side],
    ) -> Result<Joined, StreamsError> {
        match self.pair {
            JoinPair::StreamStream(windows) => {
                windows.process(self.join_type, stores.own, joiner, records, sides)
            }
            JoinPair::StreamTable | JoinPair::StreamGlobal => {
                let table = stores.right_table.ok_or(StreamsError::NoTable)?;
                self.stream_table(table, joiner, records, sides, None)
            }
            JoinPair::StreamVersioned(join) => {
                let table = stores.right_table.ok_or(StreamsError::NoTable)?;
                join.process(stores.own, table, joiner, records, sides)
            }
            JoinPair::TableTable => {
                let (Some(left), Some(right)) = (stores.left_table, stores.right_table) else {
                    return Err(StreamsError::NoTable);
                };
                self.table_table(stores.own, left, right, joiner, records, sides)
            }
        }
    }

    /// A stream–global_table join whose stream records look up the table keys `lookup`
    /// (by position, as the step's key module selected them; `None` matches no row)
    /// instead of their own keys; results keep the stream record's key.
    pub fn process_looked_up(
        &self,
        table: &dyn StateBackend,
        joiner: &mut dyn ValueJoiner,
        records: &[Record],
        sides: &[Side],
        lookup: &[Option<Vec<u8>>],
    ) -> Result<Joined, StreamsError> {
        self.stream_table(table, joiner, records, sides, Some(lookup))
    }

    /// Stream–table: each stream record looks its key up in the table at its arrival.
    /// A null value is skipped (Kafka: it does not trigger the join); a null key joins
    /// nothing, so only a left join emits it, with a null right side (KIP-962).
    fn stream_table(
        &self,
        table: &dyn StateBackend,
        joiner: &mut dyn ValueJoiner,
        records: &[Record],
        sides: &[Side],
        lookup: Option<&[Option<Vec<u8>>]>,
    ) -> Result<Joined, StreamsError> {
        let mut done = Joined::default();
        // A result per stream record at most (left joins: exactly one each).
        done.output.records.reserve(records.len());
        let mut scratch = Vec::new();
        for (j, (record, side)) in records.iter().zip(sides).enumerate() {
            let index = j as u32;
            // The table's own changelog only changed state (written by the table step).
            if *side == Side::Right {
                continue;
            }
            let Some(value) = &record.value else { continue };
            // A null selected key matches no row, as a null key does (Kafka 4: a left join
            // still emits the record, joined with null).
            let key = match lookup {
                Some(keys) => keys.get(j).and_then(Option::as_deref),
                None => record.key.as_deref(),
            };
            let row = match key {
                Some(k) => super::table::row_value_in(table, k, &mut scratch)?,
                None => None,
            };
            if row.is_none() && self.join_type == JoinType::Inner {
                continue;
            }
            let answered = joiner.join(record.key.as_deref(), Some(&value[..]), row.as_deref())?;
            answer(&mut done.output, index, record, answered);
        }
        Ok(done)
    }

    /// Table–table, as Kafka's `KTableKTable{Inner,Left,Outer}Join` processors: an update
    /// of either side (already applied to its table) is joined with the other side's row.
    /// With the updated side's new value `n`, its old one `o` and the other side's `x`:
    /// an inner join emits only when `x` exists (the joined value, or a tombstone when
    /// `n` is null); the side a left join keeps, and either side of an outer join, emits
    /// unless `x`, `n` and `o` are all null (the joined value when `n` or `x` exists, else
    /// a tombstone); the right side of a left join emits only when the left row exists.
    /// Which sides existed is the join's own state (`[e] ++ key` → a bit per side), as
    /// Kafka knows `o` from the table's changelog. The result's timestamp is the larger
    /// of both rows'.
    fn table_table(
        &self,
        own: &mut dyn StateBackend,
        left: &dyn StateBackend,
        right: &dyn StateBackend,
        joiner: &mut dyn ValueJoiner,
        records: &[Record],
        sides: &[Side],
    ) -> Result<Joined, StreamsError> {
        let mut done = Joined::default();
        for (j, (record, side)) in records.iter().zip(sides).enumerate() {
            let index = j as u32;
            let Some(key) = &record.key else { continue };
            // The updated side's new value is the record's; the other side's is its table's.
            let other = match side {
                Side::Left => Table::get(right, key)?,
                Side::Right => Table::get(left, key)?,
            };
            let marker = [&[RESULT_TAG][..], key].concat();
            let before = own
                .get(&marker)?
                .and_then(|b| b.first().copied())
                .unwrap_or(0);
            let bit = match side {
                Side::Left => 1u8,
                Side::Right => 2u8,
            };
            let new = record.value.as_deref();
            let had = before & bit != 0;
            let after = if new.is_some() {
                before | bit
            } else {
                before & !bit
            };
            if after != before {
                if after == 0 {
                    own.delete(&marker)?;
                } else {
                    own.put(&marker, &[after])?;
                }
            }
            let x = other.as_ref().map(|r| r.value.as_slice());
            let emits = match (self.join_type, side) {
                (JoinType::Inner, _) | (JoinType::Left, Side::Right) => x.is_some(),
                (JoinType::Left, Side::Left) | (JoinType::Outer, _) => {
                    x.is_some() || new.is_some() || had
                }
            };
            if !emits {
                continue;
            }
            let joins = match (self.join_type, side) {
                (JoinType::Inner, _) => new.is_some(),
                (JoinType::Left, Side::Left) => new.is_some(),
                (JoinType::Left, Side::Right) | (JoinType::Outer, _) => {
                    new.is_some() || x.is_some()
                }
            };
            let (l, r) = match side {
                Side::Left => (new, x),
                Side::Right => (x, new),
            };
            let value = if joins {
                match joiner.join(Some(&key[..]), l, r)? {
                    Ok(v) => v,
                    Err(m) => {
                        fail(&mut done.output, index, m);
                        continue;
                    }
                }
            } else {
                None
            };
            let timestamp = other
                .as_ref()
                .map_or(record.timestamp, |o| o.timestamp.max(record.timestamp));
            emit(
                &mut done.output,
                index,
                Record {
                    key: Some(key.clone()),
                    value: value.map(Into::into),
                    headers: record.headers.clone(),
                    timestamp,
                },
            );
        }
        Ok(done)
    }
}
