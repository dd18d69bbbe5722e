//! [`JoinStep`]: a task's `join` step — the streams layer's [`Join`] over the step's own
//! state and its table inputs' rows, with the step's joiner module (or the default
//! joiner) making each result's value, and for a stream–global_table join its key
//! module choosing the table key each stream record looks up.

use crate::log::batch::Record;
use crate::runtime::{Instance, Origin, Output};
use crate::streams::join::JoinStores;
use crate::streams::{DefaultJoiner, Join, Joined, Side, StreamsError, ValueJoiner};

use super::chain::StepFault;
use super::state::StepState;
use super::table_cache::CachedState;

/// A join step as a task runs it.
pub(super) struct JoinStep {
    pub(super) join: Join,
    /// The step's own state (windows, which results exist).
    pub(super) own: StepState,
    /// The left input's table rows (table–table joins), through the task's table cache.
    pub(super) left: Option<CachedState>,
    /// The right input's table rows (stream–table, table–table, stream–global_table).
    pub(super) right: Option<CachedState>,
    /// The joiner module's instance; `None`: the default joiner.
    pub(super) joiner: Option<Box<Instance>>,
    /// A stream–global_table join's key module: the table key of each stream record.
    pub(super) keys: Option<Box<Instance>>,
}

impl JoinStep {
    /// Joins `records` (from the sides `sides` names, read at `origin`'s offsets).
    pub(super) fn run(
        &mut self,
        origin: &Origin,
        records: &[Record],
        sides: &[Side],
    ) -> Result<Joined, StepFault> {
        let mut default = DefaultJoiner;
        let joiner: &mut dyn ValueJoiner = match &mut self.joiner {
            Some(instance) => &mut **instance,
            None => &mut default,
        };
        let Some(selector) = &mut self.keys else {
            let stores = JoinStores {
                own: &mut self.own,
                left_table: self.left.as_ref().map(|s| s as _),
                right_table: self.right.as_ref().map(|s| s as _),
            };
            return Ok(self.join.process(stores, joiner, records, sides)?);
        };
        // Only stream records look keys up; the global table's own records only change
        // its rows, so the key module never sees them.
        let stream: Vec<usize> = (0..records.len())
            .filter(|&j| sides.get(j) == Some(&Side::Left))
            .collect();
        let picked: Vec<Record> = stream.iter().map(|&j| records[j].clone()).collect();
        let at = Origin {
            topic: origin.topic.clone(),
            partition: origin.partition,
            offsets: stream.iter().map(|&j| origin.offsets[j]).collect(),
        };
        let selected = selector.select_keys(&at, &picked)?;
        let mut lookup: Vec<Option<Vec<u8>>> = vec![None; records.len()];
        for (&j, key) in stream.iter().zip(selected.keys) {
            lookup[j] = key;
        }
        // A record the key module failed fails here, and is not joined (not even a left
        // join's null match: its key is unknown, not null): marked as the table's side,
        // which the join passes over.
        let mut failed = Output::default();
        let mut sides = sides.to_vec();
        for f in selected.failures {
            if let Some(&j) = stream.get(f.index as usize) {
                sides[j] = Side::Right;
                failed.failures.push(crate::runtime::RecordFailure {
                    index: j as u32,
                    message: format!("key_module: {}", f.message),
                });
            }
        }
        let table = self.right.as_ref().ok_or(StreamsError::NoTable)?;
        let mut joined = self
            .join
            .process_looked_up(table, joiner, records, &sides, &lookup)?;
        joined.output.failures.extend(failed.failures);
        Ok(joined)
    }
}
