//! Restores against a changelog cluster in memory: full, tail, and what forces full.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::*;
use crate::cluster::{
    Admin, ClusterError, Consumer, Fetched, GroupInfo, GroupMetadata, MemberInfo, Producer,
    ProducerMode, RebalanceListener, TopicInfo,
};
use crate::pipeline::spec::SOURCE_SLOT_BASE;
use crate::pipeline::state::{WINDOWS_SPACE, step_prefix};

/// A changelog partition in memory: records at offsets, the end past a commit marker.
#[derive(Clone)]
struct Log {
    records: Vec<Fetched>,
    end: i64,
}

/// The plain changelog most tests use.
const TOPIC: &str = "p-s-changelog";

/// The changelogs as they are now, by topic (partition 3 of each): another node's
/// writes, or a topic recreated, replace them.
struct FakeCluster(parking_lot::Mutex<BTreeMap<String, Log>>);
struct FakeAdmin(BTreeMap<String, Log>);
struct FakeConsumer {
    logs: BTreeMap<String, Log>,
    topic: String,
    at: i64,
}

impl FakeCluster {
    /// A cluster of [`TOPIC`] alone.
    fn one(log: Log) -> FakeCluster {
        FakeCluster::of(&[(TOPIC, log)])
    }

    fn of(logs: &[(&str, Log)]) -> FakeCluster {
        let logs = logs.iter().map(|(t, l)| (t.to_string(), l.clone()));
        FakeCluster(parking_lot::Mutex::new(logs.collect()))
    }

    /// `topic` replaced by `log` (deleted and created again).
    fn set(&self, topic: &str, log: Log) {
        self.0.lock().insert(topic.into(), log);
    }
}

impl Cluster for FakeCluster {
    fn consumer(&self, _: Option<&str>) -> Result<Box<dyn Consumer>, ClusterError> {
        Ok(Box::new(FakeConsumer {
            logs: self.0.lock().clone(),
            topic: String::new(),
            at: 0,
        }))
    }
    fn producer(&self, _: ProducerMode) -> Result<Box<dyn Producer>, ClusterError> {
        unreachable!("a restore produces nothing")
    }
    fn admin(&self) -> Result<Box<dyn Admin>, ClusterError> {
        Ok(Box::new(FakeAdmin(self.0.lock().clone())))
    }
}

impl Admin for FakeAdmin {
    fn topics(&self) -> Result<Vec<TopicInfo>, ClusterError> {
        unreachable!()
    }
    fn create_topic(
        &self,
        _: &str,
        _: i32,
        _: &BTreeMap<String, String>,
    ) -> Result<(), ClusterError> {
        unreachable!()
    }
    fn create_partitions(&self, _: &str, _: i32) -> Result<(), ClusterError> {
        unreachable!()
    }
    fn describe_configs(&self, _: &str) -> Result<BTreeMap<String, String>, ClusterError> {
        unreachable!()
    }
    fn alter_configs(&self, _: &str, _: &BTreeMap<String, String>) -> Result<(), ClusterError> {
        unreachable!()
    }
    fn watermarks(&self, topic: &str, _: i32) -> Result<(i64, i64), ClusterError> {
        Ok((0, self.0.get(topic).map_or(0, |l| l.end)))
    }
    fn groups(&self) -> Result<Vec<GroupInfo>, ClusterError> {
        unreachable!()
    }
    fn group_members(&self, _: &str) -> Result<Vec<MemberInfo>, ClusterError> {
        unreachable!()
    }
    fn group_offsets(
        &self,
        _: &str,
        _: &[(String, i32)],
    ) -> Result<Vec<TopicOffset>, ClusterError> {
        unreachable!()
    }
    fn alter_group_offsets(&self, _: &str, _: &[TopicOffset]) -> Result<(), ClusterError> {
        unreachable!()
    }
}

