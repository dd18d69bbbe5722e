//! JoinGroup's decision, as Kafka's classic group makes it: a new, pending,
//! known or static member, and whether its join starts a rebalance.
//!
//! A known follower rejoining with unchanged metadata gets the current
//! generation back at once; a static member (`group.instance.id`, KIP-345)
//! rejoining with a fresh member id takes its predecessor's place and
//! assignment without a rebalance while the group is stable.

use std::time::Instant;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use tokio::sync::oneshot;

use super::outcome::{JoinOutcome, JoinRequest, SyncOutcome};
use super::state::{Group, GroupState, Member};

/// Most members plus pending member ids one group holds; more joins get
/// GROUP_MAX_SIZE_REACHED, so joins with fresh ids cannot grow memory unbounded.
pub const MAX_GROUP_SIZE: usize = 1000;

/// Longest client id kept as the prefix of a generated member id, in chars.
pub const MAX_MEMBER_ID_PREFIX: usize = 255;

/// Where a join's answer comes from.
#[derive(Debug)]
pub enum Joined {
    /// At once: an error, or the current generation (no rebalance).
    Now(Box<JoinOutcome>),
    /// When the rebalance the join is part of completes.
    Later(oneshot::Receiver<JoinOutcome>),
}

fn refuse(error: ResponseError, member_id: &str) -> Joined {
    Joined::Now(Box::new(JoinOutcome::error(error, member_id)))
}

impl Group {
    /// Handles one JoinGroup against this group.
    pub fn join(&mut self, req: JoinRequest, now: Instant) -> Joined {
        tracing::debug!(
            group = req.group,
            member = req.member_id,
            instance = ?req.instance_id,
            state = self.state.name(),
            generation = self.generation,
            "JoinGroup"
        );
        if !self.accepts(&req.member_id, &req.protocol_type, &req.protocols) {
            return refuse(ResponseError::InconsistentGroupProtocol, &req.member_id);
        }
        if req.member_id.is_empty() {
            return self.join_new(req, now);
        }
        let id = req.member_id.clone();
        if self.pending.remove(&id).is_some() {
            return Joined::Later(self.add_and_rebalance(id, req, now));
        }
        if let Err(e) = self.validate_member(&id, req.instance_id.as_deref()) {
            return refuse(e, &id);
        }
        let unchanged = self
            .members
            .get(&id)
            .is_some_and(|m| m.protocols == req.protocols);
        let leads = self.leader.as_deref() == Some(id.as_str());
        if let Some(m) = self.members.get_mut(&id) {
            m.last_seen = now;
        }
        match self.state {
            // A lost answer asked again: the same answer.
            GroupState::CompletingRebalance { .. } if unchanged => {
                Joined::Now(Box::new(self.current(&id, leads)))
            }
            // Only the leader's rejoin or changed metadata rebalances a stable
            // group: the leader rejoins when topics change under its assignment.
            GroupState::Stable if unchanged && !leads => {
                Joined::Now(Box::new(self.current(&id, false)))
            }
            _ => Joined::Later(self.update_and_rebalance(&id, req, now)),
        }
    }

    /// A join without a member id: a static member's return, or a new member.
    fn join_new(&mut self, req: JoinRequest, now: Instant) -> Joined {
        let id = new_member_id(&req.client_id);
        if let Some(instance) = &req.instance_id
            && let Some(old) = self.static_member(instance)
        {
            let old = old.to_string();
            return self.replace_static(&old, id, req, now);
        }
        if self.members.len() + self.pending.len() >= MAX_GROUP_SIZE {
            return refuse(ResponseError::GroupMaxSizeReached, "");
        }
        // Static members skip the MEMBER_ID_REQUIRED round: their instance id
        // already names them.
        if req.require_known_member && req.instance_id.is_none() {
            self.pending.insert(id.clone(), (now, req.session_timeout));
            return refuse(ResponseError::MemberIdRequired, &id);
        }
        Joined::Later(self.add_and_rebalance(id, req, now))
    }

    /// The member id now holding a static instance id.
    pub fn static_member(&self, instance_id: &str) -> Option<&str> {
        self.members
            .values()
            .find(|m| m.instance_id.as_deref() == Some(instance_id))
            .map(|m| m.id.as_str())
    }

    /// Kafka's check of a known member: an instance id held by another member
    /// id is FENCED_INSTANCE_ID (a zombie of a restarted static member).
    pub fn validate_member(
        &self,
        member_id: &str,
        instance_id: Option<&str>,
    ) -> Result<(), ResponseError> {
        if let Some(instance) = instance_id {
            match self.static_member(instance) {
                None => return Err(ResponseError::UnknownMemberId),
                Some(holder) if holder != member_id => {
                    return Err(ResponseError::FencedInstanceId);
                }
                Some(_) => {}
            }
        }
        if self.members.contains_key(member_id) {
            Ok(())
        } else {
            Err(ResponseError::UnknownMemberId)
        }
    }

