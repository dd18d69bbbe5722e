//! The Kafka listener: denials with Kafka's error codes, and the ACL APIs changing them.

use super::*;

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
    // DescribeCluster: answered to anyone, as in Kafka (the Java AdminClient sends it
    // before describing topics), with no authorised operations without ACLs on the
    // cluster; with DESCRIBE, exactly the ones the ACLs allow.
    let mut dcl = DescribeClusterRequest::default();
    dcl.include_cluster_authorized_operations = true;
    let unprivileged = ask(&mut bob, 0, &dcl);
    assert_eq!(unprivileged.error_code, 0);
    assert_eq!(unprivileged.cluster_authorized_operations, 0);
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

/// Metadata, DescribeGroups and ListGroups as Kafka answers them: the authorized
/// operations when asked (and Kafka's "not requested" value otherwise), groups
/// listed per DESCRIBE on each or all with DESCRIBE on the cluster; an idempotent
/// InitProducerId needs IDEMPOTENT_WRITE on the cluster or WRITE on some topic.
#[test]
fn authorized_operations_listings_and_idempotent_producers_follow_kafka() {
    const NOT_REQUESTED: i32 = i32::MIN;
    let (read, write, describe) = (1 << 3, 1 << 4, 1 << 8);
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    admin_and_bob(&server);
    create_topic_as(&server, "orders", 1, ("admin", "admin-pw"));
    create_topic_as(&server, "secret", 1, ("admin", "admin-pw"));
    for group in ["g1", "g2"] {
        let r = http()
            .post(server.at(&format!("/v1/groups/{group}/offsets")))
            .basic_auth("admin", Some("admin-pw"))
            .json(&json!({"offsets": [{"topic": "orders", "partition": 0, "offset": 0}]}))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().unwrap());
    }
    let mut admin = login(&server, "admin", "admin-pw");
    let mut bob = login(&server, "bob", "bob-pw");

    // KIP-679: no ACL, or only READ, is not enough for an idempotent producer id.
    let idempotent = InitProducerIdRequest::default();
    let init = |s: &mut TcpStream| {
        let r = ask(s, 4, &idempotent);
        (r.error_code, r.producer_id.0)
    };
    assert_eq!(init(&mut bob).0, CLUSTER_AUTHORIZATION_FAILED);
    let read_orders = acl_creation("User:bob", 2, "orders", 3, 3); // TOPIC orders READ
    assert_eq!(create_acls(&mut admin, vec![read_orders]), vec![0]);
    assert_eq!(init(&mut bob).0, CLUSTER_AUTHORIZATION_FAILED);
    let write_ord = acl_creation("User:bob", 2, "ord", 4, 4); // TOPIC ord* PREFIXED WRITE
    assert_eq!(create_acls(&mut admin, vec![write_ord]), vec![0]);
    let (code, id) = init(&mut bob);
    assert_eq!((code, id >= 0), (0, true));
    assert_eq!(init(&mut admin).0, 0, "ALL on the cluster");

    // Metadata v9: the topic's and the cluster's operations, only when asked.
    let metadata = |s: &mut TcpStream, asked: bool| {
        let mut req = MetadataRequest::default();
        req.topics = Some(
            ["orders", "secret"]
                .iter()
                .map(|t| {
                    let mut m = MetadataRequestTopic::default();
                    m.name = Some(TopicName(StrBytes::from_static_str(t)));
                    m
                })
                .collect(),
        );
        req.include_topic_authorized_operations = asked;
        req.include_cluster_authorized_operations = asked;
        let r = ask(s, 9, &req);
        let topics: Vec<(i16, i32)> = r
            .topics
            .iter()
            .map(|t| (t.error_code, t.topic_authorized_operations))
            .collect();
        (topics, r.cluster_authorized_operations)
    };
    assert_eq!(
        metadata(&mut bob, true),
        (
            vec![
                (0, read | write | describe),
                (TOPIC_AUTHORIZATION_FAILED, NOT_REQUESTED)
            ],
            0
        )
    );
    assert_eq!(
        metadata(&mut bob, false),
        (
            vec![
                (0, NOT_REQUESTED),
                (TOPIC_AUTHORIZATION_FAILED, NOT_REQUESTED)
            ],
            NOT_REQUESTED
        )
    );
    let every_topic_op = [3, 4, 5, 6, 7, 8, 10, 11]
        .iter()
        .fold(0, |b, c| b | (1 << c));
    let (topics, cluster) = metadata(&mut admin, true);
    assert_eq!(topics, vec![(0, every_topic_op), (0, every_topic_op)]);
    assert_eq!(
        cluster,
        [5, 7, 8, 9, 10, 11, 12].iter().fold(0, |b, c| b | (1 << c))
    );

    // DescribeGroups v5: the group's operations when asked.
    let describe_g1 = acl_creation("User:bob", 3, "g1", 3, 8); // GROUP g1 DESCRIBE
    assert_eq!(create_acls(&mut admin, vec![describe_g1]), vec![0]);
    let describe_groups = |s: &mut TcpStream, asked: bool| {
        let mut req = DescribeGroupsRequest::default();
        req.groups = vec![
            GroupId(StrBytes::from_static_str("g1")),
            GroupId(StrBytes::from_static_str("g2")),
        ];
        req.include_authorized_operations = asked;
        ask(s, 5, &req)
            .groups
            .iter()
            .map(|g| (g.error_code, g.authorized_operations))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        describe_groups(&mut bob, true),
        vec![(0, describe), (GROUP_AUTHORIZATION_FAILED, NOT_REQUESTED)]
    );
    assert_eq!(describe_groups(&mut bob, false)[0], (0, NOT_REQUESTED));
    assert_eq!(
        describe_groups(&mut admin, true),
        vec![(0, read | describe | (1 << 6)); 2]
    );

    // ListGroups: the groups Bob may DESCRIBE; every group once he may DESCRIBE
    // the cluster.
    let list_groups = |s: &mut TcpStream| {
        let mut names: Vec<String> = ask(s, 4, &ListGroupsRequest::default())
            .groups
            .iter()
            .map(|g| g.group_id.0.to_string())
            .collect();
        names.sort();
        names
    };
    assert_eq!(list_groups(&mut bob), vec!["g1"]);
    let describe_cluster = acl_creation("User:bob", 4, "kafka-cluster", 3, 8);
    assert_eq!(create_acls(&mut admin, vec![describe_cluster]), vec![0]);
    assert_eq!(list_groups(&mut bob), vec!["g1", "g2"]);
    assert!(server.stop());
}

