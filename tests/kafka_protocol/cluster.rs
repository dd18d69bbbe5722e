//! DescribeCluster and broker DescribeConfigs where librdkafka does not reach:
//! authorized operations, controller endpoints, another broker's id.

use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use crate::common::Server;
use crate::helpers::*;
use crate::liberal::{ask, frame};

const INVALID_REQUEST: i16 = 42;
const UNSUPPORTED_ENDPOINT_TYPE: i16 = 115;

#[test]
fn describe_cluster_reports_operations_when_asked_and_refuses_controllers() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut s = connect(&server);
    let req = DescribeClusterRequest::default()
        .with_endpoint_type(1)
        .with_include_cluster_authorized_operations(true);
    let resp = ask::<DescribeClusterRequest>(&mut s, 1, &frame(1, 77, &req, &[]), "brokers");
    assert_eq!(resp.error_code, 0);
    assert_eq!(resp.brokers.len(), 1);
    // DESCRIBE (8) and ALTER_CONFIGS (11) among them; READ (3) is no cluster operation.
    let ops = resp.cluster_authorized_operations;
    assert!(
        ops & (1 << 8) != 0 && ops & (1 << 11) != 0 && ops & (1 << 3) == 0,
        "{ops:b}"
    );
    let req = DescribeClusterRequest::default().with_endpoint_type(1);
    let resp = ask::<DescribeClusterRequest>(&mut s, 0, &frame(0, 77, &req, &[]), "v0");
    assert_eq!(
        resp.cluster_authorized_operations,
        i32::MIN,
        "not asked for"
    );
    let req = DescribeClusterRequest::default().with_endpoint_type(2);
    let resp = ask::<DescribeClusterRequest>(&mut s, 1, &frame(1, 77, &req, &[]), "controllers");
    assert_eq!(resp.error_code, UNSUPPORTED_ENDPOINT_TYPE);
    assert!(resp.brokers.is_empty());
}

#[test]
fn broker_configs_answer_for_this_broker_only() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut s = connect(&server);
    let resource = |name: &'static str, keys: Option<Vec<&'static str>>| {
        DescribeConfigsResource::default()
            .with_resource_type(4)
            .with_resource_name(StrBytes::from_static_str(name))
            .with_configuration_keys(
                keys.map(|k| k.into_iter().map(StrBytes::from_static_str).collect()),
            )
    };
    let req = DescribeConfigsRequest::default().with_resources(vec![
        resource(
            "0",
            Some(vec![
                "num.partitions",
                "no.such.config",
                "group.initial.rebalance.delay.ms",
            ]),
        ),
        resource("7", None),
        resource("", None),
    ]);
    let resp = ask::<DescribeConfigsRequest>(&mut s, 4, &frame(4, 77, &req, &[]), "broker");
    let [this, other, defaults] = &resp.results[..] else {
        panic!("{} results", resp.results.len());
    };
    assert_eq!(this.error_code, 0);
    let names: Vec<&str> = this.configs.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        ["group.initial.rebalance.delay.ms", "num.partitions"]
    );
    // The test servers' weir.toml sets the delay to 0 (tests/common's TEST_CONFIG).
    assert_eq!(this.configs[0].value.as_deref(), Some("0"));
    assert_eq!(this.configs[1].value.as_deref(), Some("1"));
    assert_eq!(other.error_code, INVALID_REQUEST);
    assert_eq!((defaults.error_code, defaults.configs.len()), (0, 0));
}

#[test]
fn describe_log_dirs_sizes_every_partition_in_the_one_directory() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut s = connect(&server);
    assert_eq!(metadata_error(&mut s, "sized"), 0);
    produce(&mut s, "sized", 1, &idempotent_batch("x", -1, -1, -1), 1);
    assert_eq!(produce_result(&mut s, "sized").0, 0);
    let all = DescribeLogDirsRequest::default().with_topics(None);
    let resp = ask::<DescribeLogDirsRequest>(&mut s, 4, &frame(4, 77, &all, &[]), "v4");
    assert_eq!(resp.error_code, 0);
    let [d] = &resp.results[..] else {
        panic!("{} log dirs", resp.results.len())
    };
    assert!(d.log_dir.ends_with("/log"), "{}", d.log_dir.as_str());
    let [t] = &d.topics[..] else {
        panic!("{} topics", d.topics.len())
    };
    assert_eq!(t.name.as_str(), "sized");
    assert_eq!(t.partitions.len(), 1);
    assert!(t.partitions[0].partition_size > 0);
    // Named partitions; unknown ones are left out. v0 (Kafka 3.x) has v1's layout.
    let mut body = 1i32.to_be_bytes().to_vec();
    kstr(&mut body, "sized");
    body.extend_from_slice(&2i32.to_be_bytes());
    body.extend_from_slice(&0i32.to_be_bytes());
    body.extend_from_slice(&9i32.to_be_bytes());
    let resp = ask::<DescribeLogDirsRequest>(&mut s, 1, &request(35, 0, 77, &body), "v0");
    let parts: Vec<i32> = resp.results[0].topics[0]
        .partitions
        .iter()
        .map(|p| p.partition_index)
        .collect();
    assert_eq!(parts, [0]);
}

