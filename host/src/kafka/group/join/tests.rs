//! Rejoins without rebalances and static membership (KIP-345), driven
//! synchronously through the coordinator.

use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use tokio::sync::oneshot;

use crate::kafka::group::{Coordinator, JoinOutcome, JoinRequest};
use crate::kafka::settings::GroupSettings;

fn coordinator() -> Coordinator {
    Coordinator::new(GroupSettings {
        min_session_timeout: Duration::from_millis(100),
        max_session_timeout: Duration::from_secs(60),
        // First joins answer at once here; state/tests.rs tests the wait.
        initial_rebalance_delay: Duration::ZERO,
    })
}

fn join(member: &str, instance: Option<&str>, meta: &'static [u8]) -> JoinRequest {
    JoinRequest {
        group: "g".into(),
        member_id: member.into(),
        instance_id: instance.map(str::to_string),
        client_id: "c".into(),
        client_host: String::new(),
        session_timeout: Duration::from_secs(10),
        rebalance_timeout: Duration::from_secs(30),
        protocol_type: "consumer".into(),
        protocols: vec![("range".into(), Bytes::from_static(meta))],
        require_known_member: true,
        can_skip_assignment: false,
    }
}

fn answer<T>(mut rx: oneshot::Receiver<T>) -> Option<T> {
    rx.try_recv().ok()
}

/// Two static members "s1" (the leader) and "s2", stable in generation 2 with
/// assignments "A" and "B". Returns their member ids.
fn stable_pair(c: &Coordinator, now: Instant) -> (String, String) {
    let a = answer(c.start_join(join("", Some("s1"), b"m"), now)).unwrap();
    assert_eq!((a.error, a.generation), (None, 1), "no MEMBER_ID_REQUIRED");
    let a = a.member_id;
    answer(c.start_sync("g", 1, (&a, Some("s1")), vec![], now)).unwrap();
    let rx_b = c.start_join(join("", Some("s2"), b"m"), now);
    let rx_a = c.start_join(join(&a, Some("s1"), b"m"), now);
    let (ja, jb) = (answer(rx_a).unwrap(), answer(rx_b).unwrap());
    assert_eq!((ja.generation, jb.generation), (2, 2));
    let b = jb.member_id;
    let assignments = vec![
        (a.clone(), Bytes::from_static(b"A")),
        (b.clone(), Bytes::from_static(b"B")),
    ];
    let rx_b = c.start_sync("g", 2, (&b, Some("s2")), vec![], now);
    answer(c.start_sync("g", 2, (&a, Some("s1")), assignments, now)).unwrap();
    assert_eq!(answer(rx_b).unwrap().assignment, Bytes::from_static(b"B"));
    (a, b)
}

#[test]
fn a_follower_rejoining_with_the_same_metadata_keeps_the_generation() {
    let c = coordinator();
    let now = Instant::now();
    let (a, b) = stable_pair(&c, now);
    let again: JoinOutcome = answer(c.start_join(join(&b, Some("s2"), b"m"), now)).unwrap();
    assert_eq!((again.error, again.generation), (None, 2));
    assert_eq!(again.leader, a);
    assert!(again.members.is_empty());
    assert_eq!(c.heartbeat("g", 2, (&a, Some("s1"))), None, "no rebalance");
    let synced = answer(c.start_sync("g", 2, (&b, Some("s2")), vec![], now)).unwrap();
    assert_eq!(synced.assignment, Bytes::from_static(b"B"));
    // Changed metadata (a new subscription) does rebalance.
    let rx = c.start_join(join(&b, Some("s2"), b"other"), now);
    assert!(answer(rx).is_none(), "waits for the rebalance");
    assert_eq!(
        c.heartbeat("g", 2, (&a, Some("s1"))),
        Some(ResponseError::RebalanceInProgress)
    );
}

#[test]
fn the_leader_rejoining_rebalances_as_in_kafka() {
    let c = coordinator();
    let now = Instant::now();
    let (a, b) = stable_pair(&c, now);
    let rx = c.start_join(join(&a, Some("s1"), b"m"), now);
    assert!(answer(rx).is_none());
    assert_eq!(
        c.heartbeat("g", 2, (&b, Some("s2"))),
        Some(ResponseError::RebalanceInProgress)
    );
}

#[test]
fn a_restarted_static_member_takes_its_place_back_without_a_rebalance() {
    let c = coordinator();
    let now = Instant::now();
    let (a, old_b) = stable_pair(&c, now);
    let back = answer(c.start_join(join("", Some("s2"), b"m"), now)).unwrap();
    assert_eq!((back.error, back.generation), (None, 2));
    assert_ne!(back.member_id, old_b);
    assert_eq!(back.leader, a);
    let b = back.member_id;
    assert_eq!(c.heartbeat("g", 2, (&a, Some("s1"))), None, "no rebalance");
    let synced = answer(c.start_sync("g", 2, (&b, Some("s2")), vec![], now)).unwrap();
    assert_eq!(synced.assignment, Bytes::from_static(b"B"), "its old share");
    // The old incarnation is fenced by its instance id, unknown without it.
    assert_eq!(
        c.heartbeat("g", 2, (&old_b, Some("s2"))),
        Some(ResponseError::FencedInstanceId)
    );
    assert_eq!(
        c.heartbeat("g", 2, (&old_b, None)),
        Some(ResponseError::UnknownMemberId)
    );
    assert_eq!(
        c.check_commit("g", 2, (&old_b, Some("s2"))),
        Some(ResponseError::FencedInstanceId)
    );
    // Leaving by instance id alone removes the current holder; the stale id
    // is fenced.
    assert_eq!(
        c.leave("g", &[(old_b.clone(), Some("s2".into()))]),
        vec![Some(ResponseError::FencedInstanceId)]
    );
    assert_eq!(
        c.leave("g", &[(String::new(), Some("s2".into()))]),
        vec![None]
    );
    assert_eq!(
        c.heartbeat("g", 2, (&a, Some("s1"))),
        Some(ResponseError::RebalanceInProgress)
    );
}

