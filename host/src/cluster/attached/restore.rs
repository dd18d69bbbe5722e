//! Restoring a task's state cache from its changelog partitions before the task runs a
//! record: each changelog fills one [`Store`] of the tree (a state slot's plain key space,
//! or a processor's window space). When the cache's [`CacheMark`] is for these changelogs,
//! is at or below each one's end and every proof record reads back the same
//! ([`super::mark`]), only the tails past the mark are read, each straight into its store:
//! what other nodes wrote while the task was elsewhere. Otherwise the whole cache (window
//! space too) is wiped and every changelog partition is read from its start (Kafka
//! Streams' rule under exactly-once without a checkpoint it can trust). Either way records
//! are read read_committed to the end, puts applied and tombstones removed, and the new
//! mark is written last.

use std::time::{Duration, Instant};

use crate::cluster::{Cluster, Fetched, TopicOffset};

use super::error::AttachedError;
use super::mark::{CacheMark, Mark, Proof, Store};

/// Records asked for per poll of a restore.
const RESTORE_BATCH: usize = 10_000;
/// How long a restore may take to reach a changelog's end (an open transaction of a
/// dead node holds read_committed readers back until its timeout aborts it).
const RESTORE_DEADLINE: Duration = Duration::from_secs(120);

/// What a restore read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Restored {
    /// Changelog records applied.
    pub records: u64,
    /// How long it took.
    pub took: Duration,
    /// Whether only the tail past the cache's mark was read (else: wiped, read in full).
    pub tail: bool,
}

impl Restored {
    /// Records per second (0 when nothing was read).
    pub fn rate(&self) -> f64 {
        let s = self.took.as_secs_f64();
        if self.records == 0 || s == 0.0 {
            0.0
        } else {
            self.records as f64 / s
        }
    }
}

/// Brings `tree` up to the ends of the changelogs `(store, topic)` at `partition`: their
/// tails past its mark if the mark proves itself for every one, else wiped and in full.
pub fn restore(
    cluster: &dyn Cluster,
    tree: &sled::Tree,
    changelogs: &[(Store, String)],
    partition: i32,
) -> Result<Restored, AttachedError> {
    let started = Instant::now();
    let admin = cluster.admin()?;
    let mut ends = Vec::with_capacity(changelogs.len());
    for (_, topic) in changelogs {
        ends.push(admin.watermarks(topic, partition)?);
    }
    if let Some(mark) = CacheMark::read(tree)?
        && mark.covers(changelogs, partition)
        && mark
            .changelogs
            .iter()
            .zip(&ends)
            .all(|(m, (_, end))| m.next <= *end)
        && let Some(records) = tail(cluster, tree, mark, &ends)?
    {
        return Ok(Restored {
            records,
            took: started.elapsed(),
            tail: true,
        });
    }
    let records = full(cluster, tree, changelogs, partition, &ends)?;
    Ok(Restored {
        records,
        took: started.elapsed(),
        tail: false,
    })
}

/// Reads each changelog of `mark` from its proof record (checked first) to its end.
/// `None`: a proof record did not read back the same (the log was recreated, or the record
/// compacted or deleted away); what was applied meanwhile is wiped by the full restore.
fn tail(
    cluster: &dyn Cluster,
    tree: &sled::Tree,
    mut mark: CacheMark,
    ends: &[(i64, i64)],
) -> Result<Option<u64>, AttachedError> {
    let mut records = 0;
    for (m, (_, end)) in mark.changelogs.iter_mut().zip(ends) {
        let from = m.proof.as_ref().map_or(0, |p| p.offset);
        let mut proven = m.proof.is_none();
        let mut refuted = false;
        let reached = read(cluster, &m.topic, m.partition, from, *end, |got| {
            let mut rest = got;
            if !proven {
                match (got.first(), &m.proof) {
                    (Some(first), Some(p)) if p.matches(first) => {
                        proven = true;
                        rest = &got[1..];
                    }
                    (None, _) => return Ok(true),
                    _ => {
                        refuted = true;
                        return Ok(false);
                    }
                }
            }
            apply(tree, m.store, rest)?;
            records += rest.len() as u64;
            if let Some(last) = rest.last() {
                m.proof = Some(Proof::of_fetched(last));
            }
            Ok(true)
        })?;
        if refuted || !proven {
            return Ok(None);
        }
        m.next = m.next.max(reached);
    }
    let mut batch = sled::Batch::default();
    mark.put(&mut batch);
    tree.apply_batch(batch)?;
    Ok(Some(records))
}

