//! The module registry: uploaded Wasm components, versioned per name, stored
//! durably as files plus a sled index.
//!
//! An upload writes `modules/<name>/<version>.wasm` (temp file, fsync, rename,
//! directory fsync) before the sled record that makes it visible, so the index
//! never points at a missing file; files without a record (a crash in between)
//! are removed on open.

use crate::broker::SyncedDb;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::error::PipelineError;
use super::spec::check_name;

/// One stored version of a module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleVersion {
    /// Module name.
    pub name: String,
    /// Version, counting up from 1 per name.
    pub version: u32,
    /// SHA-256 of the bytes, hex.
    pub digest: String,
    /// The WIT world the component implements (`transform`, `processor`, ...).
    pub world: String,
    /// Size in bytes.
    pub size: u64,
    /// Upload time, ms since the epoch.
    pub created_ms: i64,
}

/// The registry.
#[derive(Debug)]
pub struct ModuleRegistry {
    dir: PathBuf,
    db: SyncedDb,
    tree: sled::Tree,
    /// Per name, the next version number: kept apart from the versions so that
    /// deleting the newest version never lets its number be reused.
    next_version: sled::Tree,
    /// Serialises uploads and deletes so version numbers are unique and digests deduplicate.
    upload: Mutex<()>,
}

fn key(name: &str, version: u32) -> Vec<u8> {
    let mut k = Vec::with_capacity(name.len() + 5);
    k.extend_from_slice(name.as_bytes());
    k.push(0);
    k.extend_from_slice(&version.to_be_bytes());
    k
}

fn prefix(name: &str) -> Vec<u8> {
    let mut k = name.as_bytes().to_vec();
    k.push(0);
    k
}

fn decode(bytes: &[u8]) -> Result<ModuleVersion, PipelineError> {
    rmp_serde::from_slice(bytes).map_err(|e| PipelineError::Corrupt {
        what: "module version".into(),
        reason: e.to_string(),
    })
}

impl ModuleRegistry {
    /// Opens the registry over `db`, keeping files under `dir`.
    pub fn open(db: &SyncedDb, dir: &Path) -> Result<ModuleRegistry, PipelineError> {
        std::fs::create_dir_all(dir).map_err(PipelineError::io("creating", dir))?;
        let registry = ModuleRegistry {
            dir: dir.to_path_buf(),
            db: db.clone(),
            tree: db.open_tree("modules")?,
            next_version: db.open_tree("module_next_version")?,
            upload: Mutex::new(()),
        };
        registry.remove_orphans()?;
        Ok(registry)
    }

    fn path(&self, name: &str, version: u32) -> PathBuf {
        self.dir.join(name).join(format!("{version}.wasm"))
    }

