//! Tests of the group coordinator's state machine, driven synchronously.

use std::time::Duration;

use super::*;

fn settings() -> GroupSettings {
    GroupSettings {
        min_session_timeout: Duration::from_millis(100),
        max_session_timeout: Duration::from_secs(60),
        // First joins answer at once here; state/tests.rs tests the wait.
        initial_rebalance_delay: Duration::ZERO,
    }
}

fn join(member: &str, v4: bool) -> JoinRequest {
    JoinRequest {
        group: "g".into(),
        member_id: member.into(),
        instance_id: None,
        client_id: "c".into(),
        client_host: String::new(),
        session_timeout: Duration::from_secs(10),
        rebalance_timeout: Duration::from_secs(30),
        protocol_type: "consumer".into(),
        protocols: vec![("range".into(), Bytes::from_static(b"meta"))],
        require_known_member: v4,
        can_skip_assignment: false,
    }
}

fn answer<T>(mut rx: oneshot::Receiver<T>) -> Option<T> {
    rx.try_recv().ok()
}

/// Joins a new member through the MEMBER_ID_REQUIRED round trip.
fn new_member(c: &Coordinator, now: Instant) -> (String, oneshot::Receiver<JoinOutcome>) {
    let first = answer(c.start_join(join("", true), now)).expect("immediate answer");
    assert_eq!(first.error, Some(ResponseError::MemberIdRequired));
    let id = first.member_id.clone();
    (id.clone(), c.start_join(join(&id, true), now))
}

#[test]
fn first_member_leads_generation_one_and_gets_its_assignment() {
    let c = Coordinator::new(settings());
    let now = Instant::now();
    let (id, rx) = new_member(&c, now);
    let joined = answer(rx).expect("a lone member completes the join at once");
    assert_eq!((joined.error, joined.generation), (None, 1));
    assert_eq!(joined.leader, id);
    assert_eq!(joined.members.len(), 1, "the leader sees every member");
    let synced = answer(c.start_sync(
        "g",
        1,
        (&id, None),
        vec![(id.clone(), Bytes::from_static(b"p0"))],
        now,
    ))
    .unwrap();
    assert_eq!(synced.assignment, Bytes::from_static(b"p0"));
    assert_eq!(c.heartbeat("g", 1, (&id, None)), None);
    assert_eq!(
        c.heartbeat("g", 0, (&id, None)),
        Some(ResponseError::IllegalGeneration)
    );
    assert_eq!(
        c.heartbeat("g", 1, ("nobody", None)),
        Some(ResponseError::UnknownMemberId)
    );
}

#[test]
fn a_second_member_triggers_a_rebalance_the_first_learns_by_heartbeat() {
    let c = Coordinator::new(settings());
    let now = Instant::now();
    let (a, rx) = new_member(&c, now);
    answer(rx).unwrap();
    answer(c.start_sync("g", 1, (&a, None), vec![], now)).unwrap();
    let (b, rx_b) = new_member(&c, now);
    assert_eq!(
        c.heartbeat("g", 1, (&a, None)),
        Some(ResponseError::RebalanceInProgress)
    );
    // The old generation may still commit what it processed before rejoining.
    assert_eq!(c.check_commit("g", 1, (&a, None)), None);
    assert_eq!(
        c.check_commit("g", 0, (&a, None)),
        Some(ResponseError::IllegalGeneration)
    );
    let rx_a = c.start_join(join(&a, true), now);
    let (ja, jb) = (answer(rx_a).unwrap(), answer(rx_b).unwrap());
    assert_eq!((ja.generation, jb.generation), (2, 2));
    assert_eq!(ja.leader, a, "the leader stays while it is a member");
    assert!(jb.members.is_empty(), "followers get no member list");
    // The follower waits in SyncGroup until the leader assigns.
    let mut follower = c.start_sync("g", 2, (&b, None), vec![], now);
    assert!(follower.try_recv().is_err());
    // Until the leader assigns, the new generation owns nothing to commit.
    assert_eq!(
        c.check_commit("g", 2, (&b, None)),
        Some(ResponseError::RebalanceInProgress)
    );
    let assignments = vec![
        (a.clone(), Bytes::from_static(b"A")),
        (b.clone(), Bytes::from_static(b"B")),
    ];
    assert_eq!(
        answer(c.start_sync("g", 2, (&a, None), assignments, now))
            .unwrap()
            .assignment,
        Bytes::from_static(b"A")
    );
    assert_eq!(
        follower.try_recv().unwrap().assignment,
        Bytes::from_static(b"B")
    );
}