/// Wipes `tree` and reads every changelog from its start; the mark goes in last, so a
/// restore cut short leaves none and the next one is full again.
fn full(
    cluster: &dyn Cluster,
    tree: &sled::Tree,
    changelogs: &[(Store, String)],
    partition: i32,
    ends: &[(i64, i64)],
) -> Result<u64, AttachedError> {
    tree.clear()?;
    let mut records = 0;
    let mut mark = CacheMark::default();
    for ((store, topic), (start, end)) in changelogs.iter().zip(ends) {
        let mut proof = None;
        let reached = if end <= start {
            *end
        } else {
            read(cluster, topic, partition, *start, *end, |got| {
                apply(tree, *store, got)?;
                records += got.len() as u64;
                if let Some(last) = got.last() {
                    proof = Some(Proof::of_fetched(last));
                }
                Ok(true)
            })?
        };
        mark.changelogs.push(Mark {
            store: *store,
            topic: topic.clone(),
            partition,
            next: reached,
            proof,
        });
    }
    let mut batch = sled::Batch::default();
    mark.put(&mut batch);
    tree.apply_batch(batch)?;
    Ok(records)
}

/// Applies changelog records of `store` to the cache, in order, in one batch.
fn apply(tree: &sled::Tree, store: Store, got: &[Fetched]) -> Result<(), AttachedError> {
    let prefix = store.prefix();
    let mut batch = sled::Batch::default();
    for r in got {
        let key = [&prefix[..], r.key.as_deref().unwrap_or_default()].concat();
        match &r.value {
            Some(v) => batch.insert(key, v.as_slice()),
            None => batch.remove(key),
        }
    }
    tree.apply_batch(batch)?;
    Ok(())
}

/// Reads `topic`'s `partition` read_committed from `from` until the position passes
/// `end`, handing each poll's records to `each` (which answers whether to go on); returns
/// the position reached.
fn read(
    cluster: &dyn Cluster,
    topic: &str,
    partition: i32,
    from: i64,
    end: i64,
    mut each: impl FnMut(&[Fetched]) -> Result<bool, AttachedError>,
) -> Result<i64, AttachedError> {
    let mut consumer = cluster.consumer(None)?;
    consumer.assign(&[TopicOffset {
        topic: topic.to_string(),
        partition,
        offset: from,
    }])?;
    let deadline = Instant::now() + RESTORE_DEADLINE;
    let mut seen = from;
    loop {
        let got = consumer.poll(RESTORE_BATCH, Duration::from_millis(200))?;
        if !each(&got)? {
            return Ok(seen);
        }
        if let Some(last) = got.last() {
            seen = last.offset + 1;
        }
        // The position passes control records and aborted data, which poll never
        // returns: the end is reached when it does.
        let at = consumer
            .positions()?
            .into_iter()
            .find(|p| p.topic == topic && p.partition == partition)
            .map_or(seen, |p| p.offset)
            .max(seen);
        // Or nothing more comes, something was read, and only the last transactions'
        // markers can be left (a first poll that comes back empty proves nothing: the
        // fetch may not have answered yet).
        let markers_left = seen + 2 >= end && (seen > from || end - from <= 1);
        if at >= end || (got.is_empty() && markers_left) {
            return Ok(at.max(seen));
        }
        if Instant::now() > deadline {
            return Err(AttachedError::RestoreStalled {
                topic: topic.to_string(),
                partition,
                at,
                end,
            });
        }
    }
}

#[cfg(test)]
mod tests;
