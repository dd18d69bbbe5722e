//! Liberal parsing, as Apache Kafka does it: every flexible request weir serves
//! is answered, on the same connection, with unknown tagged fields added and
//! with bytes after its last field; the exact bodies librdkafka sends for
//! all-topics Metadata, every-partition OffsetFetch and ListGroups are read
//! with the client's flags; bodies that do not decode and versions not served
//! get an error answer where the response has a top-level error code (and old
//! Produce and Fetch one per partition); the Kafka 3.x OffsetCommit v0/v1 and
//! OffsetFetch v0 are served.

use std::io::Write;
use std::net::TcpStream;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};
use weir::kafka::handler::versions::SUPPORTED;

use crate::common::{Server, http};
use crate::helpers::*;

const INVALID_REQUEST: i16 = 42;
const UNSUPPORTED_VERSION: i16 = 35;

/// One request frame: header (of the version's header layout), body, `extra`.
pub fn frame<R: Request>(version: i16, correlation: i32, req: &R, extra: &[u8]) -> Vec<u8> {
    let key = ApiKey::try_from(R::KEY).unwrap();
    let mut header = RequestHeader::default();
    header.request_api_key = R::KEY;
    header.request_api_version = version;
    header.correlation_id = correlation;
    header.client_id = Some(StrBytes::from_static_str("liberal"));
    let mut buf = BytesMut::new();
    header
        .encode(&mut buf, key.request_header_version(version))
        .unwrap();
    req.encode(&mut buf, version).unwrap();
    buf.extend_from_slice(extra);
    raw(&buf)
}

/// A size-prefixed frame of `bytes`.
fn raw(bytes: &[u8]) -> Vec<u8> {
    let mut out = (bytes.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(bytes);
    out
}

/// Sends a frame and decodes the answer as `R::Response` at `version`;
/// panics if the connection closed or the correlation id is not echoed.
pub fn ask<R: Request>(s: &mut TcpStream, version: i16, frame: &[u8], what: &str) -> R::Response {
    s.write_all(frame).unwrap();
    let r = response(s).unwrap_or_else(|| panic!("{what}: connection closed"));
    let key = ApiKey::try_from(R::KEY).unwrap();
    let mut buf = Bytes::from(r);
    let header = ResponseHeader::decode(&mut buf, key.response_header_version(version)).unwrap();
    assert_eq!(header.correlation_id, 77, "{what}");
    R::Response::decode(&mut buf, version).unwrap_or_else(|e| panic!("{what}: response: {e}"))
}

/// Sends `req` three ways (as is, with an unknown tagged field, with bytes
/// after the body) on one connection; each must be answered.
fn three_ways<R: Request + Clone>(
    s: &mut TcpStream,
    version: i16,
    req: R,
    tag: impl Fn(&mut R),
    error: impl Fn(&R::Response) -> i16,
) {
    let name = format!("API {} v{version}", R::KEY);
    let mut tagged = req.clone();
    tag(&mut tagged);
    let cases = [
        ("as is", frame(version, 77, &req, &[])),
        ("unknown tagged field", frame(version, 77, &tagged, &[])),
        ("trailing bytes", frame(version, 77, &req, &[0, 7, 0xff])),
    ];
    for (case, f) in cases {
        let resp = ask::<R>(s, version, &f, &format!("{name} {case}"));
        assert_ne!(error(&resp), INVALID_REQUEST, "{name} {case}");
    }
}

/// SaslAuthenticate's three ways, each on a fresh connection after a SCRAM handshake
/// (a SASL step changes the connection's state): the client-first must be answered
/// with the server-first, whatever follows it.
fn sasl_three_ways(server: &Server, version: i16) {
    let req =
        SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from_static(b"n,,n=u,r=abc"));
    let mut tagged = req.clone();
    tagged.unknown_tagged_fields.insert(4242, future_tag());
    let cases = [
        ("as is", frame(version, 77, &req, &[])),
        ("unknown tagged field", frame(version, 77, &tagged, &[])),
        ("trailing bytes", frame(version, 77, &req, &[0, 7, 0xff])),
    ];
    for (case, f) in cases {
        let mut s = connect(server);
        let hs = SaslHandshakeRequest::default()
            .with_mechanism(StrBytes::from_static_str("SCRAM-SHA-256"));
        let h = ask::<SaslHandshakeRequest>(&mut s, 1, &frame(1, 77, &hs, &[]), "SaslHandshake");
        assert_eq!(h.error_code, 0);
        let name = format!("SaslAuthenticate v{version} {case}");
        let resp = ask::<SaslAuthenticateRequest>(&mut s, version, &f, &name);
        assert_eq!(resp.error_code, 0, "{name}");
        assert!(resp.auth_bytes.starts_with(b"r=abc"), "{name}");
    }
}

