//! [`PartitionTask`]: one input partition of an attached pipeline on this node: its step
//! chain over the state cache, and what one round of its records comes to (outputs,
//! changelog records, the offsets to commit), sent by the runner in one transaction.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;

use crate::cluster::{Fetched, OutRecord, TopicOffset};
use crate::pipeline::chain::{Chain, Emitted};
use crate::pipeline::handle::Desired;
use crate::pipeline::handle::PipelineHandle;
use crate::pipeline::outputs::dead_letter;
use crate::pipeline::spec::OnError;
use crate::pipeline::state::{Overlay, Writes};
use crate::record::Record;

use super::error::AttachedError;
use super::names::changelog_topic;

/// A task's phase: running its chain, or stopped by a failing record under
/// `on_error = fail` until the pipeline changes (its records are then left uncommitted).
pub enum Phase {
    /// Runs this chain.
    Running(Box<Chain>),
    /// Stopped by this error.
    Failed(String),
}

/// One assigned partition's task.
pub struct PartitionTask {
    /// The input partition.
    pub partition: i32,
    /// Its state cache: the committed changelog, applied.
    pub tree: sled::Tree,
    overlay: Overlay,
    /// What it does with records.
    pub phase: Phase,
}

/// What one round of a task came to: sent and committed together, or not at all.
#[derive(Default)]
pub struct RoundOut {
    /// Outputs, routed records, dead letters and changelog records.
    pub records: Vec<OutRecord>,
    /// The next offset of each input partition read.
    pub offsets: Vec<TopicOffset>,
    /// The state writes, applied to the cache once the transaction commits.
    pub writes: Writes,
}

impl PartitionTask {
    /// The task of `partition` with its chain of `want` built over `tree`.
    pub fn new(
        partition: i32,
        tree: sled::Tree,
        handle: &PipelineHandle,
        want: &Desired,
    ) -> Result<PartitionTask, AttachedError> {
        let mut task = PartitionTask {
            partition,
            tree,
            overlay: Overlay::default(),
            phase: Phase::Failed(String::new()),
        };
        task.rebuild(handle, want)?;
        Ok(task)
    }

    /// Builds the chain of `want` (a hot-swap keeps the state: it is in the cache).
    pub fn rebuild(
        &mut self,
        handle: &PipelineHandle,
        want: &Desired,
    ) -> Result<(), AttachedError> {
        // The old instances go first: their pool slots are the new ones'.
        self.phase = Phase::Failed("rebuilding".into());
        let chain = Chain::build(
            &want.plans,
            &want.spec,
            0,
            &self.tree,
            &self.overlay,
            want.spec.sandbox_limits(),
            handle.state_limits,
            handle.logs.clone(),
        )
        .map_err(|source| AttachedError::Build {
            partition: self.partition,
            source,
        })?;
        self.phase = Phase::Running(Box::new(chain));
        Ok(())
    }

    /// Runs `records` (this partition's, in the order read) through the chain. `None`: the
    /// task failed (or had failed) under `on_error = fail`; nothing of the round is kept.
    pub fn round(&mut self, want: &Desired, records: Vec<Fetched>) -> Option<RoundOut> {
        let Phase::Running(chain) = &mut self.phase else {
            return None;
        };
        let spec = &want.spec;
        let mut out = RoundOut::default();
        let mut next: BTreeMap<String, i64> = BTreeMap::new();
        // Runs of records of one topic, in the order read.
        let mut start = 0;
        while start < records.len() {
            let topic = records[start].topic.clone();
            let end = records[start..]
                .iter()
                .position(|r| r.topic != topic)
                .map_or(records.len(), |n| start + n);
            let run = &records[start..end];
            let offsets: Vec<i64> = run.iter().map(|r| r.offset).collect();
            let batch: Vec<Record> = run.iter().map(record_of).collect();
            let ran = chain.run(&topic, self.partition as u32, &offsets, &batch);
            let output = match ran {
                Ok(o) => o,
                Err(e) => {
                    self.overlay.discard_round();
                    let _ = self.overlay.take();
                    self.phase = Phase::Failed(e.to_string());
                    return None;
                }
            };
            for f in &output.failures {
                match spec.on_error {
                    OnError::Skip => {}
                    OnError::Fail => {
                        self.overlay.discard_round();
                        let _ = self.overlay.take();
                        self.phase = Phase::Failed(format!("step {}: {}", f.step, f.message));
                        return None;
                    }
                    OnError::DeadLetter => {
                        if let (Some(dlq), Some(r)) = (&spec.dead_letter_topic, batch.get(f.source))
                        {
                            let e = dead_letter(
                                dlq,
                                &spec.name,
                                &topic,
                                self.partition as u32,
                                offsets[f.source],
                                r,
                                f,
                            );
                            out.records.push(out_record(&spec.output, e));
                        }
                    }
                }
            }
            for e in output.records.into_iter().chain(output.updates) {
                out.records.push(out_record(&spec.output, e));
            }
            if let Some(last) = offsets.last() {
                next.insert(topic, last + 1);
            }
            start = end;
        }
        out.writes = self.overlay.take();
        // The round's wall clock on its changelog records: with the offset and the bytes,
        // what proves a cache's mark is about this incarnation of the topic (mark.rs).
        let stamp = crate::broker::now_ms();
        for (key, value) in &out.writes {
            let Some(step) = step_of(key) else { continue };
            out.records.push(OutRecord {
                topic: changelog_topic(spec, step),
                partition: Some(self.partition),
                timestamp: Some(stamp),
                key: Some(key[3..].to_vec()),
                value: value.clone(),
                headers: Vec::new(),
            });
        }
        out.offsets = next
            .into_iter()
            .map(|(topic, offset)| TopicOffset {
                topic,
                partition: self.partition,
                offset,
            })
            .collect();
        Some(out)
    }
}

/// The step a full state key belongs to (`[0, step_hi, step_lo] ++ key`).
pub fn step_of(key: &[u8]) -> Option<usize> {
    match key {
        [0, hi, lo, ..] => Some(usize::from(u16::from_be_bytes([*hi, *lo]))),
        _ => None,
    }
}

/// A record read from the cluster as the chain takes it.
fn record_of(f: &Fetched) -> Record {
    Record {
        key: f.key.clone().map(Bytes::from),
        value: f.value.clone().map(Bytes::from),
        headers: f
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().map(Bytes::from)))
            .collect(),
        timestamp: f.timestamp.unwrap_or_else(crate::broker::now_ms),
    }
}

/// An emitted record as the producer sends it (to `main` when it names no topic); the
/// client's partitioner (murmur2, as Java's) places it by key.
fn out_record(main: &str, e: Emitted) -> OutRecord {
    let r = e.record;
    OutRecord {
        topic: e.topic.unwrap_or_else(|| main.to_string()),
        partition: None,
        timestamp: Some(r.timestamp),
        key: r.key.map(|k| k.to_vec()),
        value: r.value.map(|v| v.to_vec()),
        headers: r
            .headers
            .into_iter()
            .map(|(k, v)| (k, v.map(|v| v.to_vec())))
            .collect(),
    }
}

/// The handle's logs, for a failed task's note.
pub fn note(handle: &Arc<PipelineHandle>, partition: i32, what: &str) {
    handle
        .logs
        .note(&format!("attached task {partition}: {what}"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_keys_name_their_step() {
        assert_eq!(step_of(&[0, 0, 2, b'k']), Some(2));
        assert_eq!(step_of(&[0, 1, 0]), Some(256));
        assert_eq!(step_of(&[1]), None, "the checkpoint key is no step's");
    }
}
