//! Resetting a consumer group's committed offsets (what `kafka-consumer-groups
//! --reset-offsets` does): to the earliest, the latest, the first record at a time,
//! or an exact offset, only while the group has no members, so no consumer commits
//! over the reset or reads from positions it never chose.

use super::broker::Broker;
use super::error::BrokerError;
use super::offsets::{LiveGroup, OffsetCommit};

/// Where a reset moves each partition's committed offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetReset {
    /// The log start offset.
    Earliest,
    /// The high watermark (nothing left to read).
    Latest,
    /// The first record with a timestamp at or after this (ms); the high watermark
    /// when every record is older.
    Timestamp(i64),
    /// This offset, moved into [log start, high watermark] when outside it.
    Offset(i64),
}

/// Which partitions a reset moves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResetScope {
    /// Every partition of this topic.
    Topic(String),
    /// Exactly these (topic, partition) pairs: the ones the caller listed and checked, so
    /// a commit landing meanwhile cannot widen the reset past what was authorised.
    Partitions(Vec<(String, u32)>),
}

/// One partition's new committed offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetOffset {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: u32,
    /// The committed offset now.
    pub offset: i64,
}

impl Broker {
    /// Resets `group`'s offsets to `to` on the partitions of `scope`. `GroupNotEmpty`
    /// while it has members; `UnknownGroup` when there is nothing to reset.
    pub fn reset_offsets(
        &self,
        group: &str,
        scope: ResetScope,
        to: OffsetReset,
    ) -> Result<Vec<ResetOffset>, BrokerError> {
        let (topic, partitions): (Option<&str>, Vec<(String, u32)>) = match &scope {
            ResetScope::Topic(t) => (
                Some(t.as_str()),
                (0..self.topic(t)?.partition_count())
                    .map(|p| (t.to_string(), p))
                    .collect(),
            ),
            ResetScope::Partitions(list) => (None, list.clone()),
        };
        let mut targets = Vec::with_capacity(partitions.len());
        for (t, p) in partitions {
            let log = match self
                .topic(&t)
                .and_then(|topic| topic.partition(i64::from(p)))
            {
                Ok(log) => log,
                // Offsets of a topic deleted since they were committed: nothing to reset.
                Err(_) if topic.is_none() => continue,
                Err(e) => return Err(e),
            };
            let stats = log.stats();
            let offset = match to {
                OffsetReset::Earliest => stats.log_start_offset,
                OffsetReset::Latest => stats.high_watermark,
                OffsetReset::Timestamp(ts) => log
                    .offset_for_timestamp(ts)
                    .map_err(BrokerError::log(&t, p))?
                    .map_or(stats.high_watermark, |(offset, _)| offset),
                OffsetReset::Offset(o) => o.clamp(stats.log_start_offset, stats.high_watermark),
            };
            targets.push(ResetOffset {
                topic: t,
                partition: p,
                offset,
            });
        }
        if targets.is_empty() {
            return Err(BrokerError::UnknownGroup {
                group: group.to_string(),
            });
        }
        let commits: Vec<OffsetCommit> = targets
            .iter()
            .map(|r| OffsetCommit {
                topic: r.topic.clone(),
                partition: i64::from(r.partition),
                offset: r.offset,
                metadata: None,
            })
            .collect();
        let mut committed = Ok(());
        let mut commit = || committed = self.set_offsets(group, commits.clone());
        let live = self.live_groups.read().clone();
        // The commit runs while the coordinator lets no member join.
        let found = match live {
            Some(live) => live.forget_if_empty(group, &mut commit),
            None => {
                commit();
                LiveGroup::Unknown
            }
        };
        if found == LiveGroup::HasMembers {
            return Err(BrokerError::GroupNotEmpty {
                group: group.to_string(),
                action: "resetting its offsets",
            });
        }
        committed?;
        Ok(targets)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::broker::BrokerConfig;

    #[test]
    fn a_partition_list_resets_exactly_those_partitions() {
        let dir = tempfile::tempdir().unwrap();
        let broker = Broker::open(BrokerConfig {
            data_dir: dir.path().to_path_buf(),
            flush: crate::log::FlushPolicy::EveryBatch,
            index_interval_bytes: 4096,
            topic_defaults: Default::default(),
            limits: Default::default(),
        })
        .unwrap();
        for t in ["checked", "later"] {
            broker.create_topic(t, 1, BTreeMap::new()).unwrap();
        }
        let commit = |topic: &str| OffsetCommit {
            topic: topic.into(),
            partition: 0,
            offset: 0,
            metadata: None,
        };
        broker.commit_offsets("g", vec![commit("checked")]).unwrap();
        let checked = vec![("checked".to_string(), 0)];
        // A commit to another topic lands after the caller listed (and authorised) the
        // group's partitions: the reset must not reach it.
        broker.commit_offsets("g", vec![commit("later")]).unwrap();
        let reset = broker
            .reset_offsets("g", ResetScope::Partitions(checked), OffsetReset::Latest)
            .unwrap();
        let topics: Vec<&str> = reset.iter().map(|r| r.topic.as_str()).collect();
        assert_eq!(topics, ["checked"]);
    }
}
