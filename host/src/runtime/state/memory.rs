//! An in-memory state backend.

use std::collections::BTreeMap;
use std::ops::Bound;

use super::{Entries, StateBackend, StateError, check_sizes};

/// State in a `BTreeMap`: for tests and `weir plugin test`; gone when dropped.
#[derive(Debug, Default, Clone)]
pub struct MemoryState {
    map: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl MemoryState {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl StateBackend for MemoryState {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.map.get(key).cloned())
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StateError> {
        check_sizes(key, Some(value))?;
        self.map.insert(key.to_vec(), value.to_vec());
        Ok(())
    }

    fn delete(&mut self, key: &[u8]) -> Result<(), StateError> {
        self.map.remove(key);
        Ok(())
    }

    fn range(
        &self,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        limit: usize,
    ) -> Result<Entries, StateError> {
        if super::nothing_to_scan(start, end, limit) {
            return Ok(Vec::new());
        }
        Ok(self
            .map
            .range::<[u8], _>((start, end))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}