#[test]
fn leaving_and_expiring_members_hand_their_share_to_the_rest() {
    let c = Coordinator::new(settings());
    let now = Instant::now();
    let (a, rx) = new_member(&c, now);
    answer(rx).unwrap();
    let (b, rx_b) = new_member(&c, now);
    let rx_a = c.start_join(join(&a, true), now);
    answer(rx_a).unwrap();
    answer(rx_b).unwrap();
    answer(c.start_sync("g", 2, (&a, None), vec![], now)).unwrap();
    assert_eq!(c.leave("g", &[(b.clone(), None)]), vec![None]);
    assert_eq!(
        c.heartbeat("g", 2, (&a, None)),
        Some(ResponseError::RebalanceInProgress)
    );
    let rejoined = answer(c.start_join(join(&a, true), now)).unwrap();
    assert_eq!((rejoined.generation, rejoined.members.len()), (3, 1));
    answer(c.start_sync("g", 3, (&a, None), vec![], now)).unwrap();
    // Silence past the session timeout removes the last member: the group empties.
    c.tick(now + Duration::from_secs(11));
    assert_eq!(
        c.heartbeat("g", 3, (&a, None)),
        Some(ResponseError::UnknownMemberId)
    );
    // Nothing but offsets is left, and those live in the broker.
    assert!(c.describe("g").is_none(), "an emptied group is forgotten");
}

#[test]
fn a_member_that_never_rejoins_is_dropped_at_the_rebalance_deadline() {
    let c = Coordinator::new(settings());
    let now = Instant::now();
    let (a, rx) = new_member(&c, now);
    answer(rx).unwrap();
    answer(c.start_sync("g", 1, (&a, None), vec![], now)).unwrap();
    let (_b, mut rx_b) = new_member(&c, now);
    // a keeps heartbeating but never rejoins.
    c.tick(now + Duration::from_secs(5));
    assert!(rx_b.try_recv().is_err());
    c.tick(now + Duration::from_secs(31));
    let jb = rx_b.try_recv().unwrap();
    assert_eq!((jb.error, jb.generation, jb.members.len()), (None, 2, 1));
    assert_eq!(
        c.heartbeat("g", 2, (&a, None)),
        Some(ResponseError::UnknownMemberId)
    );
}

#[test]
fn unknown_ids_bad_timeouts_and_foreign_protocols_are_refused() {
    let c = Coordinator::new(settings());
    let now = Instant::now();
    let r = answer(c.start_join(join("made-up", true), now)).unwrap();
    assert_eq!(r.error, Some(ResponseError::UnknownMemberId));
    let mut short = join("", false);
    short.session_timeout = Duration::from_millis(1);
    let r = answer(c.start_join(short, now)).unwrap();
    assert_eq!(r.error, Some(ResponseError::InvalidSessionTimeout));
    // v0-3 joins get an id straight away.
    let r = answer(c.start_join(join("", false), now)).unwrap();
    assert_eq!((r.error, r.generation), (None, 1));
    let mut other = join("", false);
    other.protocols = vec![("sticky-only".into(), Bytes::new())];
    let r = answer(c.start_join(other, now)).unwrap();
    assert_eq!(r.error, Some(ResponseError::InconsistentGroupProtocol));
}

#[test]
fn refused_joins_leave_no_group_and_idle_groups_are_forgotten() {
    let c = Coordinator::new(settings());
    let now = Instant::now();
    for i in 0..100 {
        let mut j = join("made-up", true);
        j.group = format!("g{i}");
        let r = answer(c.start_join(j, now)).unwrap();
        assert_eq!(r.error, Some(ResponseError::UnknownMemberId));
    }
    assert!(c.list().is_empty(), "refused joins created groups");
    // A pending id keeps the group until it expires.
    let first = answer(c.start_join(join("", true), now)).unwrap();
    assert_eq!(first.error, Some(ResponseError::MemberIdRequired));
    assert_eq!(c.list().len(), 1);
    c.tick(now + Duration::from_secs(11));
    assert!(c.list().is_empty(), "an expired pending id left its group");
    // A group whose last member left is forgotten at the next tick.
    let (a, rx) = new_member(&c, now);
    answer(rx).unwrap();
    assert_eq!(c.leave("g", &[(a.clone(), None)]), vec![None]);
    c.tick(now);
    assert!(c.list().is_empty(), "an empty group stayed");
}

