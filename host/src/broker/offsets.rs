//! Committed consumer-group offsets: commit, describe and delete them.
//!
//! Group membership lives with whoever runs the group protocol (the Kafka
//! face's coordinator); it registers itself as [`LiveGroups`] so that deleting
//! a group, from any face, is refused while the group has members.

use std::sync::Arc;

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

/// What [`LiveGroups::forget_if_empty`] found in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveGroup {
    /// The group has members: nothing was done.
    HasMembers,
    /// The group was known but had no members: it is forgotten.
    Forgotten,
    /// No such group in memory.
    Unknown,
}

/// The groups that currently have members, as the group coordinator sees them.
pub trait LiveGroups: Send + Sync + std::fmt::Debug {
    /// Unless `group` has members, forgets it and runs `then` while no member
    /// can join it (so a join cannot slip between the check and the deletion).
    fn forget_if_empty(&self, group: &str, then: &mut dyn FnMut()) -> LiveGroup;

    /// The group's state and members as the coordinator sees them now; `None` when it
    /// holds nothing of the group.
    fn describe(&self, _group: &str) -> Option<LiveGroupInfo> {
        None
    }
}

/// A group as its coordinator sees it: for the HTTP face, which cannot ask the Kafka face.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveGroupInfo {
    /// Kafka's state name (`Empty`, `PreparingRebalance`, `CompletingRebalance`, `Stable`).
    pub state: &'static str,
    /// The members.
    pub members: Vec<LiveMember>,
}

/// One member of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveMember {
    /// Its member id.
    pub member_id: String,
    /// Its static membership id, if any.
    pub instance_id: Option<String>,
    /// The client's id.
    pub client_id: String,
    /// The client's address.
    pub host: String,
    /// Its assignment, topic → partitions (empty until synced, or when the group
    /// does not use Kafka's consumer protocol).
    pub assignments: Vec<(String, Vec<i32>)>,
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

/// Most bytes of metadata one committed offset may carry (Kafka's
/// `offset.metadata.max.bytes` default): every OffsetFetch echoes it, so a client could
/// otherwise make each answer as large as it likes.
pub const OFFSET_METADATA_MAX_BYTES: usize = 4096;

/// The size of `metadata` if it is over [`OFFSET_METADATA_MAX_BYTES`].
pub fn metadata_too_large(metadata: Option<&str>) -> Option<usize> {
    metadata
        .map(str::len)
        .filter(|&n| n > OFFSET_METADATA_MAX_BYTES)
}

/// Who moves a group's offsets, which decides whether the move is consumption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mover {
    /// The group's consumer, committing what it has read.
    Consumer,
    /// An operator resetting or altering the offsets: no record was read.
    Operator,
}

impl Broker {
    /// Commits offsets for a group, as its consumer does after reading: how far they move
    /// forward counts as records consumed. Every partition must exist.
    pub fn commit_offsets(
        &self,
        group: &str,
        commits: Vec<OffsetCommit>,
    ) -> Result<(), BrokerError> {
        self.store_offsets(group, commits, Mover::Consumer)
    }

    /// Sets a group's offsets as an operator does (a reset, Connect's alter offsets):
    /// stored as a commit is, but not counted as records consumed, whichever way they move.
    pub fn set_offsets(&self, group: &str, commits: Vec<OffsetCommit>) -> Result<(), BrokerError> {
        self.store_offsets(group, commits, Mover::Operator)
    }

    /// Records consumers have committed past since the broker opened: forward moves of
    /// their commits only, never an operator's reset.
    pub fn consumed(&self) -> u64 {
        self.consumed.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn store_offsets(
        &self,
        group: &str,
        commits: Vec<OffsetCommit>,
        mover: Mover,
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
            if let Some(size) = metadata_too_large(c.metadata.as_deref()) {
                return Err(BrokerError::OffsetMetadataTooLarge {
                    size,
                    max: OFFSET_METADATA_MAX_BYTES,
                });
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
        let forward = self.meta.commit(group, &rows)?;
        if mover == Mover::Consumer {
            self.consumed
                .fetch_add(forward, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
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

    /// The group's state and members, from the coordinator (`None` if it knows nothing
    /// of the group, or no coordinator is registered).
    pub fn live_group(&self, group: &str) -> Option<LiveGroupInfo> {
        let live = self.live_groups.read().clone();
        live.and_then(|l| l.describe(group))
    }

    /// Registers the group coordinator that knows which groups have members.
    pub fn set_live_groups(&self, live: Arc<dyn LiveGroups>) {
        *self.live_groups.write() = Some(live);
    }

    /// Deletes a group: every committed offset, durably. `GroupNotEmpty` while
    /// it has members; `UnknownGroup` if it has neither members nor offsets.
    pub fn delete_group(&self, group: &str) -> Result<(), BrokerError> {
        let mut removed = Ok(0);
        let live = self.live_groups.read().clone();
        let found = match live {
            Some(live) => live.forget_if_empty(group, &mut || {
                removed = self.meta.delete_offsets(group, None);
            }),
            None => {
                removed = self.meta.delete_offsets(group, None);
                LiveGroup::Unknown
            }
        };
        match (found, removed?) {
            (LiveGroup::HasMembers, _) => Err(BrokerError::GroupNotEmpty {
                group: group.to_string(),
                action: "deleting it",
            }),
            (LiveGroup::Unknown, 0) => Err(BrokerError::UnknownGroup {
                group: group.to_string(),
            }),
            _ => Ok(()),
        }
    }

    /// Deletes a group's committed offsets of `partitions`, durably; those it
    /// has none for are skipped. The caller checks membership (see
    /// [`LiveGroups`]): which topics members read is the protocol's business.
    pub fn delete_offsets(
        &self,
        group: &str,
        partitions: &[(String, u32)],
    ) -> Result<usize, BrokerError> {
        self.meta.delete_offsets(group, Some(partitions))
    }
}