#[test]
fn a_restarted_static_leader_is_told_to_skip_assignment_or_given_the_old_id() {
    let c = coordinator();
    let now = Instant::now();
    let (a, b) = stable_pair(&c, now);
    // Before JoinGroup v9 the returning leader sees the old leader id, so it
    // does not assign.
    let back = answer(c.start_join(join("", Some("s1"), b"m"), now)).unwrap();
    assert_eq!((back.generation, back.leader.as_str()), (2, a.as_str()));
    assert!(!back.skip_assignment && back.members.is_empty());
    // With v9 it is told it leads, with the member list, and to skip assigning.
    let mut v9 = join("", Some("s1"), b"m");
    v9.can_skip_assignment = true;
    let again = answer(c.start_join(v9, now)).unwrap();
    assert_eq!(again.generation, 2);
    assert_eq!(again.leader, again.member_id);
    assert!(again.skip_assignment);
    assert_eq!(again.members.len(), 2);
    assert_eq!(c.heartbeat("g", 2, (&b, Some("s2"))), None, "no rebalance");
}

#[test]
fn a_static_member_returning_mid_rebalance_waits_for_it() {
    let c = coordinator();
    let now = Instant::now();
    let (a, old_b) = stable_pair(&c, now);
    // a rejoins as leader: a rebalance starts, old b has not rejoined yet.
    let rx_a = c.start_join(join(&a, Some("s1"), b"m"), now);
    let rx_b = c.start_join(join("", Some("s2"), b"m"), now);
    let (ja, jb) = (answer(rx_a).unwrap(), answer(rx_b).unwrap());
    assert_eq!((ja.generation, jb.generation), (3, 3));
    assert_ne!(jb.member_id, old_b);
    let ids: Vec<&str> = ja.members.iter().map(|m| m.0.as_str()).collect();
    assert!(ids.contains(&jb.member_id.as_str()) && !ids.contains(&old_b.as_str()));
}

#[test]
fn a_static_member_late_for_a_rebalance_keeps_its_place() {
    let c = coordinator();
    let t0 = Instant::now();
    // Sessions outlast the 30 s rebalance timeout, so only the rebalance
    // deadline is in play.
    let long = |id: &str, instance, meta| JoinRequest {
        session_timeout: Duration::from_secs(60),
        ..join(id, Some(instance), meta)
    };
    let a = answer(c.start_join(long("", "s1", b"m"), t0))
        .unwrap()
        .member_id;
    answer(c.start_sync("g", 1, (&a, Some("s1")), vec![], t0)).unwrap();
    let mut rx_b = c.start_join(long("", "s2", b"m"), t0);
    let ja = answer(c.start_join(long(&a, "s1", b"m"), t0)).unwrap();
    let b = answer(rx_b).unwrap().member_id;
    assert_eq!(ja.generation, 2);
    answer(c.start_sync("g", 2, (&a, Some("s1")), vec![], t0)).unwrap();
    // b changes its subscription; a stays silent past the rebalance timeout.
    rx_b = c.start_join(long(&b, "s2", b"other"), t0);
    c.tick(t0 + Duration::from_secs(30));
    let jb = answer(rx_b).expect("the join completes at the deadline");
    assert_eq!((jb.generation, jb.leader.as_str()), (3, b.as_str()));
    assert_eq!(
        jb.members.len(),
        2,
        "a, static, keeps its place and is assigned"
    );
    // a learns of generation 3 and rejoins as itself, without a rebalance.
    assert_eq!(
        c.heartbeat("g", 2, (&a, Some("s1"))),
        Some(ResponseError::IllegalGeneration)
    );
    let back = answer(c.start_join(long(&a, "s1", b"m"), t0 + Duration::from_secs(31))).unwrap();
    assert_eq!((back.error, back.generation), (None, 3));
    let mut rx_sa = c.start_sync("g", 3, (&a, Some("s1")), vec![], t0);
    let assignments = vec![
        (a.clone(), Bytes::from_static(b"A")),
        (b.clone(), Bytes::from_static(b"B")),
    ];
    answer(c.start_sync("g", 3, (&b, Some("s2")), assignments, t0)).unwrap();
    assert_eq!(
        rx_sa.try_recv().unwrap().assignment,
        Bytes::from_static(b"A")
    );
}