/// For responses without a top-level error code.
fn no_error<T>(_: &T) -> i16 {
    0
}

fn future_tag() -> Bytes {
    Bytes::from_static(b"a field of a later version")
}

macro_rules! tagged {
    () => {
        |r| {
            r.unknown_tagged_fields.insert(4242, future_tag());
        }
    };
}

/// `three_ways` with the default request of `$req`, for responses without a
/// top-level error code.
macro_rules! plain {
    ($s:expr, $v:expr, $req:ty) => {
        three_ways($s, $v, <$req>::default(), tagged!(), no_error)
    };
}

#[test]
fn every_flexible_request_is_answered_with_unknown_tags_and_trailing_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut checked = 0;
    for &(key, min, max) in SUPPORTED {
        for v in min..=max {
            if key.request_header_version(v) < 2 {
                continue; // not a flexible version: no tagged fields
            }
            let mut s = connect(&server);
            match key {
                ApiKey::Produce => three_ways(
                    &mut s,
                    v,
                    ProduceRequest::default().with_acks(1),
                    tagged!(),
                    no_error,
                ),
                ApiKey::Fetch => three_ways(&mut s, v, FetchRequest::default(), tagged!(), |r| {
                    r.error_code
                }),
                ApiKey::ListOffsets => plain!(&mut s, v, ListOffsetsRequest),
                ApiKey::Metadata => {
                    let req = MetadataRequest::default().with_topics(Some(vec![
                        metadata_request::MetadataRequestTopic::default()
                            .with_name(Some(TopicName(StrBytes::from_static_str("lib")))),
                    ]));
                    let tag = |r: &mut MetadataRequest| {
                        r.unknown_tagged_fields.insert(4242, future_tag());
                        // And one in a nested struct.
                        let topics = r.topics.as_mut().unwrap();
                        topics[0].unknown_tagged_fields.insert(7, future_tag());
                    };
                    three_ways(&mut s, v, req, tag, no_error)
                }
                ApiKey::OffsetCommit => plain!(&mut s, v, OffsetCommitRequest),
                ApiKey::OffsetFetch => {
                    let error = |r: &OffsetFetchResponse| {
                        r.groups.first().map_or(r.error_code, |g| g.error_code)
                    };
                    let req = if v >= 8 {
                        OffsetFetchRequest::default().with_groups(vec![
                            offset_fetch_request::OffsetFetchRequestGroup::default()
                                .with_group_id(GroupId(StrBytes::from_static_str("g"))),
                        ])
                    } else {
                        OffsetFetchRequest::default()
                            .with_group_id(GroupId(StrBytes::from_static_str("g")))
                    };
                    three_ways(&mut s, v, req, tagged!(), error)
                }
                ApiKey::FindCoordinator => {
                    let req = if v >= 4 {
                        FindCoordinatorRequest::default()
                            .with_coordinator_keys(vec![StrBytes::from_static_str("g")])
                    } else {
                        FindCoordinatorRequest::default().with_key(StrBytes::from_static_str("g"))
                    };
                    let error = |r: &FindCoordinatorResponse| {
                        r.coordinators
                            .first()
                            .map_or(r.error_code, |c| c.error_code)
                    };
                    three_ways(&mut s, v, req, tagged!(), error)
                }
                ApiKey::JoinGroup => {
                    three_ways(&mut s, v, JoinGroupRequest::default(), tagged!(), |r| {
                        r.error_code
                    })
                }
                ApiKey::Heartbeat => {
                    three_ways(&mut s, v, HeartbeatRequest::default(), tagged!(), |r| {
                        r.error_code
                    })
                }
                ApiKey::LeaveGroup => {
                    three_ways(&mut s, v, LeaveGroupRequest::default(), tagged!(), |r| {
                        r.error_code
                    })
                }
                ApiKey::SyncGroup => {
                    three_ways(&mut s, v, SyncGroupRequest::default(), tagged!(), |r| {
                        r.error_code
                    })
                }
                ApiKey::DescribeGroups => plain!(&mut s, v, DescribeGroupsRequest),
                ApiKey::ListGroups => {
                    three_ways(&mut s, v, ListGroupsRequest::default(), tagged!(), |r| {
                        r.error_code
                    })
                }
                ApiKey::ApiVersions => {
                    let req = ApiVersionsRequest::default()
                        .with_client_software_name(StrBytes::from_static_str("liberal"))
                        .with_client_software_version(StrBytes::from_static_str("1"));
                    three_ways(&mut s, v, req, tagged!(), |r| r.error_code)
                }
                ApiKey::CreateTopics => plain!(&mut s, v, CreateTopicsRequest),
                ApiKey::DeleteTopics => plain!(&mut s, v, DeleteTopicsRequest),
                ApiKey::InitProducerId => three_ways(
                    &mut s,
                    v,
                    InitProducerIdRequest::default(),
                    tagged!(),
                    |r| r.error_code,
                ),
                ApiKey::DescribeConfigs => plain!(&mut s, v, DescribeConfigsRequest),
                ApiKey::CreatePartitions => plain!(&mut s, v, CreatePartitionsRequest),
                ApiKey::CreateAcls => plain!(&mut s, v, CreateAclsRequest),
                ApiKey::DescribeAcls => plain!(&mut s, v, DescribeAclsRequest),
                ApiKey::DeleteAcls => plain!(&mut s, v, DeleteAclsRequest),
                ApiKey::DeleteGroups => plain!(&mut s, v, DeleteGroupsRequest),
                ApiKey::DescribeCluster => three_ways(
                    &mut s,
                    v,
                    DescribeClusterRequest::default().with_endpoint_type(1),
                    tagged!(),
                    |r| r.error_code,
                ),
                ApiKey::DeleteRecords => plain!(&mut s, v, DeleteRecordsRequest),
                ApiKey::AlterConfigs => plain!(&mut s, v, AlterConfigsRequest),
                ApiKey::IncrementalAlterConfigs => {
                    plain!(&mut s, v, IncrementalAlterConfigsRequest)
                }
                ApiKey::DescribeLogDirs => three_ways(
                    &mut s,
                    v,
                    DescribeLogDirsRequest::default(),
                    tagged!(),
                    |r| r.error_code,
                ),
                ApiKey::DescribeProducers => plain!(&mut s, v, DescribeProducersRequest),
                ApiKey::AddPartitionsToTxn => plain!(&mut s, v, AddPartitionsToTxnRequest),
                ApiKey::AddOffsetsToTxn => three_ways(
                    &mut s,
                    v,
                    AddOffsetsToTxnRequest::default(),
                    tagged!(),
                    |r| r.error_code,
                ),
                ApiKey::EndTxn => three_ways(&mut s, v, EndTxnRequest::default(), tagged!(), |r| {
                    r.error_code
                }),
                ApiKey::TxnOffsetCommit => plain!(&mut s, v, TxnOffsetCommitRequest),
                ApiKey::DescribeTransactions => plain!(&mut s, v, DescribeTransactionsRequest),
                ApiKey::ListTransactions => three_ways(
                    &mut s,
                    v,
                    ListTransactionsRequest::default().with_duration_filter(-1),
                    tagged!(),
                    |r| r.error_code,
                ),
                ApiKey::SaslAuthenticate => sasl_three_ways(&server, v),
                other => panic!("a served API without a case here: {other:?}"),
            }
            checked += 1;
        }
    }
    assert!(checked >= 40, "only {checked} flexible versions checked");
    assert!(alive(&server));
}

