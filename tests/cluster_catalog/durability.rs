//! What the topics keep across nodes' lives: a restarted node's cache rebuilt from them,
//! a deleted pipeline still deleted after compaction, malformed records skipped, and how
//! fast a new node catches up.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use weir::cluster::catalog::encoding::{self, Manifest};
use weir::cluster::catalog::{ClusterCatalog, MODULES_TOPIC, PIPELINES_TOPIC};
use weir::cluster::{OutRecord, ProducerMode, TopicOffset};
use weir::pipeline::Catalog;

use super::common::{Server, wait_until};
use super::{COMPACTING, SEEN_WITHIN, bytes, config, connect, node, pipeline, upload};

fn raw(topic: &str, key: &[u8], value: Option<Vec<u8>>) -> OutRecord {
    OutRecord {
        topic: topic.into(),
        partition: Some(0),
        timestamp: None,
        key: Some(key.to_vec()),
        value,
        headers: Vec::new(),
    }
}

/// Every (key, value) of a topic, read from its start to its end.
fn read_all(s: &Server, topic: &str) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    let c = connect(s);
    let (_, end) = c.admin().unwrap().watermarks(topic, 0).unwrap();
    let mut consumer = c.consumer(None).unwrap();
    consumer
        .assign(&[TopicOffset {
            topic: topic.into(),
            partition: 0,
            offset: 0,
        }])
        .unwrap();
    let mut out = Vec::new();
    let read = wait_until(Duration::from_secs(20), || {
        for r in consumer.poll(500, Duration::from_millis(100)).unwrap() {
            out.push((r.key.unwrap_or_default(), r.value));
        }
        consumer
            .positions()
            .unwrap()
            .iter()
            .any(|p| p.offset >= end)
    });
    assert!(read, "read {topic} to {end}");
    out
}

#[test]
fn a_restarted_node_rebuilds_its_cache_from_the_topics() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("data"), &[]);
    let a = node(&s, &dir.path().join("a"));
    for i in 0..3 {
        upload(&a, "f", &bytes(i, 1500 + i as usize)).unwrap();
    }
    upload(&a, "g", &bytes(9, 10)).unwrap();
    a.delete_module("f", 3).unwrap();
    a.create_pipeline(&pipeline("p", "f")).unwrap();
    a.create_pipeline(&pipeline("gone", "g")).unwrap();
    a.edit_pipeline("p", &mut |r| {
        r.paused = true;
        Ok(())
    })
    .unwrap();
    a.delete_pipeline("gone").unwrap();

    // Node b, twice: started fresh, then restarted over its old cache directory.
    let cache = dir.path().join("b");
    for restart in 0..2 {
        let b = node(&s, &cache);
        // Ready at open: no waiting for the tail.
        assert_eq!(b.modules().unwrap(), a.modules().unwrap());
        let versions: Vec<_> = b
            .modules()
            .unwrap()
            .iter()
            .map(|m| (m.name.clone(), m.version))
            .collect();
        assert_eq!(
            versions,
            [("f".into(), 1), ("f".into(), 2), ("g".into(), 1)]
        );
        for m in b.modules().unwrap() {
            assert_eq!(b.module_bytes(&m).unwrap(), a.module_bytes(&m).unwrap());
        }
        let pipelines = b.pipelines().unwrap();
        assert_eq!(pipelines.len(), 1);
        assert!(pipelines[0].paused);
        // The deleted newest version's number stays used.
        assert_eq!(upload(&b, "f", &bytes(50, 7)).unwrap().0, 4 + restart);
        b.delete_module("f", b.module("f", None).unwrap().version)
            .unwrap();
        assert_eq!(b.stats().skipped, 0);
    }
}

#[test]
fn a_deleted_pipeline_stays_deleted_after_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_with_config(&dir.path().join("data"), COMPACTING, &[]);
    // The topic made by hand with small segments, so compaction has sealed ones to
    // clean; the catalog takes a compacted topic that is there.
    let c = connect(&s);
    let configs = BTreeMap::from([
        ("cleanup.policy".to_string(), "compact".to_string()),
        ("segment.bytes".to_string(), "2000".to_string()),
        ("min.cleanable.dirty.ratio".to_string(), "0.01".to_string()),
        ("delete.retention.ms".to_string(), "0".to_string()),
    ]);
    c.admin()
        .unwrap()
        .create_topic(PIPELINES_TOPIC, 1, &configs)
        .unwrap();
    let a = node(&s, &dir.path().join("a"));
    a.create_pipeline(&pipeline("p", "f")).unwrap();
    for i in 0..5 {
        a.edit_pipeline("p", &mut |r| {
            r.created_ms = i;
            Ok(())
        })
        .unwrap();
    }
    a.delete_pipeline("p").unwrap();
    // Later records seal the segments that hold p's.
    for i in 0..10 {
        a.create_pipeline(&pipeline(&format!("f{i}"), "f")).unwrap();
    }
    let p_values = |s: &Server| {
        read_all(s, PIPELINES_TOPIC)
            .into_iter()
            .filter(|(k, v)| k == b"p" && v.is_some())
            .count()
    };
    assert!(
        wait_until(Duration::from_secs(30), || p_values(&s) == 0),
        "compaction removed p's values"
    );
    let b = node(&s, &dir.path().join("b"));
    assert!(b.pipeline("p").unwrap().is_none());
    assert_eq!(b.pipelines().unwrap().len(), 10);
    assert_eq!(b.stats().skipped, 0);
}

