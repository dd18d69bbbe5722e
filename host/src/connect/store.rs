//! What connect keeps in its sled database (`<data_dir>/connect/db`): each connector's
//! config and target state, and per connector one tree with its committed source offsets
//! (`o` + source partition JSON → source offset JSON) and its source tasks' checkpoints
//! (`t` + task id). A source task commits its offsets and its checkpoint (with the records
//! it is about to append, the outbox) in one sled batch: see [`commit_source`].

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::broker::SyncedDb;
use crate::pipeline::store::OutboxGroup;

use super::error::ConnectError;
use super::state::TargetState;

/// A connector as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredConnector {
    /// Its name.
    pub name: String,
    /// Its configuration, as the user sent it (with `name`).
    pub config: BTreeMap<String, String>,
    /// What the user asked it to be.
    pub target: TargetState,
    /// When it was created, ms since the epoch.
    pub created_ms: i64,
}

/// A source task's checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceCheckpoint {
    /// The task's idempotent producer id, taken at its first start and kept for good: the
    /// producer window recognises an outbox appended again only under the id that first
    /// appended it. `None` until then (not 0: the broker's ids start at 0).
    pub producer_id: Option<i64>,
    /// Per output (topic, partition): records appended there, the next one's sequence.
    pub sequences: BTreeMap<String, BTreeMap<u32, u64>>,
    /// Records (and their `connect-offsets` records) committed with the offsets but perhaps
    /// not yet appended; appended (skipping what the log has) before the task polls again.
    pub outbox: Vec<OutboxGroup>,
}

/// The connect store.
#[derive(Debug, Clone)]
pub struct ConnectStore {
    db: SyncedDb,
    connectors: sled::Tree,
}

fn corrupt(what: &str) -> impl Fn(serde_json::Error) -> ConnectError + '_ {
    move |e| ConnectError::Corrupt {
        what: what.to_string(),
        reason: e.to_string(),
    }
}

const OFFSET: u8 = b'o';
const TASK: u8 = b't';

fn offset_key(partition: &str) -> Vec<u8> {
    let mut k = vec![OFFSET];
    k.extend_from_slice(partition.as_bytes());
    k
}

fn task_key(task: u32) -> Vec<u8> {
    let mut k = vec![TASK];
    k.extend_from_slice(&task.to_be_bytes());
    k
}

impl ConnectStore {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<ConnectStore, ConnectError> {
        std::fs::create_dir_all(dir).map_err(|e| ConnectError::Store(e.into()))?;
        let db = SyncedDb::open(
            sled::Config::new().flush_every_ms(Some(200)),
            &dir.join("db"),
            true,
        )?;
        let connectors = db.open_tree("connectors")?;
        Ok(ConnectStore { db, connectors })
    }

    /// Every stored connector, by name.
    pub fn list(&self) -> Result<Vec<StoredConnector>, ConnectError> {
        self.connectors
            .iter()
            .values()
            .map(|v| {
                let v = v?;
                serde_json::from_slice(&v).map_err(corrupt("a connector record"))
            })
            .collect()
    }

    /// Stores a connector durably (flushed before it returns).
    pub fn put(&self, c: &StoredConnector) -> Result<(), ConnectError> {
        let bytes = serde_json::to_vec(c).map_err(corrupt("a connector record"))?;
        self.connectors.insert(c.name.as_bytes(), bytes)?;
        self.db.flush()?;
        Ok(())
    }

    /// Removes a connector and its offsets and checkpoints, durably.
    pub fn remove(&self, name: &str) -> Result<(), ConnectError> {
        self.connectors.remove(name.as_bytes())?;
        self.db.drop_tree(tree_name(name))?;
        self.db.flush()?;
        Ok(())
    }

    /// The tree of a connector's offsets and task checkpoints.
    pub fn tree(&self, name: &str) -> Result<sled::Tree, ConnectError> {
        Ok(self.db.open_tree(tree_name(name))?)
    }

