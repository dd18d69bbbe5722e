//! Queryable state: a step's committed entries, read from the tasks' sled trees (what
//! the last commits hold, never a batch in flight).

use std::collections::BTreeMap;

use crate::broker::partitioner::partition_for_key;
use crate::runtime::Entries;

use super::super::error::PipelineError;
use super::super::state::step_prefix;
use super::super::store::PipelineRecord;
use super::Pipelines;

impl Pipelines {
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
            if let Some(v) = self.store.task_tree(name, p)?.get(&full)? {
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
            let tree = self.store.task_tree(name, p)?;
            for kv in tree.scan_prefix(&full).take(limit) {
                let (k, v) = kv?;
                all.insert(k[3..].to_vec(), v.to_vec());
            }
        }
        Ok(all.into_iter().take(limit).collect())
    }

    fn state_step(&self, name: &str, step: &str) -> Result<(PipelineRecord, usize), PipelineError> {
        let record = self.record(name)?;
        let modules = &record.current().modules;
        let index = match step.parse::<usize>() {
            Ok(i) if i < modules.len() => Some(i),
            _ => modules.iter().position(|(m, _)| m == step),
        };
        let index = index.ok_or_else(|| PipelineError::UnknownStep {
            pipeline: name.to_string(),
            step: step.to_string(),
        })?;
        Ok((record, index))
    }
}
