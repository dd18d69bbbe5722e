//! Appending a round's outputs: grouped by (topic, partition), numbered from the
//! checkpoint's sequences, and appended with the task's producer id so a replay's
//! duplicates are recognised and skipped.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::broker::Topic;
use crate::broker::partitioner::partition_for_key;
use crate::broker::producer::{IdempotentAppend, ProducerRegistry};
use crate::log::batch::{Checked, Record, encode_batch, set_producer};

use super::super::chain::Emitted;
use super::super::handle::Desired;
use super::super::outputs::{Group, SEQ_MODULUS, already_appended, chunks};
use super::super::store::Checkpoint;
use super::{Task, TaskError};

impl Task {
    /// Groups outputs by (topic, partition) and numbers them from the sequences in
    /// `checkpoint`, advancing those.
    pub(super) fn plan(
        &self,
        want: &Desired,
        outputs: Vec<Emitted>,
        checkpoint: &mut Checkpoint,
    ) -> Result<Vec<Group>, TaskError> {
        self.plan_to(&want.spec.output, outputs, checkpoint)
    }

    /// [`Task::plan`], records without a topic going to `output`.
    pub(super) fn plan_to(
        &self,
        output: &str,
        outputs: Vec<Emitted>,
        checkpoint: &mut Checkpoint,
    ) -> Result<Vec<Group>, TaskError> {
        let mut topics: BTreeMap<String, Arc<Topic>> = BTreeMap::new();
        let mut groups: BTreeMap<(String, u32), Vec<Record>> = BTreeMap::new();
        let partition = self.ctx.stats.partition;
        for e in outputs {
            let name = e.topic.unwrap_or_else(|| output.to_string());
            let topic = match topics.get(&name) {
                Some(t) => t.clone(),
                None => {
                    let t = self.output_topic(&name)?;
                    topics.insert(name.clone(), t.clone());
                    t
                }
            };
            let count = topic.partition_count();
            // Keyless records follow the input partition, so a replay lands them alike.
            let p = match &e.record.key {
                Some(k) => partition_for_key(k, count),
                None => partition % count,
            };
            groups.entry((name, p)).or_default().push(e.record);
        }
        Ok(groups
            .into_iter()
            .map(|((name, p), records)| {
                let seq = checkpoint
                    .sequences
                    .entry(name.clone())
                    .or_default()
                    .entry(p)
                    .or_insert(0);
                let first_seq = *seq;
                *seq += records.len() as u64;
                Group {
                    topic: topics[&name].clone(),
                    name,
                    partition: p,
                    first_seq,
                    records,
                }
            })
            .collect())
    }

    /// An output topic by name.
    pub(super) fn output_topic(&self, name: &str) -> Result<Arc<Topic>, TaskError> {
        self.ctx
            .broker
            .topic(name)
            .map_err(|source| TaskError::Output {
                topic: name.to_string(),
                source,
            })
    }

    /// Appends planned groups with the task's producer id. Records the producer window
    /// shows as appended already are skipped: rounds whose commit a crash lost appended
    /// them (asked every round, an in-memory lookup, since sled may lose several unflushed
    /// commits at once). Returns how many records were appended.
    pub(super) fn write(&self, producer_id: i64, groups: &[Group]) -> Result<usize, TaskError> {
        write_groups(&self.ctx.producers, producer_id, groups)
    }
}

/// Appends planned groups with `producer_id`, skipping the records the producer window
/// shows as appended already (a replay's, or an outbox's drained before a crash). Shared by
/// pipeline tasks and connect's source tasks, which commit records and offsets the same way.
/// Returns how many records were appended.
pub fn write_groups(
    producers: &ProducerRegistry,
    producer_id: i64,
    groups: &[Group],
) -> Result<usize, TaskError> {
    let pid = producer_id;
    let mut appended = 0;
    for g in groups {
        let (name, p, topic) = (&g.name, g.partition, &g.topic);
        let append_failed = |source| TaskError::Append {
            topic: name.clone(),
            partition: p,
            source,
        };
        let mut skip = 0;
        if let Some(last) = producers
            .last_sequence(topic, p, pid)
            .map_err(append_failed)?
        {
            skip = already_appended(g.first_seq, last).min(g.records.len());
        }
        let max = usize::try_from(topic.config().max_message_bytes.max(1024)).unwrap_or(1 << 20);
        let mut next = g.first_seq + skip as u64;
        for chunk in chunks(&g.records[skip..], max / 2) {
            let mut bytes = encode_batch(chunk, 0).map_err(|source| TaskError::Encode {
                topic: name.clone(),
                partition: p,
                source,
            })?;
            let sequence = (next % SEQ_MODULUS) as i32;
            set_producer(&mut bytes, pid, 0, sequence);
            let checked = Checked::new(&bytes).map_err(|source| TaskError::Encode {
                topic: name.clone(),
                partition: p,
                source,
            })?;
            match producers.append(topic, p, checked).map_err(append_failed)? {
                IdempotentAppend::Appended(_) => appended += chunk.len(),
                IdempotentAppend::Duplicate { .. } => {}
                IdempotentAppend::OutOfOrder { expected } => {
                    return Err(TaskError::OutOfOrder {
                        topic: name.clone(),
                        partition: p,
                        sequence,
                        expected,
                        producer_id: pid,
                    });
                }
                IdempotentAppend::Fenced => {
                    return Err(TaskError::Fenced {
                        topic: name.clone(),
                        partition: p,
                        producer_id: pid,
                    });
                }
            }
            next += chunk.len() as u64;
        }
    }
    Ok(appended)
}
