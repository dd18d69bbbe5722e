//! Restoring a task's state cache from its changelog partitions: the cache is wiped and
//! each stateful step's `<pipeline>-<step>-changelog` partition is read, read_committed,
//! from its start to its end, puts applied and tombstones removed, before the task runs a
//! record. Kafka Streams' rule under exactly-once without a clean checkpoint.

use std::time::{Duration, Instant};

use crate::cluster::{Cluster, TopicOffset};
use crate::pipeline::state::step_prefix;

use super::error::AttachedError;

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

/// Wipes `tree` and fills it from the changelogs `(step, topic)` at `partition`.
pub fn restore(
    cluster: &dyn Cluster,
    tree: &sled::Tree,
    changelogs: &[(usize, String)],
    partition: i32,
) -> Result<Restored, AttachedError> {
    let started = Instant::now();
    tree.clear()?;
    let admin = cluster.admin()?;
    let mut records = 0u64;
    for (step, topic) in changelogs {
        let (start, end) = admin.watermarks(topic, partition)?;
        if end <= start {
            continue;
        }
        let mut consumer = cluster.consumer(None)?;
        consumer.assign(&[TopicOffset {
            topic: topic.clone(),
            partition,
            offset: start,
        }])?;
        let prefix = step_prefix(*step);
        let deadline = Instant::now() + RESTORE_DEADLINE;
        let mut seen = start;
        loop {
            let got = consumer.poll(RESTORE_BATCH, Duration::from_millis(200))?;
            let mut batch = sled::Batch::default();
            for r in &got {
                let key = [&prefix[..], r.key.as_deref().unwrap_or_default()].concat();
                match &r.value {
                    Some(v) => batch.insert(key, v.as_slice()),
                    None => batch.remove(key),
                }
            }
            records += got.len() as u64;
            if let Some(last) = got.last() {
                seen = last.offset + 1;
            }
            tree.apply_batch(batch)?;
            // The position passes control records and aborted data, which poll never
            // returns: the end is reached when it does.
            let at = consumer
                .position(topic, partition)?
                .unwrap_or(seen)
                .max(seen);
            // Or nothing more comes and only the last transaction's commit marker is left.
            if at >= end || (got.is_empty() && seen + 1 >= end - 1) {
                break;
            }
            if Instant::now() > deadline {
                return Err(AttachedError::RestoreStalled {
                    topic: topic.clone(),
                    partition,
                    at,
                    end,
                });
            }
        }
    }
    Ok(Restored {
        records,
        took: started.elapsed(),
    })
}