impl Consumer for FakeConsumer {
    fn subscribe(&mut self, _: &[String]) -> Result<(), ClusterError> {
        unreachable!()
    }
    fn subscribe_observed(
        &mut self,
        _: &[String],
        _: Arc<dyn RebalanceListener>,
    ) -> Result<(), ClusterError> {
        unreachable!()
    }
    fn assign(&mut self, positions: &[TopicOffset]) -> Result<(), ClusterError> {
        self.topic = positions[0].topic.clone();
        self.at = positions[0].offset;
        Ok(())
    }
    fn seek(&mut self, _: &TopicOffset, _: Duration) -> Result<(), ClusterError> {
        unreachable!()
    }
    /// Two records a poll; past the last one the position jumps to the end (the
    /// marker is read but never returned).
    fn poll(&mut self, _: usize, _: Duration) -> Result<Vec<Fetched>, ClusterError> {
        let Some(log) = self.logs.get(&self.topic) else {
            return Ok(Vec::new());
        };
        let out: Vec<Fetched> = log
            .records
            .iter()
            .filter(|r| r.offset >= self.at)
            .take(2)
            .cloned()
            .collect();
        self.at = match out.last() {
            Some(r) if log.records.last().map(|l| l.offset) != Some(r.offset) => r.offset + 1,
            _ => log.end,
        };
        Ok(out)
    }
    fn commit(&mut self, _: &[TopicOffset]) -> Result<(), ClusterError> {
        unreachable!()
    }
    fn committed(
        &mut self,
        _: &[(String, i32)],
        _: Duration,
    ) -> Result<Vec<TopicOffset>, ClusterError> {
        unreachable!()
    }
    fn group_metadata(&self) -> Option<GroupMetadata> {
        None
    }
    fn positions(&self) -> Result<Vec<TopicOffset>, ClusterError> {
        Ok(vec![TopicOffset {
            topic: self.topic.clone(),
            partition: 3,
            offset: self.at,
        }])
    }
}

fn rec(offset: i64, key: &str, value: Option<&str>) -> Fetched {
    stamped(offset, key, value, 1)
}

fn stamped(offset: i64, key: &str, value: Option<&str>, ts: i64) -> Fetched {
    Fetched {
        topic: "p-s-changelog".into(),
        partition: 3,
        offset,
        timestamp: Some(ts),
        key: Some(key.as_bytes().to_vec()),
        value: value.map(|v| v.as_bytes().to_vec()),
        headers: Vec::new(),
    }
}

#[test]
fn a_restore_wipes_the_cache_and_applies_puts_and_tombstones_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let db = sled::Config::new().path(dir.path()).open().unwrap();
    let tree = db.open_tree("t").unwrap();
    let key = |step: usize, k: &str| [&step_prefix(step)[..], k.as_bytes()].concat();
    // Left from before: gone after the restore.
    tree.insert(key(2, "stale"), b"x".as_slice()).unwrap();
    let log = Log {
        records: vec![
            rec(0, "a", Some("1")),
            rec(1, "b", Some("1")),
            rec(2, "a", Some("2")),
            rec(3, "b", None),
            rec(4, "c", Some("1")),
        ],
        // A commit marker at 5.
        end: 6,
    };
    let cluster = FakeCluster::one(log);
    let changelogs = [(Store::Plain(2), TOPIC.to_string())];
    let r = restore(&cluster, &tree, &changelogs, 3).unwrap();
    assert_eq!(r.records, 5);
    assert_eq!(
        state(&tree),
        vec![(key(2, "a"), b"2".to_vec()), (key(2, "c"), b"1".to_vec()),],
        "the newest value per key, deleted keys gone, under the step's prefix"
    );
}

#[test]
fn an_empty_changelog_restores_nothing_and_still_wipes() {
    let dir = tempfile::tempdir().unwrap();
    let db = sled::Config::new().path(dir.path()).open().unwrap();
    let tree = db.open_tree("t").unwrap();
    tree.insert(b"old", b"x".as_slice()).unwrap();
    let cluster = FakeCluster::of(&[]);
    let r = restore(&cluster, &tree, &[(Store::Plain(0), "c".into())], 0).unwrap();
    assert_eq!(r.records, 0);
    assert!(state(&tree).is_empty());
    assert_eq!(r.rate(), 0.0);
}

/// The tree's entries but the mark.
fn state(tree: &sled::Tree) -> Vec<(Vec<u8>, Vec<u8>)> {
    tree.iter()
        .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
        .filter(|(k, _)| k.as_slice() != crate::pipeline::state::CHECKPOINT_KEY)
        .collect()
}

/// Appends what a node's committed round sends to the log (a marker after it) and
/// commits it to that node's cache, as the runner does.
fn round(cluster: &FakeCluster, tree: &sled::Tree, kvs: &[(&str, Option<&str>)], ts: i64) {
    round_in(cluster, tree, &[(Store::Plain(2), TOPIC, kvs)], ts);
}