#[test]
fn pending_ids_are_capped_and_client_ids_truncated() {
    let c = Coordinator::new(settings());
    let now = Instant::now();
    let mut j = join("", true);
    j.client_id = "c".repeat(100_000);
    for _ in 0..MAX_GROUP_SIZE {
        let r = answer(c.start_join(j.clone(), now)).unwrap();
        assert_eq!(r.error, Some(ResponseError::MemberIdRequired));
        assert!(
            r.member_id.len() <= MAX_MEMBER_ID_PREFIX + 17,
            "{}",
            r.member_id.len()
        );
    }
    let r = answer(c.start_join(j, now)).unwrap();
    assert_eq!(r.error, Some(ResponseError::GroupMaxSizeReached));
}

#[test]
fn standalone_commits_are_refused_while_the_group_is_live() {
    let c = Coordinator::new(settings());
    let now = Instant::now();
    assert_eq!(c.check_commit("g", -1, ("", None)), None, "unknown group");
    let (a, rx) = new_member(&c, now);
    answer(rx).unwrap();
    assert_eq!(
        c.check_commit("g", -1, ("", None)),
        Some(ResponseError::UnknownMemberId),
        "a standalone commit would overwrite the members' offsets"
    );
    assert_eq!(c.check_commit("other", -1, ("", None)), None);
    c.leave("g", &[(a.clone(), None)]);
    assert_eq!(c.check_commit("g", -1, ("", None)), None, "empty group");
}

#[test]
fn a_group_is_forgotten_only_without_members_and_pending_ids_go_with_it() {
    let c = Coordinator::new(settings());
    let now = Instant::now();
    let mut ran = 0;
    assert_eq!(c.forget_if_empty("g", &mut || ran += 1), LiveGroup::Unknown);
    // A pending id (MEMBER_ID_REQUIRED) is not a member.
    let first = answer(c.start_join(join("", true), now)).unwrap();
    assert_eq!(
        c.forget_if_empty("g", &mut || ran += 1),
        LiveGroup::Forgotten
    );
    let rejoin = answer(c.start_join(join(&first.member_id, true), now)).unwrap();
    assert_eq!(rejoin.error, Some(ResponseError::UnknownMemberId));
    let (_, rx) = new_member(&c, now);
    assert!(answer(rx).is_some());
    assert_eq!(
        c.forget_if_empty("g", &mut || ran += 1),
        LiveGroup::HasMembers
    );
    assert_eq!(ran, 2, "the deletion runs unless the group has members");
    assert!(c.describe("g").is_some());
}

#[test]
fn members_parked_through_a_long_rebalance_are_not_expired_when_it_completes() {
    let c = Coordinator::new(settings());
    let t0 = Instant::now();
    let (a, rx) = new_member(&c, t0);
    answer(rx).unwrap();
    answer(c.start_sync("g", 1, (&a, None), vec![], t0)).unwrap();
    // b joins at t0; a (heartbeating meanwhile) rejoins only after b's 10 s
    // session would have run out.
    let (b, rx_b) = new_member(&c, t0);
    let t1 = t0 + Duration::from_secs(12);
    let rx_a = c.start_join(join(&a, true), t1);
    let (ja, jb) = (answer(rx_a).unwrap(), answer(rx_b).unwrap());
    assert_eq!((ja.generation, jb.generation), (2, 2));
    // The answer restarted b's session, as in Kafka: the next tick keeps it.
    c.tick(t1 + Duration::from_millis(100));
    let t2 = t1 + Duration::from_millis(200);
    let mut rx_sb = c.start_sync("g", 2, (&b, None), vec![], t2);
    let assignments = vec![
        (a.clone(), Bytes::from_static(b"A")),
        (b.clone(), Bytes::from_static(b"B")),
    ];
    let synced = answer(c.start_sync("g", 2, (&a, None), assignments, t2)).unwrap();
    assert_eq!(synced.error, None);
    assert_eq!(
        rx_sb.try_recv().unwrap().assignment,
        Bytes::from_static(b"B")
    );
}

