//! The [`Consumer`] trait and what it reads.

use std::sync::Arc;
use std::time::Duration;

use super::error::ClusterError;

/// A record read from another cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// Its topic.
    pub topic: String,
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// Its timestamp (ms), if it has one.
    pub timestamp: Option<i64>,
    /// Its key.
    pub key: Option<Vec<u8>>,
    /// Its value (`None`: a tombstone).
    pub value: Option<Vec<u8>>,
    /// Its headers, in order.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

impl Fetched {
    /// The bytes it holds (key, value, headers), for in-flight limits.
    pub fn size(&self) -> usize {
        self.key.as_ref().map_or(0, Vec::len)
            + self.value.as_ref().map_or(0, Vec::len)
            + self
                .headers
                .iter()
                .map(|(k, v)| k.len() + v.as_ref().map_or(0, Vec::len))
                .sum::<usize>()
    }
}

/// A position or committed offset of one partition.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TopicOffset {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The offset (the next to read).
    pub offset: i64,
}

/// A consumer's group generation, handed to a transactional producer's
/// `send_offsets` so the broker fences zombies (KIP-447). Opaque: only the implementation
/// that made it reads it.
pub struct GroupMetadata(pub Box<dyn std::any::Any + Send>);

/// A change of a group member's partitions, as the group protocol hands them out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rebalance {
    /// These `(topic, partition)`s are now the member's (told after they are assigned).
    Assigned(Vec<(String, i32)>),
    /// These are taken away (told before they go, so the member can still commit or abort
    /// what it holds of them; the group waits for it).
    Revoked(Vec<(String, i32)>),
}

/// Told of a subscribed consumer's rebalances, on the thread that polls, during its poll.
pub trait RebalanceListener: Send + Sync {
    /// The member's partitions changed.
    fn rebalanced(&self, change: Rebalance);
}

/// A consumer of another cluster.
pub trait Consumer: Send {
    /// Joins its group for `topics` (the group protocol assigns partitions).
    fn subscribe(&mut self, topics: &[String]) -> Result<(), ClusterError>;
    /// Joins its group for `topics` like [`Consumer::subscribe`], telling `listener` of
    /// every partition assigned and revoked.
    fn subscribe_observed(
        &mut self,
        topics: &[String],
        listener: Arc<dyn RebalanceListener>,
    ) -> Result<(), ClusterError>;
    /// Reads exactly these partitions from these offsets (no group assignment).
    fn assign(&mut self, positions: &[TopicOffset]) -> Result<(), ClusterError>;
    /// Moves an assigned partition's position.
    fn seek(&mut self, position: &TopicOffset, timeout: Duration) -> Result<(), ClusterError>;
    /// Up to `max` records, waiting at most `timeout` for the first. A rebalance told to a
    /// listener ends the poll: records read before it are dropped (their partitions are
    /// handed out again from the committed offsets), so what is returned is all of the
    /// new assignment.
    fn poll(&mut self, max: usize, timeout: Duration) -> Result<Vec<Fetched>, ClusterError>;
    /// Commits `offsets` to its group, synchronously.
    fn commit(&mut self, offsets: &[TopicOffset]) -> Result<(), ClusterError>;
    /// Its group's committed offsets of `partitions` (`(topic, partition)`); a partition
    /// with none is left out.
    fn committed(
        &mut self,
        partitions: &[(String, i32)],
        timeout: Duration,
    ) -> Result<Vec<TopicOffset>, ClusterError>;
    /// Its group generation, for a transactional producer (`None` outside a group).
    fn group_metadata(&self) -> Option<GroupMetadata>;
    /// The next offset it will hand out of each assigned partition that has one: past the
    /// records returned so far and the transaction markers and aborted records the client
    /// skipped behind them, so a reader knows it has read up to an end offset even when
    /// the partition ends in a marker.
    fn positions(&self) -> Result<Vec<TopicOffset>, ClusterError>;
}
