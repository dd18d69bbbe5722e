//! One consumer group: its state, generation and members.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use tokio::sync::oneshot;

use super::outcome::{JoinOutcome, SyncOutcome};

/// Where a group is in the rebalance protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupState {
    /// No members (offsets may still be committed).
    Empty,
    /// Waiting for every member to (re)join, until `deadline`.
    PreparingRebalance {
        /// When members that have not rejoined are dropped.
        deadline: Instant,
    },
    /// Joined; waiting for the leader's assignments in SyncGroup.
    CompletingRebalance,
    /// Assignments handed out; members heartbeat.
    Stable,
}

impl GroupState {
    /// Kafka's name of the state (ListGroups, DescribeGroups).
    pub fn name(&self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance { .. } => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
        }
    }
}

/// One member of a group.
#[derive(Debug)]
pub struct Member {
    /// Its id, given by the coordinator.
    pub id: String,
    /// Static membership id (KIP-345), if the client set one.
    pub instance_id: Option<String>,
    /// The client's id and host, for DescribeGroups.
    pub client_id: String,
    /// The client's address.
    pub client_host: String,
    /// Silence longer than this removes the member.
    pub session_timeout: Duration,
    /// How long a rebalance waits for this member to rejoin.
    pub rebalance_timeout: Duration,
    /// Supported protocols (assignors) in preference order, with metadata.
    pub protocols: Vec<(String, Bytes)>,
    /// The assignment from the last SyncGroup.
    pub assignment: Bytes,
    /// Last sign of life (join, sync, heartbeat, commit).
    pub last_seen: Instant,
    /// A JoinGroup waiting for the rebalance to complete.
    pub awaiting_join: Option<oneshot::Sender<JoinOutcome>>,
    /// A follower's SyncGroup waiting for the leader's assignments.
    pub awaiting_sync: Option<oneshot::Sender<SyncOutcome>>,
}

impl Member {
    /// The metadata this member sent for `protocol` (empty if it did not list it).
    pub fn metadata_for(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(n, _)| n == protocol)
            .map(|(_, b)| b.clone())
            .unwrap_or_default()
    }
}

/// A group's state machine.
#[derive(Debug)]
pub struct Group {
    /// Where the group is in the protocol.
    pub state: GroupState,
    /// Bumped by every completed join phase.
    pub generation: i32,
    /// "consumer" for consumer groups.
    pub protocol_type: Option<String>,
    /// The assignor chosen for this generation.
    pub protocol: Option<String>,
    /// The member that computes assignments.
    pub leader: Option<String>,
    /// Members by id.
    pub members: BTreeMap<String, Member>,
    /// Ids handed out with MEMBER_ID_REQUIRED, not yet joined, and when.
    pub pending: HashMap<String, (Instant, Duration)>,
}

impl Default for Group {
    fn default() -> Self {
        Group {
            state: GroupState::Empty,
            generation: 0,
            protocol_type: None,
            protocol: None,
            leader: None,
            members: BTreeMap::new(),
            pending: HashMap::new(),
        }
    }
}

impl Group {
    /// Starts (or keeps) a rebalance: members must rejoin. Followers waiting in
    /// SyncGroup learn that their generation is over.
    pub fn prepare_rebalance(&mut self, now: Instant) {
        if matches!(self.state, GroupState::PreparingRebalance { .. }) {
            return;
        }
        for m in self.members.values_mut() {
            if let Some(tx) = m.awaiting_sync.take() {
                let _ = tx.send(SyncOutcome::error(ResponseError::RebalanceInProgress));
            }
        }
        let wait = self
            .members
            .values()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or_default();
        self.state = GroupState::PreparingRebalance {
            deadline: now + wait,
        };
    }

