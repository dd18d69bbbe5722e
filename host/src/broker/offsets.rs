//! Committed consumer-group offsets: the commit and describe side of the broker.

use super::broker::{Broker, lookup, now_ms};
use super::error::BrokerError;
use super::metadata::CommittedOffset;

/// One committed offset of a group, with the partition's lag.
#[derive(Debug, Clone)]
pub struct GroupOffset {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: u32,
    /// The committed offset and its metadata.
    pub committed: CommittedOffset,
    /// The partition's high watermark, if the partition still exists.
    pub high_watermark: Option<i64>,
}

impl GroupOffset {
    /// high watermark − committed offset, never negative.
    pub fn lag(&self) -> Option<i64> {
        self.high_watermark
            .map(|hw| (hw - self.committed.offset).max(0))
    }
}

/// An offset commit request for one partition.
#[derive(Debug, Clone)]
pub struct OffsetCommit {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i64,
    /// The next offset to read.
    pub offset: i64,
    /// Optional client metadata.
    pub metadata: Option<String>,
}

impl Broker {
    /// Commits offsets for a group. Every partition must exist.
    pub fn commit_offsets(
        &self,
        group: &str,
        commits: Vec<OffsetCommit>,
    ) -> Result<(), BrokerError> {
        if group.is_empty() {
            return Err(BrokerError::InvalidRequest("group id is empty".into()));
        }
        if commits.is_empty() {
            return Err(BrokerError::InvalidRequest("no offsets to commit".into()));
        }
        let now = now_ms();
        // Hold the topic map while committing so a topic deleted meanwhile
        // cannot be left with offsets that a re-created topic would inherit.
        let topics = self.topics.read();
        let mut rows = Vec::with_capacity(commits.len());
        for c in commits {
            lookup(&topics, &c.topic)?.partition(c.partition)?;
            if c.offset < 0 {
                return Err(BrokerError::InvalidRequest(format!(
                    "offset {} for {}-{} is negative",
                    c.offset, c.topic, c.partition
                )));
            }
            rows.push((
                c.topic,
                c.partition as u32,
                CommittedOffset {
                    offset: c.offset,
                    metadata: c.metadata,
                    commit_ms: now,
                },
            ));
        }
        self.meta.commit(group, &rows)
    }

    /// A group's committed offsets with lag; `UnknownGroup` if it never committed.
    pub fn group_offsets(&self, group: &str) -> Result<Vec<GroupOffset>, BrokerError> {
        let rows = self.meta.group_offsets(group)?;
        if rows.is_empty() {
            return Err(BrokerError::UnknownGroup {
                group: group.to_string(),
            });
        }
        Ok(rows
            .into_iter()
            .map(|(topic, partition, committed)| {
                let high_watermark = self
                    .topic(&topic)
                    .and_then(|t| t.partition(i64::from(partition)))
                    .ok()
                    .map(|p| p.high_watermark());
                GroupOffset {
                    topic,
                    partition,
                    committed,
                    high_watermark,
                }
            })
            .collect())
    }

    /// Every group with committed offsets.
    pub fn groups(&self) -> Result<Vec<String>, BrokerError> {
        self.meta.groups()
    }
}
