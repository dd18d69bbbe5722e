//! An in-memory state backend.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use parking_lot::Mutex;

use super::{Entries, StateBackend, StateError, check_sizes};

type Map = BTreeMap<Vec<u8>, Vec<u8>>;

/// State in a `BTreeMap`: for tests and `weir plugin test`; gone when dropped.
#[derive(Debug, Default, Clone)]
pub struct MemoryState {
    map: Map,
    /// The window key space, shared with every view [`StateBackend::windows`] hands out
    /// (an instance rebuilt after a trap takes a new view of the same windows).
    windows: Arc<Mutex<Map>>,
}

/// A view of a [`MemoryState`]'s window key space.
#[derive(Debug)]
struct MemoryWindows(Arc<Mutex<Map>>);

fn range_of(map: &Map, start: Bound<&[u8]>, end: Bound<&[u8]>, limit: usize) -> Entries {
    if super::nothing_to_scan(start, end, limit) {
        return Vec::new();
    }
    map.range::<[u8], _>((start, end))
        .take(limit)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

impl StateBackend for MemoryWindows {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.0.lock().get(key).cloned())
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StateError> {
        check_sizes(key, Some(value))?;
        self.0.lock().insert(key.to_vec(), value.to_vec());
        Ok(())
    }

    fn delete(&mut self, key: &[u8]) -> Result<(), StateError> {
        self.0.lock().remove(key);
        Ok(())
    }

    fn range(
        &self,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        limit: usize,
    ) -> Result<Entries, StateError> {
        Ok(range_of(&self.0.lock(), start, end, limit))
    }
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
        Ok(range_of(&self.map, start, end, limit))
    }

    fn windows(&self) -> Option<Box<dyn StateBackend>> {
        Some(Box::new(MemoryWindows(self.windows.clone())))
    }
}
