//! Durable pipeline records and task checkpoints in the pipelines' sled database.
//!
//! - tree `pipelines`: name → [`PipelineRecord`] (spec, task count, paused, deployments);
//! - tree `task/<pipeline>/<partition>`: the task's step state and its [`Checkpoint`]
//!   (see [`super::state`] for the key layout), committed together in one batch.

use crate::broker::SyncedDb;
use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::error::PipelineError;
use super::spec::PipelineSpec;
use super::stage::Stage;
use super::state::{CHECKPOINT_KEY, Writes};

/// One deployment of a pipeline's step chain: which module versions ran, since when, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    /// Per step: module name and version.
    pub modules: Vec<(String, u32)>,
    /// When it was deployed, ms since the epoch.
    pub at_ms: i64,
    /// Why: `created`, `updated`, or `rolled back: ...`.
    pub reason: String,
}

/// A pipeline as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PipelineRecord {
    /// The spec of the current deployment.
    pub spec: PipelineSpec,
    /// Tasks: the inputs' partition count when the pipeline was created.
    pub partitions: u32,
    /// Paused by the user.
    pub paused: bool,
    /// Creation time, ms since the epoch.
    pub created_ms: i64,
    /// The last `pipelines.max_history` deployments, oldest first; the last is the
    /// current one.
    pub history: Vec<Deployment>,
    /// The spec of each deployment in `history` (same index), so a rollback restores config.
    pub specs: Vec<PipelineSpec>,
    /// Deployments dropped from the front of `history`: deployment numbers
    /// (checkpoints name the one whose code made their outputs) go on counting
    /// from the first, so a number never comes back for other code.
    #[serde(default)]
    pub forgotten: usize,
}

impl PipelineRecord {
    /// The current deployment.
    pub fn current(&self) -> &Deployment {
        self.history
            .last()
            .expect("a pipeline has at least one deployment")
    }

    /// The current deployment's number: its index in the whole history,
    /// forgotten deployments included.
    pub fn current_number(&self) -> usize {
        self.forgotten + self.history.len().saturating_sub(1)
    }

    /// Appends a deployment and forgets the oldest beyond `keep` (at least the
    /// current one is kept); returns the new deployment's number.
    pub fn push_deployment(
        &mut self,
        spec: &PipelineSpec,
        deployment: Deployment,
        keep: usize,
    ) -> usize {
        self.spec = spec.clone();
        self.specs.push(spec.clone());
        self.history.push(deployment);
        let over = self.history.len().saturating_sub(keep.max(1));
        if over > 0 {
            self.history.drain(..over);
            self.specs.drain(..over.min(self.specs.len()));
            self.forgotten += over;
        }
        self.current_number()
    }
}

/// Where a task stands: what it has consumed and produced, committed atomically with state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The task's idempotent producer id for its outputs.
    pub producer_id: i64,
    /// Per input (in spec order): the next offset to process.
    pub inputs: Vec<i64>,
    /// Per output (topic, partition): how many records the task has appended there, which is
    /// the sequence number of the next one.
    pub sequences: BTreeMap<String, BTreeMap<u32, u64>>,
    /// The deployment (index in the pipeline's history) whose code made the outputs
    /// committed here; a replay with other code could not reproduce them.
    #[serde(default)]
    pub deployment: Option<usize>,
    /// Set while a round over several inputs is in flight: the end offsets (exclusive) it
    /// read, made durable before its outputs are appended, so a replay reads exactly them.
    #[serde(default)]
    pub in_flight: Option<Vec<i64>>,
    /// Per global-table topic, per partition: the next offset to read (a task reads every
    /// partition of a global table).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub globals: BTreeMap<String, Vec<i64>>,
    /// With `in_flight`: the global tables' end offsets (exclusive) of the round in flight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_flight_globals: Option<BTreeMap<String, Vec<i64>>>,
    /// Set while the rounds since this commit, of a task reading several inputs, read
    /// one of them alone (its topic and partition): made durable before the first of
    /// them appends, so that a replay reads that input alone until it has reproduced
    /// their outputs, where a flushed `in_flight` per round would otherwise be needed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solo: Option<(String, u32)>,
    /// Timer output committed but perhaps not yet appended: appended (skipping what the
    /// log already has) before anything else after a start. Empty between timer rounds.
    #[serde(default)]
    pub outbox: Vec<OutboxGroup>,
}

