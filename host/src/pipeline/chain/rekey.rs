//! A `group_by`'s output: the records of a batch with the keys its key selector chose;
//! for a `group_by` of a table, the records taking each row's old value out of its old
//! group and adding its new one to its new group ([`crate::streams::changes`]).

use bytes::Bytes;

use crate::log::batch::Record;
use crate::pipeline::spec::PipelineSpec;
use crate::runtime::{Body, Instance, Origin, Output, OutputRecord, RecordFailure, RuntimeError};
use crate::streams::changes::regroup;

/// What a `group_by` does with a record whose key selector chose no key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NullKeys {
    /// Drops it, as Kafka's `groupBy` (and a repartition before an inner join) does.
    Drop,
    /// Passes it on with a null key, for a left join after it (KIP-962; see
    /// [`crate::pipeline::spec::PipelineSpec::keeps_null_keys`]).
    Keep,
}

/// The rule of step `local` of a stage's view of the spec (a `group_by`).
pub(super) fn null_keys(spec: &PipelineSpec, local: usize) -> NullKeys {
    match spec.steps.get(local) {
        Some(step) if step.keeps_null_keys => NullKeys::Keep,
        _ => NullKeys::Drop,
    }
}

/// A batch with the keys a `group_by` selected: each record with its new key (headers,
/// value and timestamp kept), a record without one dropped or passed on with a null key
/// as `null_keys` says, failures passed on.
pub(super) fn rekeyed(
    records: &[Record],
    selected: crate::runtime::key_selector::Selected,
    null_keys: NullKeys,
) -> Output {
    let mut out = Output {
        records: Vec::with_capacity(records.len()),
        failures: selected.failures,
    };
    let failed: std::collections::BTreeSet<u32> = out.failures.iter().map(|f| f.index).collect();
    for (j, (record, key)) in records.iter().zip(selected.keys).enumerate() {
        // A failed record's key entry means nothing (wit/key-selector.wit).
        if failed.contains(&(j as u32)) || (key.is_none() && null_keys == NullKeys::Drop) {
            continue;
        }
        let mut record = record.clone();
        record.key = key.map(Into::into);
        out.records.push(OutputRecord {
            source: Some(j as u32),
            topic: None,
            body: Body::New(Box::new(record)),
        });
    }
    out
}

/// A `group_by`'s output sent to `sink`, the topic of a `group_by` that is not the last
/// of the consecutive ones ending its stage (none: the stage's own repartition topic).
pub(super) fn routed(mut output: Output, sink: &Option<String>) -> Output {
    if let Some(topic) = sink {
        for r in &mut output.records {
            r.topic = Some(topic.clone());
        }
    }
    output
}

/// A `group_by` of a table over a batch of its changes (`olds`: each row's value before
/// the change): the key selector picks the group of every new and every old value in one
/// call, then [`regroup`] makes the repartition records. A change whose key selection
/// fails fails alone, and sends nothing.
pub(super) fn regrouped(
    instance: &mut Instance,
    origin: &Origin,
    records: &[Record],
    olds: &[Option<Bytes>],
) -> Result<Output, RuntimeError> {
    // Per record asked of the key selector: its change, and whether it is the old value.
    let mut asked: Vec<(usize, bool)> = Vec::new();
    let mut batch = Vec::new();
    let mut offsets = Vec::new();
    for (j, record) in records.iter().enumerate() {
        let offset = origin.offsets.get(j).copied().unwrap_or_default();
        if record.value.is_some() {
            asked.push((j, false));
            batch.push(record.clone());
            offsets.push(offset);
        }
        if let Some(Some(old)) = olds.get(j) {
            let mut was = record.clone();
            was.value = Some(old.clone());
            asked.push((j, true));
            batch.push(was);
            offsets.push(offset);
        }
    }
    let mut out = Output::default();
    let mut new_keys = vec![None; records.len()];
    let mut old_keys = vec![None; records.len()];
    if !batch.is_empty() {
        let origin = Origin {
            topic: origin.topic.clone(),
            partition: origin.partition,
            offsets,
        };
        let selected = instance.select_keys(&origin, &batch)?;
        let mut failed = vec![false; records.len()];
        for f in selected.failures {
            let Some(&(j, _)) = asked.get(f.index as usize) else {
                continue;
            };
            if !std::mem::replace(&mut failed[j], true) {
                out.failures.push(RecordFailure {
                    index: j as u32,
                    message: f.message,
                });
            }
        }
        for (&(j, old), key) in asked.iter().zip(selected.keys) {
            if failed[j] {
                continue;
            }
            if old {
                old_keys[j] = key;
            } else {
                new_keys[j] = key;
            }
        }
    }
    out.records = regroup(records, olds, &new_keys, &old_keys);
    Ok(out)
}