/// A flexible request header (v2) for `key`/`version`, correlation id 77.
fn header_v2(key: i16, version: i16) -> Vec<u8> {
    let mut h = key.to_be_bytes().to_vec();
    h.extend_from_slice(&version.to_be_bytes());
    h.extend_from_slice(&77i32.to_be_bytes());
    kstr(&mut h, "rdkafka");
    h.push(0); // header tagged fields
    h
}

#[test]
fn librdkafka_metadata_for_all_topics_lists_every_topic_and_creates_none() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut s = connect(&server);
    assert_eq!(metadata_error(&mut s, "existing"), 0);
    // As librdkafka writes it: the null topics marker in a 4-byte slot, then
    // AllowAutoTopicCreation, IncludeTopicAuthorizedOperations, tags.
    for allow_auto in [0u8, 1] {
        let mut f = header_v2(3, 12);
        f.extend_from_slice(&[0, 0, 0, 0, allow_auto, 0, 0]);
        let resp = ask::<MetadataRequest>(&mut s, 12, &raw(&f), "librdkafka Metadata v12");
        let names: Vec<String> = resp
            .topics
            .iter()
            .map(|t| t.name.as_ref().unwrap().0.to_string())
            .collect();
        assert_eq!(names, ["existing"]);
    }
    assert!(alive(&server));
}

