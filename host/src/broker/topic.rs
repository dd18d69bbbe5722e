//! A topic: its name, effective config and partition logs.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::RwLock;

use crate::log::PartitionLog;

use super::error::BrokerError;
use super::topic_config::TopicConfig;

/// A live topic.
#[derive(Debug)]
pub struct Topic {
    name: String,
    created_ms: i64,
    state: RwLock<TopicState>,
}

#[derive(Debug)]
struct TopicState {
    overrides: BTreeMap<String, String>,
    config: TopicConfig,
    partitions: Vec<Arc<PartitionLog>>,
}

impl Topic {
    /// A topic over already opened partition logs.
    pub fn new(
        name: String,
        created_ms: i64,
        overrides: BTreeMap<String, String>,
        config: TopicConfig,
        partitions: Vec<Arc<PartitionLog>>,
    ) -> Topic {
        Topic {
            name,
            created_ms,
            state: RwLock::new(TopicState {
                overrides,
                config,
                partitions,
            }),
        }
    }

    /// The topic's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Creation time, ms since the epoch.
    pub fn created_ms(&self) -> i64 {
        self.created_ms
    }

    /// Number of partitions.
    pub fn partition_count(&self) -> u32 {
        self.state.read().partitions.len() as u32
    }

    /// The effective config.
    pub fn config(&self) -> TopicConfig {
        self.state.read().config.clone()
    }

    /// The entries set explicitly for this topic.
    pub fn overrides(&self) -> BTreeMap<String, String> {
        self.state.read().overrides.clone()
    }

    /// One partition's log, or `UnknownPartition`.
    pub fn partition(&self, partition: i64) -> Result<Arc<PartitionLog>, BrokerError> {
        let state = self.state.read();
        usize::try_from(partition)
            .ok()
            .and_then(|p| state.partitions.get(p).cloned())
            .ok_or_else(|| BrokerError::UnknownPartition {
                topic: self.name.clone(),
                partition,
                count: state.partitions.len() as u32,
            })
    }

    /// All partition logs, in partition order.
    pub fn partitions(&self) -> Vec<Arc<PartitionLog>> {
        self.state.read().partitions.clone()
    }

    /// Replaces the overrides and the effective config (the partitions' log
    /// settings are the broker's to update).
    pub fn set_config(&self, overrides: BTreeMap<String, String>, config: TopicConfig) {
        let mut state = self.state.write();
        state.overrides = overrides;
        state.config = config;
    }

    /// Adds newly opened partitions at the end.
    pub fn extend_partitions(&self, more: Vec<Arc<PartitionLog>>) {
        self.state.write().partitions.extend(more);
    }
}
