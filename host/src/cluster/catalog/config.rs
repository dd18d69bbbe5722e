//! [`CatalogConfig`]: where a node's catalog keeps its cache, who writes, and the limits
//! on what it reads and writes.

use std::path::PathBuf;
use std::time::Duration;

/// The topic of module versions and their bytes.
pub const MODULES_TOPIC: &str = "_weir_modules";
/// The topic of pipeline records and their deployment history.
pub const PIPELINES_TOPIC: &str = "_weir_pipelines";

/// The default `chunk_bytes`: 512 KiB, half of Kafka's default `max.message.bytes`
/// (1 MiB), so a chunk with its key and batch header fits any cluster left at defaults.
pub const DEFAULT_CHUNK_BYTES: usize = 512 << 10;
/// The default `max_record_bytes`: 1 000 000 bytes, under Kafka's default
/// `max.message.bytes` (1 048 588) with room for the key and batch header.
pub const DEFAULT_MAX_RECORD_BYTES: usize = 1_000_000;
/// The default `max_module_bytes`: 128 MiB, as `[pipelines] max_module_bytes`.
pub const DEFAULT_MAX_MODULE_BYTES: usize = 128 << 20;
/// Module versions whose chunks are being gathered at once. The writer's versions
/// arrive one after another (one writer at a time); more means a foreign writer.
pub const MAX_PENDING_MODULES: usize = 2;

/// A node's catalog settings.
#[derive(Debug, Clone)]
pub struct CatalogConfig {
    /// Where the node caches module bytes read from the cluster (emptied at open: the
    /// topics are the truth).
    pub cache_dir: PathBuf,
    /// The `transactional.id` every node's catalog writes with: one id for the whole
    /// catalog, so a writer fences the one before it (see `writer`).
    pub writer_id: String,
    /// Bytes of a module per chunk record.
    pub chunk_bytes: usize,
    /// Largest module stored or read, bytes.
    pub max_module_bytes: usize,
    /// Largest pipeline record (and chunk) stored or read, bytes encoded.
    pub max_record_bytes: usize,
    /// How long opening may take to read both topics to their end.
    pub ready_timeout: Duration,
    /// How long one write may wait for the cluster (fencing, reading up, the commit).
    pub write_timeout: Duration,
    /// Attempts of a write that loses to other writers before it answers a conflict.
    pub write_attempts: u32,
}

impl CatalogConfig {
    /// The defaults, caching under `cache_dir`.
    pub fn new(cache_dir: impl Into<PathBuf>) -> CatalogConfig {
        CatalogConfig {
            cache_dir: cache_dir.into(),
            writer_id: "weir-catalog".into(),
            chunk_bytes: DEFAULT_CHUNK_BYTES,
            max_module_bytes: DEFAULT_MAX_MODULE_BYTES,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
            ready_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(30),
            write_attempts: 8,
        }
    }

    /// Why these settings cannot work, if they cannot.
    pub fn check(&self) -> Result<(), &'static str> {
        if self.chunk_bytes == 0 || self.chunk_bytes + 64 > self.max_record_bytes {
            return Err("chunk_bytes must be ≥ 1 and leave 64 bytes under max_record_bytes");
        }
        if self.writer_id.is_empty() {
            return Err("writer_id must not be empty");
        }
        if self.write_attempts == 0 {
            return Err("write_attempts must be ≥ 1");
        }
        Ok(())
    }
}