#[test]
fn librdkafka_2_0_offset_fetch_of_every_partition_and_list_groups_are_answered() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut s = connect(&server);
    assert_eq!(metadata_error(&mut s, "t"), 0);
    commit_v1(&mut s, "g", "t", 5);
    // OffsetFetch v7 for every partition: group "g", null topics in a 4-byte
    // slot, RequireStable, tags.
    let mut f = header_v2(9, 7);
    f.extend_from_slice(&[2, b'g', 0, 0, 0, 0, 1, 0]);
    let resp = ask::<OffsetFetchRequest>(&mut s, 7, &raw(&f), "OffsetFetch v7");
    assert_eq!(resp.error_code, 0);
    assert_eq!(resp.topics.len(), 1);
    assert_eq!(resp.topics[0].partitions[0].committed_offset, 5);
    // ListGroups v4 with no states filter and the top-level tags written twice.
    let mut f = header_v2(16, 4);
    f.extend_from_slice(&[1, 0, 0]);
    let resp = ask::<ListGroupsRequest>(&mut s, 4, &raw(&f), "ListGroups v4");
    assert_eq!(resp.error_code, 0);
    let ids: Vec<&str> = resp.groups.iter().map(|g| g.group_id.0.as_str()).collect();
    assert_eq!(ids, ["g"]);
}

/// OffsetCommit v1 (generation -1: a standalone commit) of partition 0.
fn commit_v1(s: &mut TcpStream, group: &str, topic: &str, offset: i64) {
    let mut body = Vec::new();
    kstr(&mut body, group);
    body.extend_from_slice(&(-1i32).to_be_bytes());
    kstr(&mut body, "");
    body.extend_from_slice(&1i32.to_be_bytes());
    kstr(&mut body, topic);
    body.extend_from_slice(&1i32.to_be_bytes());
    body.extend_from_slice(&0i32.to_be_bytes());
    body.extend_from_slice(&offset.to_be_bytes());
    body.extend_from_slice(&1_700_000_000_000i64.to_be_bytes()); // commit timestamp
    kstr(&mut body, "v1-meta");
    s.write_all(&request(8, 1, 77, &body)).unwrap();
    let r = response(s).expect("OffsetCommit v1 response");
    // corr, topics[name, partitions[index, error]].
    assert_eq!(
        i16_at(&r, 4 + 4 + 2 + topic.len() + 4 + 4),
        0,
        "commit error"
    );
}

#[test]
fn kafka_3_offset_commit_v0_v1_and_offset_fetch_v0_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut s = connect(&server);
    assert_eq!(metadata_error(&mut s, "old"), 0);
    commit_v1(&mut s, "sarama-like", "old", 12);
    // v0: no generation, no member, no timestamp.
    let mut body = Vec::new();
    kstr(&mut body, "zk-era");
    body.extend_from_slice(&1i32.to_be_bytes());
    kstr(&mut body, "old");
    body.extend_from_slice(&1i32.to_be_bytes());
    body.extend_from_slice(&0i32.to_be_bytes());
    body.extend_from_slice(&3i64.to_be_bytes());
    body.extend_from_slice(&(-1i16).to_be_bytes());
    s.write_all(&request(8, 0, 78, &body)).unwrap();
    let r = response(&mut s).expect("OffsetCommit v0 response");
    assert_eq!(i16_at(&r, 4 + 4 + 2 + 3 + 4 + 4), 0);
    // OffsetFetch v0 reads both back, metadata included.
    for (group, offset, meta) in [("sarama-like", 12, "v1-meta"), ("zk-era", 3, "")] {
        let mut body = Vec::new();
        kstr(&mut body, group);
        body.extend_from_slice(&1i32.to_be_bytes());
        kstr(&mut body, "old");
        body.extend_from_slice(&1i32.to_be_bytes());
        body.extend_from_slice(&0i32.to_be_bytes());
        s.write_all(&request(9, 0, 79, &body)).unwrap();
        let r = response(&mut s).expect("OffsetFetch v0 response");
        // corr, topics[name, partitions[index, offset, metadata, error]].
        let at = 4 + 4 + 2 + 3 + 4 + 4;
        assert_eq!(i64_at(&r, at), offset, "{group}");
        let len = i16_at(&r, at + 8) as usize;
        assert_eq!(&r[at + 10..at + 10 + len], meta.as_bytes(), "{group}");
        assert_eq!(i16_at(&r, at + 10 + len), 0, "{group}");
    }
    let group: serde_json::Value = http()
        .get(server.at("/v1/groups/sarama-like"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(group["offsets"][0]["committed_offset"], 12, "{group}");
}

#[test]
fn undecodable_bodies_and_unserved_versions_get_an_error_answer_where_one_fits() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut s = connect(&server);
    // Heartbeat v4 whose group id claims 100 bytes: INVALID_REQUEST, connection kept.
    let mut f = header_v2(12, 4);
    f.extend_from_slice(&[101, b'g']);
    let resp = ask::<HeartbeatRequest>(&mut s, 4, &raw(&f), "truncated Heartbeat");
    assert_eq!(resp.error_code, INVALID_REQUEST);
    // ListGroups v5 is beyond what weir serves: UNSUPPORTED_VERSION, connection kept.
    let f = frame(5, 77, &ListGroupsRequest::default(), &[]);
    let resp = ask::<ListGroupsRequest>(&mut s, 5, &f, "ListGroups v5");
    assert_eq!(resp.error_code, UNSUPPORTED_VERSION);
    let resp = ask::<ListGroupsRequest>(
        &mut s,
        4,
        &frame(4, 77, &ListGroupsRequest::default(), &[]),
        "ListGroups v4",
    );
    assert_eq!(resp.error_code, 0);
    // A Metadata body that does not decode has no error field to carry the
    // refusal: the connection is closed, as Kafka does, and the broker stays up.
    let mut f = header_v2(3, 12);
    f.extend_from_slice(&[9, 1]);
    s.write_all(&raw(&f)).unwrap();
    assert!(response(&mut s).is_none());
    assert!(alive(&server));
}

