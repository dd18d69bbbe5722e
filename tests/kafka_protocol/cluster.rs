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
        resource("0", Some(vec!["num.partitions", "no.such.config"])),
        resource("7", None),
        resource("", None),
    ]);
    let resp = ask::<DescribeConfigsRequest>(&mut s, 4, &frame(4, 77, &req, &[]), "broker");
    let [this, other, defaults] = &resp.results[..] else {
        panic!("{} results", resp.results.len());
    };
    assert_eq!(this.error_code, 0);
    let names: Vec<&str> = this.configs.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["num.partitions"]);
    assert_eq!(this.configs[0].value.as_deref(), Some("1"));
    assert_eq!(other.error_code, INVALID_REQUEST);
    assert_eq!((defaults.error_code, defaults.configs.len()), (0, 0));
}
