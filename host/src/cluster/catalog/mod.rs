//! The shared catalog of attached mode: module versions (with their bytes) and pipeline
//! records (with their deployment history) in two compacted topics of the cluster,
//! `_weir_modules` and `_weir_pipelines`, so every node attached to it sees the same
//! state and a change made on one reaches all. [`ClusterCatalog`] implements the
//! pipeline layer's [`Catalog`] trait, as this node's sled registry and store do.
//!
//! - this file: [`ClusterCatalog`]: opening (topics, tail, reading to the end) and the
//!   trait's reads and writes.
//! - [`config`]: [`CatalogConfig`], the topic names, the writer's id, the limits.
//! - [`encoding`]: the records' keys and versioned values.
//! - [`topics`]: the topics created if missing, checked if present.
//! - [`cache`]: [`cache::CatalogCache`], the node's copy built from the records.
//! - [`tail`]: the thread that reads both topics into the cache and announces changes.
//! - [`writer`]: writes made safe against other nodes by one fenced `transactional.id`.
//! - [`view`]: [`CatalogView`], what `GET /v1/cluster` shows of the catalog (records
//!   applied, skipped and why, each topic's lag).

pub mod cache;
pub mod config;
pub mod encoding;
pub mod tail;
pub mod topics;
pub mod view;
pub mod writer;

pub use config::{CatalogConfig, MODULES_TOPIC, PIPELINES_TOPIC};
pub use view::CatalogView;

use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::sync::watch;

use crate::pipeline::PipelineError;
use crate::pipeline::catalog::{Catalog, ModuleUpload, PipelineEdit};
use crate::pipeline::registry::ModuleVersion;
use crate::pipeline::spec::check_name;
use crate::pipeline::store::PipelineRecord;

use super::Admin;
use super::Cluster;
use super::consumer::TopicOffset;
use super::error::ClusterError;
use super::producer::OutRecord;
use cache::{CatalogCache, ReadLimits};
use encoding::{Counter, Manifest, ModuleKey};
use tail::Tail;
use writer::{Plan, Writer, record};

/// What a node's catalog has read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogStats {
    /// Module versions.
    pub modules: usize,
    /// Pipelines.
    pub pipelines: usize,
    /// Records read from both topics.
    pub records: u64,
    /// Records skipped as malformed.
    pub skipped: u64,
}

/// The catalog in a cluster's compacted topics, as one node sees it.
pub struct ClusterCatalog {
    tail: Arc<Tail>,
    writer: Writer,
    /// For end offsets outside a write.
    admin: parking_lot::Mutex<Box<dyn Admin>>,
    config: CatalogConfig,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for ClusterCatalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterCatalog")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ClusterCatalog {
    /// Opens the catalog on `cluster`: creates or checks its topics, starts the tail, and
    /// returns once both topics are read to the end they had at the start (the node is
    /// then ready to answer), or fails after `ready_timeout`.
    pub fn open(
        cluster: Arc<dyn Cluster>,
        config: CatalogConfig,
    ) -> Result<ClusterCatalog, ClusterError> {
        config.check().map_err(ClusterError::CatalogConfig)?;
        let admin = cluster.admin()?;
        topics::ensure(admin.as_ref())?;
        let limits = ReadLimits {
            max_module_bytes: config.max_module_bytes,
            max_record_bytes: config.max_record_bytes,
        };
        let cache = CatalogCache::new(&config.cache_dir, limits).map_err(|source| {
            ClusterError::CatalogCache {
                path: config.cache_dir.clone(),
                source,
            }
        })?;
        let mut consumer = cluster.consumer(None)?;
        // From offset 0: on a compacted topic whose start moved, the client resets to the
        // earliest offset there is.
        consumer.assign(&[MODULES_TOPIC, PIPELINES_TOPIC].map(|topic| TopicOffset {
            topic: topic.to_string(),
            partition: 0,
            offset: 0,
        }))?;
        let ends = Writer::ends(admin.as_ref())?;
        // Everything that can fail before the thread starts: a failure after it drops
        // the catalog, whose Drop stops the thread.
        let writer = Writer::new(
            cluster,
            config.writer_id.clone(),
            config.write_timeout,
            config.write_attempts,
        )?;
        let tail = Tail::new(cache);
        let thread = std::thread::Builder::new()
            .name("catalog-tail".into())
            .spawn({
                let tail = tail.clone();
                move || tail.run(consumer)
            })
            .map_err(ClusterError::Waiter)?;
        let catalog = ClusterCatalog {
            tail,
            writer,
            admin: parking_lot::Mutex::new(admin),
            thread: Some(thread),
            config,
        };
        let start = Instant::now();
        if !catalog.tail.wait_for(ends, catalog.config.ready_timeout) {
            return Err(ClusterError::CatalogBehind {
                topics: "_weir_modules and _weir_pipelines",
                waited_ms: start.elapsed().as_millis(),
            });
        }
        Ok(catalog)
    }

