//! Creating and deleting topics and adding partitions: under the broker's admin lock,
//! with the file I/O outside the topic map's lock, so a 10 000-partition create does not
//! stall produce and fetch on other topics.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::broker::{Broker, io_err, lookup, now_ms, sync_dir};
use super::error::BrokerError;
use super::metadata::TopicRecord;
use super::orphans;
use super::topic::Topic;
use super::topic_name;

/// Partitions of every topic in `topics`.
pub(super) fn partition_total(topics: &BTreeMap<String, Arc<Topic>>) -> u64 {
    topics
        .values()
        .map(|t| u64::from(t.partition_count()))
        .sum()
}

impl Broker {
    /// Moves a topic's directory into `trash/` (durably: the rename is synced) and
    /// returns where it went; the caller removes it. Start-up clears `trash/`.
    pub(super) fn move_to_trash(&self, name: &str) -> Result<PathBuf, BrokerError> {
        let dir = self.topic_dir(name);
        let trash = self.config.data_dir.join("trash");
        std::fs::create_dir_all(&trash).map_err(io_err("creating", &trash))?;
        let aside = trash.join(format!("{name}-{}", now_ms()));
        std::fs::rename(&dir, &aside).map_err(io_err("moving aside", &dir))?;
        sync_dir(&self.config.data_dir.join("log"))?;
        Ok(aside)
    }

    /// Creates a topic with `partitions` partitions and the given config overrides.
    pub fn create_topic(
        &self,
        name: &str,
        partitions: u32,
        overrides: BTreeMap<String, String>,
    ) -> Result<Arc<Topic>, BrokerError> {
        topic_name::validate(name)?;
        if topic_name::is_internal(name) {
            return Err(BrokerError::InternalTopic {
                name: name.to_string(),
            });
        }
        self.config.limits.check_partition_count(partitions)?;
        let config = self.config.topic_defaults.with_overrides(&overrides)?;
        // Admin operations one at a time; the topic map's lock only for reading it
        // here and inserting at the end, so producers and consumers of other topics
        // never wait for this create's file I/O.
        let _admin = self.admin.lock();
        let topics = self.topics.read();
        if topics.contains_key(name) {
            return Err(BrokerError::TopicExists {
                name: name.to_string(),
            });
        }
        let key = topic_name::collision_key(name);
        if let Some(existing) = topics.keys().find(|t| topic_name::collision_key(t) == key) {
            return Err(BrokerError::TopicCollides {
                name: name.to_string(),
                existing: existing.clone(),
            });
        }
        self.config.limits.check_room(
            topics.len(),
            partition_total(&topics),
            1,
            u64::from(partitions),
        )?;
        drop(topics);
        let dir = self.topic_dir(name);
        if self.orphans.lock().contains_key(name) {
            return Err(BrokerError::OrphanExists {
                name: name.to_string(),
            });
        }
        if dir.exists() {
            // Not an orphan found at start-up, so a create of this name that failed
            // half-way since (its marker is still in there): nothing was acknowledged.
            std::fs::remove_dir_all(&dir).map_err(io_err("removing", &dir))?;
        }
        // The marker first, durable before any partition directory: a crash from here
        // until the topic is recorded leaves a directory start-up knows it may remove.
        std::fs::create_dir_all(&dir).map_err(io_err("creating", &dir))?;
        let marker = dir.join(orphans::CREATING);
        std::fs::File::create(&marker).map_err(io_err("creating", &marker))?;
        sync_dir(&dir)?;
        sync_dir(&self.config.data_dir.join("log"))?;
        let logs = (0..partitions)
            .map(|p| self.open_partition(name, p, &config))
            .collect::<Result<Vec<_>, _>>()?;
        // The new directories must be durable before sled records the topic.
        sync_dir(&dir)?;
        sync_dir(&self.config.data_dir.join("log"))?;
        let created_ms = now_ms();
        self.meta.put_topic(&TopicRecord {
            name: name.to_string(),
            partitions,
            config: overrides.clone(),
            created_ms,
        })?;
        // Recorded: the directory is the topic's now. A crash before this removal
        // leaves a marker in a known topic's directory, which start-up removes.
        std::fs::remove_file(&marker).map_err(io_err("removing", &marker))?;
        let topic = Arc::new(Topic::new(
            name.to_string(),
            created_ms,
            overrides,
            config,
            logs,
        ));
        self.topics.write().insert(name.to_string(), topic.clone());
        tracing::info!(topic = name, partitions, "created topic");
        Ok(topic)
    }

    /// Deletes a topic, its data and its committed offsets.
    pub fn delete_topic(&self, name: &str) -> Result<(), BrokerError> {
        let _admin = self.admin.lock();
        let aside = {
            let mut topics = self.topics.write();
            let topic = lookup(&topics, name)?;
            self.meta.delete_topic(name)?;
            topics.remove(name);
            for p in topic.partitions() {
                p.mark_deleted();
            }
            // Move the directory aside while still holding the lock, so a create
            // of the same name can never open (or lose) these files; a crash half
            // way through the removal leaves only trash, cleared at start-up.
            self.move_to_trash(name)?
        };
        std::fs::remove_dir_all(&aside).map_err(io_err("removing", &aside))?;
        tracing::info!(topic = name, "deleted topic");
        Ok(())
    }

    /// Raises a topic's partition count to `count` (partitions are never removed).
    pub fn add_partitions(&self, name: &str, count: u32) -> Result<Arc<Topic>, BrokerError> {
        let _admin = self.admin.lock();
        let (topic, total) = {
            let topics = self.topics.read();
            (lookup(&topics, name)?, partition_total(&topics))
        };
        let current = topic.partition_count();
        if count <= current {
            return Err(BrokerError::InvalidPartitionCount {
                reason: format!(
                    "topic {name:?} has {current} partitions; the new count must be larger (partitions are never removed)"
                ),
            });
        }
        self.config.limits.check_partition_count(count)?;
        self.config
            .limits
            .check_room(0, total, 0, u64::from(count - current))?;
        let config = topic.config();
        let logs = (current..count)
            .map(|p| self.open_partition(name, p, &config))
            .collect::<Result<Vec<_>, _>>()?;
        sync_dir(&self.topic_dir(name))?;
        self.meta.put_topic(&TopicRecord {
            name: name.to_string(),
            partitions: count,
            config: topic.overrides(),
            created_ms: topic.created_ms(),
        })?;
        topic.extend_partitions(logs);
        Ok(topic)
    }
}
