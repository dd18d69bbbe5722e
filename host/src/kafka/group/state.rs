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
    /// Waiting for members to (re)join, until `deadline`.
    PreparingRebalance {
        /// When the join phase ends (or, in the initial delay, is reconsidered).
        deadline: Instant,
        /// What ends it before the deadline, if anything.
        wait: JoinWait,
    },
    /// Joined; waiting for the leader's assignments in SyncGroup.
    CompletingRebalance {
        /// Members that have not sent SyncGroup by then (the leader, as a
        /// rule) are removed and the group rebalances: Kafka's pending-sync
        /// expiry, so followers parked in SyncGroup (alive, see `tick`) are
        /// not held forever by a leader that heartbeats but never assigns.
        deadline: Instant,
    },
    /// Assignments handed out; members heartbeat.
    Stable,
}

impl GroupState {
    /// Kafka's name of the state (ListGroups, DescribeGroups).
    pub fn name(&self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance { .. } => "PreparingRebalance",
            GroupState::CompletingRebalance { .. } => "CompletingRebalance",
            GroupState::Stable => "Stable",
        }
    }
}

/// What a group in PreparingRebalance waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinWait {
    /// Every member's (re)join; at the deadline (the longest rebalance
    /// timeout) those that did not rejoin are dropped.
    AllMembers,
    /// Kafka's initial rebalance delay (`group.initial.rebalance.delay.ms`), for
    /// a join into an Empty group: only the deadline ends it, never early, so
    /// consumers started together form one generation, and each has its topics'
    /// metadata before the leader assigns. A member arriving in the wait pushes
    /// the deadline back by the delay again, within the rebalance timeout.
    InitialDelay {
        /// How long this round of the wait is.
        delay: Duration,
        /// What is left of the rebalance timeout for further rounds.
        remaining: Duration,
        /// Whether a new member joined during this round.
        new_member_added: bool,
    },
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
    /// How long a join into the Empty group waits for more members
    /// (`[kafka] group_initial_rebalance_delay_ms`); zero answers at once.
    pub initial_rebalance_delay: Duration,
}