/// One committed round's writes to several stores, each to its changelog (one
/// transaction: a marker after the round's records in each).
type StoreWrites<'a> = (Store, &'a str, &'a [(&'a str, Option<&'a str>)]);
fn round_in(cluster: &FakeCluster, tree: &sled::Tree, stores: &[StoreWrites<'_>], ts: i64) {
    let mut logs = cluster.0.lock();
    let mut sent = Vec::new();
    let mut places = Vec::new();
    let mut writes = crate::pipeline::state::Writes::new();
    for (store, topic, kvs) in stores {
        let log = logs.entry(topic.to_string()).or_insert(Log {
            records: Vec::new(),
            end: 0,
        });
        for (k, v) in kvs.iter() {
            let offset = log.end;
            log.end += 1;
            log.records.push(Fetched {
                topic: topic.to_string(),
                ..stamped(offset, k, *v, ts)
            });
            sent.push(crate::cluster::OutRecord {
                topic: topic.to_string(),
                partition: Some(3),
                timestamp: Some(ts),
                key: Some(k.as_bytes().to_vec()),
                value: v.map(|v| v.as_bytes().to_vec()),
                headers: Vec::new(),
            });
            places.push(crate::cluster::Delivered {
                partition: 3,
                offset,
            });
            let key = [&store.prefix()[..], k.as_bytes()].concat();
            writes.insert(key, v.map(|v| v.as_bytes().to_vec()));
        }
        log.end += 1;
    }
    drop(logs);
    super::super::mark::commit(tree, &writes, &sent, &places).unwrap();
}

fn first_log() -> Log {
    Log {
        records: vec![rec(0, "a", Some("1")), rec(1, "b", Some("1"))],
        end: 3,
    }
}

#[test]
fn a_task_back_on_its_node_reads_only_what_others_wrote_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let db = sled::Config::new().path(dir.path()).open().unwrap();
    let (here, there) = (
        db.open_tree("here").unwrap(),
        db.open_tree("there").unwrap(),
    );
    let cluster = FakeCluster::one(first_log());
    let changelogs = [(Store::Plain(2), TOPIC.to_string())];
    let r = restore(&cluster, &here, &changelogs, 3).unwrap();
    assert_eq!((r.records, r.tail), (2, false), "a first restore is full");
    round(&cluster, &here, &[("a", Some("2")), ("c", Some("1"))], 10);
    // The task moves away: the other node restores in full and writes on.
    let r = restore(&cluster, &there, &changelogs, 3).unwrap();
    assert_eq!((r.records, r.tail), (4, false));
    round(&cluster, &there, &[("a", Some("3")), ("b", None)], 20);
    round(&cluster, &there, &[("d", Some("1"))], 21);
    // And back: only the other node's three records are read.
    let r = restore(&cluster, &here, &changelogs, 3).unwrap();
    assert_eq!((r.records, r.tail), (3, true), "{r:?}");
    assert_eq!(
        state(&here),
        state(&there),
        "the same state as the other node's"
    );
    let key = |k: &str| [&step_prefix(2)[..], k.as_bytes()].concat();
    assert_eq!(
        state(&here),
        vec![
            (key("a"), b"3".to_vec()),
            (key("c"), b"1".to_vec()),
            (key("d"), b"1".to_vec())
        ]
    );
    // Nothing new: a tail of nothing, the state untouched; rounds go on from there.
    let r = restore(&cluster, &here, &changelogs, 3).unwrap();
    assert_eq!((r.records, r.tail), (0, true));
    round(&cluster, &here, &[("c", None)], 30);
    let fresh = db.open_tree("fresh").unwrap();
    restore(&cluster, &fresh, &changelogs, 3).unwrap();
    assert_eq!(
        state(&here),
        state(&fresh),
        "the tail's state is the full one"
    );
}