    fn remove_orphans(&self) -> Result<(), PipelineError> {
        for entry in
            std::fs::read_dir(&self.dir).map_err(PipelineError::io("listing", &self.dir))?
        {
            let entry = entry.map_err(PipelineError::io("listing", &self.dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let files = std::fs::read_dir(entry.path())
                .map_err(PipelineError::io("listing", entry.path()))?;
            for file in files {
                let file = file.map_err(PipelineError::io("listing", entry.path()))?;
                let file_name = file.file_name().to_string_lossy().into_owned();
                let known = file_name
                    .strip_suffix(".wasm")
                    .and_then(|v| v.parse::<u32>().ok())
                    .map(|v| self.tree.contains_key(key(&name, v)))
                    .transpose()?
                    .unwrap_or(false);
                if !known {
                    tracing::warn!(file = %file.path().display(), "removing module file without a registry record");
                    std::fs::remove_file(file.path())
                        .map_err(PipelineError::io("removing", file.path()))?;
                }
            }
        }
        Ok(())
    }

    /// Stores `bytes` (already validated by the caller, which also computed the
    /// digest and world) as the next version of `name`. The same bytes uploaded
    /// again return the existing version. The bool says whether a version was created.
    pub fn upload(
        &self,
        name: &str,
        bytes: &[u8],
        digest: &str,
        world: &str,
        now_ms: i64,
    ) -> Result<(ModuleVersion, bool), PipelineError> {
        check_name("module", name).map_err(|reason| PipelineError::InvalidModuleName { reason })?;
        let _guard = self.upload.lock();
        let existing = match self.versions(name) {
            Ok(v) => v,
            Err(PipelineError::UnknownModule { .. }) => Vec::new(),
            Err(e) => return Err(e),
        };
        if let Some(same) = existing.iter().find(|m| m.digest == digest) {
            return Ok((same.clone(), false));
        }
        let counter = self
            .next_version
            .get(name.as_bytes())?
            .and_then(|b| <[u8; 4]>::try_from(b.as_ref()).ok())
            .map_or(1, u32::from_be_bytes);
        let version = counter.max(existing.last().map_or(1, |m| m.version + 1));
        let module = ModuleVersion {
            name: name.to_string(),
            version,
            digest: digest.to_string(),
            world: world.to_string(),
            size: bytes.len() as u64,
            created_ms: now_ms,
        };
        self.write(&module, bytes)?;
        Ok((module, true))
    }

    /// Stores `module` with `bytes` at the version it names, replacing a version of that
    /// number with other bytes: this node's copy of a version another node numbered (the
    /// shared catalog of attached mode). The bytes are the caller's, already checked
    /// against `module.digest`.
    pub fn insert(&self, module: &ModuleVersion, bytes: &[u8]) -> Result<(), PipelineError> {
        check_name("module", &module.name)
            .map_err(|reason| PipelineError::InvalidModuleName { reason })?;
        let _guard = self.upload.lock();
        if let Ok(same) = self.get(&module.name, Some(module.version))
            && same == *module
        {
            return Ok(());
        }
        self.write(module, bytes)
    }

    /// Writes a version's file, then the record that makes it visible, and moves the
    /// name's counter past it. The caller holds `upload`.
    fn write(&self, module: &ModuleVersion, bytes: &[u8]) -> Result<(), PipelineError> {
        let (name, version) = (module.name.as_str(), module.version);
        let dir = self.dir.join(name);
        if !dir.exists() {
            std::fs::create_dir_all(&dir).map_err(PipelineError::io("creating", &dir))?;
            sync_dir(&self.dir)?;
        }
        let path = self.path(name, version);
        let tmp = dir.join(format!("{version}.wasm.tmp"));
        std::fs::write(&tmp, bytes).map_err(PipelineError::io("writing", &tmp))?;
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(PipelineError::io("syncing", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(PipelineError::io("renaming", &tmp))?;
        sync_dir(&dir)?;
        let value = rmp_serde::to_vec_named(module).map_err(|e| PipelineError::Corrupt {
            what: "module version".into(),
            reason: e.to_string(),
        })?;
        let mut batch = sled::Batch::default();
        batch.insert(key(name, version), value);
        self.tree.apply_batch(batch)?;
        let next = self
            .next_version
            .get(name.as_bytes())?
            .and_then(|b| <[u8; 4]>::try_from(b.as_ref()).ok())
            .map_or(1, u32::from_be_bytes);
        self.next_version
            .insert(name.as_bytes(), &next.max(version + 1).to_be_bytes())?;
        self.db.flush()?;
        Ok(())
    }

    /// Every version of `name`, oldest first; `UnknownModule` if there is none.
    pub fn versions(&self, name: &str) -> Result<Vec<ModuleVersion>, PipelineError> {
        let versions = self
            .tree
            .scan_prefix(prefix(name))
            .map(|kv| decode(&kv?.1))
            .collect::<Result<Vec<_>, _>>()?;
        if versions.is_empty() {
            return Err(PipelineError::UnknownModule {
                name: name.to_string(),
                version: None,
            });
        }
        Ok(versions)
    }

    /// Every module's versions, by name.
    pub fn list(&self) -> Result<Vec<ModuleVersion>, PipelineError> {
        self.tree.iter().map(|kv| decode(&kv?.1)).collect()
    }

    /// One version, or the newest when `version` is `None`.
    pub fn get(&self, name: &str, version: Option<u32>) -> Result<ModuleVersion, PipelineError> {
        let unknown = || PipelineError::UnknownModule {
            name: name.to_string(),
            version,
        };
        match version {
            Some(v) => self
                .tree
                .get(key(name, v))?
                .map(|b| decode(&b))
                .transpose()?
                .ok_or_else(unknown),
            None => self.versions(name)?.pop().ok_or_else(unknown),
        }
    }

    /// The stored bytes of a version.
    pub fn bytes(&self, module: &ModuleVersion) -> Result<Vec<u8>, PipelineError> {
        let path = self.path(&module.name, module.version);
        std::fs::read(&path).map_err(PipelineError::io("reading", &path))
    }

    /// Deletes one version (the caller checks that no pipeline uses it).
    pub fn delete(&self, name: &str, version: u32) -> Result<(), PipelineError> {
        let _guard = self.upload.lock();
        self.get(name, Some(version))?;
        self.tree.remove(key(name, version))?;
        self.db.flush()?;
        let path = self.path(name, version);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(PipelineError::io("removing", &path)(e)),
        }
    }
}

fn sync_dir(dir: &Path) -> Result<(), PipelineError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(PipelineError::io("syncing directory", dir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::reopen;

    fn open(dir: &Path) -> ModuleRegistry {
        let db = reopen(|| SyncedDb::open(sled::Config::new(), &dir.join("db"), true));
        ModuleRegistry::open(&db, &dir.join("modules")).unwrap()
    }

    #[test]
    fn versions_count_up_and_same_bytes_return_the_existing_version() {
        let dir = tempfile::tempdir().unwrap();
        let reg = open(dir.path());
        let (a, created) = reg.upload("f", b"one", "d1", "transform", 1).unwrap();
        assert!(created);
        assert_eq!(a.version, 1);
        let (b, _) = reg.upload("f", b"two", "d2", "transform", 2).unwrap();
        assert_eq!(b.version, 2);
        let (again, created) = reg.upload("f", b"one", "d1", "transform", 3).unwrap();
        assert!(!created);
        assert_eq!(again.version, 1);
        assert_eq!(reg.get("f", None).unwrap().version, 2);
        assert_eq!(reg.bytes(&a).unwrap(), b"one");
        assert_eq!(reg.versions("f").unwrap().len(), 2);
        // A prefix of another name is a different module.
        reg.upload("ff", b"x", "d3", "transform", 4).unwrap();
        assert_eq!(reg.versions("f").unwrap().len(), 2);
    }

    #[test]
    fn survives_reopen_and_removes_orphan_files() {
        let dir = tempfile::tempdir().unwrap();
        {
            let reg = open(dir.path());
            reg.upload("f", b"one", "d1", "transform", 1).unwrap();
        }
        let orphan = dir.path().join("modules/f/2.wasm");
        std::fs::write(&orphan, b"half").unwrap();
        let reg = open(dir.path());
        assert!(!orphan.exists());
        assert_eq!(reg.get("f", Some(1)).unwrap().digest, "d1");
        // The next upload reuses version 2 cleanly.
        assert_eq!(
            reg.upload("f", b"two", "d2", "transform", 2)
                .unwrap()
                .0
                .version,
            2
        );
    }

    #[test]
    fn an_insert_keeps_the_version_it_is_given_and_moves_the_counter_past_it() {
        let dir = tempfile::tempdir().unwrap();
        let reg = open(dir.path());
        let v3 = ModuleVersion {
            name: "f".into(),
            version: 3,
            digest: "d3".into(),
            world: "transform".into(),
            size: 5,
            created_ms: 7,
        };
        reg.insert(&v3, b"three").unwrap();
        assert_eq!(reg.get("f", None).unwrap(), v3);
        assert_eq!(reg.bytes(&v3).unwrap(), b"three");
        // Again: nothing changes.
        reg.insert(&v3, b"three").unwrap();
        assert_eq!(reg.versions("f").unwrap(), vec![v3.clone()]);
        // A version of that number with other bytes replaces it (the catalog's is the truth).
        let other = ModuleVersion {
            digest: "d3b".into(),
            ..v3.clone()
        };
        reg.insert(&other, b"other").unwrap();
        assert_eq!(reg.get("f", Some(3)).unwrap().digest, "d3b");
        assert_eq!(reg.bytes(&other).unwrap(), b"other");
        // A local upload numbers after it.
        let (next, _) = reg.upload("f", b"four", "d4", "transform", 8).unwrap();
        assert_eq!(next.version, 4);
        assert!(matches!(
            reg.insert(
                &ModuleVersion {
                    name: "a/b".into(),
                    ..v3
                },
                b"x"
            ),
            Err(PipelineError::InvalidModuleName { .. })
        ));
    }

    #[test]
    fn unknown_and_invalid_names_are_refused_and_delete_works() {
        let dir = tempfile::tempdir().unwrap();
        let reg = open(dir.path());
        assert!(matches!(
            reg.get("nope", None),
            Err(PipelineError::UnknownModule { .. })
        ));
        assert!(matches!(
            reg.upload("a/b", b"x", "d", "transform", 1),
            Err(PipelineError::InvalidModuleName { .. })
        ));
        reg.upload("f", b"one", "d1", "transform", 1).unwrap();
        reg.delete("f", 1).unwrap();
        assert!(matches!(
            reg.get("f", Some(1)),
            Err(PipelineError::UnknownModule { .. })
        ));
        assert!(matches!(
            reg.delete("f", 1),
            Err(PipelineError::UnknownModule { .. })
        ));
    }
}
