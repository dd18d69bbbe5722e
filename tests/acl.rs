//! ACLs (issue 13, point 1) against a real `weir serve`: the first user administers;
//! a second one without ACLs is refused with Kafka's error codes
//! (TOPIC_AUTHORIZATION_FAILED on Produce, Metadata and ListOffsets,
//! GROUP_AUTHORIZATION_FAILED on JoinGroup, DescribeGroups and OffsetCommit,
//! TRANSACTIONAL_ID_AUTHORIZATION_FAILED on InitProducerId, TOPIC_/CLUSTER_ on
//! DescribeConfigs, CLUSTER_AUTHORIZATION_FAILED on CreateAcls and DescribeAcls) and with
//! HTTP 403 naming the operation and resource (401 without credentials, a module
//! upload included); ACLs added, listed and removed through Kafka's
//! CreateAcls/DescribeAcls/DeleteAcls (raw, and confluent-kafka's AdminClient),
//! `/v1/acls` and `weir acl` take effect at once.
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Output};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
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
    ApiKey, BrokerId, CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest,
    DescribeClusterRequest, DescribeConfigsRequest, DescribeGroupsRequest, FindCoordinatorRequest,
    GroupId, InitProducerIdRequest, JoinGroupRequest, ListOffsetsRequest, MetadataRequest,
    OffsetCommitRequest, ProduceRequest, RequestHeader, ResponseHeader, SaslAuthenticateRequest,
    SaslHandshakeRequest, TopicName, TransactionalId,
};
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};
use serde_json::{Value, json};
use weir::log::batch::{Record, encode_batch};

const TOPIC_AUTHORIZATION_FAILED: i16 = 29;
const GROUP_AUTHORIZATION_FAILED: i16 = 30;
const CLUSTER_AUTHORIZATION_FAILED: i16 = 31;
const TRANSACTIONAL_ID_AUTHORIZATION_FAILED: i16 = 53;

fn frame<R: Request + Encodable>(version: i16, req: &R) -> Vec<u8> {
    let key = ApiKey::try_from(R::KEY).unwrap();
    let mut header = RequestHeader::default();
    header.request_api_key = R::KEY;
    header.request_api_version = version;
    header.correlation_id = 7;
    header.client_id = Some(StrBytes::from_static_str("acl-test"));
    let mut buf = BytesMut::new();
    header
        .encode(&mut buf, key.request_header_version(version))
        .unwrap();
    req.encode(&mut buf, version).unwrap();
    let mut out = (buf.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(&buf);
    out
}

fn ask<R: Request + Encodable>(s: &mut TcpStream, version: i16, req: &R) -> R::Response {
    s.write_all(&frame(version, req)).unwrap();
    let mut len = [0u8; 4];
    s.read_exact(&mut len).expect("an answer, not a close");
    let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).unwrap();
    let key = ApiKey::try_from(R::KEY).unwrap();
    let mut buf = Bytes::from(body);
    let header = ResponseHeader::decode(&mut buf, key.response_header_version(version)).unwrap();
    assert_eq!(header.correlation_id, 7);
    R::Response::decode(&mut buf, version).unwrap()
}

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