#[test]
fn a_recreated_changelog_forces_a_full_restore() {
    let dir = tempfile::tempdir().unwrap();
    let db = sled::Config::new().path(dir.path()).open().unwrap();
    let tree = db.open_tree("t").unwrap();
    let changelogs = [(Store::Plain(2), TOPIC.to_string())];
    let cluster = FakeCluster::one(first_log());
    restore(&cluster, &tree, &changelogs, 3).unwrap();
    round(&cluster, &tree, &[("a", Some("2"))], 10);
    // Deleted and created again, then written past the mark with the same bytes at
    // the same offsets by another incarnation: only the timestamps differ.
    let recreated = Log {
        records: vec![
            rec(0, "a", Some("1")),
            rec(1, "b", Some("1")),
            stamped(3, "a", Some("2"), 11),
            stamped(5, "x", Some("9"), 12),
        ],
        end: 7,
    };
    cluster.set(TOPIC, recreated);
    let r = restore(&cluster, &tree, &changelogs, 3).unwrap();
    assert_eq!((r.records, r.tail), (4, false), "{r:?}");
    let fresh = db.open_tree("fresh").unwrap();
    restore(&cluster, &fresh, &changelogs, 3).unwrap();
    assert_eq!(state(&tree), state(&fresh));
    // Recreated and shorter than the mark: full, without reading a proof.
    round(&cluster, &tree, &[("y", Some("1"))], 40);
    cluster.set(TOPIC, first_log());
    let r = restore(&cluster, &tree, &changelogs, 3).unwrap();
    assert_eq!((r.records, r.tail), (2, false));
    // The proof record compacted away: nothing proves the log, so full.
    round(&cluster, &tree, &[("a", Some("5"))], 50);
    round(&cluster, &tree, &[("a", Some("6"))], 51);
    if let Some(log) = cluster.0.lock().get_mut(TOPIC) {
        log.records.retain(|r| r.timestamp != Some(51));
    }
    let r = restore(&cluster, &tree, &changelogs, 3).unwrap();
    assert!(!r.tail, "{r:?}");
    // Another step list (a step added by an update): full.
    let r = restore(
        &cluster,
        &tree,
        &[
            (Store::Plain(2), TOPIC.to_string()),
            (Store::Plain(3), TOPIC.to_string()),
        ],
        3,
    )
    .unwrap();
    assert!(!r.tail);
}

/// An aggregation step's (1), a table source's and a processor's (0) plain and windows
/// changelogs, as the runner lists them: plain slots first, then windows.
fn streams_changelogs() -> Vec<(Store, String)> {
    vec![
        (Store::Plain(0), "p-proc-changelog".into()),
        (Store::Plain(1), "p-agg-changelog".into()),
        (Store::Plain(SOURCE_SLOT_BASE), "p-t-changelog".into()),
        (Store::Windows(0), "p-proc-windows-changelog".into()),
    ]
}

/// Each of [`streams_changelogs`] with a committed record or two already.
fn streams_cluster() -> FakeCluster {
    let log = |records: Vec<Fetched>, topic: &str| Log {
        end: records.len() as i64 + 1,
        records: records
            .into_iter()
            .map(|r| Fetched {
                topic: topic.into(),
                ..r
            })
            .collect(),
    };
    let logs = [
        ("p-proc-changelog", vec![rec(0, "k", Some("1"))]),
        ("p-agg-changelog", vec![rec(0, "w@0:a", Some("2"))]),
        (
            "p-t-changelog",
            vec![rec(0, "row1", Some("x")), rec(1, "row2", Some("y"))],
        ),
        (
            "p-proc-windows-changelog",
            vec![rec(0, "win@0:a", Some("1")), rec(1, "clock", Some("100"))],
        ),
    ];
    let logs: Vec<(&str, Log)> = logs.into_iter().map(|(t, r)| (t, log(r, t))).collect();
    FakeCluster::of(&logs)
}

/// The window-space entries of `tree`.
fn window_space(tree: &sled::Tree) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut all = state(tree);
    all.retain(|(k, _)| k[0] == WINDOWS_SPACE);
    all
}

