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