/// A stable group of leader `a` (a 60 s session) joined at `t0` by follower `b`
/// (10 s): generation 2 has formed and `b` waits in SyncGroup for `a`'s assignment.
/// Returns `a`, `b` and `b`'s parked SyncGroup.
fn follower_parked_in_sync(
    c: &Coordinator,
    t0: Instant,
) -> (String, String, oneshot::Receiver<SyncOutcome>) {
    let long = |id: &str| JoinRequest {
        session_timeout: Duration::from_secs(60),
        ..join(id, true)
    };
    let a = answer(c.start_join(long(""), t0)).unwrap().member_id;
    answer(c.start_join(long(&a), t0)).unwrap();
    answer(c.start_sync("g", 1, (&a, None), vec![], t0)).unwrap();
    let (b, rx_b) = new_member(c, t0);
    answer(c.start_join(long(&a), t0)).unwrap();
    assert_eq!(answer(rx_b).unwrap().generation, 2);
    let parked = c.start_sync("g", 2, (&b, None), vec![], t0);
    (a, b, parked)
}

#[test]
fn a_follower_parked_in_sync_group_waits_out_a_slow_leader() {
    let c = Coordinator::new(settings());
    let t0 = Instant::now();
    // The leader a has a 60 s session, the follower b 10 s.
    let (a, b, mut rx_sb) = follower_parked_in_sync(&c, t0);
    // b waits in SyncGroup past its session: its connection is waiting on us,
    // so it is alive (Kafka's hasSatisfiedHeartbeat).
    c.tick(t0 + Duration::from_secs(11));
    assert!(rx_sb.try_recv().is_err(), "still waiting for the leader");
    let t1 = t0 + Duration::from_secs(12);
    let assignments = vec![
        (a.clone(), Bytes::from_static(b"A")),
        (b.clone(), Bytes::from_static(b"B")),
    ];
    let synced = answer(c.start_sync("g", 2, (&a, None), assignments, t1)).unwrap();
    assert_eq!(synced.error, None);
    assert_eq!(
        rx_sb.try_recv().unwrap().assignment,
        Bytes::from_static(b"B")
    );
    // Its session restarted with the answer.
    c.tick(t1 + Duration::from_secs(5));
    assert_eq!(c.describe("g").unwrap().members.len(), 2);
    assert_eq!(c.describe("g").unwrap().state, "Stable");
}

#[test]
fn a_leader_leaving_mid_rebalance_hands_the_lead_to_a_member_left() {
    let c = Coordinator::new(settings());
    let now = Instant::now();
    let (a, rx) = new_member(&c, now);
    answer(rx).unwrap();
    answer(c.start_sync("g", 1, (&a, None), vec![], now)).unwrap();
    let (b, rx_b) = new_member(&c, now);
    answer(c.start_join(join(&a, true), now)).unwrap();
    assert_eq!(answer(rx_b).unwrap().leader, a);
    // b waits in SyncGroup for generation 2; the leader leaves instead.
    let mut parked = c.start_sync("g", 2, (&b, None), vec![], now);
    assert_eq!(c.leave("g", &[(a.clone(), None)]), vec![None]);
    assert_eq!(
        parked.try_recv().unwrap().error,
        Some(ResponseError::RebalanceInProgress),
        "b learns generation 2 will never be assigned"
    );
    // b rejoins alone and leads generation 3, assigning to itself.
    let jb = answer(c.start_join(join(&b, true), now)).unwrap();
    assert_eq!((jb.generation, jb.leader.as_str()), (3, b.as_str()));
    assert_eq!(jb.members.len(), 1);
    let synced = answer(c.start_sync(
        "g",
        3,
        (&b, None),
        vec![(b.clone(), Bytes::from_static(b"all"))],
        now,
    ))
    .unwrap();
    assert_eq!(synced.assignment, Bytes::from_static(b"all"));
}

#[test]
fn a_leader_that_never_syncs_is_removed_at_the_rebalance_timeout() {
    let c = Coordinator::new(settings());
    let t0 = Instant::now();
    // The leader a keeps a 60 s session alive but never sends SyncGroup for
    // generation 2; the rebalance timeout is 30 s.
    let (a, b, mut parked) = follower_parked_in_sync(&c, t0);
    c.tick(t0 + Duration::from_secs(29));
    assert!(parked.try_recv().is_err(), "within the rebalance timeout");
    // Kafka's pending-sync expiry: the member that never synced goes, and the
    // follower waiting in SyncGroup is told to rejoin.
    c.tick(t0 + Duration::from_secs(30));
    assert_eq!(
        parked.try_recv().unwrap().error,
        Some(ResponseError::RebalanceInProgress)
    );
    let jb = answer(c.start_join(join(&b, true), t0 + Duration::from_secs(30))).unwrap();
    assert_eq!((jb.generation, jb.leader.as_str()), (3, b.as_str()));
    assert_eq!(
        c.heartbeat("g", 2, (&a, None)),
        Some(ResponseError::UnknownMemberId)
    );
}
