//! Kafka's initial rebalance delay (`group.initial.rebalance.delay.ms`), driven
//! synchronously through the coordinator with explicit clocks: a join into an
//! Empty group waits for more members, and only that join does.

use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::oneshot;

use crate::kafka::group::{Coordinator, JoinOutcome, JoinRequest};
use crate::kafka::settings::GroupSettings;

const DELAY: Duration = Duration::from_secs(3);

fn coordinator() -> Coordinator {
    Coordinator::new(GroupSettings {
        min_session_timeout: Duration::from_millis(100),
        max_session_timeout: Duration::from_secs(60),
        initial_rebalance_delay: DELAY,
    })
}

/// A static member's join (no MEMBER_ID_REQUIRED round), or a known
/// member's rejoin when `member` is set.
fn join(member: &str, instance: &str, rebalance_timeout: Duration) -> JoinRequest {
    JoinRequest {
        group: "g".into(),
        member_id: member.into(),
        instance_id: Some(instance.into()),
        client_id: "c".into(),
        client_host: String::new(),
        session_timeout: Duration::from_secs(10),
        rebalance_timeout,
        protocol_type: "consumer".into(),
        protocols: vec![("range".into(), Bytes::from_static(b"m"))],
        require_known_member: true,
        can_skip_assignment: false,
    }
}

fn answer(rx: &mut oneshot::Receiver<JoinOutcome>) -> Option<JoinOutcome> {
    rx.try_recv().ok()
}

fn state(c: &Coordinator) -> &'static str {
    c.describe("g").map_or("none", |d| d.state)
}

const TIMEOUT: Duration = Duration::from_secs(30);

#[test]
fn the_first_join_waits_the_delay_and_members_arriving_in_it_share_generation_one() {
    let c = coordinator();
    let t0 = Instant::now();
    let mut a = c.start_join(join("", "a", TIMEOUT), t0);
    assert!(answer(&mut a).is_none(), "the first join waits");
    assert_eq!(state(&c), "PreparingRebalance");
    c.tick(t0 + Duration::from_secs(1));
    let mut b = c.start_join(join("", "b", TIMEOUT), t0 + Duration::from_secs(1));
    // Both have joined, but the initial delay is not cut short; b's arrival
    // earns another round of it.
    c.tick(t0 + DELAY);
    assert!(answer(&mut a).is_none() && answer(&mut b).is_none());
    c.tick(t0 + DELAY * 2 - Duration::from_millis(1));
    assert!(answer(&mut a).is_none() && answer(&mut b).is_none());
    c.tick(t0 + DELAY * 2);
    let (ja, jb) = (answer(&mut a).unwrap(), answer(&mut b).unwrap());
    assert_eq!((ja.error, jb.error), (None, None));
    assert_eq!((ja.generation, jb.generation), (1, 1));
    assert_eq!(ja.leader, jb.leader);
    let leader = if ja.leader == ja.member_id { &ja } else { &jb };
    assert_eq!(leader.members.len(), 2, "the leader assigns to both");
    assert_eq!(state(&c), "CompletingRebalance");
}

#[test]
fn a_lone_first_member_is_answered_when_the_delay_ends() {
    let c = coordinator();
    let t0 = Instant::now();
    let mut a = c.start_join(join("", "a", TIMEOUT), t0);
    c.tick(t0 + DELAY - Duration::from_millis(1));
    assert!(answer(&mut a).is_none());
    c.tick(t0 + DELAY);
    let ja = answer(&mut a).expect("no new member: no second round");
    assert_eq!((ja.error, ja.generation, ja.members.len()), (None, 1, 1));
}

#[test]
fn new_members_extend_the_delay_only_within_the_rebalance_timeout() {
    let c = coordinator();
    let t0 = Instant::now();
    // A 5 s rebalance timeout leaves 2 s after the first 3 s round.
    let five = Duration::from_secs(5);
    let mut a = c.start_join(join("", "a", five), t0);
    let mut b = c.start_join(join("", "b", five), t0 + Duration::from_secs(1));
    c.tick(t0 + DELAY);
    let mut d = c.start_join(join("", "d", five), t0 + Duration::from_secs(4));
    c.tick(t0 + five - Duration::from_millis(1));
    assert!(answer(&mut a).is_none());
    // d arrived in the second round, but no time is left for a third.
    c.tick(t0 + five);
    for rx in [&mut a, &mut b, &mut d] {
        let j = answer(rx).expect("answered at the rebalance timeout");
        assert_eq!((j.error, j.generation), (None, 1));
    }
}

#[test]
fn only_a_join_into_an_empty_group_waits() {
    let c = coordinator();
    let t0 = Instant::now();
    let mut a = c.start_join(join("", "a", TIMEOUT), t0);
    c.tick(t0 + DELAY);
    let ida = answer(&mut a).unwrap().member_id;
    let t1 = t0 + DELAY;
    c.start_sync("g", 1, (&ida, Some("a")), vec![], t1);
    assert_eq!(state(&c), "Stable");
    // A second member rebalances a live group: done once a rejoins, at once.
    let mut b = c.start_join(join("", "b", TIMEOUT), t1);
    assert!(answer(&mut b).is_none(), "waits for a to rejoin");
    let mut a = c.start_join(join(&ida, "a", TIMEOUT), t1);
    let (ja, jb) = (answer(&mut a).unwrap(), answer(&mut b).unwrap());
    assert_eq!((ja.generation, jb.generation), (2, 2));
    // Everyone leaves: the group is Empty again, and the next join waits.
    let left = c.leave(
        "g",
        &[(ida, Some("a".into())), (jb.member_id, Some("b".into()))],
    );
    assert_eq!(left, vec![None, None]);
    let mut again = c.start_join(join("", "a", TIMEOUT), t1);
    assert!(
        answer(&mut again).is_none(),
        "Empty again: the delay applies"
    );
    c.tick(t1 + DELAY);
    assert_eq!(answer(&mut again).unwrap().generation, 3);
}

#[test]
fn the_first_member_to_arrive_leads_the_first_generation() {
    let c = coordinator();
    let t0 = Instant::now();
    // Member ids start with the client id: the second member's sorts first.
    let first = JoinRequest {
        client_id: "z".into(),
        ..join("", "a", TIMEOUT)
    };
    let second = JoinRequest {
        client_id: "a".into(),
        ..join("", "b", TIMEOUT)
    };
    let mut a = c.start_join(first, t0);
    let mut b = c.start_join(second, t0);
    c.tick(t0 + DELAY);
    c.tick(t0 + DELAY * 2);
    let (ja, jb) = (answer(&mut a).unwrap(), answer(&mut b).unwrap());
    assert!(jb.member_id < ja.member_id);
    assert_eq!(ja.leader, ja.member_id, "Kafka's leader: the first to join");
    assert_eq!(jb.leader, ja.member_id);
}