    /// Completes the join phase once every member has rejoined (or `force`d at
    /// the deadline, dropping those that did not): new generation, a leader and
    /// a protocol, and every waiting JoinGroup answered.
    pub fn try_complete_join(&mut self, force: bool) {
        if !matches!(self.state, GroupState::PreparingRebalance { .. }) {
            return;
        }
        let all_joined = self.members.values().all(|m| m.awaiting_join.is_some());
        if !all_joined && !force {
            return;
        }
        self.members.retain(|_, m| m.awaiting_join.is_some());
        if self.members.is_empty() {
            self.become_empty();
            return;
        }
        self.generation = self.generation.wrapping_add(1).max(1);
        self.protocol = self.choose_protocol();
        if !self
            .leader
            .as_ref()
            .is_some_and(|l| self.members.contains_key(l))
        {
            self.leader = self.members.keys().next().cloned();
        }
        let leader = self.leader.clone().unwrap_or_default();
        let protocol = self.protocol.clone().unwrap_or_default();
        let everyone = self.member_list(&protocol);
        self.state = GroupState::CompletingRebalance;
        for m in self.members.values_mut() {
            m.assignment = Bytes::new();
            if let Some(tx) = m.awaiting_join.take() {
                let _ = tx.send(JoinOutcome {
                    error: None,
                    generation: self.generation,
                    protocol_type: self.protocol_type.clone(),
                    protocol: self.protocol.clone(),
                    leader: leader.clone(),
                    member_id: m.id.clone(),
                    members: if m.id == leader {
                        everyone.clone()
                    } else {
                        Vec::new()
                    },
                    skip_assignment: false,
                });
            }
        }
    }

    /// Every member with its static id and metadata for `protocol`: what the
    /// leader's JoinGroup answer lists.
    pub fn member_list(&self, protocol: &str) -> Vec<(String, Option<String>, Bytes)> {
        self.members
            .values()
            .map(|m| {
                (
                    m.id.clone(),
                    m.instance_id.clone(),
                    m.metadata_for(protocol),
                )
            })
            .collect()
    }

    /// The leader's first protocol every member supports (Kafka votes; with
    /// one client library in a group the result is the same).
    pub fn choose_protocol(&self) -> Option<String> {
        let first = self
            .leader
            .as_ref()
            .and_then(|l| self.members.get(l))
            .or_else(|| self.members.values().next())?;
        first
            .protocols
            .iter()
            .map(|(n, _)| n)
            .find(|n| {
                self.members
                    .values()
                    .all(|m| m.protocols.iter().any(|(p, _)| p == *n))
            })
            .cloned()
    }

    /// Whether a member offering `protocols` of `protocol_type` can join.
    pub fn accepts(
        &self,
        member_id: &str,
        protocol_type: &str,
        protocols: &[(String, Bytes)],
    ) -> bool {
        if protocols.is_empty() || protocol_type.is_empty() {
            return false;
        }
        let others: Vec<&Member> = self
            .members
            .values()
            .filter(|m| m.id != member_id)
            .collect();
        if others.is_empty() {
            return true;
        }
        self.protocol_type.as_deref() == Some(protocol_type)
            && protocols.iter().any(|(n, _)| {
                others
                    .iter()
                    .all(|m| m.protocols.iter().any(|(p, _)| p == n))
            })
    }

    /// Removes members; the group rebalances, or empties when none are left.
    pub fn remove_members(&mut self, ids: &[String], now: Instant) {
        let mut removed = false;
        for id in ids {
            if let Some(m) = self.members.remove(id) {
                removed = true;
                if let Some(tx) = m.awaiting_join {
                    let _ = tx.send(JoinOutcome::error(ResponseError::UnknownMemberId, id));
                }
            }
        }
        if !removed {
            return;
        }
        if self.members.is_empty() {
            self.become_empty();
        } else {
            self.prepare_rebalance(now);
            self.try_complete_join(false);
        }
    }

    fn become_empty(&mut self) {
        self.state = GroupState::Empty;
        self.leader = None;
        self.protocol = None;
    }

    /// Whether nothing but the generation is left: no members, no pending ids.
    pub fn is_idle(&self) -> bool {
        self.state == GroupState::Empty && self.members.is_empty() && self.pending.is_empty()
    }

    /// Session expiry, pending-id expiry and the rebalance deadline.
    pub fn tick(&mut self, now: Instant) {
        self.pending
            .retain(|_, (since, timeout)| now.duration_since(*since) < *timeout);
        // A member parked in JoinGroup is alive: its connection is waiting on us.
        let expired: Vec<String> = self
            .members
            .values()
            .filter(|m| {
                m.awaiting_join.is_none() && now.duration_since(m.last_seen) > m.session_timeout
            })
            .map(|m| m.id.clone())
            .collect();
        if !expired.is_empty() {
            tracing::info!(members = ?expired, "consumer group members expired");
            self.remove_members(&expired, now);
        }
        if let GroupState::PreparingRebalance { deadline } = self.state
            && now >= deadline
        {
            self.try_complete_join(true);
        }
    }
}
