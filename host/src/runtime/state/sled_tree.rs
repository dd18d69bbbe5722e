//! A state backend in a sled tree.

use std::ops::Bound;

use super::{Entries, StateBackend, StateError, check_sizes};

/// State in one sled tree; durable with the database it belongs to.
#[derive(Debug, Clone)]
pub struct SledState {
    tree: sled::Tree,
}

impl SledState {
    /// State kept in `tree` (one tree per pipeline step and partition).
    pub fn new(tree: sled::Tree) -> Self {
        SledState { tree }
    }

    /// The tree underneath, so a scheduler can commit state and offsets in one transaction.
    pub fn tree(&self) -> &sled::Tree {
        &self.tree
    }
}

fn unavailable(source: sled::Error) -> StateError {
    StateError::Unavailable { source }
}

impl StateBackend for SledState {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.tree.get(key).map_err(unavailable)?.map(|v| v.to_vec()))
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StateError> {
        check_sizes(key, Some(value))?;
        self.tree.insert(key, value).map_err(unavailable)?;
        Ok(())
    }

    fn delete(&mut self, key: &[u8]) -> Result<(), StateError> {
        self.tree.remove(key).map_err(unavailable)?;
        Ok(())
    }

    fn range(
        &self,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        limit: usize,
    ) -> Result<Entries, StateError> {
        let mut out = Vec::new();
        if super::nothing_to_scan(start, end, limit) {
            return Ok(out);
        }
        for item in self.tree.range::<&[u8], _>((start, end)) {
            let (k, v) = item.map_err(unavailable)?;
            out.push((k.to_vec(), v.to_vec()));
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }
}