#[test]
fn malformed_records_are_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("data"), &[]);
    let a = node(&s, &dir.path().join("a"));
    let mut changes = a.subscribe();
    let good = bytes(1, 2500);
    let (version, _) = upload(&a, "f", &good).unwrap();
    changes.mark_unchanged();
    let module = a.module("f", Some(version)).unwrap();
    let manifest = |chunks| {
        encoding::encode(&Manifest {
            module: module.clone(),
            chunks,
        })
    };
    let mut foreign = pipeline("q", "f");
    foreign.spec.name = "other".into();
    let junk = [
        raw(MODULES_TOPIC, b"f/1/2/3", Some(vec![1])),
        raw(MODULES_TOPIC, b"f/9", Some(vec![7, b'{'])),
        raw(MODULES_TOPIC, b"f/9", Some(vec![1, b'{'])),
        // (An empty value would be a tombstone to librdkafka, which sends it as null.)
        raw(
            MODULES_TOPIC,
            b"f",
            Some(encoding::encode(&"not a counter")),
        ),
        // A chunk out of order, then a manifest without its chunks.
        raw(MODULES_TOPIC, b"h/1/1", Some(encoding::encode_raw(b"x"))),
        raw(MODULES_TOPIC, b"h/1", Some(manifest(1))),
        // Chunks whose digest is not the manifest's.
        raw(
            MODULES_TOPIC,
            b"f/1/0",
            Some(encoding::encode_raw(&bytes(5, 2500))),
        ),
        raw(MODULES_TOPIC, b"f/1", Some(manifest(1))),
        raw(PIPELINES_TOPIC, b"q", Some(encoding::encode(&foreign))),
        raw(PIPELINES_TOPIC, b"r", Some(vec![1, b'[', b']'])),
        raw(
            PIPELINES_TOPIC,
            b"s",
            Some(encoding::encode_raw(&vec![b' '; 20 << 10])),
        ),
    ];
    // The bad chunk and the manifest it fails count once, as the version skipped.
    let count = junk.len() as u64 - 1;
    let mut p = connect(&s).producer(ProducerMode::Idempotent).unwrap();
    for r in junk {
        p.send(r).unwrap();
    }
    p.send(raw(
        PIPELINES_TOPIC,
        b"ok",
        Some(encoding::encode(&pipeline("ok", "f"))),
    ))
    .unwrap();
    p.flush(Duration::from_secs(30)).unwrap();
    // The running node skips them and goes on reading.
    assert!(a.sync(SEEN_WITHIN).unwrap());
    assert!(a.pipeline("ok").unwrap().is_some());
    assert_eq!(a.stats().skipped, count);
    assert!(changes.has_changed().unwrap());
    // The bad copy of f/1 did not replace the good one.
    assert_eq!(
        a.module_bytes(&a.module("f", Some(1)).unwrap()).unwrap(),
        good
    );
    assert!(a.module("h", None).is_err());
    // A new node opens past them too.
    let b = node(&s, &dir.path().join("b"));
    assert_eq!(b.stats().skipped, count);
    assert_eq!(
        b.module_bytes(&b.module("f", Some(1)).unwrap()).unwrap(),
        good
    );
    let names: Vec<_> = b
        .pipelines()
        .unwrap()
        .into_iter()
        .map(|r| r.spec.name)
        .collect();
    assert_eq!(names, ["ok"]);
    // The counter record that did not decode took no version number away.
    assert_eq!(upload(&b, "f", &bytes(2, 10)).unwrap().0, 2);
}

/// How fast a new node reads the catalog to its end: printed for ARCHITECTURE.md's note
/// (not a speed target; `weir bench` holds those).
#[test]
fn a_new_node_catches_up_with_many_records() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("data"), &[]);
    let a = node(&s, &dir.path().join("a"));
    let n: i64 = 20_000;
    let mut p = connect(&s).producer(ProducerMode::Idempotent).unwrap();
    for i in 0..n {
        let name = format!("p{}", i % 2000);
        let mut record = pipeline(&name, "f");
        record.created_ms = i;
        p.send(raw(
            PIPELINES_TOPIC,
            name.as_bytes(),
            Some(encoding::encode(&record)),
        ))
        .unwrap();
    }
    p.flush(Duration::from_secs(60)).unwrap();
    assert!(a.sync(Duration::from_secs(60)).unwrap());
    let start = Instant::now();
    let b = ClusterCatalog::open(connect(&s), config(&dir.path().join("b"))).unwrap();
    let took = start.elapsed();
    assert_eq!(b.pipelines().unwrap().len(), 2000);
    assert!(
        b.pipelines()
            .unwrap()
            .iter()
            .all(|r| r.created_ms >= n - 2000)
    );
    assert_eq!(b.stats().records, n as u64);
    eprintln!(
        "catalog catch-up: {n} pipeline records in {:.2} s, {:.0} records/s",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64()
    );
}
