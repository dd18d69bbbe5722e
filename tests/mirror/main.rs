//! MirrorMaker 2-compatible mirroring between two `weir serve` clusters, each on 127.0.0.1
//! port 0 with its own data dir, through the built-in Mirror*Connector classes and the
//! Kafka client (librdkafka) on both sides.
//!
//! - [`support`]: records in and out over HTTP, connectors, the MM2 checker.
//! - this file: active/active without loops (and the records decoded by MM2's own classes),
//!   failover of a group at translated offsets with new partitions and configs synced,
//!   `weir mirror create -f`, and the limits.

#[path = "../common/mod.rs"]
mod common;
mod support;

use std::time::Duration;

use serde_json::Value;

use common::{Server, create_topic, wait_until};
use support::{
    commit, committed, count, create, flow, mm2, produce, read, status, topic, topics, wait_count,
};

fn records(prefix: &str, from: usize, n: usize, partitions: i64) -> Vec<(i64, String, String)> {
    (from..from + n)
        .map(|i| {
            (
                i as i64 % partitions,
                format!("{prefix}k{i}"),
                format!("{prefix}-{i}"),
            )
        })
        .collect()
}

/// The `(key, value)`s of a partition, in order.
fn contents(s: &Server, topic: &str, partition: i32) -> Vec<(String, String)> {
    read(s, topic, partition)
        .into_iter()
        .map(|(_, k, v, _)| (k, v))
        .collect()
}

#[test]
fn active_active_mirrors_each_way_once_and_mm2_reads_the_internal_topics() {
    let dir = tempfile::tempdir().unwrap();
    let a = Server::start(&dir.path().join("a"), &[]);
    let b = Server::start(&dir.path().join("b"), &[]);
    create_topic(&a, "orders", 2);
    create_topic(&b, "orders", 2);
    produce(&a, "orders", &records("a", 0, 200, 2));
    produce(&b, "orders", &records("b", 0, 150, 2));

    // Each flow's connectors run on its target, as MM2 runs them.
    let lag = ("offset.lag.max", "10");
    for class in [
        "MirrorSourceConnector",
        "MirrorCheckpointConnector",
        "MirrorHeartbeatConnector",
    ] {
        let (code, body) = create(
            &b,
            &format!("a-b-{class}"),
            flow(class, ("a", &a), ("b", &b), &[lag]),
        );
        assert_eq!(code, 201, "{body}");
        let (code, body) = create(
            &a,
            &format!("b-a-{class}"),
            flow(class, ("b", &b), ("a", &a), &[lag]),
        );
        assert_eq!(code, 201, "{body}");
    }
    wait_count(&b, "a.orders", 200);
    wait_count(&a, "b.orders", 150);
    // Replication goes on.
    produce(&a, "orders", &records("a", 200, 50, 2));
    wait_count(&b, "a.orders", 250);

    // A topic named for the other side is never mirrored back: give cycles time to show.
    std::thread::sleep(Duration::from_secs(3));
    for (s, other) in [(&a, "a"), (&b, "b")] {
        let looped: Vec<String> = topics(s)
            .into_iter()
            .filter(|t| t.starts_with(&format!("{other}.")) && !t.ends_with(".internal"))
            .collect();
        assert!(
            looped.is_empty(),
            "{other}'s own topics came back: {looped:?}"
        );
    }
    // Each side holds the other's records exactly, partition for partition, once.
    for p in 0..2 {
        assert_eq!(contents(&b, "a.orders", p), contents(&a, "orders", p));
        assert_eq!(contents(&a, "b.orders", p), contents(&b, "orders", p));
    }
    let first = &read(&b, "a.orders", 0)[0];
    assert_eq!(first.3["h"], "x", "headers are copied: {:?}", first.3);
    assert_eq!(count(&b, "a.orders"), 250);
    assert_eq!(count(&a, "b.orders"), 150);

    // A group that read part of a's topic: its checkpoint on b, decoded by MM2's classes.
    commit(&a, "readers", &[("orders", 0, 37), ("orders", 1, 12)]);
    let check = |row: &Vec<String>| row[0] == "readers" && row[1] == "a.orders" && row[2] == "0";
    assert!(
        wait_until(Duration::from_secs(30), || {
            mm2(&["dump", &b.kafka, "a.checkpoints.internal", "checkpoint"])
                .iter()
                .any(|r| check(r) && r[3] == "37")
        }),
        "no checkpoint of readers on b"
    );
    let translated = mm2(&["translate", &b.kafka, "a", "readers"]);
    let at = |p: &str| -> i64 {
        translated
            .iter()
            .find(|r| r[0] == "a.orders" && r[1] == p)
            .unwrap_or_else(|| panic!("RemoteClusterUtils gave {translated:?}"))[2]
            .parse()
            .unwrap()
    };
    // Nothing skipped, at most offset.lag.max re-read.
    assert!((37 - 11..=37).contains(&at("0")), "{translated:?}");
    assert!((12 - 11..=12).contains(&at("1")), "{translated:?}");

    let syncs = mm2(&[
        "dump",
        &a.kafka,
        "mm2-offset-syncs.b.internal",
        "offset-sync",
    ]);
    assert!(syncs.iter().any(|s| s[0] == "orders"), "{syncs:?}");
    for s in &syncs {
        // a's heartbeats (from the b->a heartbeat connector) are mirrored too, as MM2 does.
        assert!(s[0] == "orders" || s[0] == "heartbeats", "{s:?}");
        // b's copies started empty, so each record sits at its own offset.
        assert_eq!(s[2], s[3], "{s:?}");
    }
    let beats = mm2(&["dump", &b.kafka, "heartbeats", "heartbeat"]);
    assert!(
        beats.iter().any(|h| h[0] == "a" && h[1] == "b"),
        "{beats:?}"
    );
    let st = status(&b, "a-b-MirrorSourceConnector");
    assert_eq!(st["tasks"][0]["state"], "RUNNING", "{st}");
    assert!(
        st["mirror"]["record-count"].as_i64().unwrap() >= 250,
        "{st}"
    );
    assert!(st["mirror"]["replication-latency-ms-max"].is_i64(), "{st}");
}