/// Records for one output partition, numbered from `first_seq`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxGroup {
    /// Output topic.
    pub topic: String,
    /// Output partition.
    pub partition: u32,
    /// Sequence number of the first record.
    pub first_seq: u64,
    /// The records.
    pub records: Vec<OutboxRecord>,
}

/// A record waiting in the outbox. Its bytes are MessagePack binary strings; outboxes
/// written before kept each byte as an array element, and still read (see [`binary`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxRecord {
    /// Key.
    #[serde(with = "binary")]
    pub key: Option<Bytes>,
    /// Value.
    #[serde(with = "binary")]
    pub value: Option<Bytes>,
    /// Headers.
    pub headers: Vec<OutboxHeader>,
    /// Timestamp, ms.
    pub timestamp: i64,
}

/// A header of an outbox record: name and value (as before, a pair).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxHeader(pub String, #[serde(with = "binary")] pub Option<Bytes>);

/// Optional bytes as one binary string (serde's default for `Vec<u8>` is a sequence of
/// numbers: a MessagePack array, a marker per byte to write and to read back), read
/// back from either. By hand rather than with `bytes`' `serde` feature, which would
/// rebuild every crate depending on `bytes` for two fields.
mod binary {
    use bytes::Bytes;
    use serde::de::{Deserializer, SeqAccess, Visitor};
    use serde::ser::Serializer;

    pub fn serialize<S: Serializer>(v: &Option<Bytes>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => s.serialize_bytes(b),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Bytes>, D::Error> {
        d.deserialize_option(Optional)
    }

    struct Optional;

    impl<'de> Visitor<'de> for Optional {
        type Value = Option<Bytes>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("bytes (binary, or an array of numbers) or nil")
        }

        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_byte_buf(Present).map(Some)
        }

        // MessagePack's self-describing decoder hands the value itself to
        // `deserialize_option`, not through `visit_some`.
        fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
            Present.visit_bytes(v).map(Some)
        }

        fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Self::Value, E> {
            Present.visit_byte_buf(v).map(Some)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            Present.visit_seq(seq).map(Some)
        }
    }

    struct Present;

    impl<'de> Visitor<'de> for Present {
        type Value = Bytes;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("bytes (binary, or an array of numbers)")
        }

        fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Bytes, E> {
            Ok(Bytes::copy_from_slice(v))
        }

        fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Bytes, E> {
            Ok(Bytes::from(v))
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Bytes, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
            while let Some(b) = seq.next_element::<u8>()? {
                out.push(b);
            }
            Ok(Bytes::from(out))
        }
    }
}

fn encode<T: Serialize>(what: &str, value: &T) -> Result<Vec<u8>, PipelineError> {
    rmp_serde::to_vec_named(value).map_err(|e| PipelineError::Corrupt {
        what: what.to_string(),
        reason: e.to_string(),
    })
}

fn decode<T: serde::de::DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, PipelineError> {
    rmp_serde::from_slice(bytes).map_err(|e| PipelineError::Corrupt {
        what: what.to_string(),
        reason: e.to_string(),
    })
}

/// The pipelines' store.
#[derive(Debug, Clone)]
pub struct PipelineStore {
    db: SyncedDb,
    pipelines: sled::Tree,
    /// Deployments kept in each pipeline's history (`pipelines.max_history`).
    pub(super) max_history: usize,
    /// Serialises read-modify-write of records (updates, rollbacks from tasks, pauses).
    edits: std::sync::Arc<parking_lot::Mutex<()>>,
}

impl PipelineStore {
    /// Opens the store over `db`, keeping the last `max_history` deployments of each pipeline.
    pub fn open(db: &SyncedDb, max_history: usize) -> Result<PipelineStore, PipelineError> {
        Ok(PipelineStore {
            db: db.clone(),
            pipelines: db.open_tree("pipelines")?,
            max_history,
            edits: Default::default(),
        })
    }

