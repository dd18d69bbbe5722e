//! Replays after a lost commit, driven in-process with a native step so the rounds are
//! deterministic: the durable state a crash would leave is written into the task's tree,
//! then the service is reopened as after a restart.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::chain::NativeFilter;
use super::store::{self, Checkpoint};
use super::{PipelineSpec, Pipelines, PipelinesConfig};
use crate::broker::producer::ProducerRegistry;
use crate::broker::topic_config::TopicConfig;
use crate::broker::{Broker, BrokerConfig, ProduceRecord};
use crate::log::FlushPolicy;
use crate::log::batch::{BatchIter, Record, decode_records};
use crate::test_support::reopen;

#[derive(Debug)]
struct KeepAll;

impl NativeFilter for KeepAll {
    fn keep(&self, _: &Record, _: &BTreeMap<String, String>) -> bool {
        true
    }
}

fn open(dir: &Path, broker: &Arc<Broker>) -> Pipelines {
    open_keeping(dir, broker, 100)
}

/// Opens the service keeping `max_history` deployments per pipeline.
fn open_keeping(dir: &Path, broker: &Arc<Broker>, max_history: usize) -> Pipelines {
    reopen(|| {
        Pipelines::open(
            broker.clone(),
            // A fresh registry, as after a restart: windows are rebuilt from the log.
            Arc::new(ProducerRegistry::new(broker.clone())),
            PipelinesConfig {
                dir: dir.join("pipelines"),
                worker_threads: 1,
                max_module_bytes: 1 << 20,
                max_instances: 4,
                sandbox: crate::runtime::SandboxSettings::default(),
                plugins_dir: dir.join("plugins"),
                max_history,
                max_windows_per_record: 1000,
                max_state_query_windows: 100_000,
                max_open_windows: crate::streams::DEFAULT_MAX_OPEN_WINDOWS,
                state_limits: crate::pipeline::StateLimits::default(),
                natives: [(
                    "keep-all".to_string(),
                    Arc::new(KeepAll) as Arc<dyn NativeFilter>,
                )]
                .into(),
                external: None,
                catalog: None,
                playground: Default::default(),
            },
        )
    })
}

fn broker(dir: &Path, topics: &[&str]) -> Arc<Broker> {
    let broker = Arc::new(
        Broker::open(BrokerConfig {
            data_dir: dir.join("data"),
            flush: FlushPolicy::Os,
            index_interval_bytes: 4096,
            topic_defaults: TopicConfig::default(),
            limits: Default::default(),
        })
        .unwrap(),
    );
    for t in topics {
        broker.create_topic(t, 1, BTreeMap::new()).unwrap();
    }
    broker
}

fn produce(broker: &Broker, topic: &str, value: &str) {
    let record = Record {
        value: Some(Bytes::from(value.to_string())),
        timestamp: -1,
        ..Record::default()
    };
    broker
        .produce(
            topic,
            vec![ProduceRecord {
                partition: Some(0),
                record,
            }],
        )
        .unwrap();
}

fn values(broker: &Broker, topic: &str) -> Vec<String> {
    let read = broker
        .fetch(topic, 0, 0, 1 << 20, crate::log::FirstBatch::AlwaysWhole)
        .unwrap();
    let mut out = Vec::new();
    for batch in BatchIter::new(&read.bytes) {
        let (_, bytes) = batch.unwrap();
        for r in decode_records(bytes).unwrap() {
            out.push(String::from_utf8(r.value.unwrap().to_vec()).unwrap());
        }
    }
    out
}

fn wait_processed(p: &Pipelines, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let st = p.status("p").unwrap();
        if st.records_in >= n && st.lag == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "not caught up: {st:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn spec(inputs: &[&str]) -> PipelineSpec {
    serde_json::from_value(serde_json::json!({
        "name": "p", "inputs": inputs, "output": "out",
        "steps": [{"module": "keep-all"}], "start": "earliest",
    }))
    .unwrap()
}