#[test]
fn kafka_denials_carry_kafkas_error_codes_and_the_acl_apis_change_them() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    admin_and_bob(&server);
    create_topic_as(&server, "orders", 1, ("admin", "admin-pw"));
    let mut admin = login(&server, "admin", "admin-pw");
    let mut bob = login(&server, "bob", "bob-pw");

    // The first user administers: it may produce and see the topic.
    assert_eq!(produce(&mut admin, "orders"), 0);
    // Bob has no ACL: everything is refused with the matching code.
    assert_eq!(produce(&mut bob, "orders"), TOPIC_AUTHORIZATION_FAILED);
    assert_eq!(
        metadata_of(&mut bob, Some("orders")),
        vec![("orders".to_string(), TOPIC_AUTHORIZATION_FAILED)]
    );
    assert!(
        metadata_of(&mut bob, None).is_empty(),
        "unauthorised topics are omitted"
    );
    let mut join = JoinGroupRequest::default();
    join.group_id = GroupId(StrBytes::from_static_str("g"));
    join.session_timeout_ms = 10_000;
    join.rebalance_timeout_ms = 10_000;
    join.protocol_type = StrBytes::from_static_str("consumer");
    assert_eq!(
        ask(&mut bob, 5, &join).error_code,
        GROUP_AUTHORIZATION_FAILED
    );
    let commit = {
        let mut p = OffsetCommitRequestPartition::default();
        p.partition_index = 0;
        p.committed_offset = 1;
        let mut t = OffsetCommitRequestTopic::default();
        t.name = TopicName(StrBytes::from_static_str("orders"));
        t.partitions = vec![p];
        let mut c = OffsetCommitRequest::default();
        c.group_id = GroupId(StrBytes::from_static_str("g"));
        c.generation_id_or_member_epoch = -1;
        c.topics = vec![t];
        c
    };
    let code =
        |r: kafka_protocol::messages::OffsetCommitResponse| r.topics[0].partitions[0].error_code;
    assert_eq!(code(ask(&mut bob, 8, &commit)), GROUP_AUTHORIZATION_FAILED);
    // The other per-resource APIs answer the same way.
    let mut lo_p = ListOffsetsPartition::default();
    lo_p.partition_index = 0;
    lo_p.timestamp = -1;
    let mut lo_t = ListOffsetsTopic::default();
    lo_t.name = TopicName(StrBytes::from_static_str("orders"));
    lo_t.partitions = vec![lo_p];
    let mut lo = ListOffsetsRequest::default();
    lo.replica_id = BrokerId(-1);
    lo.topics = vec![lo_t];
    let r = ask(&mut bob, 7, &lo);
    assert_eq!(
        r.topics[0].partitions[0].error_code,
        TOPIC_AUTHORIZATION_FAILED
    );
    let mut dg = DescribeGroupsRequest::default();
    dg.groups = vec![GroupId(StrBytes::from_static_str("g"))];
    assert_eq!(
        ask(&mut bob, 5, &dg).groups[0].error_code,
        GROUP_AUTHORIZATION_FAILED
    );
    let mut init = InitProducerIdRequest::default();
    init.transactional_id = Some(TransactionalId(StrBytes::from_static_str("tx")));
    init.transaction_timeout_ms = 60_000;
    assert_eq!(
        ask(&mut bob, 4, &init).error_code,
        TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    );
    let config = |kind: i8, name: &'static str| {
        let mut r = DescribeConfigsResource::default();
        r.resource_type = kind;
        r.resource_name = StrBytes::from_static_str(name);
        r.configuration_keys = None;
        r
    };
    let mut dc = DescribeConfigsRequest::default();
    dc.resources = vec![config(2, "orders"), config(4, "0")];
    let codes: Vec<i16> = ask(&mut bob, 4, &dc)
        .results
        .iter()
        .map(|r| r.error_code)
        .collect();
    assert_eq!(
        codes,
        vec![TOPIC_AUTHORIZATION_FAILED, CLUSTER_AUTHORIZATION_FAILED]
    );
    let mut fc = FindCoordinatorRequest::default();
    fc.key_type = 0;
    fc.coordinator_keys = vec![StrBytes::from_static_str("g")];
    let r = ask(&mut bob, 4, &fc);
    assert_eq!(r.coordinators[0].error_code, GROUP_AUTHORIZATION_FAILED);
    // Bob may not grant himself anything.
    let grant = acl_creation("User:bob", 2, "ord", 4, 4); // TOPIC ord* PREFIXED WRITE
    assert_eq!(
        create_acls(&mut bob, vec![grant.clone()]),
        vec![CLUSTER_AUTHORIZATION_FAILED]
    );
    let describe = {
        let mut d = DescribeAclsRequest::default();
        // The protocol crate defaults the nullable filters to "", not null.
        d.resource_name_filter = None;
        d.principal_filter = None;
        d.host_filter = None;
        d.resource_type_filter = 1; // ANY
        d.pattern_type_filter = 1;
        d.operation = 1;
        d.permission_type = 1;
        d
    };
    assert_eq!(
        ask(&mut bob, 3, &describe).error_code,
        CLUSTER_AUTHORIZATION_FAILED
    );

    // The administrator grants WRITE on the prefix `ord` and READ on group g.
    let read_group = acl_creation("User:bob", 3, "g", 3, 3); // GROUP g LITERAL READ
    assert_eq!(create_acls(&mut admin, vec![grant, read_group]), vec![0, 0]);
    assert_eq!(produce(&mut bob, "orders"), 0);
    // WRITE implies DESCRIBE: the topic is now listed.
    assert_eq!(metadata_of(&mut bob, None), vec![("orders".to_string(), 0)]);
    // DescribeCluster: refused without DESCRIBE on the cluster; with it, the
    // authorised operations it reports are exactly the ones the ACLs allow.
    let mut dcl = DescribeClusterRequest::default();
    dcl.include_cluster_authorized_operations = true;
    assert_eq!(
        ask(&mut bob, 0, &dcl).error_code,
        CLUSTER_AUTHORIZATION_FAILED
    );
    let describe_cluster = acl_creation("User:bob", 4, "kafka-cluster", 3, 8);
    assert_eq!(create_acls(&mut admin, vec![describe_cluster]), vec![0]);
    assert_eq!(ask(&mut bob, 0, &dcl).cluster_authorized_operations, 1 << 8);
    let all_seven = (1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12);
    assert_eq!(
        ask(&mut admin, 0, &dcl).cluster_authorized_operations,
        all_seven
    );
    // READ on the group is not READ on the topic: the commit is refused per topic.
    assert_eq!(code(ask(&mut bob, 8, &commit)), TOPIC_AUTHORIZATION_FAILED);
    let listed = ask(&mut admin, 3, &describe);
    assert_eq!(listed.error_code, 0);
    let bobs: Vec<(i8, String, i8)> = listed
        .resources
        .iter()
        .filter(|r| r.acls.iter().any(|a| a.principal.as_str() == "User:bob"))
        .map(|r| (r.resource_type, r.resource_name.to_string(), r.pattern_type))
        .collect();
    assert_eq!(
        bobs,
        vec![
            (2, "ord".to_string(), 4),
            (3, "g".to_string(), 3),
            (4, "kafka-cluster".to_string(), 3)
        ],
        "{listed:?}"
    );
    // An invalid binding is refused on its own (principal without `User:`).
    let bad = acl_creation("bob", 2, "x", 3, 3);
    assert_eq!(create_acls(&mut admin, vec![bad]), vec![42]); // INVALID_REQUEST

    // DeleteAcls removes the topic ACL: produce is refused again.
    let mut filter = DeleteAclsFilter::default();
    filter.resource_type_filter = 2;
    filter.resource_name_filter = None;
    filter.host_filter = None;
    filter.pattern_type_filter = 1; // ANY
    filter.principal_filter = Some(StrBytes::from_static_str("User:bob"));
    filter.operation = 1;
    filter.permission_type = 1;
    let mut delete = DeleteAclsRequest::default();
    delete.filters = vec![filter];
    let deleted = ask(&mut admin, 3, &delete);
    assert_eq!(deleted.filter_results[0].error_code, 0);
    assert_eq!(deleted.filter_results[0].matching_acls.len(), 1);
    assert_eq!(produce(&mut bob, "orders"), TOPIC_AUTHORIZATION_FAILED);
    assert!(server.stop());
}

