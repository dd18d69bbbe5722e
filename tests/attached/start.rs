//! Where an attached pipeline's group starts a partition it has no committed offset for:
//! the spec's `start`. `latest` (the default) counts only records produced once its tasks
//! run; `earliest` counts every stored one.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::json;
use weir::cluster::{self, ClientProps, TopicOffset};

use crate::common::pipeline::{call, produce};
use crate::common::{Server, guests, wait_until};
use crate::node::Node;

/// Reads `topic` (one partition) read_committed from its start until `done` holds of the
/// values read, or `timeout`; the values.
fn values_until(
    bootstrap: &str,
    topic: &str,
    timeout: Duration,
    mut done: impl FnMut(&[String]) -> bool,
) -> Vec<String> {
    let props = BTreeMap::from([("bootstrap.servers".to_string(), bootstrap.to_string())]);
    let mut consumer = cluster::connect(ClientProps::new(props).unwrap())
        .consumer(None)
        .unwrap();
    consumer
        .assign(&[TopicOffset {
            topic: topic.into(),
            partition: 0,
            offset: 0,
        }])
        .unwrap();
    let deadline = Instant::now() + timeout;
    let mut values = Vec::new();
    while !done(&values) && Instant::now() < deadline {
        for r in consumer.poll(1000, Duration::from_millis(200)).unwrap() {
            values.push(String::from_utf8_lossy(&r.value.unwrap_or_default()).into_owned());
        }
    }
    values
}

#[test]
fn a_group_with_no_committed_offset_starts_where_the_spec_says() {
    let counter = guests::guest("rust", "counter");
    let dir = tempfile::tempdir().unwrap();
    let broker = Server::start(&dir.path().join("broker"), &[]);
    let bootstrap = broker.kafka.clone();
    for (t, n) in [("in", 2), ("latest", 1), ("earliest", 1), ("evens", 1)] {
        let (code, body) = call(
            &broker,
            "POST",
            "/v1/topics",
            Some(json!({"name": t, "partitions": n})),
        );
        assert_eq!(code, 201, "{body}");
    }
    let old: Vec<_> = (0..10)
        .map(|i| json!({"key": format!("old{i}"), "value": "x"}))
        .collect();
    produce(&broker, "in", old);
    let node = Node::start(&dir.path().join("node"), &bootstrap);
    node.upload("counter", &counter);
    let spec = |name: &str, start: Option<&str>| {
        let mut s = json!({
            "name": name, "inputs": ["in"], "output": name, "outputs": ["evens"],
            "steps": [{"module": "counter"}]
        });
        if let Some(start) = start {
            s["start"] = json!(start);
        }
        s
    };
    // `latest` is the default, as embedded.
    for s in [spec("latest", None), spec("earliest", Some("earliest"))] {
        let (code, body) = node.post("/v1/pipelines", s);
        assert_eq!(code, 201, "{body}");
    }
    assert!(
        wait_until(Duration::from_secs(60), || {
            ["latest", "earliest"].iter().all(|p| {
                node.local(p)["tasks"]
                    .as_object()
                    .is_some_and(|t| t.len() == 2)
            })
        }),
        "the tasks never started: {}",
        node.get("/v1/cluster").1
    );
    // The group's reset to the end lands a moment after the assignment: new records,
    // one at a time, until the first is counted; every later one must be too.
    let mut new = 0;
    let first = values_until(&bootstrap, "latest", Duration::from_secs(60), |seen| {
        let counted = seen.iter().any(|v| v.starts_with("new"));
        if !counted {
            produce(
                &broker,
                "in",
                vec![json!({"key": format!("new{new}"), "value": "x"})],
            );
            new += 1;
        }
        counted
    });
    assert!(
        first.iter().any(|v| v.starts_with("new")),
        "no record produced after the start was counted: {first:?}"
    );
    let after: Vec<_> = (0..5)
        .map(|i| json!({"key": format!("after{i}"), "value": "x"}))
        .collect();
    produce(&broker, "in", after);
    let latest = values_until(&bootstrap, "latest", Duration::from_secs(60), |seen| {
        (0..5).all(|i| seen.contains(&format!("after{i}=1")))
    });
    assert!(
        (0..5).all(|i| latest.contains(&format!("after{i}=1"))),
        "{latest:?}"
    );
    assert!(
        latest.iter().all(|v| !v.starts_with("old")),
        "a `latest` pipeline counted records stored before it started: {latest:?}"
    );
    // `earliest` counted the old records too, each once.
    let earliest = values_until(&bootstrap, "earliest", Duration::from_secs(60), |seen| {
        (0..5).all(|i| seen.contains(&format!("after{i}=1")))
    });
    for i in 0..10 {
        let n = earliest
            .iter()
            .filter(|v| **v == format!("old{i}=1"))
            .count();
        assert_eq!(n, 1, "old{i} in {earliest:?}");
    }
}
