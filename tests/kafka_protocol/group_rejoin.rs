//! JoinGroup from a known member at the wire level: a follower rejoining with
//! unchanged metadata gets the current generation at once and nobody
//! rebalances; changed metadata does rebalance; a static member's stale
//! incarnation is fenced.

use std::net::TcpStream;

use bytes::Bytes;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Request, StrBytes};

use crate::common::Server;
use crate::helpers::*;
use crate::liberal::{ask, frame};

const REBALANCE_IN_PROGRESS: i16 = 27;
const MEMBER_ID_REQUIRED: i16 = 79;
const FENCED_INSTANCE_ID: i16 = 82;

fn st(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

pub(crate) fn join_request(
    member: &str,
    instance: Option<&str>,
    meta: &'static [u8],
) -> JoinGroupRequest {
    JoinGroupRequest::default()
        .with_group_id(GroupId(st("g")))
        .with_session_timeout_ms(30_000)
        .with_rebalance_timeout_ms(30_000)
        .with_member_id(st(member))
        .with_group_instance_id(instance.map(st))
        .with_protocol_type(st("consumer"))
        .with_protocols(
            [JoinGroupRequestProtocol::default()
                .with_name(st("range"))
                .with_metadata(Bytes::from_static(meta))]
            .into_iter()
            .collect(),
        )
}

pub(crate) fn send<R: Request>(s: &mut TcpStream, version: i16, req: &R) {
    use std::io::Write;
    s.write_all(&frame(version, 77, req, &[])).unwrap();
}

pub(crate) fn read<R: Request>(s: &mut TcpStream, version: i16) -> R::Response {
    use kafka_protocol::protocol::Decodable;
    let key = ApiKey::try_from(R::KEY).unwrap();
    let mut buf = Bytes::from(response(s).expect("a response"));
    ResponseHeader::decode(&mut buf, key.response_header_version(version)).unwrap();
    R::Response::decode(&mut buf, version).unwrap()
}

/// A new dynamic member's id, through MEMBER_ID_REQUIRED.
fn member_id(s: &mut TcpStream) -> String {
    let r = ask::<JoinGroupRequest>(
        s,
        5,
        &frame(5, 77, &join_request("", None, b"m"), &[]),
        "join",
    );
    assert_eq!(r.error_code, MEMBER_ID_REQUIRED);
    r.member_id.to_string()
}

fn heartbeat(s: &mut TcpStream, generation: i32, member: &str, instance: Option<&str>) -> i16 {
    let req = HeartbeatRequest::default()
        .with_group_id(GroupId(st("g")))
        .with_generation_id(generation)
        .with_member_id(st(member))
        .with_group_instance_id(instance.map(st));
    ask::<HeartbeatRequest>(s, 4, &frame(4, 77, &req, &[]), "heartbeat").error_code
}

/// Heartbeats until the rebalance another connection's join starts shows
/// (that join is in flight on its own connection), with a deadline.
fn await_rebalance(s: &mut TcpStream, generation: i32, member: &str, instance: Option<&str>) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while heartbeat(s, generation, member, instance) != REBALANCE_IN_PROGRESS {
        assert!(std::time::Instant::now() < deadline, "no rebalance started");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

pub(crate) fn sync(
    s: &mut TcpStream,
    generation: i32,
    member: &str,
    assign: &[(&str, &'static [u8])],
) {
    let req = SyncGroupRequest::default()
        .with_group_id(GroupId(st("g")))
        .with_generation_id(generation)
        .with_member_id(st(member))
        .with_assignments(
            assign
                .iter()
                .map(|(m, a)| {
                    SyncGroupRequestAssignment::default()
                        .with_member_id(st(m))
                        .with_assignment(Bytes::from_static(a))
                })
                .collect(),
        );
    send(s, 5, &req);
}

#[test]
fn a_follower_rejoining_unchanged_keeps_the_generation() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let (mut a, mut b) = (connect(&server), connect(&server));
    let ida = member_id(&mut a);
    let r = ask::<JoinGroupRequest>(
        &mut a,
        5,
        &frame(5, 77, &join_request(&ida, None, b"m"), &[]),
        "a",
    );
    assert_eq!((r.error_code, r.generation_id), (0, 1));
    sync(&mut a, 1, &ida, &[(&ida, b"A")]);
    assert_eq!(read::<SyncGroupRequest>(&mut a, 5).error_code, 0);
    // b joins: a learns of the rebalance by heartbeat and rejoins.
    let idb = member_id(&mut b);
    send(&mut b, 5, &join_request(&idb, None, b"m"));
    await_rebalance(&mut a, 1, &ida, None);
    let ra = ask::<JoinGroupRequest>(
        &mut a,
        5,
        &frame(5, 77, &join_request(&ida, None, b"m"), &[]),
        "a",
    );
    let rb = read::<JoinGroupRequest>(&mut b, 5);
    assert_eq!((ra.generation_id, rb.generation_id), (2, 2));
    assert_eq!(ra.leader.as_str(), ida);
    sync(&mut b, 2, &idb, &[]);
    sync(&mut a, 2, &ida, &[(&ida, b"A"), (&idb, b"B")]);
    assert_eq!(read::<SyncGroupRequest>(&mut a, 5).error_code, 0);
    assert_eq!(
        read::<SyncGroupRequest>(&mut b, 5).assignment.as_ref(),
        b"B"
    );
    // b rejoins with the same metadata: generation 2 at once, no rebalance.
    let again = ask::<JoinGroupRequest>(
        &mut b,
        5,
        &frame(5, 77, &join_request(&idb, None, b"m"), &[]),
        "b",
    );
    assert_eq!((again.error_code, again.generation_id), (0, 2));
    assert_eq!(again.leader.as_str(), ida);
    assert_eq!(heartbeat(&mut a, 2, &ida, None), 0);
    sync(&mut b, 2, &idb, &[]);
    assert_eq!(
        read::<SyncGroupRequest>(&mut b, 5).assignment.as_ref(),
        b"B"
    );
    // Changed metadata (a new subscription) rebalances.
    send(&mut b, 5, &join_request(&idb, None, b"other"));
    await_rebalance(&mut a, 2, &ida, None);
}

#[test]
fn a_static_member_restarted_keeps_its_assignment_and_fences_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let (mut a, mut b) = (connect(&server), connect(&server));
    // Static members join without the MEMBER_ID_REQUIRED round.
    let join = |s: &mut TcpStream, id: &str, instance| {
        ask::<JoinGroupRequest>(
            s,
            5,
            &frame(5, 77, &join_request(id, Some(instance), b"m"), &[]),
            "join",
        )
    };
    let ra = join(&mut a, "", "ia");
    assert_eq!((ra.error_code, ra.generation_id), (0, 1));
    let ida = ra.member_id.to_string();
    sync(&mut a, 1, &ida, &[(&ida, b"A")]);
    read::<SyncGroupRequest>(&mut a, 5);
    send(&mut b, 5, &join_request("", Some("ib"), b"m"));
    // b's join travels on another connection: a heartbeat may overtake it.
    await_rebalance(&mut a, 1, &ida, Some("ia"));
    join(&mut a, &ida, "ia");
    let rb = read::<JoinGroupRequest>(&mut b, 5);
    let idb = rb.member_id.to_string();
    sync(&mut b, 2, &idb, &[]);
    sync(&mut a, 2, &ida, &[(&ida, b"A"), (&idb, b"B")]);
    read::<SyncGroupRequest>(&mut a, 5);
    assert_eq!(
        read::<SyncGroupRequest>(&mut b, 5).assignment.as_ref(),
        b"B"
    );
    // b restarts: a new connection, no member id, the same instance id.
    drop(b);
    let mut b2 = connect(&server);
    let back = join(&mut b2, "", "ib");
    assert_eq!((back.error_code, back.generation_id), (0, 2));
    let idb2 = back.member_id.to_string();
    assert_ne!(idb2, idb);
    sync(&mut b2, 2, &idb2, &[]);
    assert_eq!(
        read::<SyncGroupRequest>(&mut b2, 5).assignment.as_ref(),
        b"B"
    );
    assert_eq!(
        heartbeat(&mut a, 2, &ida, Some("ia")),
        0,
        "a sees no rebalance"
    );
    // The old incarnation is fenced.
    let mut zombie = connect(&server);
    assert_eq!(
        heartbeat(&mut zombie, 2, &idb, Some("ib")),
        FENCED_INSTANCE_ID
    );
}