#[test]
fn a_group_fails_over_at_translated_offsets_and_new_partitions_follow() {
    let dir = tempfile::tempdir().unwrap();
    let a = Server::start(&dir.path().join("a"), &[]);
    let b = Server::start(&dir.path().join("b"), &[]);
    create_topic(&a, "events", 1);
    produce(&a, "events", &records("e", 0, 300, 1));
    let extra = [
        ("offset.lag.max", "20"),
        ("sync.group.offsets.enabled", "true"),
        ("topics", "events"),
    ];
    for class in ["MirrorSourceConnector", "MirrorCheckpointConnector"] {
        let (code, body) = create(&b, class, flow(class, ("a", &a), ("b", &b), &extra));
        assert_eq!(code, 201, "{body}");
    }
    wait_count(&b, "a.events", 300);
    // The group read 123 records on a, then a goes away for it.
    commit(&a, "billing", &[("events", 0, 123)]);
    let key = ("a.events".to_string(), 0);
    assert!(
        wait_until(Duration::from_secs(30), || committed(&b, "billing")
            .contains_key(&key)),
        "billing's offsets never reached b"
    );
    let at = committed(&b, "billing")[&key];
    assert!((123 - 21..=123).contains(&at), "translated to {at}");
    // Consuming on b from there: nothing before record 123 is skipped, duplicates only
    // within offset.lag.max.
    let rest: Vec<String> = read(&b, "a.events", 0)
        .into_iter()
        .filter(|r| r.0 >= at)
        .map(|r| r.2)
        .collect();
    assert_eq!(rest.first().unwrap(), &format!("e-{at}"));
    assert!(rest.contains(&"e-123".to_string()));
    assert_eq!(rest.len() as i64, 300 - at);

    // New partitions on a appear on b, and their records follow.
    let r = common::http()
        .post(a.at("/v1/topics/events/partitions"))
        .json(&serde_json::json!({"count": 3}))
        .send()
        .unwrap();
    assert!(r.status().is_success());
    produce(&a, "events", &[(2, "k".into(), "late".into())]);
    assert!(
        wait_until(Duration::from_secs(30), || topic(&b, "a.events")
            .is_some_and(|t| t["partitions"].as_array().unwrap().len() == 3)),
        "b's copy did not grow"
    );
    assert!(
        wait_until(Duration::from_secs(30), || contents(&b, "a.events", 2)
            == [("k".to_string(), "late".to_string())]),
        "the new partition's record did not arrive"
    );
    // A topic config set on a is copied to b's copy.
    let r = common::http()
        .patch(a.at("/v1/topics/events/config"))
        .json(&serde_json::json!({"config": {"retention.ms": "123456789"}}))
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().unwrap());
    assert!(
        wait_until(Duration::from_secs(30), || topic(&b, "a.events")
            .is_some_and(|t| t["config"]["retention.ms"] == 123456789)),
        "config not synced: {:?}",
        topic(&b, "a.events").map(|t| t["config"].clone())
    );
}

