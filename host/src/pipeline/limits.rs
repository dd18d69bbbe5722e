//! [`StateLimits`]: how much state a task's tables, joins and caches may hold, from
//! `[pipelines]` (`max_table_bytes`, `max_join_window_records`, `max_table_cache_bytes`).
//! A pipeline spec and its input come from clients; without these a spec reading a large
//! topic as a global table, or a wide join window over a busy stream, would make the
//! server hold as much as the input holds.

use super::table_cache::DEFAULT_MAX_TABLE_CACHE_BYTES;

/// The default of `pipelines.max_table_bytes`: 1 GiB of rows a table per task.
pub const DEFAULT_MAX_TABLE_BYTES: u64 = 1 << 30;

/// The default of `pipelines.max_join_window_records`: 1 M records a stream–stream join
/// per task.
pub const DEFAULT_MAX_JOIN_WINDOW_RECORDS: u64 = 1_000_000;

/// Per-task caps on streams state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateLimits {
    /// Most bytes (keys and stored rows) one table's rows may take in one task
    /// (`pipelines.max_table_bytes`); a record that would grow it further fails.
    pub max_table_bytes: u64,
    /// Most records one stream–stream join's window stores may hold in one task
    /// (`pipelines.max_join_window_records`); a record that would be stored past it fails.
    pub max_join_window_records: u64,
    /// Most bytes of one table's rows a task keeps in memory in front of its state
    /// (`pipelines.max_table_cache_bytes`); past it the cache forgets (0: no cache).
    pub max_table_cache_bytes: usize,
}

impl Default for StateLimits {
    fn default() -> StateLimits {
        StateLimits {
            max_table_bytes: DEFAULT_MAX_TABLE_BYTES,
            max_join_window_records: DEFAULT_MAX_JOIN_WINDOW_RECORDS,
            max_table_cache_bytes: DEFAULT_MAX_TABLE_CACHE_BYTES,
        }
    }
}