    /// Every stored pipeline, by name.
    pub fn list(&self) -> Result<Vec<PipelineRecord>, PipelineError> {
        self.pipelines
            .iter()
            .map(|kv| decode("pipeline", &kv?.1))
            .collect()
    }

    /// One stored pipeline.
    pub fn get(&self, name: &str) -> Result<Option<PipelineRecord>, PipelineError> {
        self.pipelines
            .get(name.as_bytes())?
            .map(|b| decode("pipeline", &b))
            .transpose()
    }

    /// Changes a stored pipeline with `f` and stores it durably, one change at a time;
    /// returns the changed record (`None`: no such pipeline).
    pub fn edit(
        &self,
        name: &str,
        f: impl FnOnce(&mut PipelineRecord),
    ) -> Result<Option<PipelineRecord>, PipelineError> {
        let _one = self.edits.lock();
        let Some(mut record) = self.get(name)? else {
            return Ok(None);
        };
        f(&mut record);
        self.put(&record)?;
        Ok(Some(record))
    }

    /// Stores a pipeline durably.
    pub fn put(&self, record: &PipelineRecord) -> Result<(), PipelineError> {
        self.pipelines
            .insert(record.spec.name.as_bytes(), encode("pipeline", record)?)?;
        self.db.flush()?;
        Ok(())
    }

    /// Removes a pipeline and every task's state and checkpoint.
    pub fn remove(&self, record: &PipelineRecord) -> Result<(), PipelineError> {
        self.pipelines.remove(record.spec.name.as_bytes())?;
        for p in 0..record.partitions {
            for stage in Stage::of(&record.spec) {
                self.db
                    .drop_tree(task_tree_name(&record.spec.name, stage, p))?;
            }
        }
        self.db.flush()?;
        Ok(())
    }

    /// The tree of task `partition` of `pipeline`.
    pub fn task_tree(&self, pipeline: &str, partition: u32) -> Result<sled::Tree, PipelineError> {
        self.stage_tree(pipeline, Stage::Whole, partition)
    }

    /// The tree of the task of `stage` for `partition` of `pipeline`.
    pub fn stage_tree(
        &self,
        pipeline: &str,
        stage: Stage,
        partition: u32,
    ) -> Result<sled::Tree, PipelineError> {
        Ok(self
            .db
            .open_tree(task_tree_name(pipeline, stage, partition))?)
    }

    /// Flushes everything committed so far to disk.
    pub fn flush(&self) -> Result<(), PipelineError> {
        self.db.flush()?;
        Ok(())
    }
}

fn task_tree_name(pipeline: &str, stage: Stage, partition: u32) -> String {
    format!("task/{pipeline}/{partition}{}", stage.tree_suffix())
}

/// The task's committed checkpoint, if it has one.
pub fn load_checkpoint(tree: &sled::Tree) -> Result<Option<Checkpoint>, PipelineError> {
    tree.get(CHECKPOINT_KEY)?
        .map(|b| decode("task checkpoint", &b))
        .transpose()
}

/// Commits state writes and the checkpoint in one atomic sled batch.
pub fn commit(
    tree: &sled::Tree,
    writes: &Writes,
    checkpoint: &Checkpoint,
) -> Result<(), PipelineError> {
    if writes.is_empty() {
        // One key is atomic by itself. A sled::Batch is not free: sled rolls its I/O buffer
        // to disk around every batch (twice), which at a round a millisecond cost more CPU
        // than the rest of the pipeline together; a plain insert only joins the buffer.
        tree.insert(CHECKPOINT_KEY, encode("task checkpoint", checkpoint)?)?;
        return Ok(());
    }
    let mut batch = sled::Batch::default();
    for (k, v) in writes {
        match v {
            Some(v) => batch.insert(k.as_slice(), v.as_slice()),
            None => batch.remove(k.as_slice()),
        }
    }
    batch.insert(CHECKPOINT_KEY, encode("task checkpoint", checkpoint)?);
    tree.apply_batch(batch)?;
    Ok(())
}

