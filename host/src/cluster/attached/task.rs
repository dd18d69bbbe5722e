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
use crate::pipeline::state::{Overlay, WINDOWS_SPACE, Writes};
use crate::pipeline::task::deferred::Deferred;
use crate::record::Record;

use super::error::AttachedError;
use super::global::GlobalRows;
use super::mark::Store;
use super::stage::Layout;

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
    /// The next offset of each input topic's partition it has read (this membership).
    read: BTreeMap<String, i64>,
    /// Its stage's first step, changelogs and repartition topics.
    layout: Layout,
    /// The node's rows of the pipeline's global tables, which its chain reads.
    globals: GlobalRows,
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
    /// Records aggregation steps dropped as late, counted once the transaction commits.
    pub late: u64,
}

impl RoundOut {
    /// Whether there is nothing to send or commit (an idle task whose timers wrote
    /// nothing): no transaction for it.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty() && self.offsets.is_empty() && self.writes.is_empty()
    }
}

impl PartitionTask {
    /// The task of `partition` with its chain of `want` (its stage's view, laid out as
    /// `layout` says) built over `tree`, its global tables read from `globals`.
    pub fn new(
        partition: i32,
        tree: sled::Tree,
        handle: &PipelineHandle,
        want: &Desired,
        layout: Layout,
        globals: GlobalRows,
    ) -> Result<PartitionTask, AttachedError> {
        let mut task = PartitionTask {
            partition,
            tree,
            overlay: Overlay::default(),
            phase: Phase::Failed(String::new()),
            read: BTreeMap::new(),
            layout: Layout::default(),
            globals,
        };
        task.rebuild(handle, want, layout)?;
        Ok(task)
    }

