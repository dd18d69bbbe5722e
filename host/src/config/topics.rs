//! `[topics]`: defaults and caps of topics.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::ConfigError;
use crate::broker::TopicLimits;
use crate::broker::topic_config::TopicConfig;

/// `[topics]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicsSection {
    /// Partitions when none are given.
    pub default_partitions: u32,
    /// Most topics.
    pub max_topics: usize,
    /// Most partitions of one topic.
    pub max_partitions_per_topic: u32,
    /// Most partitions of all topics.
    pub max_partitions: u64,
    /// Topic config defaults by Kafka name.
    pub defaults: BTreeMap<String, toml::Value>,
}

impl TopicsSection {
    /// The topic config defaults, or which one is unusable.
    pub(super) fn topic_defaults(&self) -> Result<TopicConfig, ConfigError> {
        if self.default_partitions == 0 {
            return Err(ConfigError::Invalid(
                "topics.default_partitions must be ≥ 1".into(),
            ));
        }
        let overrides = self
            .defaults
            .iter()
            .map(|(k, v)| {
                let s = match v {
                    toml::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), s)
            })
            .collect();
        TopicConfig::default()
            .with_overrides(&overrides)
            .map_err(|e| ConfigError::Invalid(format!("topics.defaults: {e}")))
    }

    /// The caps on topics and partitions.
    pub(super) fn limits(&self) -> TopicLimits {
        TopicLimits {
            max_topics: self.max_topics,
            max_partitions_per_topic: self.max_partitions_per_topic,
            max_partitions: self.max_partitions,
        }
    }
}