#[test]
fn a_windows_step_and_a_table_source_come_back_with_only_their_tails() {
    let dir = tempfile::tempdir().unwrap();
    let db = sled::Config::new().path(dir.path()).open().unwrap();
    let (here, there) = (
        db.open_tree("here").unwrap(),
        db.open_tree("there").unwrap(),
    );
    let cluster = streams_cluster();
    let changelogs = streams_changelogs();
    let r = restore(&cluster, &here, &changelogs, 3).unwrap();
    assert_eq!((r.records, r.tail), (6, false), "a first restore is full");
    let wkey = |k: &str| [&Store::Windows(0).prefix()[..], k.as_bytes()].concat();
    assert_eq!(
        window_space(&here),
        vec![
            (wkey("clock"), b"100".to_vec()),
            (wkey("win@0:a"), b"1".to_vec())
        ],
        "the windows changelog lands in the step's window space, not its plain one"
    );
    round_in(
        &cluster,
        &here,
        &[
            (Store::Plain(1), "p-agg-changelog", &[("w@0:a", Some("3"))]),
            (
                Store::Windows(0),
                "p-proc-windows-changelog",
                &[("win@10:a", Some("1")), ("clock", Some("110"))],
            ),
        ],
        10,
    );
    // The task moves away: the other node restores in full and writes on to every
    // store, window space tombstones included.
    let r = restore(&cluster, &there, &changelogs, 3).unwrap();
    assert_eq!((r.records, r.tail), (9, false));
    round_in(
        &cluster,
        &there,
        &[
            (Store::Plain(0), "p-proc-changelog", &[("k", Some("2"))]),
            (Store::Plain(1), "p-agg-changelog", &[("w@10:b", Some("1"))]),
            (
                Store::Plain(SOURCE_SLOT_BASE),
                "p-t-changelog",
                &[("row1", None), ("row3", Some("z"))],
            ),
            (
                Store::Windows(0),
                "p-proc-windows-changelog",
                &[("win@0:a", None), ("clock", Some("120"))],
            ),
        ],
        20,
    );
    // And back: only the other node's six records, each into its store; the window
    // space it kept (win@10:a, which the other node did not touch) stays valid.
    let r = restore(&cluster, &here, &changelogs, 3).unwrap();
    assert_eq!((r.records, r.tail), (6, true), "{r:?}");
    assert_eq!(state(&here), state(&there));
    assert_eq!(
        window_space(&here),
        vec![
            (wkey("clock"), b"120".to_vec()),
            (wkey("win@10:a"), b"1".to_vec())
        ]
    );
    let fresh = db.open_tree("fresh").unwrap();
    restore(&cluster, &fresh, &changelogs, 3).unwrap();
    assert_eq!(
        state(&here),
        state(&fresh),
        "the tails' state is the full one, window space included"
    );
    // Nothing new: a tail of nothing.
    let r = restore(&cluster, &here, &changelogs, 3).unwrap();
    assert_eq!((r.records, r.tail), (0, true));
}

#[test]
fn a_recreated_windows_or_table_changelog_forces_a_full_restore() {
    let dir = tempfile::tempdir().unwrap();
    let db = sled::Config::new().path(dir.path()).open().unwrap();
    let tree = db.open_tree("t").unwrap();
    let cluster = streams_cluster();
    let changelogs = streams_changelogs();
    let check_full = |why: &str| {
        let r = restore(&cluster, &tree, &changelogs, 3).unwrap();
        assert!(!r.tail, "{why}: {r:?}");
        let fresh = db.open_tree("fresh").unwrap();
        fresh.clear().unwrap();
        restore(&cluster, &fresh, &changelogs, 3).unwrap();
        assert_eq!(state(&tree), state(&fresh), "{why}");
    };
    restore(&cluster, &tree, &changelogs, 3).unwrap();
    let windows: &[(&str, Option<&str>)] = &[("win@0:a", Some("5")), ("gone", Some("1"))];
    round_in(
        &cluster,
        &tree,
        &[(Store::Windows(0), "p-proc-windows-changelog", windows)],
        10,
    );
    // The windows changelog deleted and created again with the same bytes at the same
    // offsets, stamped at other times: the cache's window space (`gone`) is not trusted.
    let recreated = Log {
        records: vec![
            Fetched {
                topic: "p-proc-windows-changelog".into(),
                ..rec(0, "win@0:a", Some("1"))
            },
            Fetched {
                topic: "p-proc-windows-changelog".into(),
                ..stamped(3, "win@0:a", Some("5"), 11)
            },
            Fetched {
                topic: "p-proc-windows-changelog".into(),
                ..stamped(4, "other", Some("1"), 12)
            },
        ],
        end: 6,
    };
    cluster.set("p-proc-windows-changelog", recreated);
    check_full("windows changelog recreated");
    assert!(
        !window_space(&tree)
            .iter()
            .any(|(k, _)| k.ends_with(b"gone")),
        "the old incarnation's window keys are wiped"
    );
    // A table source's changelog recreated, shorter than the mark: full.
    round_in(
        &cluster,
        &tree,
        &[(
            Store::Plain(SOURCE_SLOT_BASE),
            "p-t-changelog",
            &[("row9", Some("q"))],
        )],
        30,
    );
    cluster.set(
        "p-t-changelog",
        Log {
            records: vec![Fetched {
                topic: "p-t-changelog".into(),
                ..rec(0, "row1", Some("x"))
            }],
            end: 2,
        },
    );
    check_full("table source changelog recreated");
    // A mark that names no windows changelog (written before the step kept windows):
    // the window space is not proven, so full.
    let plain_only: Vec<_> = changelogs[..3].to_vec();
    restore(&cluster, &tree, &plain_only, 3).unwrap();
    check_full("windows changelog missing from the mark");
}
