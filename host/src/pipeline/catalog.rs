//! [`Catalog`]: what pipelines are made of — module versions with their bytes, pipeline
//! records with their deployment history — wherever it is kept, behind one trait for the
//! API and the task runner. Two backends: [`LocalCatalog`] over this node's sled registry
//! and store (embedded mode), and the cluster's compacted topics (`cluster::catalog`,
//! attached mode), so that code using a catalog runs unchanged on either.
//!
//! Writes are conditional so that no update is lost when several writers race: a module
//! upload picks the next version of its name against the latest state, a pipeline is
//! created only if absent, and an edit runs over the latest record. A backend that cannot
//! settle a race within its retries answers [`PipelineError::CatalogConflict`] (409),
//! never a silent overwrite.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::watch;

use super::error::PipelineError;
use super::registry::{ModuleRegistry, ModuleVersion};
use super::store::{PipelineRecord, PipelineStore};

/// A module version to store, already validated by the caller (which compiled it and so
/// knows its digest and world).
#[derive(Debug, Clone, Copy)]
pub struct ModuleUpload<'a> {
    /// Module name.
    pub name: &'a str,
    /// The component's bytes.
    pub bytes: &'a [u8],
    /// SHA-256 of `bytes`, hex.
    pub digest: &'a str,
    /// The WIT world it implements.
    pub world: &'a str,
    /// Upload time, ms since the epoch.
    pub now_ms: i64,
}

/// An edit of a pipeline record: called on a copy of the latest record, perhaps more than
/// once (a backend that lost a race calls it again on the newer record); an error leaves
/// the record as it was.
pub type PipelineEdit<'a> = &'a mut dyn FnMut(&mut PipelineRecord) -> Result<(), PipelineError>;

/// Where module versions and pipeline records live.
pub trait Catalog: Send + Sync + std::fmt::Debug {
    /// Every module version, by name then version.
    fn modules(&self) -> Result<Vec<ModuleVersion>, PipelineError>;
    /// One version of `name`, or its newest with `None` (`UnknownModule` if none).
    fn module(&self, name: &str, version: Option<u32>) -> Result<ModuleVersion, PipelineError>;
    /// The bytes of a stored version.
    fn module_bytes(&self, module: &ModuleVersion) -> Result<Vec<u8>, PipelineError>;
    /// Stores `upload` as the next version of its name; the same bytes again answer the
    /// existing version. The bool says whether a version was created.
    fn put_module(&self, upload: ModuleUpload<'_>) -> Result<(ModuleVersion, bool), PipelineError>;
    /// Deletes one version (the caller checks that no pipeline uses it); its number is
    /// never given again.
    fn delete_module(&self, name: &str, version: u32) -> Result<(), PipelineError>;
    /// Every pipeline record, by name.
    fn pipelines(&self) -> Result<Vec<PipelineRecord>, PipelineError>;
    /// One pipeline record.
    fn pipeline(&self, name: &str) -> Result<Option<PipelineRecord>, PipelineError>;
    /// Stores a new pipeline (`PipelineExists` if one has its name).
    fn create_pipeline(&self, record: &PipelineRecord) -> Result<(), PipelineError>;
    /// Changes the latest record of `name` with `edit` and stores it; the stored record,
    /// or `None` if there is no such pipeline.
    fn edit_pipeline(
        &self,
        name: &str,
        edit: PipelineEdit<'_>,
    ) -> Result<Option<PipelineRecord>, PipelineError>;
    /// Removes a pipeline's record; the removed record, or `None` if there was none.
    fn delete_pipeline(&self, name: &str) -> Result<Option<PipelineRecord>, PipelineError>;
    /// A counter that moves on every change the catalog sees, whoever made it: a
    /// subscriber re-reads what it cares about when it moves (a watch keeps only the
    /// newest value, so several changes may show as one).
    fn subscribe(&self) -> watch::Receiver<u64>;
    /// Waits (at most `timeout`) until this node has read every change committed so far,
    /// wherever it was made, so what it decides next is decided on the latest state
    /// (`CatalogUnavailable` if it could not).
    fn catch_up(&self, timeout: Duration) -> Result<(), PipelineError>;
}

/// The catalog of one node: its sled module registry and pipeline store. Changes made
/// through it are announced to its subscribers; the embedded service writes the registry
/// and store directly and keeps its own locks.
#[derive(Debug)]
pub struct LocalCatalog {
    modules: Arc<ModuleRegistry>,
    store: PipelineStore,
    changes: watch::Sender<u64>,
    /// Serialises the record writes made through this catalog, so a create or an edit
    /// decides on the record it stores over.
    writes: Mutex<()>,
}

impl LocalCatalog {
    /// The catalog over `modules` and `store`.
    pub fn new(modules: Arc<ModuleRegistry>, store: PipelineStore) -> LocalCatalog {
        LocalCatalog {
            modules,
            store,
            changes: watch::channel(0).0,
            writes: Mutex::new(()),
        }
    }

    fn changed(&self) {
        self.changes.send_modify(|n| *n += 1);
    }
}

impl Catalog for LocalCatalog {
    fn modules(&self) -> Result<Vec<ModuleVersion>, PipelineError> {
        self.modules.list()
    }