    /// What it has read so far.
    pub fn stats(&self) -> CatalogStats {
        let state = self.tail.state.lock();
        CatalogStats {
            modules: state.cache.modules().count(),
            pipelines: state.cache.pipelines().count(),
            records: state.cache.applied,
            skipped: state.cache.skipped,
        }
    }

    /// Waits (at most `timeout`) until this node has read everything committed to both
    /// topics up to now; whether it has.
    pub fn sync(&self, timeout: Duration) -> Result<bool, PipelineError> {
        let ends = Writer::ends(self.admin.lock().as_ref()).map_err(unavailable)?;
        Ok(self.tail.wait_for(ends, timeout))
    }

    fn encode_pipeline(&self, record: &PipelineRecord) -> Result<Vec<u8>, PipelineError> {
        let value = encoding::encode(record);
        if value.len() > self.config.max_record_bytes {
            return Err(PipelineError::CatalogRecordTooLarge {
                what: format!("pipeline {:?}", record.spec.name),
                size: value.len(),
                max: self.config.max_record_bytes,
            });
        }
        Ok(value)
    }

    /// The records of a new version: its chunks, its manifest, the name's counter.
    fn module_records(&self, module: &ModuleVersion, bytes: &[u8]) -> Vec<OutRecord> {
        let (name, version) = (module.name.clone(), module.version);
        let mut records = Vec::new();
        let chunks = bytes.chunks(self.config.chunk_bytes);
        let count = chunks.len() as u32;
        for (index, chunk) in chunks.enumerate() {
            let key = ModuleKey::Chunk {
                name: name.clone(),
                version,
                index: index as u32,
            };
            records.push(record(
                MODULES_TOPIC,
                key.encode(),
                Some(encoding::encode_raw(chunk)),
            ));
        }
        let manifest = Manifest {
            module: module.clone(),
            chunks: count,
        };
        records.push(record(
            MODULES_TOPIC,
            ModuleKey::Manifest {
                name: name.clone(),
                version,
            }
            .encode(),
            Some(encoding::encode(&manifest)),
        ));
        let counter = Counter {
            next_version: version + 1,
        };
        records.push(record(
            MODULES_TOPIC,
            ModuleKey::Counter { name }.encode(),
            Some(encoding::encode(&counter)),
        ));
        records
    }
}

fn unavailable(e: ClusterError) -> PipelineError {
    PipelineError::CatalogUnavailable(Box::new(e))
}