#[test]
fn mirror_create_takes_an_mm2_properties_file_and_limits_hold() {
    let dir = tempfile::tempdir().unwrap();
    let a = Server::start(&dir.path().join("a"), &[]);
    let b = Server::start(&dir.path().join("b"), &[]);
    create_topic(&a, "logs", 1);
    create_topic(&a, "other", 1);
    produce(&a, "logs", &records("l", 0, 20, 1));
    produce(&a, "other", &records("o", 0, 5, 1));
    let file = dir.path().join("mm2.properties");
    std::fs::write(
        &file,
        format!(
            "# MirrorMaker 2's own syntax\nclusters = a, b\na.bootstrap.servers = {}\n\
             b.bootstrap.servers = {}\na->b.enabled = true\na->b.topics = logs\n\
             b->a.enabled = false\nrefresh.topics.interval.seconds = 1\n",
            a.kafka, b.kafka
        ),
    )
    .unwrap();
    let out = std::process::Command::new(common::weir_bin())
        .args(["--url", &b.url, "mirror", "create", "-f"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .collect::<Vec<_>>(),
        [
            "mirror-a-b-source",
            "mirror-a-b-checkpoint",
            "mirror-a-b-heartbeat"
        ]
    );
    wait_count(&b, "a.logs", 20);
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        topic(&b, "a.other").is_none(),
        "a->b.topics = logs was ignored"
    );
    let metrics = common::http()
        .get(b.url.clone() + "/metrics")
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains("weir_mirror_record_count{connector=\"mirror-a-b-source\"} 20"),
        "{metrics}"
    );
    assert!(
        metrics.contains("weir_mirror_replication_latency_ms_max{connector=\"mirror-a-b-source\"}")
    );

    // Bad configs are refused, each problem named by its key.
    let (code, body) = create(
        &b,
        "bad",
        flow(
            "MirrorSourceConnector",
            ("a", &a),
            ("a", &b),
            &[
                ("offset.lag.max", "-5"),
                ("replication.policy.class", "Mine"),
            ],
        ),
    );
    assert_eq!(code, 400, "{body}");
    let message = body["message"].as_str().unwrap_or_default().to_string();
    for key in [
        "target.cluster.alias",
        "offset.lag.max",
        "replication.policy.class",
    ] {
        assert!(message.contains(key), "{key} not named: {message}");
    }

    // A record over the task's in-flight bytes fails the task, naming the limit.
    create_topic(&a, "big", 1);
    produce(&a, "big", &[(0, "k".into(), "x".repeat(4096))]);
    let (code, body) = create(
        &b,
        "small",
        flow(
            "MirrorSourceConnector",
            ("a", &a),
            ("b", &b),
            &[
                ("topics", "big"),
                ("weir.mirror.max.in.flight.bytes", "1024"),
            ],
        ),
    );
    assert_eq!(code, 201, "{body}");
    let mut last = Value::Null;
    assert!(
        wait_until(Duration::from_secs(30), || {
            last = status(&b, "small");
            last["tasks"][0]["state"] == "FAILED"
        }),
        "{last}"
    );
    let trace = last["tasks"][0]["trace"].as_str().unwrap();
    assert!(
        trace.contains("big-0@0 holds 4099 bytes, over weir.mirror.max.in.flight.bytes (1024)"),
        "{trace}"
    );
    assert_eq!(count(&b, "a.big"), 0);
}
