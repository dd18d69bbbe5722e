//! Orphans: topic directories under `log/` that the metadata does not list.
//!
//! They appear when sled's metadata is lost or older than the logs (restored from a
//! backup, moved, deleted by hand). The logs in them may be the only copy of
//! acknowledged records, so weir never deletes them by itself: start-up keeps and
//! reports them (`/v1/health`, `GET /v1/orphans`), and only an explicit command adopts
//! one as a topic again or deletes it.
//!
//! The one kind of unknown directory removed without asking is a create that never
//! finished: [`Broker::create_topic`] puts a [`CREATING`] marker in the topic's directory
//! before anything else and removes it once the topic is recorded, so a directory still
//! holding the marker was never acknowledged to anyone.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use super::broker::{Broker, io_err, now_ms, sync_dir};
use super::error::BrokerError;
use super::metadata::TopicRecord;
use super::topic::Topic;
use super::topic_name;

/// The marker file of a topic directory whose create has not finished.
pub const CREATING: &str = ".creating";

/// A topic directory the metadata does not list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Orphan {
    /// The directory's name: the topic it held.
    pub topic: String,
    /// Partition directories found in it (numbered subdirectories), ascending.
    pub partitions: Vec<u32>,
    /// Bytes of files in it.
    pub bytes: u64,
}

/// What is under `log_dir` beside the topics in `known`: orphans to report, and
/// unfinished creates to remove.
pub(super) fn find(
    log_dir: &Path,
    known: &dyn Fn(&str) -> bool,
) -> Result<(BTreeMap<String, Orphan>, Vec<std::path::PathBuf>), BrokerError> {
    let mut orphans = BTreeMap::new();
    let mut unfinished = Vec::new();
    for entry in std::fs::read_dir(log_dir).map_err(io_err("listing", log_dir))? {
        let entry = entry.map_err(io_err("listing", log_dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if known(&name) || !path.is_dir() {
            continue;
        }
        if path.join(CREATING).exists() {
            unfinished.push(path);
            continue;
        }
        orphans.insert(name.clone(), describe(&name, &path)?);
    }
    Ok((orphans, unfinished))
}

/// An orphan's partitions and size.
fn describe(name: &str, dir: &Path) -> Result<Orphan, BrokerError> {
    let mut partitions = Vec::new();
    let mut bytes = 0;
    for entry in std::fs::read_dir(dir).map_err(io_err("listing", dir))? {
        let entry = entry.map_err(io_err("listing", dir))?;
        let Some(p) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        partitions.push(p);
        for file in std::fs::read_dir(entry.path()).map_err(io_err("listing", &entry.path()))? {
            let file = file.map_err(io_err("listing", &entry.path()))?;
            bytes += file.metadata().map(|m| m.len()).unwrap_or(0);
        }
    }
    partitions.sort_unstable();
    Ok(Orphan {
        topic: name.to_string(),
        partitions,
        bytes,
    })
}

impl Broker {
    /// Topic directories the metadata does not list, found at start-up.
    pub fn orphans(&self) -> Vec<Orphan> {
        self.orphans.lock().values().cloned().collect()
    }

    /// Makes an orphan a topic again: its partitions recovered as they are (records,
    /// offsets, log start), the partition count one past its highest partition
    /// directory, the default config (the overrides went with the metadata).
    pub fn adopt_orphan(&self, name: &str) -> Result<Arc<Topic>, BrokerError> {
        let _admin = self.admin.lock();
        let mut orphans = self.orphans.lock();
        let orphan = orphans
            .get(name)
            .ok_or_else(|| BrokerError::UnknownOrphan {
                name: name.to_string(),
            })?;
        topic_name::validate(name)?;
        let partitions = orphan.partitions.last().map_or(1, |p| p + 1);
        self.config.limits.check_partition_count(partitions)?;
        {
            let topics = self.topics.read();
            self.config.limits.check_room(
                topics.len(),
                super::topic_lifecycle::partition_total(&topics),
                1,
                u64::from(partitions),
            )?;
        }
        let config = self.config.topic_defaults.clone();
        let logs = (0..partitions)
            .map(|p| self.open_partition(name, p, &config))
            .collect::<Result<Vec<_>, _>>()?;
        sync_dir(&self.topic_dir(name))?;
        let created_ms = now_ms();
        self.meta.put_topic(&TopicRecord {
            name: name.to_string(),
            partitions,
            config: BTreeMap::new(),
            created_ms,
        })?;
        let topic = Arc::new(Topic::new(
            name.to_string(),
            created_ms,
            BTreeMap::new(),
            config,
            logs,
        ));
        self.topics.write().insert(name.to_string(), topic.clone());
        orphans.remove(name);
        tracing::info!(topic = name, partitions, "adopted orphaned topic directory");
        Ok(topic)
    }

    /// Deletes an orphan's directory for good.
    pub fn delete_orphan(&self, name: &str) -> Result<(), BrokerError> {
        let aside = {
            let _admin = self.admin.lock();
            let mut orphans = self.orphans.lock();
            if !orphans.contains_key(name) {
                return Err(BrokerError::UnknownOrphan {
                    name: name.to_string(),
                });
            }
            let aside = self.move_to_trash(name)?;
            orphans.remove(name);
            aside
        };
        std::fs::remove_dir_all(&aside).map_err(io_err("removing", &aside))?;
        tracing::info!(topic = name, "deleted orphaned topic directory");
        Ok(())
    }
}
