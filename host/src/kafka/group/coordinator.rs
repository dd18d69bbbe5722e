//! Every consumer group, and the calls the group handlers make.

use std::collections::HashMap;
use std::time::Instant;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::broker::offsets::{LiveGroupInfo, LiveMember};
use crate::broker::{LiveGroup, LiveGroups};
use crate::kafka::settings::GroupSettings;

use super::join::Joined;
use super::outcome::{GroupDescription, JoinOutcome, JoinRequest, SyncOutcome};
use super::state::{Group, GroupState};

pub use super::join::{MAX_GROUP_SIZE, MAX_MEMBER_ID_PREFIX};

/// A receiver that already holds its answer.
fn ready<T>(value: T) -> oneshot::Receiver<T> {
    let (tx, rx) = oneshot::channel();
    let _ = tx.send(value);
    rx
}

/// All groups this broker coordinates.
#[derive(Debug)]
pub struct Coordinator {
    settings: GroupSettings,
    groups: Mutex<HashMap<String, Group>>,
}

impl Coordinator {
    /// No groups yet.
    pub fn new(settings: GroupSettings) -> Coordinator {
        Coordinator {
            settings,
            groups: Mutex::new(HashMap::new()),
        }
    }

    /// JoinGroup: waits until the rebalance completes (or fails fast).
    pub async fn join(&self, req: JoinRequest) -> JoinOutcome {
        self.start_join(req, Instant::now())
            .await
            .unwrap_or_else(|_| JoinOutcome::error(ResponseError::UnknownMemberId, ""))
    }

    /// The synchronous half of JoinGroup: registers the member and returns where
    /// its answer will arrive (at once for an immediate answer).
    pub fn start_join(&self, req: JoinRequest, now: Instant) -> oneshot::Receiver<JoinOutcome> {
        match self.register_join(req, now) {
            Joined::Later(rx) => rx,
            Joined::Now(outcome) => ready(*outcome),
        }
    }

    fn register_join(&self, req: JoinRequest, now: Instant) -> Joined {
        if req.group.is_empty() {
            return Joined::Now(Box::new(JoinOutcome::error(
                ResponseError::InvalidGroupId,
                &req.member_id,
            )));
        }
        if req.session_timeout < self.settings.min_session_timeout
            || req.session_timeout > self.settings.max_session_timeout
        {
            return Joined::Now(Box::new(JoinOutcome::error(
                ResponseError::InvalidSessionTimeout,
                &req.member_id,
            )));
        }
        let mut groups = self.groups.lock();
        let key = req.group.clone();
        let delay = self.settings.initial_rebalance_delay;
        let group = groups
            .entry(key.clone())
            .or_insert_with(|| Group::new(delay));
        let result = group.join(req, now);
        // A refused join leaves no trace: only members and pending ids keep a
        // group in memory (its committed offsets live in the broker).
        if group.is_idle() {
            groups.remove(&key);
        }
        result
    }

    /// SyncGroup: the leader hands out assignments; followers wait for them.
    pub async fn sync(
        &self,
        group: &str,
        generation: i32,
        member: (&str, Option<&str>),
        assignments: Vec<(String, Bytes)>,
    ) -> SyncOutcome {
        self.start_sync(group, generation, member, assignments, Instant::now())
            .await
            .unwrap_or_else(|_| SyncOutcome::error(ResponseError::RebalanceInProgress))
    }

    /// The synchronous half of SyncGroup: where the answer will arrive.
    pub fn start_sync(
        &self,
        group_id: &str,
        generation: i32,
        member: (&str, Option<&str>),
        assignments: Vec<(String, Bytes)>,
        now: Instant,
    ) -> oneshot::Receiver<SyncOutcome> {
        match self.register_sync(group_id, generation, member, assignments, now) {
            Ok(rx) => rx,
            Err(outcome) => ready(*outcome),
        }
    }

