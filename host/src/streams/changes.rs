//! A grouped table's changes, both halves of Kafka's `KTable.groupBy(...)` followed by
//! `count`, `reduce` or `aggregate` (`KGroupedTable`):
//!
//! - [`regroup`] (Kafka's `KTableRepartitionMap`), upstream of the repartition topic: each
//!   change of a table row becomes the records that take its old value out of its old
//!   group and add its new value to its new group. When both groups are the same, one
//!   record carries both (Kafka 3.5+, KIP-904, so the subtractor runs before the adder);
//!   otherwise the old group's record goes first, then the new group's.
//! - [`Aggregation::process_changes`] (Kafka's `KTableAggregate` and `KTableReduce`),
//!   downstream: per record, the old value is taken out of the group's aggregate when both
//!   exist, then the new value added (to `initial()`, or as a `reduce`'s first value, when
//!   the group has no aggregate); the aggregate is stored and emitted with the larger of
//!   the record's and the aggregate's timestamps. An aggregate is never removed: a group
//!   whose rows all left keeps its count of 0 (or whatever the subtractor left), as
//!   Kafka's does.
//!
//! On the repartition topic a record's value is the row's new value (null: it left the
//! group), and [`OLD_VALUE_HEADER`] holds the old value when the record takes one out.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;

use crate::record::Record;
use crate::runtime::state::MAX_KEY_BYTES;
use crate::runtime::{Body, OutputRecord, RecordFailure, StateBackend};

use super::aggregate::{Aggregation, Kind, Processed, too_long};
use super::error::StreamsError;
use super::functions::Functions;
use super::store::{Aggregate, Value, table_key};

/// The header of a repartitioned table change holding the row's old value, which the
/// record takes out of its group (absent: it takes nothing out).
pub const OLD_VALUE_HEADER: &str = "weir.change.old";

/// The records `records` (table changes: each the row's new value, null for a deletion)
/// make on the repartition topic, each attributed to its change. `olds[j]` is change
/// `j`'s old value (the row before it, if there was one); `new_keys[j]` and
/// `old_keys[j]` the groups the key selector chose for the new and the old value (`None`:
/// no such value, or no group, which Kafka drops too).
pub fn regroup(
    records: &[Record],
    olds: &[Option<Bytes>],
    new_keys: &[Option<Vec<u8>>],
    old_keys: &[Option<Vec<u8>>],
) -> Vec<OutputRecord> {
    let mut out = Vec::new();
    for (j, record) in records.iter().enumerate() {
        let old = olds.get(j).cloned().flatten();
        let new_key = new_keys.get(j).cloned().flatten();
        let old_key = old_keys.get(j).cloned().flatten();
        let make = |key: Vec<u8>, value: Option<Bytes>, old: Option<Bytes>| {
            let mut r = record.clone();
            r.headers.retain(|(name, _)| name != OLD_VALUE_HEADER);
            if let Some(old) = old {
                r.headers.push((OLD_VALUE_HEADER.to_string(), Some(old)));
            }
            r.key = Some(key.into());
            r.value = value;
            OutputRecord {
                source: Some(j as u32),
                topic: None,
                body: Body::New(Box::new(r)),
            }
        };
        let new = record.value.clone().filter(|_| new_key.is_some());
        let old = old.filter(|_| old_key.is_some());
        match (new_key, old_key) {
            (Some(n), Some(o)) if n == o && new.is_some() && old.is_some() => {
                out.push(make(n, new, old));
            }
            (new_key, old_key) => {
                if let (Some(o), Some(_)) = (old_key, &old) {
                    out.push(make(o, None, old));
                }
                if let (Some(n), Some(_)) = (new_key, &new) {
                    out.push(make(n, new, None));
                }
            }
        }
    }
    out
}

/// One repartitioned change as the aggregation reads it.
struct Change<'r> {
    key: &'r Bytes,
    new: Option<&'r Bytes>,
    old: Option<&'r Bytes>,
}