    fn module(&self, name: &str, version: Option<u32>) -> Result<ModuleVersion, PipelineError> {
        self.modules.get(name, version)
    }

    fn module_bytes(&self, module: &ModuleVersion) -> Result<Vec<u8>, PipelineError> {
        self.modules.bytes(module)
    }

    fn put_module(&self, u: ModuleUpload<'_>) -> Result<(ModuleVersion, bool), PipelineError> {
        let stored = self
            .modules
            .upload(u.name, u.bytes, u.digest, u.world, u.now_ms)?;
        if stored.1 {
            self.changed();
        }
        Ok(stored)
    }

    fn delete_module(&self, name: &str, version: u32) -> Result<(), PipelineError> {
        self.modules.delete(name, version)?;
        self.changed();
        Ok(())
    }

    fn pipelines(&self) -> Result<Vec<PipelineRecord>, PipelineError> {
        self.store.list()
    }

    fn pipeline(&self, name: &str) -> Result<Option<PipelineRecord>, PipelineError> {
        self.store.get(name)
    }

    fn create_pipeline(&self, record: &PipelineRecord) -> Result<(), PipelineError> {
        let _one = self.writes.lock();
        if self.store.get(&record.spec.name)?.is_some() {
            return Err(PipelineError::PipelineExists {
                name: record.spec.name.clone(),
            });
        }
        self.store.put(record)?;
        self.changed();
        Ok(())
    }

    fn edit_pipeline(
        &self,
        name: &str,
        edit: PipelineEdit<'_>,
    ) -> Result<Option<PipelineRecord>, PipelineError> {
        let _one = self.writes.lock();
        let Some(mut record) = self.store.get(name)? else {
            return Ok(None);
        };
        edit(&mut record)?;
        self.store.put(&record)?;
        self.changed();
        Ok(Some(record))
    }

    fn delete_pipeline(&self, name: &str) -> Result<Option<PipelineRecord>, PipelineError> {
        let _one = self.writes.lock();
        let Some(record) = self.store.get(name)? else {
            return Ok(None);
        };
        // As the embedded service deletes: the record and its tasks' state.
        self.store.remove(&record)?;
        self.changed();
        Ok(Some(record))
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// One node's store is always read up.
    fn catch_up(&self, _: Duration) -> Result<(), PipelineError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::SyncedDb;
    use crate::pipeline::store::Deployment;
    use crate::test_support::reopen;

    fn record(name: &str) -> PipelineRecord {
        let spec: crate::pipeline::PipelineSpec = serde_json::from_value(serde_json::json!({
            "name": name, "inputs": ["in"], "output": "out",
            "steps": [{"module": "m"}]
        }))
        .unwrap();
        PipelineRecord {
            spec: spec.clone(),
            partitions: 1,
            paused: false,
            created_ms: 1,
            history: vec![Deployment {
                modules: vec![("m".into(), 1)],
                at_ms: 1,
                reason: "created".into(),
            }],
            specs: vec![spec],
            forgotten: 0,
        }
    }

    #[test]
    fn the_local_catalog_stores_refuses_and_announces() {
        let dir = tempfile::tempdir().unwrap();
        let db = reopen(|| SyncedDb::open(sled::Config::new(), &dir.path().join("db"), true));
        let modules = Arc::new(ModuleRegistry::open(&db, &dir.path().join("modules")).unwrap());
        let catalog = LocalCatalog::new(modules, PipelineStore::open(&db, 4).unwrap());
        let mut changes = catalog.subscribe();
        let upload = ModuleUpload {
            name: "m",
            bytes: b"wasm",
            digest: "d1",
            world: "transform",
            now_ms: 1,
        };
        let (m, created) = catalog.put_module(upload).unwrap();
        assert!(created && m.version == 1);
        assert!(changes.has_changed().unwrap());
        changes.mark_unchanged();
        assert!(
            !catalog.put_module(upload).unwrap().1,
            "same bytes, same version"
        );
        assert!(!changes.has_changed().unwrap());
        assert_eq!(catalog.module_bytes(&m).unwrap(), b"wasm");

        catalog.create_pipeline(&record("p")).unwrap();
        assert!(matches!(
            catalog.create_pipeline(&record("p")),
            Err(PipelineError::PipelineExists { .. })
        ));
        let paused = catalog
            .edit_pipeline("p", &mut |r| {
                r.paused = true;
                Ok(())
            })
            .unwrap()
            .unwrap();
        assert!(paused.paused);
        // A refused edit stores nothing.
        let refused = catalog.edit_pipeline("p", &mut |r| {
            r.paused = false;
            Err(PipelineError::ShuttingDown)
        });
        assert!(matches!(refused, Err(PipelineError::ShuttingDown)));
        assert!(catalog.pipeline("p").unwrap().unwrap().paused);
        assert!(
            catalog
                .edit_pipeline("q", &mut |_| Ok(()))
                .unwrap()
                .is_none()
        );
        assert!(catalog.delete_pipeline("p").unwrap().is_some());
        assert!(catalog.pipeline("p").unwrap().is_none());
        assert!(catalog.delete_pipeline("p").unwrap().is_none());
        assert!(changes.has_changed().unwrap());
    }
}
