//! Kafka's initial rebalance delay at the wire level: a JoinGroup into an
//! Empty group waits `group_initial_rebalance_delay_ms` for more members, so
//! consumers started together form one generation.
//!
//! Without it weir answered the first member at once, alone, before its client
//! had the topic's metadata: kafka-python's leader assigned nothing, rejoined
//! when the metadata came, and a poll timing out between that rejoin's
//! JoinGroup and SyncGroup answers left it with the answer unread, no
//! heartbeats and no partitions while the other member took them all
//! (`kafka_python_static_member_restarts_without_a_rebalance` failing one run
//! in five).

use std::time::{Duration, Instant};

use kafka_protocol::messages::{JoinGroupRequest, SyncGroupRequest};

use crate::common::Server;
use crate::group_rejoin::{join_request, read, send, sync};
use crate::helpers::*;

#[test]
fn members_starting_together_share_the_first_generation() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_config(
        dir.path(),
        "[kafka]\ngroup_initial_rebalance_delay_ms = 2000\n",
        &[],
    );
    let (mut a, mut b, mut admin) = (connect(&server), connect(&server), connect(&server));
    send(&mut a, 5, &join_request("", Some("ia"), b"m"));
    // a's join travels on its own connection: wait until the group exists.
    let deadline = Instant::now() + Duration::from_secs(20);
    let state = loop {
        let (error, state) = describe_group(&mut admin, "g");
        assert_eq!(error, 0);
        if state != "Dead" {
            break state;
        }
        assert!(Instant::now() < deadline, "a's join never arrived");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(state, "PreparingRebalance", "a's join waits for others");
    send(&mut b, 5, &join_request("", Some("ib"), b"m"));
    let ra = read::<JoinGroupRequest>(&mut a, 5);
    let rb = read::<JoinGroupRequest>(&mut b, 5);
    assert_eq!((ra.error_code, rb.error_code), (0, 0));
    assert_eq!((ra.generation_id, rb.generation_id), (1, 1));
    assert_eq!(ra.leader, rb.leader);
    let (leader, follower) = if ra.leader == ra.member_id {
        (&ra, &rb)
    } else {
        (&rb, &ra)
    };
    assert_eq!(leader.members.len(), 2, "the leader assigns to both");
    // Both get their share of generation 1.
    let (mut ls, mut fs) = if leader.member_id == ra.member_id {
        (a, b)
    } else {
        (b, a)
    };
    let (lid, fid) = (leader.member_id.to_string(), follower.member_id.to_string());
    sync(&mut fs, 1, &fid, &[]);
    sync(&mut ls, 1, &lid, &[(&lid, b"L"), (&fid, b"F")]);
    assert_eq!(
        read::<SyncGroupRequest>(&mut ls, 5).assignment.as_ref(),
        b"L"
    );
    assert_eq!(
        read::<SyncGroupRequest>(&mut fs, 5).assignment.as_ref(),
        b"F"
    );
}
