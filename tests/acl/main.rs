//! ACLs (issue 13, point 1) against a real `weir serve`: the first user administers;
//! a second one without ACLs is refused with Kafka's error codes
//! (TOPIC_AUTHORIZATION_FAILED on Produce, Metadata and ListOffsets,
//! GROUP_AUTHORIZATION_FAILED on JoinGroup, DescribeGroups and OffsetCommit,
//! TRANSACTIONAL_ID_AUTHORIZATION_FAILED on InitProducerId, TOPIC_/CLUSTER_ on
//! DescribeConfigs, CLUSTER_AUTHORIZATION_FAILED on CreateAcls and DescribeAcls) and with
//! HTTP 403 naming the operation and resource (401 without credentials, a module
//! upload included); ACLs added, listed and removed through Kafka's
//! CreateAcls/DescribeAcls/DeleteAcls (raw, and confluent-kafka's AdminClient),
//! `/v1/acls` and `weir acl` take effect at once. Listings on both listeners show what
//! the caller may DESCRIBE; authorized-operations fields, idempotent InitProducerId
//! (KIP-679) and CreateAcls' per-creation results over one atomic write follow Kafka.
//!
//! - [`kafka`]: the Kafka listener's denials and ACL APIs.
//! - [`http`]: the HTTP API's denials, `/v1/acls`, `weir acl`, AdminClient.
#[path = "../common/mod.rs"]
mod common;

mod http;
mod kafka;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Output};
use std::time::Duration;

use bytes::Bytes;
use common::wire::ask;
use common::{Install, Server, create_topic_as, http, run_client_on, weir_bin};
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    BrokerId, CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest, DescribeClusterRequest,
    DescribeConfigsRequest, DescribeGroupsRequest, FindCoordinatorRequest, GroupId,
    InitProducerIdRequest, JoinGroupRequest, ListGroupsRequest, ListOffsetsRequest,
    MetadataRequest, OffsetCommitRequest, ProduceRequest, SaslAuthenticateRequest,
    SaslHandshakeRequest, TopicName, TransactionalId,
};
use kafka_protocol::protocol::StrBytes;
use serde_json::{Value, json};
use weir::log::batch::{Record, encode_batch};

const TOPIC_AUTHORIZATION_FAILED: i16 = 29;
const GROUP_AUTHORIZATION_FAILED: i16 = 30;
const CLUSTER_AUTHORIZATION_FAILED: i16 = 31;
const TRANSACTIONAL_ID_AUTHORIZATION_FAILED: i16 = 53;

/// A connection authenticated as `user` with SASL PLAIN (accepted from loopback).
fn login(server: &Server, user: &str, password: &str) -> TcpStream {
    let mut s = TcpStream::connect(&server.kafka).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut hs = SaslHandshakeRequest::default();
    hs.mechanism = StrBytes::from_static_str("PLAIN");
    assert_eq!(ask(&mut s, 1, &hs).error_code, 0);
    let mut auth = SaslAuthenticateRequest::default();
    auth.auth_bytes = Bytes::from(format!("\0{user}\0{password}").into_bytes());
    assert_eq!(ask(&mut s, 2, &auth).error_code, 0, "SASL PLAIN as {user}");
    s
}

/// Produces one record to partition 0 of `topic`; the partition's error code.
fn produce(s: &mut TcpStream, topic: &str) -> i16 {
    let record = Record {
        value: Some(b"v".to_vec().into()),
        timestamp: 1,
        ..Record::default()
    };
    let batch = encode_batch(&[record], 0).unwrap();
    let mut p = PartitionProduceData::default();
    p.index = 0;
    p.records = Some(Bytes::from(batch));
    let mut t = TopicProduceData::default();
    t.name = TopicName(StrBytes::from_string(topic.into()));
    t.partition_data = vec![p];
    let mut req = ProduceRequest::default();
    req.acks = -1;
    req.timeout_ms = 5000;
    req.topic_data = vec![t];
    ask(s, 9, &req).responses[0].partition_responses[0].error_code
}

fn metadata_of(s: &mut TcpStream, topic: Option<&str>) -> Vec<(String, i16)> {
    let mut req = MetadataRequest::default();
    req.topics = topic.map(|t| {
        let mut m = MetadataRequestTopic::default();
        m.name = Some(TopicName(StrBytes::from_string(t.into())));
        vec![m]
    });
    ask(s, 9, &req)
        .topics
        .into_iter()
        .map(|t| {
            (
                t.name.map(|n| n.0.to_string()).unwrap_or_default(),
                t.error_code,
            )
        })
        .collect()
}

fn acl_creation(
    principal: &str,
    resource_type: i8,
    name: &str,
    pattern: i8,
    op: i8,
) -> AclCreation {
    let mut c = AclCreation::default();
    c.resource_type = resource_type;
    c.resource_name = StrBytes::from_string(name.into());
    c.resource_pattern_type = pattern;
    c.principal = StrBytes::from_string(principal.into());
    c.host = StrBytes::from_static_str("*");
    c.operation = op;
    c.permission_type = 3; // ALLOW
    c
}

fn create_acls(s: &mut TcpStream, creations: Vec<AclCreation>) -> Vec<i16> {
    let mut req = CreateAclsRequest::default();
    req.creations = creations;
    ask(s, 3, &req)
        .results
        .iter()
        .map(|r| r.error_code)
        .collect()
}

/// Adds the first user (the administrator) over HTTP without credentials, then
/// `bob` with the administrator's basic credentials.
fn admin_and_bob(server: &Server) {
    let r = http()
        .post(server.at("/v1/users"))
        .json(&json!({"name": "admin", "password": "admin-pw"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().unwrap());
    let r = http()
        .post(server.at("/v1/users"))
        .basic_auth("admin", Some("admin-pw"))
        .json(&json!({"name": "bob", "password": "bob-pw"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().unwrap());
}