#[test]
fn describe_producers_reports_each_producers_epoch_and_last_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut s = connect(&server);
    assert_eq!(metadata_error(&mut s, "idem"), 0);
    let (pid, epoch) = init_producer_id(&mut s);
    for seq in 0..3 {
        produce(
            &mut s,
            "idem",
            1,
            &idempotent_batch("a", pid, epoch, seq),
            1,
        );
        assert_eq!(produce_result(&mut s, "idem").0, 0);
    }
    let topic = |partitions: Vec<i32>| {
        describe_producers_request::TopicRequest::default()
            .with_name(TopicName(StrBytes::from_static_str("idem")))
            .with_partition_indexes(partitions)
    };
    let req = DescribeProducersRequest::default().with_topics(vec![topic(vec![0, 5])]);
    let resp = ask::<DescribeProducersRequest>(&mut s, 0, &frame(0, 77, &req, &[]), "producers");
    let parts = &resp.topics[0].partitions;
    assert_eq!(parts[0].error_code, 0);
    let [p] = &parts[0].active_producers[..] else {
        panic!("{:?}", parts[0].active_producers)
    };
    assert_eq!((p.producer_id.0, p.producer_epoch), (pid, i32::from(epoch)));
    assert_eq!(p.last_sequence, 2);
    assert_eq!(p.current_txn_start_offset, -1);
    assert_eq!(parts[1].error_code, 3, "UNKNOWN_TOPIC_OR_PARTITION");
    // After a restart the producers are rebuilt from the log's tail.
    drop(s);
    assert!(server.stop());
    let server = Server::start(dir.path(), &[]);
    let mut s = connect(&server);
    let resp = ask::<DescribeProducersRequest>(&mut s, 0, &frame(0, 77, &req, &[]), "restarted");
    let found = &resp.topics[0].partitions[0].active_producers;
    assert_eq!(found.len(), 1);
    assert_eq!((found[0].producer_id.0, found[0].last_sequence), (pid, 2));
}

#[test]
fn create_topics_v5_reports_configs_and_validate_only_checks_them() {
    use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
    const INVALID_CONFIG: i16 = 40;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut s = connect(&server);
    let topic = |name: &'static str, key: &'static str, value: &'static str| {
        CreatableTopic::default()
            .with_name(TopicName(StrBytes::from_static_str(name)))
            .with_num_partitions(1)
            .with_replication_factor(1)
            .with_configs(vec![
                CreatableTopicConfig::default()
                    .with_name(StrBytes::from_static_str(key))
                    .with_value(Some(StrBytes::from_static_str(value))),
            ])
    };
    let req = CreateTopicsRequest::default()
        .with_timeout_ms(5000)
        .with_topics(vec![topic("made", "min.insync.replicas", "2")]);
    let resp = ask::<CreateTopicsRequest>(&mut s, 7, &frame(7, 77, &req, &[]), "create");
    let made = &resp.topics[0];
    assert_eq!(made.error_code, 0);
    let configs = made.configs.as_ref().expect("v5+ carries configs");
    let find = |name: &str| configs.iter().find(|c| c.name.as_str() == name).unwrap();
    let min_isr = find("min.insync.replicas");
    assert_eq!(
        (min_isr.value.as_deref(), min_isr.config_source),
        (Some("2"), 1)
    );
    let retention = find("retention.ms");
    assert_eq!(
        (retention.value.as_deref(), retention.config_source),
        (Some("604800000"), 5)
    );
    // validate_only refuses a bad value as a creation would, and creates nothing.
    let req = CreateTopicsRequest::default()
        .with_timeout_ms(5000)
        .with_validate_only(true)
        .with_topics(vec![topic("checked", "preallocate", "maybe")]);
    let resp = ask::<CreateTopicsRequest>(&mut s, 7, &frame(7, 77, &req, &[]), "validate");
    assert_eq!(resp.topics[0].error_code, INVALID_CONFIG);
    let why = resp.topics[0].error_message.as_deref().unwrap_or_default();
    assert!(why.contains("preallocate"), "{why}");
    let r = crate::common::http()
        .get(server.at("/v1/topics/checked"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 404);
}
