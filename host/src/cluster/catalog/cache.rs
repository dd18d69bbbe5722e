//! [`CatalogCache`]: a node's copy of the catalog, built by applying the topics' records
//! in offset order. Module metadata and pipeline records are in memory; module bytes are
//! files under the cache directory (a module may be 128 MiB).
//!
//! A record that does not decode, breaks a limit or contradicts what came before is
//! skipped and counted ([`Malformed`]); nothing a record holds can make the node fail.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::pipeline::registry::ModuleVersion;
use crate::pipeline::store::PipelineRecord;

use super::config::MAX_PENDING_MODULES;
use super::encoding::{self, Counter, Malformed, Manifest, ModuleKey};

/// The chunks of one version read so far, waiting for its manifest.
#[derive(Debug)]
struct Assembly {
    /// Offset of its first chunk: the oldest goes first when too many are pending.
    first_offset: i64,
    bytes: Vec<u8>,
    chunks: u32,
}

/// The caps a cache applies to what it reads.
#[derive(Debug, Clone, Copy)]
pub struct ReadLimits {
    /// Largest module, bytes.
    pub max_module_bytes: usize,
    /// Largest value of one record, bytes.
    pub max_record_bytes: usize,
}

/// A node's copy of the catalog.
#[derive(Debug)]
pub struct CatalogCache {
    dir: PathBuf,
    limits: ReadLimits,
    modules: BTreeMap<(String, u32), ModuleVersion>,
    /// Per version, how many chunk records hold its bytes (a delete tombstones each).
    chunks: BTreeMap<(String, u32), u32>,
    next_version: BTreeMap<String, u32>,
    pipelines: BTreeMap<String, PipelineRecord>,
    pending: BTreeMap<(String, u32), Assembly>,
    /// Records skipped as malformed.
    pub skipped: u64,
    /// Those, by why ([`Malformed::code`], or `unfinished_chunks`).
    pub skipped_by: BTreeMap<&'static str, u64>,
    /// The last skip: topic, offset and why.
    pub last_skipped: Option<String>,
    /// Records applied (skipped ones included).
    pub applied: u64,
}

impl CatalogCache {
    /// An empty cache keeping module bytes under `dir` (emptied first).
    pub fn new(dir: &Path, limits: ReadLimits) -> std::io::Result<CatalogCache> {
        match std::fs::remove_dir_all(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        std::fs::create_dir_all(dir)?;
        Ok(CatalogCache {
            dir: dir.to_path_buf(),
            limits,
            modules: BTreeMap::new(),
            chunks: BTreeMap::new(),
            next_version: BTreeMap::new(),
            pipelines: BTreeMap::new(),
            pending: BTreeMap::new(),
            skipped: 0,
            skipped_by: BTreeMap::new(),
            last_skipped: None,
            applied: 0,
        })
    }

    /// The file of a version's bytes.
    pub fn path(&self, name: &str, version: u32) -> PathBuf {
        self.dir.join(name).join(format!("{version}.wasm"))
    }

    /// Every module version, by name then version.
    pub fn modules(&self) -> impl Iterator<Item = &ModuleVersion> {
        self.modules.values()
    }

    /// The versions of `name`, oldest first.
    pub fn versions<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a ModuleVersion> + use<'a> {
        let (from, to) = ((name.to_string(), 0), (name.to_string(), u32::MAX));
        self.modules.range(from..=to).map(|(_, m)| m)
    }

    /// One version, or the newest of `name` with `None`.
    pub fn module(&self, name: &str, version: Option<u32>) -> Option<&ModuleVersion> {
        match version {
            Some(v) => self.modules.get(&(name.to_string(), v)),
            None => self.versions(name).last(),
        }
    }

    /// How many chunk records hold a stored version's bytes.
    pub fn chunks(&self, name: &str, version: u32) -> Option<u32> {
        self.chunks.get(&(name.to_string(), version)).copied()
    }

    /// The number the next version of `name` gets: past every version ever stored.
    pub fn next_version(&self, name: &str) -> u32 {
        let counted = self.next_version.get(name).copied().unwrap_or(1);
        let newest = self.versions(name).last().map_or(1, |m| m.version + 1);
        counted.max(newest).max(1)
    }

    /// Every pipeline record, by name.
    pub fn pipelines(&self) -> impl Iterator<Item = &PipelineRecord> {
        self.pipelines.values()
    }

    /// One pipeline record.
    pub fn pipeline(&self, name: &str) -> Option<&PipelineRecord> {
        self.pipelines.get(name)
    }

    /// Whether the cache holds what `record` (a manifest or a pipeline record this node
    /// wrote) says: the same version or record, or none for a tombstone.
    pub fn holds(&self, record: &super::super::producer::OutRecord) -> bool {
        let key = record.key.as_deref().unwrap_or_default();
        let value = record.value.as_deref();
        if record.topic == super::config::PIPELINES_TOPIC {
            let name = String::from_utf8_lossy(key);
            return match (self.pipelines.get(name.as_ref()), value) {
                (None, None) => true,
                (Some(held), Some(value)) => encoding::encode(held) == value,
                _ => false,
            };
        }
        let Ok(ModuleKey::Manifest { name, version }) = ModuleKey::decode(key) else {
            return false;
        };
        let held = self.modules.get(&(name, version));
        match (held, value.map(encoding::decode::<Manifest>)) {
            (None, None) => true,
            (Some(held), Some(Ok(written))) => *held == written.module,
            _ => false,
        }
    }

