//! Queryable state: a step's committed entries, read from the tasks' sled trees (what
//! the last commits hold, never a batch in flight).

use std::collections::BTreeMap;

use crate::broker::partitioner::partition_for_key;
use crate::runtime::Entries;

use super::super::error::PipelineError;
use super::super::spec::{Graph, Node, SourceKind};
use super::super::stage::Stage;
use crate::streams::{Row, Table, Value, WindowValue};

use super::super::state::{Overlay, StepState, step_prefix};
use super::super::store::PipelineRecord;
use super::Pipelines;

/// An aggregation step's committed state for one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AggregateState {
    /// A running aggregate's value.
    Running(Value),
    /// The key's windows in the range asked for, none empty.
    Windows(Vec<WindowValue>),
    /// No task holds the key (in that range).
    Missing,
}

/// A table's committed row for one key (a `to_table` step or a table source).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableState {
    /// The key's row.
    Row(Row),
    /// No task holds the key.
    Missing,
}

impl Pipelines {
    /// Committed row of `key` in table `step` (a `to_table` step by name or index, or a
    /// table or global table source by name), read from the task of the partition the key hashes to,
    /// then the others. `None`: `step` names no table.
    pub fn table_state(
        &self,
        name: &str,
        step: &str,
        key: &[u8],
    ) -> Result<Option<TableState>, PipelineError> {
        let record = self.record(name)?;
        let Ok(graph) = Graph::of(&record.spec) else {
            return Ok(None);
        };
        let source = graph
            .sources
            .iter()
            .position(|s| s.name == step && s.kind != SourceKind::Stream)
            .map(Node::Source);
        let node = match source {
            Some(node) => node,
            None => match self.state_step(name, step) {
                Ok((_, index)) => Node::Step(index),
                Err(_) => return Ok(None),
            },
        };
        let Some(slot) = graph.table_slot(&record.spec, node) else {
            return Ok(None);
        };
        let hinted = partition_for_key(key, record.partitions);
        let order = std::iter::once(hinted).chain((0..record.partitions).filter(|&p| p != hinted));
        for p in order {
            // An empty overlay: what the task's last commit holds.
            let store = StepState::new(self.store.task_tree(name, p)?, slot, Overlay::default());
            let row = Table::get(&store, key).map_err(|source| PipelineError::AggregateState {
                pipeline: name.to_string(),
                step: slot,
                source,
            })?;
            if let Some(row) = row {
                return Ok(Some(TableState::Row(row)));
            }
        }
        Ok(Some(TableState::Missing))
    }

    /// Committed state of step `step` (an index or a module name): the value under `key`,
    /// found in the task of the partition the key hashes to.
    pub fn state_get(
        &self,
        name: &str,
        step: &str,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>, PipelineError> {
        let (record, step) = self.state_step(name, step)?;
        let full = [&step_prefix(step)[..], key].concat();
        // The task the key hashes to first (where keyed input puts it), then the others:
        // a processor may store keys that are not its input's keys.
        let hinted = partition_for_key(key, record.partitions);
        let order = std::iter::once(hinted).chain((0..record.partitions).filter(|&p| p != hinted));
        for p in order {
            if let Some(v) = self.step_tree(&record, step, p)?.get(&full)? {
                return Ok(Some(v.to_vec()));
            }
        }
        Ok(None)
    }

    /// Committed state of step `step` across every task: up to `limit` entries whose key
    /// starts with `prefix`, in key order.
    pub fn state_scan(
        &self,
        name: &str,
        step: &str,
        prefix: &[u8],
        limit: usize,
    ) -> Result<Entries, PipelineError> {
        let (record, step) = self.state_step(name, step)?;
        let full = [&step_prefix(step)[..], prefix].concat();
        let mut all = BTreeMap::new();
        for p in 0..record.partitions {
            let tree = self.step_tree(&record, step, p)?;
            for kv in tree.scan_prefix(&full).take(limit) {
                let (k, v) = kv?;
                all.insert(k[3..].to_vec(), v.to_vec());
            }
        }
        Ok(all.into_iter().take(limit).collect())
    }

    /// Committed state of aggregation step `step` for `key`: its running aggregate, or
    /// its windows in `[from, to]` (unbounded where not given; see
    /// [`crate::streams::Aggregation::lookup_windows`]). Read from the task of the
    /// partition the key hashes to (where keyed input puts it), then the others until one
    /// has it. `None`: the step runs a module.
    pub fn aggregate_state(
        &self,
        name: &str,
        step: &str,
        key: &[u8],
        from: Option<i64>,
        to: Option<i64>,
    ) -> Result<Option<AggregateState>, PipelineError> {
        let (record, index) = self.state_step(name, step)?;
        let Some(aggregation) = record.spec.steps.get(index).and_then(|s| s.aggregation()) else {
            return Ok(None);
        };
        if !aggregation.grouping.windowed() && (from.is_some() || to.is_some()) {
            return Err(PipelineError::NotWindowed {
                pipeline: name.to_string(),
                step: step.to_string(),
            });
        }
        let fault = |source| PipelineError::AggregateState {
            pipeline: name.to_string(),
            step: index,
            source,
        };
        let hinted = partition_for_key(key, record.partitions);
        let order = std::iter::once(hinted).chain((0..record.partitions).filter(|&p| p != hinted));
        for p in order {
            // An empty overlay: what the task's last commit holds.
            let store = StepState::new(
                self.step_tree(&record, index, p)?,
                index,
                Overlay::default(),
            );
            let found = if aggregation.grouping.windowed() {
                let (from, to) = (from.unwrap_or(i64::MIN), to.unwrap_or(i64::MAX));
                let limit = self.config.max_state_query_windows as usize;
                Some(
                    aggregation
                        .lookup_windows(&store, key, from, to, limit)
                        .map_err(fault)?,
                )
                .filter(|w| !w.is_empty())
                .map(AggregateState::Windows)
            } else {
                aggregation
                    .lookup(&store, key)
                    .map_err(fault)?
                    .map(AggregateState::Running)
            };
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(Some(AggregateState::Missing))
    }

    /// The tree of partition `p`'s task that runs step `index` (after a `group_by`, the
    /// task of the stage after it).
    fn step_tree(
        &self,
        record: &PipelineRecord,
        index: usize,
        p: u32,
    ) -> Result<sled::Tree, PipelineError> {
        let stage = Stage::of_step(&record.spec, index);
        self.store.stage_tree(&record.spec.name, stage, p)
    }

    fn state_step(&self, name: &str, step: &str) -> Result<(PipelineRecord, usize), PipelineError> {
        let record = self.record(name)?;
        let modules = &record.current().modules;
        let named = record
            .spec
            .steps
            .iter()
            .position(|s| s.name.as_deref() == Some(step));
        let index = match (named, step.parse::<usize>()) {
            (Some(i), _) => Some(i),
            (None, Ok(i)) if i < modules.len() => Some(i),
            _ => modules.iter().position(|(m, _)| m == step),
        };
        let index = index.ok_or_else(|| PipelineError::UnknownStep {
            pipeline: name.to_string(),
            step: step.to_string(),
        })?;
        Ok((record, index))
    }
}