    /// A restarted static member takes over its predecessor's entry, assignment
    /// included; the predecessor's waiting calls learn they are fenced.
    fn replace_static(&mut self, old: &str, id: String, req: JoinRequest, now: Instant) -> Joined {
        let Some(mut member) = self.members.remove(old) else {
            return refuse(ResponseError::UnknownMemberId, "");
        };
        if let Some(tx) = member.awaiting_join.take() {
            let _ = tx.send(JoinOutcome::error(ResponseError::FencedInstanceId, old));
        }
        if let Some(tx) = member.awaiting_sync.take() {
            let _ = tx.send(SyncOutcome::error(ResponseError::FencedInstanceId));
        }
        let can_skip = req.can_skip_assignment;
        let previous_leader = self.leader.clone().unwrap_or_default();
        if previous_leader == old {
            self.leader = Some(id.clone());
        }
        member.id = id.clone();
        member.update(req, now);
        self.members.insert(id.clone(), member);
        match self.state {
            GroupState::Stable if self.choose_protocol() == self.protocol => {
                // No rebalance: the member syncs and gets its old assignment.
                // A returning leader that can skip assignment (v9) is told it
                // leads; an older one is given the old leader's id, so it does
                // not compute an assignment a stable group would not hand out.
                let leads = self.leader.as_deref() == Some(id.as_str());
                let mut answer = self.current(&id, leads && can_skip);
                if leads && can_skip {
                    answer.skip_assignment = true;
                } else {
                    answer.leader = previous_leader;
                }
                Joined::Now(Box::new(answer))
            }
            _ => {
                // Completing a rebalance whose assignment names the old id, or
                // a protocol change: everyone rejoins.
                let (tx, rx) = oneshot::channel();
                if let Some(m) = self.members.get_mut(&id) {
                    m.awaiting_join = Some(tx);
                }
                self.prepare_rebalance(now);
                self.try_complete_join(false, now);
                Joined::Later(rx)
            }
        }
    }

    fn add_and_rebalance(
        &mut self,
        id: String,
        req: JoinRequest,
        now: Instant,
    ) -> oneshot::Receiver<JoinOutcome> {
        let member = Member {
            id: id.clone(),
            instance_id: None,
            client_id: String::new(),
            client_host: String::new(),
            session_timeout: req.session_timeout,
            rebalance_timeout: req.rebalance_timeout,
            protocols: Vec::new(),
            assignment: Bytes::new(),
            last_seen: now,
            awaiting_join: None,
            awaiting_sync: None,
        };
        self.members.insert(id.clone(), member);
        // As in Kafka, a group without a leader gets the first member to join:
        // in the initial delay, the first to arrive, not whichever id sorts first.
        if self.leader.is_none() {
            self.leader = Some(id.clone());
        }
        self.note_new_member();
        self.update_and_rebalance(&id, req, now)
    }

    fn update_and_rebalance(
        &mut self,
        id: &str,
        req: JoinRequest,
        now: Instant,
    ) -> oneshot::Receiver<JoinOutcome> {
        self.protocol_type = Some(req.protocol_type.clone());
        let (tx, rx) = oneshot::channel();
        if let Some(member) = self.members.get_mut(id) {
            member.update(req, now);
            if let Some(old) = member.awaiting_join.replace(tx) {
                let _ = old.send(JoinOutcome::error(ResponseError::UnknownMemberId, id));
            }
        }
        self.prepare_rebalance(now);
        self.try_complete_join(false, now);
        rx
    }

    /// This generation's join answer for `id`; with every member if `leads`.
    fn current(&self, id: &str, leads: bool) -> JoinOutcome {
        let protocol = self.protocol.clone().unwrap_or_default();
        JoinOutcome {
            error: None,
            generation: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol: self.protocol.clone(),
            leader: self.leader.clone().unwrap_or_default(),
            member_id: id.to_string(),
            members: if leads {
                self.member_list(&protocol)
            } else {
                Vec::new()
            },
            skip_assignment: false,
        }
    }
}

impl Member {
    /// Takes a join's metadata, timeouts and client identity.
    fn update(&mut self, req: JoinRequest, now: Instant) {
        self.instance_id = req.instance_id;
        self.client_id = req.client_id;
        self.client_host = req.client_host;
        self.session_timeout = req.session_timeout;
        self.rebalance_timeout = req.rebalance_timeout;
        self.protocols = req.protocols;
        self.last_seen = now;
    }
}

/// A fresh member id: the client id (cut short) and 64 random bits.
fn new_member_id(client_id: &str) -> String {
    let prefix: String = if client_id.is_empty() {
        "member".into()
    } else {
        client_id.chars().take(MAX_MEMBER_ID_PREFIX).collect()
    };
    format!("{prefix}-{:016x}", rand::random::<u64>())
}

#[cfg(test)]
mod tests;