/// [`commit`], then flushes the database, for commits a crash must not lose (pinned
/// ranges, timer outboxes, checkpoints moved past outputs).
pub fn commit_durable(
    tree: &sled::Tree,
    writes: &Writes,
    checkpoint: &Checkpoint,
) -> Result<(), PipelineError> {
    commit(tree, writes, checkpoint)?;
    tree.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The outbox as checkpoints before binary bytes laid it out (each byte a number).
    #[derive(Serialize)]
    struct OldCheckpoint {
        producer_id: i64,
        inputs: Vec<i64>,
        sequences: BTreeMap<String, BTreeMap<u32, u64>>,
        deployment: Option<usize>,
        in_flight: Option<Vec<i64>>,
        outbox: Vec<OldGroup>,
    }

    #[derive(Serialize)]
    struct OldGroup {
        topic: String,
        partition: u32,
        first_seq: u64,
        records: Vec<OldRecord>,
    }

    #[derive(Serialize)]
    struct OldRecord {
        key: Option<Vec<u8>>,
        value: Option<Vec<u8>>,
        headers: Vec<(String, Option<Vec<u8>>)>,
        timestamp: i64,
    }

    fn record(key: Option<&str>, value: Option<&str>, header: Option<&str>) -> OutboxRecord {
        OutboxRecord {
            key: key.map(|k| Bytes::from(k.to_string())),
            value: value.map(|v| Bytes::from(v.to_string())),
            headers: vec![
                OutboxHeader(
                    "weir.window.start".into(),
                    header.map(|h| Bytes::from(h.to_string())),
                ),
                OutboxHeader("empty".into(), Some(Bytes::new())),
            ],
            timestamp: 7,
        }
    }

    #[test]
    fn a_checkpoint_written_with_the_old_outbox_layout_still_loads() {
        let old_record = |key: Option<&str>, value: Option<&str>, header: Option<&str>| OldRecord {
            key: key.map(|k| k.as_bytes().to_vec()),
            value: value.map(|v| v.as_bytes().to_vec()),
            headers: vec![
                (
                    "weir.window.start".into(),
                    header.map(|h| h.as_bytes().to_vec()),
                ),
                ("empty".into(), Some(Vec::new())),
            ],
            timestamp: 7,
        };
        let old = OldCheckpoint {
            producer_id: 3,
            inputs: vec![42],
            sequences: [("out".to_string(), [(0, 5)].into_iter().collect())]
                .into_iter()
                .collect(),
            deployment: Some(0),
            in_flight: None,
            outbox: vec![OldGroup {
                topic: "out".into(),
                partition: 0,
                first_seq: 3,
                records: vec![
                    old_record(Some("user1"), Some("12"), Some("60000")),
                    old_record(None, None, None),
                ],
            }],
        };
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        let tree = db.open_tree("task/p/0").unwrap();
        tree.insert(CHECKPOINT_KEY, rmp_serde::to_vec_named(&old).unwrap())
            .unwrap();
        let loaded = load_checkpoint(&tree).unwrap().expect("a checkpoint");
        assert_eq!(loaded.inputs, vec![42]);
        assert_eq!(
            loaded.outbox,
            vec![OutboxGroup {
                topic: "out".into(),
                partition: 0,
                first_seq: 3,
                records: vec![
                    record(Some("user1"), Some("12"), Some("60000")),
                    record(None, None, None),
                ],
            }]
        );
        // Committed again, it takes the new layout and reads back the same.
        commit(&tree, &Writes::new(), &loaded).unwrap();
        assert_eq!(load_checkpoint(&tree).unwrap(), Some(loaded));
    }

    #[test]
    fn outbox_bytes_are_written_as_binary() {
        let value = "v".repeat(100);
        let r = record(Some("k"), Some(&value), Some("0"));
        let bytes = encode("outbox record", &r).unwrap();
        // A binary string costs a byte or two over its length; an array of numbers
        // costs one to two bytes per element.
        assert!(bytes.len() < 100 + 80, "{} bytes", bytes.len());
        assert!(
            bytes.windows(100).any(|w| w == value.as_bytes()),
            "the value as it is"
        );
        assert_eq!(decode::<OutboxRecord>("outbox record", &bytes).unwrap(), r);
    }
}