/// CreateAcls as Kafka's controller does it: each creation has its own result,
/// and the accepted ones are committed together, so a reader never sees part of a
/// request.
#[test]
fn a_create_acls_request_is_seen_whole_and_answered_per_creation() {
    const CREATIONS: usize = 40;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    admin_and_bob(&server);
    let mut admin = login(&server, "admin", "admin-pw");
    let carols = {
        let mut d = DescribeAclsRequest::default();
        d.resource_name_filter = None;
        d.principal_filter = Some(StrBytes::from_static_str("User:carol"));
        d.host_filter = None;
        d.resource_type_filter = 1; // ANY
        d.pattern_type_filter = 1;
        d.operation = 1;
        d.permission_type = 1;
        d
    };
    for round in 0..3 {
        // A second connection watches Carol's ACLs while the request is applied.
        let mut watcher = login(&server, "admin", "admin-pw");
        let watch = carols.clone();
        let seen = std::thread::spawn(move || {
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            let mut seen = Vec::new();
            while std::time::Instant::now() < deadline {
                let count: usize = ask(&mut watcher, 3, &watch)
                    .resources
                    .iter()
                    .map(|r| r.acls.len())
                    .sum();
                seen.push(count);
                if count == CREATIONS {
                    break;
                }
            }
            seen
        });
        let mut creations: Vec<AclCreation> = (0..CREATIONS)
            .map(|i| acl_creation("User:carol", 2, &format!("t{round}-{i}"), 3, 3))
            .collect();
        // An invalid one in the middle (operation ANY) fails alone.
        creations.insert(CREATIONS / 2, acl_creation("User:carol", 2, "x", 3, 1));
        let codes = create_acls(&mut admin, creations);
        let mut want = vec![0; CREATIONS + 1];
        want[CREATIONS / 2] = 42; // INVALID_REQUEST
        assert_eq!(codes, want);
        let seen = seen.join().unwrap();
        assert_eq!(seen.last(), Some(&CREATIONS), "round {round}: {seen:?}");
        assert!(
            seen.iter().all(|&n| n == 0 || n == CREATIONS),
            "round {round}: a reader saw part of one CreateAcls request: {seen:?}"
        );
        let mut filter = DeleteAclsFilter::default();
        filter.resource_type_filter = 1;
        filter.resource_name_filter = None;
        filter.host_filter = None;
        filter.pattern_type_filter = 1;
        filter.principal_filter = Some(StrBytes::from_static_str("User:carol"));
        filter.operation = 1;
        filter.permission_type = 1;
        let mut delete = DeleteAclsRequest::default();
        delete.filters = vec![filter];
        let deleted = ask(&mut admin, 3, &delete);
        assert_eq!(deleted.filter_results[0].matching_acls.len(), CREATIONS);
    }
    assert!(server.stop());
}