impl Drop for ClusterCatalog {
    fn drop(&mut self) {
        self.tail.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Catalog for ClusterCatalog {
    fn modules(&self) -> Result<Vec<ModuleVersion>, PipelineError> {
        Ok(self.tail.state.lock().cache.modules().cloned().collect())
    }

    fn module(&self, name: &str, version: Option<u32>) -> Result<ModuleVersion, PipelineError> {
        self.tail
            .state
            .lock()
            .cache
            .module(name, version)
            .cloned()
            .ok_or_else(|| PipelineError::UnknownModule {
                name: name.to_string(),
                version,
            })
    }

    fn module_bytes(&self, module: &ModuleVersion) -> Result<Vec<u8>, PipelineError> {
        let path = {
            let state = self.tail.state.lock();
            let known = state.cache.module(&module.name, Some(module.version));
            if known.is_none_or(|m| m.digest != module.digest) {
                return Err(PipelineError::UnknownModule {
                    name: module.name.clone(),
                    version: Some(module.version),
                });
            }
            state.cache.path(&module.name, module.version)
        };
        std::fs::read(&path).map_err(PipelineError::io("reading", path))
    }

    fn put_module(&self, u: ModuleUpload<'_>) -> Result<(ModuleVersion, bool), PipelineError> {
        check_name("module", u.name)
            .map_err(|reason| PipelineError::InvalidModuleName { reason })?;
        if u.bytes.len() > self.config.max_module_bytes {
            return Err(PipelineError::ModuleTooLarge {
                size: u.bytes.len(),
                max: self.config.max_module_bytes,
            });
        }
        if cache::hex(&Sha256::digest(u.bytes)) != u.digest {
            return Err(PipelineError::InvalidModule {
                name: u.name.to_string(),
                reason: "the digest given is not the SHA-256 of its bytes".into(),
            });
        }
        let what = format!("uploading module {:?}", u.name);
        self.writer.write(&self.tail, &what, |tail: &Tail| {
            let (same, next) = tail.read(|cache| {
                let same = cache.versions(u.name).find(|m| m.digest == u.digest);
                (same.cloned(), cache.next_version(u.name))
            });
            if let Some(same) = same {
                return Ok(Plan::Done((same, false)));
            }
            let module = ModuleVersion {
                name: u.name.to_string(),
                version: next,
                digest: u.digest.to_string(),
                world: u.world.to_string(),
                size: u.bytes.len() as u64,
                created_ms: u.now_ms,
            };
            Ok(Plan::Write {
                records: self.module_records(&module, u.bytes),
                answer: (module, true),
            })
        })
    }

    fn delete_module(&self, name: &str, version: u32) -> Result<(), PipelineError> {
        let what = format!("deleting module {name:?} version {version}");
        self.writer.write(&self.tail, &what, |tail: &Tail| {
            // As many chunks as its manifest says: its writer's chunk size may not
            // be this node's.
            let Some(chunks) = tail.read(|cache| cache.chunks(name, version)) else {
                return Err(PipelineError::UnknownModule {
                    name: name.to_string(),
                    version: Some(version),
                });
            };
            let name = name.to_string();
            let mut records: Vec<_> = (0..chunks)
                .map(|index| {
                    let key = ModuleKey::Chunk {
                        name: name.clone(),
                        version,
                        index,
                    };
                    record(MODULES_TOPIC, key.encode(), None)
                })
                .collect();
            records.push(record(
                MODULES_TOPIC,
                ModuleKey::Manifest { name, version }.encode(),
                None,
            ));
            Ok(Plan::Write {
                records,
                answer: (),
            })
        })
    }

    fn pipelines(&self) -> Result<Vec<PipelineRecord>, PipelineError> {
        Ok(self.tail.state.lock().cache.pipelines().cloned().collect())
    }

    fn pipeline(&self, name: &str) -> Result<Option<PipelineRecord>, PipelineError> {
        Ok(self.tail.state.lock().cache.pipeline(name).cloned())
    }

    fn create_pipeline(&self, created: &PipelineRecord) -> Result<(), PipelineError> {
        let name = created.spec.name.clone();
        let value = self.encode_pipeline(created)?;
        let what = format!("creating pipeline {name:?}");
        self.writer.write(&self.tail, &what, |tail: &Tail| {
            if tail.read(|cache| cache.pipeline(&name).is_some()) {
                return Err(PipelineError::PipelineExists { name: name.clone() });
            }
            Ok(Plan::Write {
                records: vec![record(
                    PIPELINES_TOPIC,
                    name.clone().into_bytes(),
                    Some(value.clone()),
                )],
                answer: (),
            })
        })
    }

    fn edit_pipeline(
        &self,
        name: &str,
        edit: PipelineEdit<'_>,
    ) -> Result<Option<PipelineRecord>, PipelineError> {
        let what = format!("updating pipeline {name:?}");
        self.writer.write(&self.tail, &what, |tail: &Tail| {
            let Some(mut changed) = tail.read(|cache| cache.pipeline(name).cloned()) else {
                return Ok(Plan::Done(None));
            };
            // Outside the cache's lock: an edit may read the catalog itself.
            edit(&mut changed)?;
            if changed.spec.name != name {
                return Err(PipelineError::InvalidSpec(crate::pipeline::spec::spec_err(
                    "name",
                    "an update cannot rename a pipeline",
                )));
            }
            let value = self.encode_pipeline(&changed)?;
            Ok(Plan::Write {
                records: vec![record(
                    PIPELINES_TOPIC,
                    name.as_bytes().to_vec(),
                    Some(value),
                )],
                answer: Some(changed),
            })
        })
    }

    fn delete_pipeline(&self, name: &str) -> Result<Option<PipelineRecord>, PipelineError> {
        let what = format!("deleting pipeline {name:?}");
        self.writer.write(&self.tail, &what, |tail: &Tail| {
            let Some(gone) = tail.read(|cache| cache.pipeline(name).cloned()) else {
                return Ok(Plan::Done(None));
            };
            Ok(Plan::Write {
                records: vec![record(PIPELINES_TOPIC, name.as_bytes().to_vec(), None)],
                answer: Some(gone),
            })
        })
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.tail.changes.subscribe()
    }

    fn catch_up(&self, timeout: Duration) -> Result<(), PipelineError> {
        let start = Instant::now();
        if self.sync(timeout)? {
            return Ok(());
        }
        Err(unavailable(ClusterError::CatalogBehind {
            topics: "_weir_modules and _weir_pipelines",
            waited_ms: start.elapsed().as_millis(),
        }))
    }
}