    /// Applies a record of `_weir_modules`; whether what users see changed.
    pub fn apply_module(&mut self, offset: i64, key: Option<&[u8]>, value: Option<&[u8]>) -> bool {
        self.applied += 1;
        match self.module_record(offset, key, value) {
            Ok(changed) => changed,
            Err(e) => {
                self.skip("_weir_modules", offset, &e);
                false
            }
        }
    }

    /// Applies a record of `_weir_pipelines`; whether what users see changed.
    pub fn apply_pipeline(
        &mut self,
        offset: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> bool {
        self.applied += 1;
        let result = (|| {
            let key = key.ok_or(Malformed::Key)?;
            let name = std::str::from_utf8(key).map_err(|_| Malformed::Key)?;
            let Some(value) = value else {
                return Ok(self.pipelines.remove(name).is_some());
            };
            self.check_size(value)?;
            let record = encoding::decode_pipeline(key, value)?;
            self.pipelines.insert(name.to_string(), record);
            Ok(true)
        })();
        result.unwrap_or_else(|e| {
            self.skip("_weir_pipelines", offset, &e);
            false
        })
    }

    fn skip(&mut self, topic: &str, offset: i64, why: &Malformed) {
        self.skipped += 1;
        *self.skipped_by.entry(why.code()).or_default() += 1;
        self.last_skipped = Some(format!("{topic} offset {offset}: {why}"));
        tracing::warn!(topic, offset, "skipping a malformed catalog record: {why}");
    }

    fn check_size(&self, value: &[u8]) -> Result<(), Malformed> {
        if value.len() > self.limits.max_record_bytes {
            return Err(Malformed::TooLarge {
                size: value.len(),
                max: self.limits.max_record_bytes,
            });
        }
        Ok(())
    }

    fn module_record(
        &mut self,
        offset: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Result<bool, Malformed> {
        let key = ModuleKey::decode(key.ok_or(Malformed::Key)?)?;
        if let Some(value) = value {
            self.check_size(value)?;
        }
        match (key, value) {
            (ModuleKey::Counter { name }, Some(value)) => {
                let counter: Counter = encoding::decode(value)?;
                let next = self.next_version.entry(name).or_insert(1);
                *next = (*next).max(counter.next_version);
                Ok(false)
            }
            (ModuleKey::Counter { .. }, None) => Ok(false),
            (ModuleKey::Chunk { name, version, .. }, None) => {
                self.pending.remove(&(name, version));
                Ok(false)
            }
            (
                ModuleKey::Chunk {
                    name,
                    version,
                    index,
                },
                Some(value),
            ) => {
                self.chunk(offset, name, version, index, encoding::payload(value)?)?;
                Ok(false)
            }
            (ModuleKey::Manifest { name, version }, None) => {
                self.pending.remove(&(name.clone(), version));
                let known = self.modules.remove(&(name.clone(), version)).is_some();
                self.chunks.remove(&(name.clone(), version));
                match std::fs::remove_file(self.path(&name, version)) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => tracing::warn!("removing a deleted module's cached bytes: {e}"),
                }
                Ok(known)
            }
            (ModuleKey::Manifest { name, version }, Some(value)) => {
                let assembly = self.pending.remove(&(name.clone(), version));
                let manifest: Manifest = encoding::decode(value)?;
                self.manifest(name, version, manifest, assembly)?;
                Ok(true)
            }
        }
    }

    fn chunk(
        &mut self,
        offset: i64,
        name: String,
        version: u32,
        index: u32,
        bytes: &[u8],
    ) -> Result<(), Malformed> {
        let at = (name, version);
        if index == 0 {
            self.pending.remove(&at);
            if self.pending.len() >= MAX_PENDING_MODULES
                && let Some(oldest) = self
                    .pending
                    .iter()
                    .min_by_key(|(_, a)| a.first_offset)
                    .map(|(k, _)| k.clone())
            {
                self.pending.remove(&oldest);
                self.skip_quietly("a module's chunks were never finished by a manifest");
            }
            self.pending.insert(
                at.clone(),
                Assembly {
                    first_offset: offset,
                    bytes: Vec::new(),
                    chunks: 0,
                },
            );
        }
        let Some(assembly) = self.pending.get_mut(&at) else {
            return Err(Malformed::Inconsistent(
                "a chunk without the chunks before it",
            ));
        };
        if assembly.chunks != index {
            self.pending.remove(&at);
            return Err(Malformed::Inconsistent("a chunk out of order"));
        }
        let size = assembly.bytes.len() + bytes.len();
        if size > self.limits.max_module_bytes {
            self.pending.remove(&at);
            return Err(Malformed::TooLarge {
                size,
                max: self.limits.max_module_bytes,
            });
        }
        assembly.bytes.extend_from_slice(bytes);
        assembly.chunks += 1;
        Ok(())
    }

    fn skip_quietly(&mut self, why: &'static str) {
        self.skipped += 1;
        *self.skipped_by.entry("unfinished_chunks").or_default() += 1;
        self.last_skipped = Some(format!("_weir_modules: {why}"));
        tracing::warn!("skipping catalog records: {why}");
    }

    fn manifest(
        &mut self,
        name: String,
        version: u32,
        manifest: Manifest,
        assembly: Option<Assembly>,
    ) -> Result<(), Malformed> {
        let m = &manifest.module;
        if m.name != name || m.version != version {
            return Err(Malformed::Inconsistent(
                "the manifest's module is not its key",
            ));
        }
        let Some(assembly) = assembly.filter(|a| a.chunks == manifest.chunks) else {
            return Err(Malformed::Inconsistent(
                "a manifest without all of its chunks before it",
            ));
        };
        if assembly.bytes.len() as u64 != m.size {
            return Err(Malformed::Inconsistent(
                "the chunks do not add up to the manifest's size",
            ));
        }
        if hex(&Sha256::digest(&assembly.bytes)) != m.digest {
            return Err(Malformed::Inconsistent(
                "the chunks' SHA-256 is not the manifest's digest",
            ));
        }
        let path = self.path(&name, version);
        if let Err(e) = write_file(&path, &assembly.bytes) {
            // The cache's own disk failed, not the record: the version is left out, and
            // counted, rather than listed without bytes.
            tracing::error!(file = %path.display(), "caching a module's bytes: {e}");
            return Err(Malformed::Inconsistent(
                "its bytes could not be cached on disk",
            ));
        }
        let next = self.next_version.entry(name.clone()).or_insert(1);
        *next = (*next).max(version.saturating_add(1));
        self.chunks.insert((name.clone(), version), manifest.chunks);
        self.modules.insert((name, version), manifest.module);
        Ok(())
    }
}

/// Bytes as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("wasm.tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(dir: &Path) -> CatalogCache {
        let limits = ReadLimits {
            max_module_bytes: 100,
            max_record_bytes: 400,
        };
        CatalogCache::new(&dir.join("cache"), limits).unwrap()
    }

    fn manifest(name: &str, version: u32, bytes: &[u8], chunks: u32) -> Vec<u8> {
        encoding::encode(&Manifest {
            module: ModuleVersion {
                name: name.into(),
                version,
                digest: hex(&Sha256::digest(bytes)),
                world: "transform".into(),
                size: bytes.len() as u64,
                created_ms: 1,
            },
            chunks,
        })
    }

    #[test]
    fn chunks_then_a_manifest_make_a_version_and_junk_is_counted() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = cache(dir.path());
        let raw = encoding::encode_raw;
        assert!(!c.apply_module(0, Some(b"f/1/0"), Some(&raw(b"abc"))));
        assert!(!c.apply_module(1, Some(b"f/1/1"), Some(&raw(b"de"))));
        assert!(c.apply_module(2, Some(b"f/1"), Some(&manifest("f", 1, b"abcde", 2))));
        assert_eq!(std::fs::read(c.path("f", 1)).unwrap(), b"abcde");
        assert_eq!(c.next_version("f"), 2);
        assert_eq!(c.skipped, 0);
        let junk: [(&[u8], Vec<u8>); 7] = [
            (b"f/1/2/3", vec![1]),
            (b"f/9", vec![7, b'{']),
            (b"f/9", vec![1, b'{']),
            (b"f", encoding::encode(&"not a counter")),
            (b"h/1/1", raw(b"x")),
            (b"h/1", manifest("h", 1, b"x", 1)),
            (b"g/1", manifest("f", 1, b"x", 0)),
        ];
        for (i, (key, value)) in junk.iter().enumerate() {
            assert!(!c.apply_module(10 + i as i64, Some(key), Some(value)));
            assert_eq!(c.skipped, i as u64 + 1, "{}", String::from_utf8_lossy(key));
        }
        // Chunks whose bytes are not the manifest's digest.
        c.apply_module(20, Some(b"f/1/0"), Some(&raw(b"xxxxx")));
        assert!(!c.apply_module(21, Some(b"f/1"), Some(&manifest("f", 1, b"abcde", 1))));
        assert_eq!(c.skipped, 8);
        assert_eq!(std::fs::read(c.path("f", 1)).unwrap(), b"abcde");
        // Too large: one record, or the chunks together.
        assert!(!c.apply_pipeline(30, Some(b"p"), Some(&[1; 401])));
        c.apply_module(31, Some(b"g/1/0"), Some(&raw(&[0; 55])));
        c.apply_module(32, Some(b"g/1/1"), Some(&raw(&[0; 55])));
        assert_eq!(c.skipped, 10);
        // A tombstone deletes the version and its bytes.
        assert!(c.apply_module(40, Some(b"f/1"), None));
        assert!(c.module("f", None).is_none() && !c.path("f", 1).exists());
        assert_eq!(
            c.next_version("f"),
            2,
            "a deleted number is not given again"
        );
    }
}