#[test]
fn a_huge_declared_array_count_in_a_tiny_request_does_not_take_the_broker_down() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    // Metadata v1 claiming i32::MAX topics, and v12 claiming 2^31 (compact),
    // each in a frame of a few bytes.
    let mut s = connect(&server);
    s.write_all(&request(3, 1, 5, &i32::MAX.to_be_bytes()))
        .unwrap();
    assert!(response(&mut s).is_none());
    let mut s = connect(&server);
    let mut f = header_v2(3, 12);
    f.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x08]);
    s.write_all(&raw(&f)).unwrap();
    assert!(response(&mut s).is_none());
    assert!(alive(&server));
}

#[test]
fn produce_v0_to_v2_and_fetch_v0_to_v3_get_unsupported_version_per_partition() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut s = connect(&server);
    assert_eq!(metadata_error(&mut s, "t"), 0);
    for version in 0..=2 {
        // acks 1, timeout, one topic, partition 0 with a (never read) message set.
        let mut body = 1i16.to_be_bytes().to_vec();
        body.extend_from_slice(&1000i32.to_be_bytes());
        body.extend_from_slice(&1i32.to_be_bytes());
        kstr(&mut body, "t");
        body.extend_from_slice(&1i32.to_be_bytes());
        body.extend_from_slice(&0i32.to_be_bytes());
        body.extend_from_slice(&4i32.to_be_bytes());
        body.extend_from_slice(b"v0ms");
        s.write_all(&request(0, version, 31, &body)).unwrap();
        let r = response(&mut s).expect("Produce answer");
        assert_eq!(i32_at(&r, 0), 31);
        // corr, topics, name, partitions, index, error.
        assert_eq!(
            i16_at(&r, 4 + 4 + 3 + 4 + 4),
            UNSUPPORTED_VERSION,
            "v{version}"
        );
    }
    for version in 0..=3 {
        let mut body = (-1i32).to_be_bytes().to_vec();
        body.extend_from_slice(&100i32.to_be_bytes());
        body.extend_from_slice(&1i32.to_be_bytes());
        if version == 3 {
            body.extend_from_slice(&(1i32 << 20).to_be_bytes());
        }
        body.extend_from_slice(&1i32.to_be_bytes());
        kstr(&mut body, "t");
        body.extend_from_slice(&1i32.to_be_bytes());
        body.extend_from_slice(&0i32.to_be_bytes());
        body.extend_from_slice(&0i64.to_be_bytes());
        body.extend_from_slice(&(1i32 << 20).to_be_bytes());
        s.write_all(&request(1, version, 32, &body)).unwrap();
        let r = response(&mut s).expect("Fetch answer");
        let throttle = if version >= 1 { 4 } else { 0 };
        assert_eq!(
            i16_at(&r, 4 + throttle + 4 + 3 + 4 + 4),
            UNSUPPORTED_VERSION,
            "v{version}"
        );
    }
    assert_eq!(high_watermark(&server, "t"), 0, "nothing was appended");
}

