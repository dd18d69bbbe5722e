//! [`GlobalMark`]: how far a node's copy of a pipeline's global tables is exact in each
//! partition of their topics, kept in the tables' tree and written in the same sled batch
//! as the rows it covers. A member that starts again reads on from it instead of from the
//! topics' start when it proves itself: the same global sources, the same partitions, each
//! position still within its partition, and each partition's last applied record read
//! back the same ([`Proof`], as a task's cache mark proves its changelogs: a topic deleted
//! and created again would need the same bytes at the same offset with the same
//! timestamp). A record compacted or deleted away proves nothing: the tree is wiped and
//! read in full, which is always correct.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::cluster::{Cluster, Fetched, TopicOffset};

use super::error::AttachedError;
use super::mark::{Proof, put_json, read_json};

/// How long reading back one proof record may take before it counts as not proven.
const PROOF_WAIT: Duration = Duration::from_secs(10);

/// A `(topic, partition)` of a global topic.
pub type GlobalPartition = (String, i32);

/// Where each partition reads on from, and the proof of the last record applied there.
pub type Resume = BTreeMap<GlobalPartition, (i64, Option<Proof>)>;

/// Where the tables are exact up to, with what proves it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobalMark {
    /// The global sources (state slot, topic) the rows are of.
    pub sources: Vec<(usize, String)>,
    /// Each partition read.
    pub partitions: Vec<PartitionMark>,
}

/// One partition's position and proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionMark {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The next offset to read.
    pub next: i64,
    /// The last record applied (`None`: none yet).
    pub proof: Option<Proof>,
}

impl GlobalMark {
    /// The mark in `tree`, if there is one it can read.
    pub fn read(tree: &sled::Tree) -> Result<Option<GlobalMark>, AttachedError> {
        read_json(tree)
    }

    /// Adds the mark's write to `batch`.
    pub fn put(&self, batch: &mut sled::Batch) {
        put_json(self, batch);
    }

    /// Where each partition reads on from, if the mark is for `sources` and exactly the
    /// partitions of `bounds` (each one's low and high watermark) and proves itself.
    pub fn resume(
        &self,
        cluster: &dyn Cluster,
        sources: &[(usize, String)],
        bounds: &BTreeMap<GlobalPartition, (i64, i64)>,
    ) -> Result<Option<Resume>, AttachedError> {
        if self.sources != sources || self.partitions.len() != bounds.len() {
            return Ok(None);
        }
        let mut from = BTreeMap::new();
        for m in &self.partitions {
            let Some(&(low, high)) = bounds.get(&(m.topic.clone(), m.partition)) else {
                return Ok(None);
            };
            // Past the end (a shorter log), or records not read gone to retention.
            if m.next > high || m.next < low {
                return Ok(None);
            }
            let proven = match &m.proof {
                None => m.next == low,
                Some(p) => proves(cluster, &m.topic, m.partition, p)?,
            };
            if !proven {
                return Ok(None);
            }
            from.insert((m.topic.clone(), m.partition), (m.next, m.proof.clone()));
        }
        Ok(Some(from))
    }
}

/// Whether the record at `proof`'s offset of `topic`'s `partition` is the one it names.
fn proves(
    cluster: &dyn Cluster,
    topic: &str,
    partition: i32,
    proof: &Proof,
) -> Result<bool, AttachedError> {
    let mut consumer = cluster.consumer(None)?;
    consumer.assign(&[TopicOffset {
        topic: topic.to_string(),
        partition,
        offset: proof.offset,
    }])?;
    let until = Instant::now() + PROOF_WAIT;
    while Instant::now() < until {
        let got: Vec<Fetched> = consumer.poll(1, Duration::from_millis(200))?;
        if let Some(first) = got.first() {
            return Ok(first.offset == proof.offset && proof.matches(first));
        }
    }
    Ok(false)
}