    /// Builds the chain of `want` (a hot-swap keeps the state: it is in the cache).
    pub fn rebuild(
        &mut self,
        handle: &PipelineHandle,
        want: &Desired,
        layout: Layout,
    ) -> Result<(), AttachedError> {
        // The old instances go first: their pool slots are the new ones'.
        self.phase = Phase::Failed("rebuilding".into());
        self.layout = layout;
        let mut chain = Chain::build(
            &want.plans,
            &want.spec,
            self.layout.first_step,
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
        chain.share_global_rows(&self.globals);
        self.phase = Phase::Running(Box::new(chain));
        Ok(())
    }

    /// Fires the chain's timers due at `now_ms` (wall-clock timers, and windows closing on
    /// an idle input), then runs `records` (this partition's, in the order read) through
    /// it. `None`: the task failed (or had failed) under `on_error = fail`, or a timer
    /// failed; nothing of the round is kept.
    pub fn round(
        &mut self,
        want: &Desired,
        records: Vec<Fetched>,
        now_ms: i64,
    ) -> Option<RoundOut> {
        let Phase::Running(chain) = &mut self.phase else {
            return None;
        };
        let spec = &want.spec;
        let mut out = RoundOut::default();
        // Before the records, as an embedded task fires them before its round.
        if chain.next_timer_ms().is_some_and(|due| due <= now_ms) {
            match chain.fire_timers(now_ms) {
                Ok(emitted) => {
                    for e in emitted {
                        match &e.topic {
                            Some(t) if !spec.outputs.contains(t) => {
                                self.note_dropped(t);
                            }
                            _ => out.records.push(out_record(&spec.output, e)),
                        }
                    }
                }
                Err(e) => return self.fail(format!("timer: {e}")),
            }
        }
        let Phase::Running(chain) = &mut self.phase else {
            return None;
        };
        // An `on_update` aggregation's results: the latest per window and key go out
        // with the transaction, after the round's other records.
        let mut held = Deferred::default();
        // A built-in windowed count or sum builds its open windows' results from the
        // round's uncommitted writes when they are taken (the transaction is its commit).
        held.running(chain.pending_updates(), &spec.output);
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
                Err(e) => return self.fail(e.to_string()),
            };
            out.late += output.late;
            for f in &output.failures {
                match spec.on_error {
                    OnError::Skip => {}
                    OnError::Fail => return self.fail(format!("step {}: {}", f.step, f.message)),
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
                            held.add(&spec.output, vec![e], Vec::new());
                        }
                    }
                }
            }
            // Late records of steps that send them on go where failures would, whatever
            // on_error says (the spec requires the topic), as embedded.
            if let Some(dlq) = &spec.dead_letter_topic {
                for f in &output.late_letters {
                    if let (Some(r), Some(&offset)) = (batch.get(f.source), offsets.get(f.source)) {
                        let e = dead_letter(
                            dlq,
                            &spec.name,
                            &topic,
                            self.partition as u32,
                            offset,
                            r,
                            f,
                        );
                        held.add(&spec.output, vec![e], Vec::new());
                    }
                }
            }
            held.add(&spec.output, output.records, output.updates);
            if let Some(last) = offsets.last() {
                next.insert(topic, last + 1);
            }
            start = end;
        }
        let results = match held.take() {
            Ok(results) => results,
            Err(e) => return self.fail(format!("building results: {e}")),
        };
        for e in results {
            out.records.push(out_record(&spec.output, e));
        }
        // A null new key kept for a left join after a `group_by` stays in this task's
        // partition of the repartition topic, as embedded (the topic has the inputs'
        // partition count); the producer's partitioner would pick one at random.
        for r in &mut out.records {
            if r.key.is_none() && self.layout.repartitions.contains(&r.topic) {
                r.partition = Some(self.partition);
            }
        }
        out.writes = self.overlay.take();
        // The round's wall clock on its changelog records: with the offset and the bytes,
        // what proves a cache's mark is about this incarnation of the topic (mark.rs).
        let stamp = crate::broker::now_ms();
        for (key, value) in &out.writes {
            let Some(store) = store_of(key) else {
                continue;
            };
            // Named and numbered as in the whole spec, whatever stage the task runs.
            let Some(topic) = self.layout.changelog(store).map(str::to_string) else {
                return self.fail(format!("state of {store:?} has no changelog topic"));
            };
            out.records.push(OutRecord {
                topic,
                partition: Some(self.partition),
                timestamp: Some(stamp),
                key: Some(key[3..].to_vec()),
                value: value.clone(),
                headers: Vec::new(),
            });
        }
        self.read.extend(next.iter().map(|(t, o)| (t.clone(), *o)));
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

    /// The next offset of each input it has read: committed again with a round of
    /// timers alone, so that a zombie's timer output is fenced by the group's generation
    /// like any other round's.
    pub fn positions(&self) -> Vec<TopicOffset> {
        self.read
            .iter()
            .map(|(topic, &offset)| TopicOffset {
                topic: topic.clone(),
                partition: self.partition,
                offset,
            })
            .collect()
    }

    /// Stops the task for `why`, its round's writes undone.
    fn fail(&mut self, why: String) -> Option<RoundOut> {
        self.overlay.discard_round();
        let _ = self.overlay.take();
        self.phase = Phase::Failed(why);
        None
    }

    /// Says that a timer's record routed to `topic` (not among the outputs) was dropped,
    /// as an embedded task does.
    fn note_dropped(&self, topic: &str) {
        tracing::warn!(
            partition = self.partition,
            "timer output routed to {topic:?}, which is not in the pipeline's outputs, dropped"
        );
    }
}

/// The step a full state key of its plain state belongs to (`[0, step_hi, step_lo] ++ key`).
pub fn step_of(key: &[u8]) -> Option<usize> {
    match store_of(key) {
        Some(Store::Plain(step)) => Some(step),
        _ => None,
    }
}

/// The store a full state key belongs to; `None` for a task's own keys (a checkpoint).
pub fn store_of(key: &[u8]) -> Option<Store> {
    match key {
        [0, hi, lo, ..] => Some(Store::Plain(usize::from(u16::from_be_bytes([*hi, *lo])))),
        [WINDOWS_SPACE, hi, lo, ..] => {
            Some(Store::Windows(usize::from(u16::from_be_bytes([*hi, *lo]))))
        }
        _ => None,
    }
}

/// A record read from the cluster as the chain takes it.
pub fn record_of(f: &Fetched) -> Record {
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
        assert_eq!(store_of(&[2, 0, 3, b'c']), Some(Store::Windows(3)));
        assert_eq!(
            step_of(&[2, 0, 3, b'c']),
            None,
            "window keys have their own topic"
        );
    }
}