/// Replaces the task's checkpoint with `edit` of it, as a crash losing the last commit
/// would leave it.
fn rewind(dir: &Path, edit: impl FnOnce(&mut Checkpoint)) {
    let db = reopen(|| sled::Config::new().path(dir.join("pipelines/db")).open());
    let tree = db.open_tree("task/p/0").unwrap();
    let mut cp = store::load_checkpoint(&tree).unwrap().unwrap();
    edit(&mut cp);
    store::commit(&tree, &BTreeMap::new(), &cp).unwrap();
    db.flush().unwrap();
}

#[test]
fn a_replay_reading_further_skips_exactly_what_the_lost_round_appended() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker(dir.path(), &["a", "out"]);
    produce(&broker, "a", "a0");
    produce(&broker, "a", "a1");
    let p = open(dir.path(), &broker);
    p.create(spec(&["a"])).unwrap();
    wait_processed(&p, 2);
    p.shutdown();
    drop(p);
    // The commit of the round that read a0 and a1 is lost; a2 arrives meanwhile.
    rewind(dir.path(), |cp| {
        cp.inputs = vec![0];
        cp.sequences.clear();
    });
    produce(&broker, "a", "a2");
    let p = open(dir.path(), &broker);
    wait_processed(&p, 3);
    assert_eq!(values(&broker, "out"), ["a0", "a1", "a2"]);
    p.shutdown();
}

#[test]
fn a_lost_round_over_two_inputs_is_replayed_over_exactly_its_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker(dir.path(), &["a", "b", "out"]);
    // Both there before the pipeline starts, so its first round reads both.
    produce(&broker, "a", "a0");
    produce(&broker, "b", "b0");
    let p = open(dir.path(), &broker);
    p.create(spec(&["a", "b"])).unwrap();
    wait_processed(&p, 2);
    p.shutdown();
    drop(p);
    assert_eq!(values(&broker, "out"), ["a0", "b0"]);
    // What a crash after the appends, before the final commit, leaves durable: the
    // round's pinned ranges. a1 arrives before the restart: reading further in `a` would
    // put its output before b0's and shift every sequence after it.
    rewind(dir.path(), |cp| {
        cp.inputs = vec![0, 0];
        cp.in_flight = Some(vec![1, 1]);
        cp.sequences.clear();
    });
    produce(&broker, "a", "a1");
    let p = open(dir.path(), &broker);
    wait_processed(&p, 3);
    assert_eq!(values(&broker, "out"), ["a0", "b0", "a1"]);
    p.shutdown();
}

/// The task's durable checkpoint, with the service closed.
fn durable_checkpoint(dir: &Path) -> Checkpoint {
    let db = reopen(|| sled::Config::new().path(dir.join("pipelines/db")).open());
    store::load_checkpoint(&db.open_tree("task/p/0").unwrap())
        .unwrap()
        .unwrap()
}

#[test]
fn rounds_that_read_one_of_two_inputs_alone_are_replayed_over_it_alone() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker(dir.path(), &["a", "b", "out"]);
    produce(&broker, "b", "b0");
    let p = open(dir.path(), &broker);
    p.create(spec(&["a", "b"])).unwrap();
    wait_processed(&p, 1);
    p.shutdown();
    drop(p);
    // The round read `b` alone: no pinned ranges, the input read alone marked instead.
    let cp = durable_checkpoint(dir.path());
    assert_eq!(cp.in_flight, None);
    assert_eq!(cp.solo, Some(("b".to_string(), 0)));
    // A crash loses the round's commit; a0 and b1 arrive before the restart. Reading `a`
    // first would put a0 where b0 is in the log, and b0 would be appended again.
    rewind(dir.path(), |cp| {
        cp.inputs = vec![0, 0];
        cp.sequences.clear();
    });
    produce(&broker, "a", "a0");
    produce(&broker, "b", "b1");
    let p = open(dir.path(), &broker);
    wait_processed(&p, 3);
    assert_eq!(values(&broker, "out"), ["b0", "b1", "a0"]);
    p.shutdown();
    drop(p);
    // Once caught up, the next round read `a` alone: the mark moved to it.
    assert_eq!(
        durable_checkpoint(dir.path()).solo,
        Some(("a".to_string(), 0))
    );
}