impl<'r> Change<'r> {
    /// `record`'s change; `None` for a record without a key (never written by
    /// [`regroup`]).
    fn of(record: &'r Record) -> Option<Change<'r>> {
        let old = record
            .headers
            .iter()
            .find(|(name, _)| name == OLD_VALUE_HEADER)
            .and_then(|(_, v)| v.as_ref());
        Some(Change {
            key: record.key.as_ref()?,
            new: record.value.as_ref(),
            old,
        })
    }
}

impl Aggregation {
    /// Aggregates a batch of a grouped table's changes into `store` (see the module's
    /// doc), `fns` doing a module's arithmetic; emits each changed group's latest
    /// aggregate once, at the end of the batch (as every `on_update` aggregation does).
    pub(super) fn process_changes(
        &self,
        fns: &mut dyn Functions,
        store: &mut dyn StateBackend,
        records: &[Record],
    ) -> Result<Processed, StreamsError> {
        let mut done = Processed::default();
        let mut aggregates: HashMap<Vec<u8>, Aggregate> = HashMap::new();
        // State key → the input record that last changed it.
        let mut changed: BTreeMap<Vec<u8>, u32> = BTreeMap::new();
        for (j, record) in records.iter().enumerate() {
            let index = j as u32;
            let Some(change) = Change::of(record) else {
                continue;
            };
            let k = table_key(change.key);
            if k.len() > MAX_KEY_BYTES {
                done.output.failures.push(RecordFailure {
                    index,
                    message: too_long(change.key.len(), 1),
                });
                continue;
            }
            let before = match aggregates.get(&k) {
                Some(a) => Some(a.clone()),
                None => match store.get(&k)? {
                    Some(b) => Some(Aggregate::decode(&k, &b, self.kind)?),
                    None => None,
                },
            };
            match self.apply_change(fns, &change, before.as_ref(), record.timestamp)? {
                Ok(Some(agg)) => {
                    aggregates.insert(k.clone(), agg);
                    changed.insert(k, index);
                }
                Ok(None) => {}
                Err(message) => done.output.failures.push(RecordFailure { index, message }),
            }
        }
        for (k, agg) in &aggregates {
            store.put(k, &agg.encode())?;
        }
        for (k, source) in changed {
            if let Some(agg) = aggregates.get(&k) {
                done.output
                    .records
                    .push(self.result(&k[1..], None, agg, source));
            }
        }
        Ok(done)
    }

    /// The group's aggregate after `change` (`before`: its aggregate, if it has one), or
    /// `None` when nothing changed; `Err` fails the record and leaves the aggregate as
    /// it was.
    fn apply_change(
        &self,
        fns: &mut dyn Functions,
        change: &Change<'_>,
        before: Option<&Aggregate>,
        timestamp: i64,
    ) -> Result<Result<Option<Aggregate>, String>, StreamsError> {
        let key = &change.key[..];
        // Kafka subtracts only what an aggregate exists to subtract from.
        let mut value = before.map(|a| a.value.clone());
        if let (Some(old), Some(agg)) = (change.old, &value) {
            // A sum's old value that is no number was never added: nothing to take out.
            if let Ok(subtrahend) = self.operand(old) {
                match self.unfold(fns, key, agg, &subtrahend, timestamp)? {
                    Ok(v) => value = Some(v),
                    Err(m) => return Ok(Err(m)),
                }
            }
        }
        if let Some(new) = change.new {
            let addend = match self.operand(new) {
                Ok(a) => a,
                Err(m) => return Ok(Err(m)),
            };
            match self.fold(fns, key, value.as_ref(), &addend, timestamp)? {
                Ok(v) => value = Some(v),
                Err(m) => return Ok(Err(m)),
            }
        }
        let applied = change.new.is_some() || (change.old.is_some() && before.is_some());
        Ok(Ok(match value {
            Some(value) if applied => Some(Aggregate {
                timestamp: before.map_or(timestamp, |a| a.timestamp.max(timestamp)),
                value,
            }),
            _ => None,
        }))
    }

    /// What one row value adds or takes out: a count's 1, a sum's number (or why the
    /// value is none), a module's value.
    fn operand(&self, value: &Bytes) -> Result<Value, String> {
        Ok(match self.kind {
            Kind::Count => Value::Count(1),
            Kind::Sum => Value::Sum(self.parse(value)?),
            Kind::Reduce | Kind::Aggregate => Value::Bytes(value.clone()),
        })
    }
}