/// Runs the `weir` CLI as `user`.
fn weir_as(server: &Server, user: &str, password: &str, args: &[&str]) -> Output {
    Command::new(weir_bin())
        .arg("--url")
        .arg(&server.url)
        .args(args)
        .env_remove("WEIR_TOKEN")
        .env("WEIR_USER", user)
        .env("WEIR_PASSWORD", password)
        .output()
        .expect("run weir")
}

#[test]
fn http_denials_are_403_naming_what_and_acls_are_managed_over_http_and_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    admin_and_bob(&server);
    create_topic_as(&server, "logs", 1, ("admin", "admin-pw"));
    let get = |path: &str, who: Option<(&str, &str)>| {
        let mut r = http().get(server.at(path));
        if let Some((u, p)) = who {
            r = r.basic_auth(u, Some(p));
        }
        let r = r.send().unwrap();
        let status = r.status().as_u16();
        (status, r.json::<Value>().unwrap_or(Value::Null))
    };
    let bob = Some(("bob", "bob-pw"));
    let admin = Some(("admin", "admin-pw"));
    assert_eq!(get("/v1/topics/logs", None).0, 401);
    let (status, body) = get("/v1/topics/logs", bob);
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "acl_denied");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("User:bob") && message.contains("DESCRIBE") && message.contains("logs"),
        "{message}"
    );
    assert_eq!(get("/v1/topics/logs", admin).0, 200);
    // Module uploads: 401 without credentials, 403 without CREATE on the module.
    let upload = |who: Option<(&str, &str)>| {
        let mut r = http()
            .post(server.at("/v1/modules/m"))
            .header("content-type", "application/wasm")
            .body(vec![0u8; 1024]);
        if let Some((u, p)) = who {
            r = r.basic_auth(u, Some(p));
        }
        r.send().unwrap().status().as_u16()
    };
    assert_eq!(upload(None), 401);
    assert_eq!(upload(bob), 403);
    // Bob may not touch ACLs.
    let r = http()
        .post(server.at("/v1/acls"))
        .basic_auth("bob", Some("bob-pw"))
        .json(&json!({"resource_type": "TOPIC", "resource_name": "*", "principal": "User:bob", "operation": "ALL"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);

    // The administrator grants READ on `logs` over HTTP: READ implies DESCRIBE.
    let r = http()
        .post(server.at("/v1/acls"))
        .basic_auth("admin", Some("admin-pw"))
        .json(&json!({"resource_type": "topic", "resource_name": "logs", "principal": "User:bob", "operation": "READ"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().unwrap());
    assert_eq!(get("/v1/topics/logs", bob).0, 200);
    let (status, listed) = get("/v1/acls?principal=User:bob", admin);
    assert_eq!(status, 200);
    assert_eq!(listed["acls"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["acls"][0]["pattern_type"], "LITERAL");
    assert_eq!(listed["acls"][0]["permission"], "ALLOW");
    // A bad binding is a 400 naming the field's choices.
    let r = http()
        .post(server.at("/v1/acls"))
        .basic_auth("admin", Some("admin-pw"))
        .json(&json!({"resource_type": "TOPIC", "resource_name": "x", "principal": "User:bob", "operation": "SING"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    // A DELETE without a filter is refused rather than wiping every ACL.
    let r = http()
        .delete(server.at("/v1/acls"))
        .basic_auth("admin", Some("admin-pw"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = http()
        .delete(server.at("/v1/acls?principal=User:bob"))
        .basic_auth("admin", Some("admin-pw"))
        .send()
        .unwrap();
    let body: Value = r.json().unwrap();
    assert_eq!(body["deleted"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(get("/v1/topics/logs", bob).0, 403);

    // Committing offsets over HTTP: READ on the group, then on each topic.
    let commit = || {
        http()
            .post(server.at("/v1/groups/hg/offsets"))
            .basic_auth("bob", Some("bob-pw"))
            .json(&json!({"offsets": [{"topic": "logs", "partition": 0, "offset": 0}]}))
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(commit(), 403);
    let r = http()
        .post(server.at("/v1/acls"))
        .basic_auth("admin", Some("admin-pw"))
        .json(&json!({"resource_type": "GROUP", "resource_name": "hg", "principal": "User:bob", "operation": "READ"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(commit(), 403, "READ on the group but not on the topic");
    let r = http()
        .post(server.at("/v1/acls"))
        .basic_auth("admin", Some("admin-pw"))
        .json(&json!({"resource_type": "TOPIC", "resource_name": "logs", "principal": "User:bob", "operation": "READ"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(commit(), 200);
    // Creating a topic (its name is in the body) needs CREATE on the cluster or on
    // the topic, as Kafka's CreateTopics: a PREFIXED CREATE on `bob-` is enough.
    let create = |name: &str| {
        http()
            .post(server.at("/v1/topics"))
            .basic_auth("bob", Some("bob-pw"))
            .json(&json!({"name": name, "partitions": 1}))
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(create("bob-1"), 403);
    let r = http()
        .post(server.at("/v1/acls"))
        .basic_auth("admin", Some("admin-pw"))
        .json(&json!({"resource_type": "TOPIC", "resource_name": "bob-", "pattern_type": "PREFIXED", "principal": "User:bob", "operation": "CREATE"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(create("bob-1"), 201);
    assert_eq!(create("alice-1"), 403);
    // The CLI: add, list, remove; bob's CLI gets the 403 as an error.
    let out = weir_as(
        &server,
        "admin",
        "admin-pw",
        &[
            "acl",
            "add",
            "--principal",
            "User:bob",
            "--operation",
            "write",
            "--topic",
            "lo",
            "--prefixed",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = weir_as(
        &server,
        "admin",
        "admin-pw",
        &["acl", "list", "--principal", "User:bob"],
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("WRITE") && table.contains("PREFIXED") && table.contains("lo"),
        "{table}"
    );
    let r = http()
        .post(server.at("/v1/topics/logs/records"))
        .basic_auth("bob", Some("bob-pw"))
        .json(&json!({"records": [{"value": "x"}]}))
        .send()
        .unwrap();
    assert_ne!(r.status(), 403, "WRITE on the prefix lets bob produce");
    let out = weir_as(&server, "bob", "bob-pw", &["acl", "list"]);
    assert!(!out.status.success());
    let out = weir_as(
        &server,
        "admin",
        "admin-pw",
        &["acl", "remove", "--principal", "User:bob"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("removed 4"));
    assert!(server.stop());
}

fn confluent_admin_client_creates_describes_and_deletes_acls(install: Install) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    admin_and_bob(&server);
    create_topic_as(&server, "payments", 1, ("admin", "admin-pw"));
    let out = run_client_on(
        install,
        "python",
        "confluent_acls.py",
        &[
            "roundtrip",
            &server.kafka,
            "admin",
            "admin-pw",
            "bob",
            "bob-pw",
            "payments",
        ],
    );
    assert_eq!(
        out["described"],
        json!([
            ["TOPIC", "logs-", "PREFIXED", "READ", "ALLOW"],
            ["TOPIC", "payments", "LITERAL", "WRITE", "ALLOW"]
        ]),
        "{out}"
    );
    // The administrator's bootstrap ACLs on Kafka's 4 resource types and bob's two:
    // weir's own types (module, pipeline, connector) are not shown to Kafka clients.
    assert_eq!(out["total"], 6, "{out}");
    assert_eq!(out["before"], Value::Null, "{out}");
    assert_eq!(out["deleted"], 2, "{out}");
    assert_eq!(out["after"], "TOPIC_AUTHORIZATION_FAILED", "{out}");
    assert_eq!(out["refused"], "CLUSTER_AUTHORIZATION_FAILED", "{out}");
    assert!(server.stop());
}

on_both_installs!(confluent_admin_client_creates_describes_and_deletes_acls);

#[test]
fn an_unauthorised_upload_gets_its_403_before_the_body_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    admin_and_bob(&server);
    // A 100 MiB upload announced by bob (no CREATE on the module), 1 KiB sent: the
    // 403 comes without the rest, so no ACL-less user can make the server read it.
    let addr = server.url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "POST /v1/modules/big HTTP/1.1\r\nHost: weir\r\nContent-Type: application/wasm\r\n\
         Authorization: Basic Ym9iOmJvYi1wdw==\r\nContent-Length: {}\r\n\r\n",
        100 << 20
    )
    .unwrap();
    s.write_all(&[0u8; 1024]).unwrap();
    let mut head = [0u8; 12];
    s.read_exact(&mut head)
        .expect("an answer before the body is sent");
    assert_eq!(&head, b"HTTP/1.1 403", "{}", String::from_utf8_lossy(&head));
    assert!(server.stop());
}