#[test]
fn a_replay_whose_input_read_alone_ends_short_moves_past_what_it_cannot_reproduce() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker(dir.path(), &["a", "b", "out"]);
    produce(&broker, "b", "b0");
    let p = open(dir.path(), &broker);
    p.create(spec(&["a", "b"])).unwrap();
    wait_processed(&p, 1);
    p.shutdown();
    drop(p);
    // The log holds an output past the committed sequences that no read of `b` from
    // the committed offset reproduces (as if its input had gone to retention).
    rewind(dir.path(), |cp| cp.sequences.clear());
    produce(&broker, "a", "a0");
    let p = open(dir.path(), &broker);
    let deadline = Instant::now() + Duration::from_secs(30);
    while values(&broker, "out").len() < 2 {
        assert!(Instant::now() < deadline, "{:?}", values(&broker, "out"));
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(values(&broker, "out"), ["b0", "a0"]);
    p.shutdown();
}

#[test]
fn the_deployment_history_keeps_the_last_max_history_and_numbers_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker(dir.path(), &["a", "out"]);
    produce(&broker, "a", "a0");
    let p = open_keeping(dir.path(), &broker, 3);
    p.create(spec(&["a"])).unwrap();
    wait_processed(&p, 1);
    for _ in 0..5 {
        p.update("p", spec(&["a"])).unwrap();
    }
    let st = p.status("p").unwrap();
    assert_eq!(st.history.len(), 3, "{:?}", st.history);
    assert!(st.history.iter().all(|h| h.reason == "updated"));
    produce(&broker, "a", "a1");
    wait_processed(&p, 2);
    p.shutdown();
    drop(p);
    let db = reopen(|| {
        sled::Config::new()
            .path(dir.path().join("pipelines/db"))
            .open()
    });
    let record: store::PipelineRecord = rmp_serde::from_slice(
        &db.open_tree("pipelines")
            .unwrap()
            .get("p")
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        (record.forgotten, record.history.len(), record.specs.len()),
        (3, 3, 3)
    );
    let tree = db.open_tree("task/p/0").unwrap();
    let cp = store::load_checkpoint(&tree).unwrap().unwrap();
    // The checkpoint names deployment 5 (the sixth), which the record still calls current.
    assert_eq!(cp.deployment, Some(5));
    assert_eq!(record.current_number(), 5);
    drop(tree);
    drop(db);
    // After a restart the task resumes without a replay mismatch.
    let p = open_keeping(dir.path(), &broker, 3);
    produce(&broker, "a", "a2");
    wait_processed(&p, 1);
    let deadline = Instant::now() + Duration::from_secs(30);
    while values(&broker, "out").len() < 3 {
        assert!(Instant::now() < deadline, "{:?}", values(&broker, "out"));
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(values(&broker, "out"), ["a0", "a1", "a2"]);
    p.shutdown();
}

#[test]
fn rounds_held_for_a_long_commit_interval_are_committed_once_the_task_rests() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker(dir.path(), &["a", "out"]);
    let p = open(dir.path(), &broker);
    let mut held = spec(&["a"]);
    held.commit_interval_ms = Some(60_000);
    p.create(held).unwrap();
    for v in ["a0", "a1", "a2"] {
        produce(&broker, "a", v);
    }
    // The rounds that read them are held for a minute unless a task with nothing left to
    // read commits what it holds: a lag of 0 is the committed position, well before that.
    wait_processed(&p, 3);
    assert_eq!(p.status("p").unwrap().tasks[0].committed_offset, 3);
    p.shutdown();
    drop(p);
    let db = reopen(|| {
        sled::Config::new()
            .path(dir.path().join("pipelines/db"))
            .open()
    });
    let cp = store::load_checkpoint(&db.open_tree("task/p/0").unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(cp.inputs, vec![3]);
    assert_eq!(cp.sequences["out"][&0], 3);
    assert_eq!(values(&broker, "out"), ["a0", "a1", "a2"]);
}
