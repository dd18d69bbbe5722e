//! A Kafka consumer group member made by hand over the wire, so the console tests can
//! hold a group with a member (whose offsets a reset must refuse) without a client library.

use std::net::TcpStream;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    ConsumerProtocolAssignment, GroupId, JoinGroupRequest, LeaveGroupRequest, SyncGroupRequest,
    TopicName,
};
use kafka_protocol::protocol::{Encodable, StrBytes};

use crate::common::Server;
use crate::common::wire::ask;

fn st(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// A Kafka consumer that joins `group` and takes `mixed`-0 by hand (JoinGroup v3,
/// SyncGroup v1), staying a member while the returned connection is open.
pub fn join_as_member(server: &Server, group: &str) -> (TcpStream, StrBytes) {
    let mut s = TcpStream::connect(&server.kafka).unwrap();
    let join = JoinGroupRequest::default()
        .with_group_id(GroupId(st(group)))
        .with_session_timeout_ms(120_000)
        .with_rebalance_timeout_ms(30_000)
        .with_member_id(st(""))
        .with_protocol_type(st("consumer"))
        .with_protocols(vec![
            JoinGroupRequestProtocol::default()
                .with_name(st("range"))
                .with_metadata(Bytes::from_static(
                    b"\x00\x00\x00\x00\x00\x01\x00\x05mixed\xff\xff\xff\xff",
                )),
        ]);
    let joined = ask(&mut s, 3, &join);
    assert_eq!(joined.error_code, 0, "{joined:?}");
    let mut assignment = BytesMut::new();
    assignment.put_i16(1);
    ConsumerProtocolAssignment::default()
        .with_assigned_partitions(vec![
            TopicPartition::default()
                .with_topic(TopicName(st("mixed")))
                .with_partitions(vec![0]),
        ])
        .encode(&mut assignment, 1)
        .unwrap();
    let sync = SyncGroupRequest::default()
        .with_group_id(GroupId(st(group)))
        .with_generation_id(joined.generation_id)
        .with_member_id(joined.member_id.clone())
        .with_assignments(vec![
            SyncGroupRequestAssignment::default()
                .with_member_id(joined.member_id.clone())
                .with_assignment(assignment.freeze()),
        ]);
    let synced = ask(&mut s, 1, &sync);
    assert_eq!(synced.error_code, 0, "{synced:?}");
    (s, joined.member_id)
}

/// The member of `join_as_member` leaves `group` (LeaveGroup v0).
pub fn leave((mut s, member): (TcpStream, StrBytes), group: &str) {
    let left = ask(
        &mut s,
        0,
        &LeaveGroupRequest::default()
            .with_group_id(GroupId(st(group)))
            .with_member_id(member),
    );
    assert_eq!(left.error_code, 0, "{left:?}");
}
