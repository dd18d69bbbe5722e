//! weir's Kafka client for other clusters (`weir::cluster`, librdkafka behind small traits)
//! against a `weir serve` child on 127.0.0.1 port 0: admin calls, a transactional producer
//! whose committed records a consumer group reads and whose aborted ones it never sees, with
//! the group's offsets committed in the transaction (what attached mode builds on).

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use weir::cluster::{self, ClientProps, OutRecord, ProducerMode, TopicOffset};

use common::Server;

fn record(topic: &str, v: &str) -> OutRecord {
    OutRecord {
        topic: topic.into(),
        partition: Some(0),
        timestamp: None,
        key: Some(b"k".to_vec()),
        value: Some(v.as_bytes().to_vec()),
        headers: vec![("h".into(), Some(b"1".to_vec()))],
    }
}

#[test]
fn admin_transactions_and_groups_through_the_client_trait() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("data"), &[]);
    let props = BTreeMap::from([("bootstrap.servers".to_string(), s.kafka.clone())]);
    let c = cluster::connect(ClientProps::new(props).unwrap());
    let admin = c.admin().unwrap();
    let configs = BTreeMap::from([("retention.ms".to_string(), "3600000".to_string())]);
    admin.create_topic("in", 1, &configs).unwrap();
    assert!(matches!(
        admin.create_topic("in", 1, &configs),
        Err(cluster::ClusterError::TopicExists { .. })
    ));
    admin.create_topic("out", 1, &BTreeMap::new()).unwrap();
    admin.create_partitions("out", 2).unwrap();
    let topics = admin.topics().unwrap();
    assert!(
        topics.iter().any(|t| t.name == "out" && t.partitions == 2),
        "{topics:?}"
    );
    assert_eq!(
        admin.describe_configs("in").unwrap()["retention.ms"],
        "3600000"
    );

    // Input for a consume-transform-produce loop.
    let mut p = c.producer(ProducerMode::Idempotent).unwrap();
    for i in 0..10 {
        p.send(record("in", &format!("v{i}"))).unwrap();
    }
    let placed = p.flush(Duration::from_secs(30)).unwrap();
    assert_eq!(
        placed.iter().map(|d| d.offset).collect::<Vec<_>>(),
        (0..10).collect::<Vec<_>>()
    );
    assert_eq!(admin.watermarks("in", 0).unwrap(), (0, 10));

    // One committed transaction with the group's offsets, one aborted.
    let mut consumer = c.consumer(Some("app")).unwrap();
    consumer.subscribe(&["in".to_string()]).unwrap();
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while got.len() < 10 && Instant::now() < deadline {
        got.extend(consumer.poll(100, Duration::from_millis(200)).unwrap());
    }
    assert_eq!(got.len(), 10);
    assert_eq!(got[0].headers, [("h".to_string(), Some(b"1".to_vec()))]);
    let mut tx = c
        .producer(ProducerMode::Transactional { id: "app-0".into() })
        .unwrap();
    tx.init_transactions(Duration::from_secs(30)).unwrap();
    tx.begin().unwrap();
    tx.send(record("out", "committed")).unwrap();
    let meta = consumer
        .group_metadata()
        .expect("a group member has metadata");
    let next = [TopicOffset {
        topic: "in".into(),
        partition: 0,
        offset: 10,
    }];
    tx.send_offsets(&next, &meta, Duration::from_secs(30))
        .unwrap();
    tx.commit(Duration::from_secs(30)).unwrap();
    tx.begin().unwrap();
    tx.send(record("out", "aborted")).unwrap();
    tx.abort(Duration::from_secs(30)).unwrap();
    drop(consumer);
    assert_eq!(
        admin.group_offsets("app", &[("in".into(), 0)]).unwrap(),
        next,
        "the offsets committed with the transaction"
    );

    // A read_committed reader (librdkafka's default) sees only the committed record.
    let mut reader = c.consumer(None).unwrap();
    reader
        .assign(&[TopicOffset {
            topic: "out".into(),
            partition: 0,
            offset: 0,
        }])
        .unwrap();
    let mut values = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        values.extend(
            reader
                .poll(100, Duration::from_millis(200))
                .unwrap()
                .into_iter()
                .map(|r| r.value.unwrap()),
        );
        if !values.is_empty() {
            // Give an aborted record the chance to show up wrongly.
            std::thread::sleep(Duration::from_millis(500));
            values.extend(
                reader
                    .poll(100, Duration::from_millis(200))
                    .unwrap()
                    .into_iter()
                    .map(|r| r.value.unwrap()),
            );
            break;
        }
    }
    assert_eq!(values, [b"committed".to_vec()]);

    // Offsets set for a group with no members, as the mirror's group sync does.
    admin
        .alter_group_offsets(
            "idle",
            &[TopicOffset {
                topic: "in".into(),
                partition: 0,
                offset: 4,
            }],
        )
        .unwrap();
    assert_eq!(
        admin.group_offsets("idle", &[("in".into(), 0)]).unwrap()[0].offset,
        4
    );
    let groups = admin.groups().unwrap();
    assert!(
        groups.iter().any(|g| g.name == "idle" && g.members == 0),
        "{groups:?}"
    );
    // Bad connection settings name the property.
    let bad = ClientProps::new(BTreeMap::from([(
        "bootstrap.servers".to_string(),
        "127.0.0.1".to_string(),
    )]));
    assert!(bad.unwrap_err().to_string().contains("bootstrap.servers"));
    // A key outside the allowlist is refused before it reaches librdkafka.
    let e = ClientProps::new(BTreeMap::from([
        ("bootstrap.servers".to_string(), s.kafka.clone()),
        ("ssl.no.such.key".to_string(), "x".to_string()),
    ]))
    .expect_err("an unknown property is refused");
    assert!(e.to_string().contains("ssl.no.such.key"), "{e}");
}

