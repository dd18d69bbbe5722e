//! [`MetaTree`]: a named tree of the broker's metadata store, lent to a layer above
//! (auth's users and tokens) that keeps its own records there.
//!
//! The layer above owns its keys and values; the broker owns the database, so the
//! records share its fsync policy and its one file lock, and a write acknowledged
//! through [`MetaTree::insert`] or [`MetaTree::remove_all`] is as durable as a topic's.

use super::error::BrokerError;
use super::synced_db::SyncedDb;

/// A key and its value, as stored.
pub type Entry = (Vec<u8>, Vec<u8>);

/// One named sled tree of the metadata store, with durable writes.
#[derive(Debug, Clone)]
pub struct MetaTree {
    db: SyncedDb,
    tree: sled::Tree,
}

impl MetaTree {
    pub(super) fn new(db: SyncedDb, tree: sled::Tree) -> MetaTree {
        MetaTree { db, tree }
    }

    /// The value under `key`.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, BrokerError> {
        Ok(self.tree.get(key)?.map(|v| v.to_vec()))
    }

    /// Stores `value` under `key`, flushed (fsynced under `every-batch`) before returning.
    pub fn insert(&self, key: &[u8], value: Vec<u8>) -> Result<(), BrokerError> {
        self.tree.insert(key, value)?;
        self.db.flush()?;
        Ok(())
    }

    /// Stores `value` under `key` only if nothing is there yet, durably; returns
    /// whether it was stored (two racing creations: one wins).
    pub fn insert_new(&self, key: &[u8], value: Vec<u8>) -> Result<bool, BrokerError> {
        let stored = self
            .tree
            .compare_and_swap(key, None as Option<&[u8]>, Some(value))?
            .is_ok();
        if stored {
            self.db.flush()?;
        }
        Ok(stored)
    }

    /// Stores every entry in one atomic batch, flushed before returning: a reader
    /// (or a restart) sees all of them or none.
    pub fn insert_all(&self, entries: Vec<Entry>) -> Result<(), BrokerError> {
        let mut batch = sled::Batch::default();
        for (key, value) in entries {
            batch.insert(key, value);
        }
        self.tree.apply_batch(batch)?;
        self.db.flush()?;
        Ok(())
    }

    /// Removes `keys` in one batch, durably; returns how many of them existed.
    pub fn remove_all(&self, keys: &[Vec<u8>]) -> Result<usize, BrokerError> {
        let mut found = 0;
        let mut batch = sled::Batch::default();
        for key in keys {
            if self.tree.contains_key(key)? {
                found += 1;
            }
            batch.remove(key.as_slice());
        }
        self.tree.apply_batch(batch)?;
        self.db.flush()?;
        Ok(found)
    }

    /// Every key and value, in key order.
    pub fn entries(&self) -> Result<Vec<Entry>, BrokerError> {
        self.tree
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                Ok((k.to_vec(), v.to_vec()))
            })
            .collect()
    }

    /// Whether the tree holds nothing.
    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }

    /// How many entries the tree holds (a scan: for limits, not hot paths).
    pub fn len(&self) -> usize {
        self.tree.len()
    }
}