impl Group {
    /// A group with no members yet, whose first joins wait
    /// `initial_rebalance_delay` for each other.
    pub fn new(initial_rebalance_delay: Duration) -> Group {
        Group {
            state: GroupState::Empty,
            generation: 0,
            protocol_type: None,
            protocol: None,
            leader: None,
            members: BTreeMap::new(),
            pending: HashMap::new(),
            initial_rebalance_delay,
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
        let timeout = self.rebalance_timeout();
        let delay = self.initial_rebalance_delay;
        self.state = if self.state == GroupState::Empty && !delay.is_zero() {
            GroupState::PreparingRebalance {
                deadline: now + delay,
                wait: JoinWait::InitialDelay {
                    delay,
                    remaining: timeout.saturating_sub(delay),
                    new_member_added: false,
                },
            }
        } else {
            GroupState::PreparingRebalance {
                deadline: now + timeout,
                wait: JoinWait::AllMembers,
            }
        };
    }

    /// Completes the join phase once every member has rejoined (or `force`d at
    /// the deadline, dropping those that did not): new generation, a leader and
    /// a protocol, and every waiting JoinGroup answered, its session restarted
    /// `now`. In the initial delay only the deadline (`force`) completes it.
    pub fn try_complete_join(&mut self, force: bool, now: Instant) {
        match self.state {
            GroupState::PreparingRebalance {
                wait: JoinWait::AllMembers,
                ..
            } => {}
            GroupState::PreparingRebalance {
                wait: JoinWait::InitialDelay { .. },
                ..
            } if force => {}
            _ => return,
        }
        let all_joined = self.members.values().all(|m| m.awaiting_join.is_some());
        if !all_joined && !force {
            return;
        }
        // As in Kafka, only dynamic members that did not rejoin are dropped: a
        // static member keeps its place (and its share in the leader's list)
        // and gets the new generation when it rejoins; only its session
        // timeout removes it.
        self.members
            .retain(|_, m| m.awaiting_join.is_some() || m.instance_id.is_some());
        if self.members.is_empty() {
            self.become_empty();
            return;
        }
        let joined =
            |g: &Group, id: &str| g.members.get(id).is_some_and(|m| m.awaiting_join.is_some());
        if !self.leader.as_deref().is_some_and(|l| joined(self, l)) {
            self.leader = self
                .members
                .values()
                .find(|m| m.awaiting_join.is_some())
                .map(|m| m.id.clone());
        }
        if self.leader.is_none() {
            // Nobody rejoined, only static members are left: wait another
            // rebalance timeout for them or for their sessions to end (Kafka).
            self.state = GroupState::PreparingRebalance {
                deadline: now + self.rebalance_timeout(),
                wait: JoinWait::AllMembers,
            };
            return;
        }
        self.generation = self.generation.wrapping_add(1).max(1);
        self.protocol = self.choose_protocol();
        let leader = self.leader.clone().unwrap_or_default();
        let protocol = self.protocol.clone().unwrap_or_default();
        let everyone = self.member_list(&protocol);
        self.state = GroupState::CompletingRebalance {
            deadline: now + self.rebalance_timeout(),
        };
        for m in self.members.values_mut() {
            m.assignment = Bytes::new();
            // As Kafka does on completing the join: a member parked in JoinGroup
            // longer than its session (a slow rebalance, the initial delay's
            // rounds) must not expire before it can send SyncGroup.
            m.last_seen = now;
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

    /// The longest rebalance timeout of the members: the group's, as in Kafka.
    fn rebalance_timeout(&self) -> Duration {
        self.members
            .values()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or_default()
    }

    /// Notes a member new to the group: during the initial delay it earns the
    /// others another round of waiting (Kafka's `newMemberAdded`).
    pub fn note_new_member(&mut self) {
        if let GroupState::PreparingRebalance {
            wait: JoinWait::InitialDelay {
                new_member_added, ..
            },
            ..
        } = &mut self.state
        {
            *new_member_added = true;
        }
    }

    /// The deadline of PreparingRebalance passed: Kafka's
    /// `tryCompleteInitialRebalanceElseSchedule` in the initial delay (another
    /// round if a member arrived and time is left), else the join completes,
    /// dropping members that did not rejoin.
    fn rebalance_deadline_passed(&mut self, now: Instant) {
        if let GroupState::PreparingRebalance {
            wait:
                JoinWait::InitialDelay {
                    delay,
                    remaining,
                    new_member_added: true,
                },
            ..
        } = self.state
            && !remaining.is_zero()
        {
            let next = self.initial_rebalance_delay.min(remaining);
            self.state = GroupState::PreparingRebalance {
                deadline: now + next,
                wait: JoinWait::InitialDelay {
                    delay: next,
                    remaining: remaining.saturating_sub(delay),
                    new_member_added: false,
                },
            };
            return;
        }
        self.try_complete_join(true, now);
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
                // Kafka hands a leaving leader's role to the first member left.
                if self.leader.as_deref() == Some(id.as_str()) {
                    self.leader = self.members.keys().next().cloned();
                }
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
            self.try_complete_join(false, now);
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
        // A member parked in JoinGroup or SyncGroup is alive: its connection
        // is waiting on us (Kafka's hasSatisfiedHeartbeat). A leader that never
        // syncs is not parked, so it expires and frees the followers.
        let expired: Vec<String> = self
            .members
            .values()
            .filter(|m| {
                m.awaiting_join.is_none()
                    && m.awaiting_sync.is_none()
                    && now.duration_since(m.last_seen) > m.session_timeout
            })
            .map(|m| m.id.clone())
            .collect();
        if !expired.is_empty() {
            tracing::info!(members = ?expired, "consumer group members expired");
            self.remove_members(&expired, now);
        }
        match self.state {
            GroupState::PreparingRebalance { deadline, .. } if now >= deadline => {
                self.rebalance_deadline_passed(now);
            }
            GroupState::CompletingRebalance { deadline } if now >= deadline => {
                let unsynced: Vec<String> = self
                    .members
                    .values()
                    .filter(|m| m.awaiting_sync.is_none())
                    .map(|m| m.id.clone())
                    .collect();
                tracing::info!(members = ?unsynced, "consumer group members sent no SyncGroup in the rebalance timeout");
                self.remove_members(&unsynced, now);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