#[test]
fn a_reader_position_passes_the_commit_marker_that_ends_a_partition() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("data"), &[]);
    let props = BTreeMap::from([("bootstrap.servers".to_string(), s.kafka.clone())]);
    let c = cluster::connect(ClientProps::new(props).unwrap());
    let admin = c.admin().unwrap();
    admin.create_topic("t", 1, &BTreeMap::new()).unwrap();
    let mut tx = c
        .producer(ProducerMode::Transactional { id: "pos".into() })
        .unwrap();
    tx.init_transactions(Duration::from_secs(30)).unwrap();
    for (value, commit) in [("a", true), ("aborted", false), ("b", true)] {
        tx.begin().unwrap();
        tx.send(record("t", value)).unwrap();
        // Delivered first, so the aborted record is in the log (an abort purges what is
        // still queued).
        tx.flush(Duration::from_secs(30)).unwrap();
        if commit {
            tx.commit(Duration::from_secs(30)).unwrap();
        } else {
            tx.abort(Duration::from_secs(30)).unwrap();
        }
    }
    // Three data records and three markers: the partition ends in a commit marker.
    let (_, end) = admin.watermarks("t", 0).unwrap();
    assert_eq!(end, 6);
    let mut reader = c.consumer(None).unwrap();
    reader
        .assign(&[TopicOffset {
            topic: "t".into(),
            partition: 0,
            offset: 0,
        }])
        .unwrap();
    let mut values = Vec::new();
    let reached = common::wait_until(Duration::from_secs(20), || {
        values.extend(
            reader
                .poll(100, Duration::from_millis(100))
                .unwrap()
                .into_iter()
                .map(|r| r.value.unwrap()),
        );
        reader
            .positions()
            .unwrap()
            .iter()
            .any(|p| p.topic == "t" && p.offset >= end)
    });
    assert_eq!(values, [b"a".to_vec(), b"b".to_vec()]);
    assert!(reached, "position {:?}", reader.positions().unwrap());
}