#[test]
fn kafka_3_admin_and_list_offsets_v0_versions_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut s = connect(&server);
    // CreateTopics v0 of "made0" with 2 partitions, then v1 validate-only of "check1".
    for (version, name, validate_only) in [(0, "made0", None), (1, "check1", Some(1u8))] {
        let mut body = 1i32.to_be_bytes().to_vec();
        kstr(&mut body, name);
        body.extend_from_slice(&2i32.to_be_bytes());
        body.extend_from_slice(&1i16.to_be_bytes());
        body.extend_from_slice(&0i32.to_be_bytes()); // assignments
        body.extend_from_slice(&0i32.to_be_bytes()); // configs
        body.extend_from_slice(&1000i32.to_be_bytes());
        body.extend(validate_only);
        s.write_all(&request(19, version, 40, &body)).unwrap();
        let r = response(&mut s).expect("CreateTopics answer");
        // corr, topics[name, error(, message)].
        assert_eq!(i32_at(&r, 4), 1);
        assert_eq!(i16_at(&r, 8 + 2 + name.len()), 0, "v{version}");
        if version == 1 {
            assert_eq!(i16_at(&r, 10 + 2 + name.len()), -1, "no message");
        }
    }
    let topic = |name: &str| {
        http()
            .get(server.at(&format!("/v1/topics/{name}")))
            .send()
            .unwrap()
    };
    let made: serde_json::Value = topic("made0").json().unwrap();
    assert_eq!(made["partitions"].as_array().unwrap().len(), 2);
    assert_eq!(topic("check1").status().as_u16(), 404, "validate only");

    // ListOffsets v0, latest of partition 0, at most one offset.
    let mut body = (-1i32).to_be_bytes().to_vec();
    body.extend_from_slice(&1i32.to_be_bytes());
    kstr(&mut body, "made0");
    body.extend_from_slice(&1i32.to_be_bytes());
    body.extend_from_slice(&0i32.to_be_bytes());
    body.extend_from_slice(&(-1i64).to_be_bytes());
    body.extend_from_slice(&1i32.to_be_bytes());
    s.write_all(&request(2, 0, 41, &body)).unwrap();
    let r = response(&mut s).expect("ListOffsets v0 answer");
    // corr, topics, name, partitions, index, error, offsets[1] = [0].
    let at = 4 + 4 + 2 + 5 + 4 + 4;
    assert_eq!(i16_at(&r, at), 0);
    assert_eq!((i32_at(&r, at + 2), i64_at(&r, at + 6)), (1, 0));

    // DescribeConfigs v0 of the topic: every entry, is_default instead of a source.
    let mut body = 1i32.to_be_bytes().to_vec();
    body.push(2); // topic
    kstr(&mut body, "made0");
    body.extend_from_slice(&(-1i32).to_be_bytes()); // all keys
    s.write_all(&request(32, 0, 42, &body)).unwrap();
    let r = response(&mut s).expect("DescribeConfigs v0 answer");
    // corr, throttle, results, error, message (null), type, name, configs.
    assert_eq!(i32_at(&r, 8), 1);
    assert_eq!(i16_at(&r, 12), 0);
    assert_eq!(i16_at(&r, 14), -1);
    let at = 16 + 1 + 2 + 5;
    let configs = i32_at(&r, at);
    assert!(configs > 5, "{configs} entries");
    let name_len = i16_at(&r, at + 4) as usize;
    let value_at = at + 6 + name_len;
    let value_len = i16_at(&r, value_at).max(0) as usize;
    let flags = &r[value_at + 2 + value_len..value_at + 5 + value_len];
    assert_eq!(flags, [0, 1, 0], "read-only, default, sensitive");

    // DeleteTopics v0.
    let mut body = 1i32.to_be_bytes().to_vec();
    kstr(&mut body, "made0");
    body.extend_from_slice(&1000i32.to_be_bytes());
    s.write_all(&request(20, 0, 43, &body)).unwrap();
    let r = response(&mut s).expect("DeleteTopics v0 answer");
    // corr, results[name, error]: no throttle time in v0.
    assert_eq!(i32_at(&r, 4), 1);
    assert_eq!(i16_at(&r, 8 + 2 + 5), 0);
    assert_eq!(topic("made0").status().as_u16(), 404);
}
