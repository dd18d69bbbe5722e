//! The state a processor keeps: a backend trait, with an in-memory store for tests and the
//! local runner, and a sled tree for pipelines.
//!
//! - [`memory`]: [`MemoryState`], a `BTreeMap`.
//! - [`sled_tree`]: [`SledState`], one sled tree per (pipeline, step, partition).
//! - [`window`]: [`WindowStore`] and [`SessionStore`], Kafka's window and session stores
//!   laid out in a backend's window key space.

mod memory;
mod sled_tree;
pub mod window;

use std::ops::Bound;

use bytes::Bytes;

pub use memory::MemoryState;
pub use sled_tree::SledState;
pub use window::{SessionStore, WindowStore};

/// Largest key a plugin may store, in bytes.
pub const MAX_KEY_BYTES: usize = 4 << 10;
/// Largest value a plugin may store, in bytes.
pub const MAX_VALUE_BYTES: usize = 4 << 20;

/// Why a state operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The store failed underneath.
    #[error("state store unavailable: {source}")]
    Unavailable {
        /// The store's error.
        #[source]
        source: sled::Error,
    },
    /// A key or value past the size caps.
    #[error("{what} of {len} bytes exceeds the cap of {limit} bytes")]
    TooLarge {
        /// `key` or `value`.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The cap.
        limit: usize,
    },
    /// A fetch asked for more entries than one call may return.
    #[error("{what}: {asked} is over the cap of {limit}")]
    TooMany {
        /// What was counted.
        what: &'static str,
        /// How many were asked for.
        asked: usize,
        /// The cap.
        limit: usize,
    },
    /// An argument that makes no sense (a session ending before it starts).
    #[error("{reason}")]
    Invalid {
        /// What was wrong.
        reason: String,
    },
}

/// Key-value pairs found by a scan, in key order.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// Writes not committed yet, in key order: each key to its value, or `None` for a deletion.
pub type Uncommitted = Vec<(Vec<u8>, Option<Vec<u8>>)>;

/// A key-value store in byte order, one per processor task.
pub trait StateBackend: Send {
    /// The value under `key`, if any.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError>;
    /// Stores `value` under `key`.
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StateError>;
    /// Removes `key` (absent is fine).
    fn delete(&mut self, key: &[u8]) -> Result<(), StateError>;
    /// Up to `limit` entries between the bounds, in key order.
    fn range(
        &self,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        limit: usize,
    ) -> Result<Entries, StateError>;

    /// [`StateBackend::get`] as shared bytes, for readers that only look at the value:
    /// a store keeping values in memory (a table's cache) lends them without a copy.
    fn get_shared(&self, key: &[u8]) -> Result<Option<Bytes>, StateError> {
        Ok(self.get(key)?.map(Bytes::from))
    }

    /// A number that changes whenever writes already made through this backend are
    /// undone (a pipeline round discarded): a cache of what it holds is valid while the
    /// number stays the same. Stores that never undo a write keep 0.
    fn generation(&self) -> u64 {
        0
    }

    /// The writes made through this backend between the bounds that its owner has not
    /// committed yet, in key order (a deletion as `None`); `None`: this backend keeps no
    /// such writes apart (every write counts as committed). A pipeline's `on_update`
    /// aggregation builds the results of what changed since the last commit from them.
    fn uncommitted(
        &self,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
    ) -> Result<Option<Uncommitted>, StateError> {
        let _ = (start, end);
        Ok(None)
    }

    /// A second key space committed with this one, for the window and session stores
    /// ([`window`]): the processor's own keys never meet their layout. `None`: this
    /// backend has none, and the window and session stores answer `unavailable`.
    fn windows(&self) -> Option<Box<dyn StateBackend>> {
        None
    }

    /// Up to `limit` entries whose key starts with `prefix`, in key order.
    fn prefix(&self, prefix: &[u8], limit: usize) -> Result<Entries, StateError> {
        match prefix_end(prefix) {
            Some(end) => self.range(Bound::Included(prefix), Bound::Excluded(&end), limit),
            None => self.range(Bound::Included(prefix), Bound::Unbounded, limit),
        }
    }
}

/// The smallest key greater than every key starting with `prefix` (`None`: no such key).
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// Checks a key (and value) against the size caps before storing.
pub(crate) fn check_sizes(key: &[u8], value: Option<&[u8]>) -> Result<(), StateError> {
    if key.len() > MAX_KEY_BYTES {
        return Err(StateError::TooLarge {
            what: "key",
            len: key.len(),
            limit: MAX_KEY_BYTES,
        });
    }
    if let Some(value) = value
        && value.len() > MAX_VALUE_BYTES
    {
        return Err(StateError::TooLarge {
            what: "value",
            len: value.len(),
            limit: MAX_VALUE_BYTES,
        });
    }
    Ok(())
}

/// Whether a scan of `start..end` for `limit` entries has nothing to return: no room, or
/// an inverted range (start after end), on which both `BTreeMap::range` and sled panic.
pub(crate) fn nothing_to_scan(start: Bound<&[u8]>, end: Bound<&[u8]>, limit: usize) -> bool {
    limit == 0 || is_inverted(start, end)
}

/// Whether `start..end` is inverted (start after end).
fn is_inverted(start: Bound<&[u8]>, end: Bound<&[u8]>) -> bool {
    match (start, end) {
        (Bound::Included(s), Bound::Included(e)) => s > e,
        (Bound::Included(s) | Bound::Excluded(s), Bound::Excluded(e)) => s >= e,
        (Bound::Excluded(s), Bound::Included(e)) => s >= e,
        _ => false,
    }
}