    /// Flushes the database.
    pub fn flush(&self) -> Result<(), ConnectError> {
        self.db.flush()?;
        Ok(())
    }
}

fn tree_name(name: &str) -> String {
    format!("connector/{name}")
}

/// A connector's committed source offsets: (partition JSON, offset JSON).
pub fn offsets(tree: &sled::Tree) -> Result<Vec<(String, String)>, ConnectError> {
    let mut out = Vec::new();
    for kv in tree.scan_prefix([OFFSET]) {
        let (k, v) = kv?;
        out.push((
            String::from_utf8_lossy(&k[1..]).into_owned(),
            String::from_utf8_lossy(&v).into_owned(),
        ));
    }
    Ok(out)
}

/// Replaces a connector's source offsets (`None` removes a partition's), durably.
pub fn set_offsets(
    tree: &sled::Tree,
    changes: &[(String, Option<String>)],
) -> Result<(), ConnectError> {
    let mut batch = sled::Batch::default();
    for (p, o) in changes {
        match o {
            Some(o) => batch.insert(offset_key(p), o.as_bytes()),
            None => batch.remove(offset_key(p)),
        }
    }
    tree.apply_batch(batch)?;
    tree.flush()?;
    Ok(())
}

/// A source task's checkpoint, if it has one.
pub fn checkpoint(tree: &sled::Tree, task: u32) -> Result<Option<SourceCheckpoint>, ConnectError> {
    tree.get(task_key(task))?
        .map(|b| {
            rmp_serde::from_slice(&b).map_err(|e| ConnectError::Corrupt {
                what: format!("task {task}'s checkpoint"),
                reason: e.to_string(),
            })
        })
        .transpose()
}

fn encode(checkpoint: &SourceCheckpoint) -> Result<Vec<u8>, ConnectError> {
    rmp_serde::to_vec(checkpoint).map_err(|e| ConnectError::Corrupt {
        what: "a task checkpoint".into(),
        reason: e.to_string(),
    })
}

/// Commits a source task's new offsets with its checkpoint (whose outbox holds the records
/// they cover) in one atomic sled batch, flushed before it returns: from here on the records
/// are committed, and a crash before they reach the log appends them from the outbox.
pub fn commit_source(
    tree: &sled::Tree,
    task: u32,
    offsets: &BTreeMap<String, String>,
    checkpoint: &SourceCheckpoint,
) -> Result<(), ConnectError> {
    let mut batch = sled::Batch::default();
    for (p, o) in offsets {
        batch.insert(offset_key(p), o.as_bytes());
    }
    batch.insert(task_key(task), encode(checkpoint)?);
    tree.apply_batch(batch)?;
    tree.flush()?;
    Ok(())
}

/// Stores a checkpoint without waiting for the disk (an emptied outbox: losing it only
/// appends the outbox again, which the producer window skips).
pub fn put_checkpoint(
    tree: &sled::Tree,
    task: u32,
    checkpoint: &SourceCheckpoint,
) -> Result<(), ConnectError> {
    tree.insert(task_key(task), encode(checkpoint)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checkpoints stored before `producer_id` was an `Option` (a plain integer) still
    /// decode, with their id.
    #[test]
    fn a_checkpoint_with_a_plain_producer_id_decodes() {
        #[derive(Serialize)]
        struct Before {
            producer_id: i64,
            sequences: BTreeMap<String, BTreeMap<u32, u64>>,
            outbox: Vec<OutboxGroup>,
        }
        for id in [0, 7] {
            let bytes = rmp_serde::to_vec(&Before {
                producer_id: id,
                sequences: BTreeMap::new(),
                outbox: Vec::new(),
            })
            .unwrap();
            let cp: SourceCheckpoint = rmp_serde::from_slice(&bytes).unwrap();
            assert_eq!(cp.producer_id, Some(id));
        }
    }
}