    fn register_sync(
        &self,
        group_id: &str,
        generation: i32,
        (member_id, instance_id): (&str, Option<&str>),
        assignments: Vec<(String, Bytes)>,
        now: Instant,
    ) -> Result<oneshot::Receiver<SyncOutcome>, Box<SyncOutcome>> {
        let mut groups = self.groups.lock();
        let group = Self::member_of(&mut groups, group_id, member_id, instance_id, generation)
            .map_err(|e| Box::new(SyncOutcome::error(e)))?;
        tracing::debug!(
            group = group_id,
            member = member_id,
            state = group.state.name(),
            generation,
            assignments = assignments.len(),
            "SyncGroup"
        );
        let ok = |g: &Group, assignment: Bytes| SyncOutcome {
            error: None,
            assignment,
            protocol_type: g.protocol_type.clone(),
            protocol: g.protocol.clone(),
        };
        if let Some(m) = group.members.get_mut(member_id) {
            m.last_seen = now;
        }
        let (tx, rx) = oneshot::channel();
        match group.state {
            GroupState::Empty | GroupState::PreparingRebalance { .. } => {
                return Err(Box::new(SyncOutcome::error(
                    ResponseError::RebalanceInProgress,
                )));
            }
            GroupState::Stable => {
                let a = group.members.get(member_id).map(|m| m.assignment.clone());
                return Err(Box::new(ok(group, a.unwrap_or_default())));
            }
            GroupState::CompletingRebalance { .. } => {}
        }
        if group.leader.as_deref() == Some(member_id) {
            let mut by_member: HashMap<String, Bytes> = assignments.into_iter().collect();
            group.state = GroupState::Stable;
            let (pt, p) = (group.protocol_type.clone(), group.protocol.clone());
            for m in group.members.values_mut() {
                m.assignment = by_member.remove(&m.id).unwrap_or_default();
                if let Some(waiter) = m.awaiting_sync.take() {
                    // Its session starts again from its answer, as in Kafka.
                    m.last_seen = now;
                    let _ = waiter.send(SyncOutcome {
                        error: None,
                        assignment: m.assignment.clone(),
                        protocol_type: pt.clone(),
                        protocol: p.clone(),
                    });
                }
            }
            let a = group.members.get(member_id).map(|m| m.assignment.clone());
            let _ = tx.send(ok(group, a.unwrap_or_default()));
        } else if let Some(m) = group.members.get_mut(member_id)
            && let Some(old) = m.awaiting_sync.replace(tx)
        {
            let _ = old.send(SyncOutcome::error(ResponseError::RebalanceInProgress));
        }
        Ok(rx)
    }

    /// Heartbeat: keeps the session alive; tells members when to rejoin.
    pub fn heartbeat(
        &self,
        group_id: &str,
        generation: i32,
        (member_id, instance_id): (&str, Option<&str>),
    ) -> Option<ResponseError> {
        let now = Instant::now();
        let mut groups = self.groups.lock();
        let group = match Self::member_of(&mut groups, group_id, member_id, instance_id, generation)
        {
            Ok(g) => g,
            Err(e) => {
                tracing::debug!(
                    group = group_id,
                    member = member_id,
                    generation,
                    "Heartbeat: {e:?}"
                );
                return Some(e);
            }
        };
        tracing::trace!(
            group = group_id,
            member = member_id,
            generation,
            "Heartbeat"
        );
        if let Some(m) = group.members.get_mut(member_id) {
            m.last_seen = now;
        }
        match group.state {
            GroupState::PreparingRebalance { .. } => Some(ResponseError::RebalanceInProgress),
            _ => None,
        }
    }

    /// LeaveGroup: one result per (member id, instance id). A static member
    /// may leave by its instance id alone; a member id that no longer holds
    /// the instance id is FENCED_INSTANCE_ID, as in Kafka.
    pub fn leave(
        &self,
        group_id: &str,
        members: &[(String, Option<String>)],
    ) -> Vec<Option<ResponseError>> {
        let mut groups = self.groups.lock();
        let Some(group) = groups.get_mut(group_id) else {
            return members
                .iter()
                .map(|_| Some(ResponseError::UnknownMemberId))
                .collect();
        };
        let mut leaving = Vec::new();
        let results = members
            .iter()
            .map(|(id, instance)| {
                let found = match instance {
                    Some(instance) => match group.static_member(instance) {
                        None => Err(ResponseError::UnknownMemberId),
                        Some(holder) if !id.is_empty() && holder != id => {
                            Err(ResponseError::FencedInstanceId)
                        }
                        Some(holder) => Ok(holder.to_string()),
                    },
                    None if group.members.contains_key(id) => Ok(id.clone()),
                    None => Err(ResponseError::UnknownMemberId),
                };
                found.map(|id| leaving.push(id)).err()
            })
            .collect();
        group.remove_members(&leaving, Instant::now());
        results
    }

