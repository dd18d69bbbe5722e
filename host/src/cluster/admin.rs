//! The [`Admin`] trait and its answers.

use std::collections::BTreeMap;

use super::consumer::TopicOffset;
use super::error::ClusterError;

/// A topic of another cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    /// Its name.
    pub name: String,
    /// How many partitions it has.
    pub partitions: i32,
}

/// A consumer group of another cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfo {
    /// Its id.
    pub name: String,
    /// Its state as the coordinator names it (`Empty`, `Stable`, ...).
    pub state: String,
    /// How many members it has now.
    pub members: usize,
}

/// A member of a consumer group, as DescribeGroups tells it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MemberInfo {
    /// Its member id.
    pub member: String,
    /// Its `client.id`.
    pub client_id: String,
    /// The host it connects from.
    pub host: String,
    /// The `(topic, partition)`s assigned to it (empty unless the group is stable).
    pub assignment: Vec<(String, i32)>,
}

/// Admin calls to another cluster.
pub trait Admin: Send {
    /// Every topic and its partition count.
    fn topics(&self) -> Result<Vec<TopicInfo>, ClusterError>;
    /// Creates `name` with `partitions` and these topic configs ([`ClusterError::TopicExists`]
    /// if it is there).
    fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        configs: &BTreeMap<String, String>,
    ) -> Result<(), ClusterError>;
    /// Grows `name` to `total` partitions.
    fn create_partitions(&self, name: &str, total: i32) -> Result<(), ClusterError>;
    /// `name`'s configs that are set on the topic (not the broker's defaults).
    fn describe_configs(&self, name: &str) -> Result<BTreeMap<String, String>, ClusterError>;
    /// Sets `name`'s topic configs to `configs` (keys not named fall back to defaults, as
    /// Kafka's AlterConfigs does).
    fn alter_configs(
        &self,
        name: &str,
        configs: &BTreeMap<String, String>,
    ) -> Result<(), ClusterError>;
    /// The log-start and end offsets of a partition.
    fn watermarks(&self, topic: &str, partition: i32) -> Result<(i64, i64), ClusterError>;
    /// Every consumer group, with its state and members.
    fn groups(&self) -> Result<Vec<GroupInfo>, ClusterError>;
    /// `group`'s members and their assignments (DescribeGroups; none if it has none).
    fn group_members(&self, group: &str) -> Result<Vec<MemberInfo>, ClusterError>;
    /// `group`'s committed offsets of `partitions` (those with none left out).
    fn group_offsets(
        &self,
        group: &str,
        partitions: &[(String, i32)],
    ) -> Result<Vec<TopicOffset>, ClusterError>;
    /// Sets `group`'s committed offsets (the group must have no active members).
    fn alter_group_offsets(&self, group: &str, offsets: &[TopicOffset])
    -> Result<(), ClusterError>;
}
