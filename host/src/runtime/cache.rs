//! Precompiled components on disk.
//!
//! A component is compiled once per (content digest, engine settings): the file name holds the
//! SHA-256 of the component bytes and a hash of everything in the engine that makes compiled code
//! incompatible (wasmtime version, target, tunables). A restart, or a second load of the same
//! bytes, deserialises the file (microseconds to a millisecond) instead of compiling (seconds for
//! Python and JS). Every compilation is counted, so tests can prove a load did not compile.
//! A component is written only once it has been accepted (its imports granted, its exports
//! matching its world): a refused upload leaves nothing here.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::error::RuntimeError;

/// Where precompiled components live, and how many were compiled by this process.
#[derive(Debug)]
pub struct PrecompiledCache {
    dir: Option<PathBuf>,
    engine_key: String,
    compilations: AtomicU64,
    hits: AtomicU64,
}

/// Hex SHA-256 of a component's bytes: its identity in the cache (and in a module registry).
pub fn digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

impl PrecompiledCache {
    /// A cache in `dir` (created if missing) for `engine`; `None` compiles every load.
    pub fn new(dir: Option<PathBuf>, engine: &Engine) -> Result<Self, RuntimeError> {
        if let Some(dir) = &dir {
            std::fs::create_dir_all(dir).map_err(|source| RuntimeError::Cache {
                path: dir.clone(),
                source,
            })?;
        }
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(PrecompiledCache {
            dir,
            engine_key: format!("{:016x}", hasher.finish()),
            compilations: AtomicU64::new(0),
            hits: AtomicU64::new(0),
        })
    }

    /// Components compiled (not loaded from disk) since this cache was created.
    pub fn compilations(&self) -> u64 {
        self.compilations.load(Ordering::Relaxed)
    }

    /// Components loaded from disk without compiling.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    fn path(&self, digest: &str) -> Option<PathBuf> {
        self.dir
            .as_ref()
            .map(|d| d.join(format!("{digest}-{}.cwasm", self.engine_key)))
    }

    /// The precompiled component for `digest`, when one is on disk and loads.
    pub fn cached(&self, engine: &Engine, digest: &str) -> Option<Component> {
        let path = self.path(digest)?;
        if !path.exists() {
            return None;
        }
        // SAFETY: the file was written by `precompile_component` of an engine with the same
        // compatibility hash, into weir's own cache directory; wasmtime checks the header.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                Some(component)
            }
            Err(err) => {
                tracing::warn!(
                    path = %path.display(),
                    "ignoring unloadable precompiled component: {err:#}"
                );
                None
            }
        }
    }

    /// Compiles `bytes`: the component, and its precompiled form for [`PrecompiledCache::keep`].
    /// Nothing is written: a component is kept only once it has been accepted.
    pub fn compile(
        &self,
        engine: &Engine,
        plugin: &str,
        bytes: &[u8],
    ) -> Result<(Component, Vec<u8>), RuntimeError> {
        let invalid = |source| RuntimeError::InvalidComponent {
            plugin: plugin.to_owned(),
            source,
        };
        let compiled = engine.precompile_component(bytes).map_err(invalid)?;
        self.compilations.fetch_add(1, Ordering::Relaxed);
        tracing::info!(plugin, "compiled component");
        // SAFETY: the bytes come straight from `precompile_component` on this engine.
        let component = unsafe { Component::deserialize(engine, &compiled) }.map_err(invalid)?;
        Ok((component, compiled))
    }

    /// Writes an accepted component's precompiled form for next time.
    pub fn keep(&self, digest: &str, compiled: &[u8]) -> Result<(), RuntimeError> {
        match self.path(digest) {
            Some(path) => write_atomically(&path, compiled),
            None => Ok(()),
        }
    }

    /// Removes the precompiled form of `digest` (a cached component refused on load, for
    /// instance by a newer host that grants less).
    pub fn forget(&self, digest: &str) {
        if let Some(path) = self.path(digest)
            && let Err(err) = std::fs::remove_file(&path)
            && err.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %path.display(), "removing a refused precompiled component: {err}");
        }
    }
}

/// Writes to a temp file and renames, so a crash never leaves a torn `.cwasm` under the real name.
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> Result<(), RuntimeError> {
    let err = |source| RuntimeError::Cache {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
    tmp.write_all(bytes).map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}