    /// Whether an OffsetCommit from this member and generation may commit.
    /// Generation -1 with no member id is a standalone (non-group) commit,
    /// allowed only while no consumer group is live under that id, as in Kafka.
    pub fn check_commit(
        &self,
        group_id: &str,
        generation: i32,
        (member_id, instance_id): (&str, Option<&str>),
    ) -> Option<ResponseError> {
        let mut groups = self.groups.lock();
        if generation < 0 && member_id.is_empty() {
            return match groups.get(group_id) {
                Some(g) if g.state != GroupState::Empty => Some(ResponseError::UnknownMemberId),
                _ => None,
            };
        }
        let group = match Self::member_of(&mut groups, group_id, member_id, instance_id, generation)
        {
            Ok(g) => g,
            Err(e) => return Some(e),
        };
        if let Some(m) = group.members.get_mut(member_id) {
            m.last_seen = Instant::now();
        }
        // As in Kafka, only a generation whose assignments are not handed out
        // yet cannot commit. In PreparingRebalance the member still owns its
        // partitions of the current generation: consumers commit them in
        // onPartitionsRevoked before rejoining, and refusing would make every
        // rebalance redeliver what they had processed.
        match group.state {
            GroupState::CompletingRebalance { .. } => Some(ResponseError::RebalanceInProgress),
            _ => None,
        }
    }

    /// Every live group with its protocol type and state name.
    pub fn list(&self) -> Vec<(String, String, &'static str)> {
        let groups = self.groups.lock();
        let mut out: Vec<_> = groups
            .iter()
            .map(|(id, g)| {
                (
                    id.clone(),
                    g.protocol_type.clone().unwrap_or_default(),
                    g.state.name(),
                )
            })
            .collect();
        out.sort();
        out
    }

    /// A group's state and members, or `None` if it has never been joined.
    pub fn describe(&self, group_id: &str) -> Option<GroupDescription> {
        let groups = self.groups.lock();
        let g = groups.get(group_id)?;
        let protocol = g.protocol.clone().unwrap_or_default();
        Some(GroupDescription {
            state: g.state.name(),
            protocol_type: g.protocol_type.clone().unwrap_or_default(),
            protocol: protocol.clone(),
            members: g
                .members
                .values()
                .map(|m| {
                    let meta = m.metadata_for(&protocol);
                    (
                        m.id.clone(),
                        m.instance_id.clone(),
                        m.client_id.clone(),
                        m.client_host.clone(),
                        meta,
                        m.assignment.clone(),
                    )
                })
                .collect(),
        })
    }

    /// Runs every group's timers and forgets groups left without members or
    /// pending ids (committed offsets stay in the broker).
    pub fn tick(&self, now: Instant) {
        self.groups.lock().retain(|_, g| {
            g.tick(now);
            !g.is_idle()
        });
    }

    /// Runs `f` on the group (`None` if it is not in memory) while no member
    /// can join or leave it: OffsetDelete's check and deletion are one step.
    pub fn with_group<R>(&self, group_id: &str, f: impl FnOnce(Option<&Group>) -> R) -> R {
        let groups = self.groups.lock();
        f(groups.get(group_id))
    }

    fn member_of<'g>(
        groups: &'g mut HashMap<String, Group>,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
    ) -> Result<&'g mut Group, ResponseError> {
        let group = groups
            .get_mut(group_id)
            .ok_or(ResponseError::UnknownMemberId)?;
        group.validate_member(member_id, instance_id)?;
        if generation != group.generation {
            return Err(ResponseError::IllegalGeneration);
        }
        Ok(group)
    }
}

impl LiveGroups for Coordinator {
    fn forget_if_empty(&self, group_id: &str, then: &mut dyn FnMut()) -> LiveGroup {
        let mut groups = self.groups.lock();
        let found = match groups.get(group_id) {
            Some(g) if !g.members.is_empty() => return LiveGroup::HasMembers,
            Some(_) => LiveGroup::Forgotten,
            None => LiveGroup::Unknown,
        };
        // Pending member ids go with the group: their next join starts afresh.
        groups.remove(group_id);
        then();
        found
    }

    fn describe(&self, group_id: &str) -> Option<LiveGroupInfo> {
        let d = Coordinator::describe(self, group_id)?;
        let consumer = d.protocol_type == "consumer";
        Some(LiveGroupInfo {
            state: d.state,
            members: d
                .members
                .into_iter()
                .map(
                    |(member_id, instance_id, client_id, host, _, assignment)| LiveMember {
                        member_id,
                        instance_id,
                        client_id,
                        host,
                        assignments: if consumer {
                            super::assignment::decode(&assignment)
                        } else {
                            Vec::new()
                        },
                    },
                )
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests;
