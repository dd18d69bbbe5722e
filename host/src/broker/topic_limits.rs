//! [`TopicLimits`]: how many topics and partitions the broker takes, so no client (an
//! auto-creating Metadata request naming hundreds of topics, a 10 000-partition
//! create) can make it hold more files and memory than it was sized for.

use super::error::BrokerError;

/// Caps on topics and partitions (`[topics]` in `weir.toml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicLimits {
    /// Topics in all (`topics.max_topics`).
    pub max_topics: usize,
    /// Partitions of one topic (`topics.max_partitions_per_topic`).
    pub max_partitions_per_topic: u32,
    /// Partitions of all topics together (`topics.max_partitions`): each holds open
    /// files (its segment and indexes) and a little memory.
    pub max_partitions: u64,
}

impl Default for TopicLimits {
    fn default() -> Self {
        TopicLimits {
            max_topics: 10_000,
            max_partitions_per_topic: 10_000,
            max_partitions: 100_000,
        }
    }
}

impl TopicLimits {
    /// Checks one topic's partition count.
    pub fn check_partition_count(&self, count: u32) -> Result<(), BrokerError> {
        if count == 0 || count > self.max_partitions_per_topic {
            return Err(BrokerError::InvalidPartitionCount {
                reason: format!(
                    "{count} is not between 1 and {} (topics.max_partitions_per_topic)",
                    self.max_partitions_per_topic
                ),
            });
        }
        Ok(())
    }

    /// Checks that `new_topics` more topics and `new_partitions` more partitions fit
    /// beside the `topics` and `partitions` there are.
    pub fn check_room(
        &self,
        topics: usize,
        partitions: u64,
        new_topics: usize,
        new_partitions: u64,
    ) -> Result<(), BrokerError> {
        if topics + new_topics > self.max_topics {
            return Err(BrokerError::LimitReached {
                what: format!("{topics} topics exist"),
                limit: self.max_topics as u64,
                key: "topics.max_topics",
            });
        }
        if partitions + new_partitions > self.max_partitions {
            return Err(BrokerError::LimitReached {
                what: format!(
                    "{partitions} partitions exist and {new_partitions} more were asked for"
                ),
                limit: self.max_partitions,
                key: "topics.max_partitions",
            });
        }
        Ok(())
    }
}
