//! Restoring a task's state cache from its changelog partitions before the task runs a
//! record. When the cache's [`CacheMark`] is for these changelogs, is at or below each
//! one's end and its proof record reads back the same ([`super::mark`]), only the tail
//! past the mark is read: what other nodes wrote while the task was elsewhere. Otherwise
//! the cache is wiped and each stateful step's `<pipeline>-<step>-changelog` partition is
//! read from its start (Kafka Streams' rule under exactly-once without a checkpoint it
//! can trust). Either way records are read read_committed to the end, puts applied and
//! tombstones removed, and the new mark is written last.

use std::time::{Duration, Instant};

use crate::cluster::{Cluster, Fetched, TopicOffset};
use crate::pipeline::state::step_prefix;

use super::error::AttachedError;
use super::mark::{CacheMark, Mark, Proof};

/// Records asked for per poll of a restore.
const RESTORE_BATCH: usize = 10_000;
/// How long a restore may take to reach a changelog's end (an open transaction of a
/// dead node holds read_committed readers back until its timeout aborts it).
const RESTORE_DEADLINE: Duration = Duration::from_secs(120);

/// What a restore read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Restored {
    /// Changelog records applied.
    pub records: u64,
    /// How long it took.
    pub took: Duration,
    /// Whether only the tail past the cache's mark was read (else: wiped, read in full).
    pub tail: bool,
}

impl Restored {
    /// Records per second (0 when nothing was read).
    pub fn rate(&self) -> f64 {
        let s = self.took.as_secs_f64();
        if self.records == 0 || s == 0.0 {
            0.0
        } else {
            self.records as f64 / s
        }
    }
}

/// Brings `tree` up to the ends of the changelogs `(step, topic)` at `partition`: their
/// tails past its mark if the mark proves itself, else wiped and in full.
pub fn restore(
    cluster: &dyn Cluster,
    tree: &sled::Tree,
    changelogs: &[(usize, String)],
    partition: i32,
) -> Result<Restored, AttachedError> {
    let started = Instant::now();
    let admin = cluster.admin()?;
    let mut ends = Vec::with_capacity(changelogs.len());
    for (_, topic) in changelogs {
        ends.push(admin.watermarks(topic, partition)?);
    }
    if let Some(mark) = CacheMark::read(tree)?
        && mark.covers(changelogs, partition)
        && mark
            .changelogs
            .iter()
            .zip(&ends)
            .all(|(m, (_, end))| m.next <= *end)
        && let Some(records) = tail(cluster, tree, mark, &ends)?
    {
        return Ok(Restored {
            records,
            took: started.elapsed(),
            tail: true,
        });
    }
    let records = full(cluster, tree, changelogs, partition, &ends)?;
    Ok(Restored {
        records,
        took: started.elapsed(),
        tail: false,
    })
}

/// Reads each changelog of `mark` from its proof record (checked first) to its end.
/// `None`: a proof record did not read back the same (the log was recreated, or the record
/// compacted or deleted away); what was applied meanwhile is wiped by the full restore.
fn tail(
    cluster: &dyn Cluster,
    tree: &sled::Tree,
    mut mark: CacheMark,
    ends: &[(i64, i64)],
) -> Result<Option<u64>, AttachedError> {
    let mut records = 0;
    for (m, (_, end)) in mark.changelogs.iter_mut().zip(ends) {
        let from = m.proof.as_ref().map_or(0, |p| p.offset);
        let mut proven = m.proof.is_none();
        let mut refuted = false;
        let reached = read(cluster, &m.topic, m.partition, from, *end, |got| {
            let mut rest = got;
            if !proven {
                match (got.first(), &m.proof) {
                    (Some(first), Some(p)) if p.matches(first) => {
                        proven = true;
                        rest = &got[1..];
                    }
                    (None, _) => return Ok(true),
                    _ => {
                        refuted = true;
                        return Ok(false);
                    }
                }
            }
            apply(tree, m.step, rest)?;
            records += rest.len() as u64;
            if let Some(last) = rest.last() {
                m.proof = Some(Proof::of_fetched(last));
            }
            Ok(true)
        })?;
        if refuted || !proven {
            return Ok(None);
        }
        m.next = m.next.max(reached);
    }
    let mut batch = sled::Batch::default();
    mark.put(&mut batch);
    tree.apply_batch(batch)?;
    Ok(Some(records))
}

/// Wipes `tree` and reads every changelog from its start; the mark goes in last, so a
/// restore cut short leaves none and the next one is full again.
fn full(
    cluster: &dyn Cluster,
    tree: &sled::Tree,
    changelogs: &[(usize, String)],
    partition: i32,
    ends: &[(i64, i64)],
) -> Result<u64, AttachedError> {
    tree.clear()?;
    let mut records = 0;
    let mut mark = CacheMark::default();
    for ((step, topic), (start, end)) in changelogs.iter().zip(ends) {
        let mut proof = None;
        let reached = if end <= start {
            *end
        } else {
            read(cluster, topic, partition, *start, *end, |got| {
                apply(tree, *step, got)?;
                records += got.len() as u64;
                if let Some(last) = got.last() {
                    proof = Some(Proof::of_fetched(last));
                }
                Ok(true)
            })?
        };
        mark.changelogs.push(Mark {
            step: *step,
            topic: topic.clone(),
            partition,
            next: reached,
            proof,
        });
    }
    let mut batch = sled::Batch::default();
    mark.put(&mut batch);
    tree.apply_batch(batch)?;
    Ok(records)
}

/// Applies changelog records of `step` to the cache, in order, in one batch.
fn apply(tree: &sled::Tree, step: usize, got: &[Fetched]) -> Result<(), AttachedError> {
    let prefix = step_prefix(step);
    let mut batch = sled::Batch::default();
    for r in got {
        let key = [&prefix[..], r.key.as_deref().unwrap_or_default()].concat();
        match &r.value {
            Some(v) => batch.insert(key, v.as_slice()),
            None => batch.remove(key),
        }
    }
    tree.apply_batch(batch)?;
    Ok(())
}

/// Reads `topic`'s `partition` read_committed from `from` until the position passes
/// `end`, handing each poll's records to `each` (which answers whether to go on); returns
/// the position reached.
fn read(
    cluster: &dyn Cluster,
    topic: &str,
    partition: i32,
    from: i64,
    end: i64,
    mut each: impl FnMut(&[Fetched]) -> Result<bool, AttachedError>,
) -> Result<i64, AttachedError> {
    let mut consumer = cluster.consumer(None)?;
    consumer.assign(&[TopicOffset {
        topic: topic.to_string(),
        partition,
        offset: from,
    }])?;
    let deadline = Instant::now() + RESTORE_DEADLINE;
    let mut seen = from;
    loop {
        let got = consumer.poll(RESTORE_BATCH, Duration::from_millis(200))?;
        if !each(&got)? {
            return Ok(seen);
        }
        if let Some(last) = got.last() {
            seen = last.offset + 1;
        }
        // The position passes control records and aborted data, which poll never
        // returns: the end is reached when it does.
        let at = consumer
            .positions()?
            .into_iter()
            .find(|p| p.topic == topic && p.partition == partition)
            .map_or(seen, |p| p.offset)
            .max(seen);
        // Or nothing more comes, something was read, and only the last transactions'
        // markers can be left (a first poll that comes back empty proves nothing: the
        // fetch may not have answered yet).
        let markers_left = seen + 2 >= end && (seen > from || end - from <= 1);
        if at >= end || (got.is_empty() && markers_left) {
            return Ok(at.max(seen));
        }
        if Instant::now() > deadline {
            return Err(AttachedError::RestoreStalled {
                topic: topic.to_string(),
                partition,
                at,
                end,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use super::*;
    use crate::cluster::{
        Admin, ClusterError, Consumer, Fetched, GroupInfo, GroupMetadata, MemberInfo, Producer,
        ProducerMode, RebalanceListener, TopicInfo,
    };

    /// A changelog partition in memory: records at offsets, the end past a commit marker.
    #[derive(Clone)]
    struct Log {
        records: Vec<Fetched>,
        end: i64,
    }

    /// The changelog as it is now: another node's writes, or the topic recreated, replace it.
    struct FakeCluster(parking_lot::Mutex<Log>);
    struct FakeAdmin(Log);
    struct FakeConsumer {
        log: Log,
        at: i64,
    }

    impl Cluster for FakeCluster {
        fn consumer(&self, _: Option<&str>) -> Result<Box<dyn Consumer>, ClusterError> {
            Ok(Box::new(FakeConsumer {
                log: self.0.lock().clone(),
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
        fn watermarks(&self, _: &str, _: i32) -> Result<(i64, i64), ClusterError> {
            Ok((0, self.0.end))
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
            self.at = positions[0].offset;
            Ok(())
        }
        fn seek(&mut self, _: &TopicOffset, _: Duration) -> Result<(), ClusterError> {
            unreachable!()
        }
        /// Two records a poll; past the last one the position jumps to the end (the
        /// marker is read but never returned).
        fn poll(&mut self, _: usize, _: Duration) -> Result<Vec<Fetched>, ClusterError> {
            let out: Vec<Fetched> = self
                .log
                .records
                .iter()
                .filter(|r| r.offset >= self.at)
                .take(2)
                .cloned()
                .collect();
            self.at = match out.last() {
                Some(r) if self.log.records.last().map(|l| l.offset) != Some(r.offset) => {
                    r.offset + 1
                }
                _ => self.log.end,
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
                topic: "p-s-changelog".into(),
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
        let cluster = FakeCluster(log.into());
        let changelogs = [(2, "p-s-changelog".to_string())];
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
        let cluster = FakeCluster(
            Log {
                records: Vec::new(),
                end: 0,
            }
            .into(),
        );
        let r = restore(&cluster, &tree, &[(0, "c".into())], 0).unwrap();
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
        let mut log = cluster.0.lock();
        let mut sent = Vec::new();
        let mut places = Vec::new();
        let mut writes = crate::pipeline::state::Writes::new();
        for (k, v) in kvs {
            let offset = log.end;
            log.end += 1;
            log.records.push(stamped(offset, k, *v, ts));
            sent.push(crate::cluster::OutRecord {
                topic: "p-s-changelog".into(),
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
            let key = [&step_prefix(2)[..], k.as_bytes()].concat();
            writes.insert(key, v.map(|v| v.as_bytes().to_vec()));
        }
        log.end += 1;
        drop(log);
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
        let cluster = FakeCluster(first_log().into());
        let changelogs = [(2, "p-s-changelog".to_string())];
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
        let changelogs = [(2, "p-s-changelog".to_string())];
        let cluster = FakeCluster(first_log().into());
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
        *cluster.0.lock() = recreated.clone();
        let r = restore(&cluster, &tree, &changelogs, 3).unwrap();
        assert_eq!((r.records, r.tail), (4, false), "{r:?}");
        let fresh = db.open_tree("fresh").unwrap();
        restore(&cluster, &fresh, &changelogs, 3).unwrap();
        assert_eq!(state(&tree), state(&fresh));
        // Recreated and shorter than the mark: full, without reading a proof.
        round(&cluster, &tree, &[("y", Some("1"))], 40);
        *cluster.0.lock() = first_log();
        let r = restore(&cluster, &tree, &changelogs, 3).unwrap();
        assert_eq!((r.records, r.tail), (2, false));
        // The proof record compacted away: nothing proves the log, so full.
        round(&cluster, &tree, &[("a", Some("5"))], 50);
        round(&cluster, &tree, &[("a", Some("6"))], 51);
        let mut log = cluster.0.lock();
        log.records.retain(|r| r.timestamp != Some(51));
        drop(log);
        let r = restore(&cluster, &tree, &changelogs, 3).unwrap();
        assert!(!r.tail, "{r:?}");
        // Another step list (a step added by an update): full.
        let r = restore(
            &cluster,
            &tree,
            &[
                (2, "p-s-changelog".to_string()),
                (3, "p-s-changelog".to_string()),
            ],
            3,
        )
        .unwrap();
        assert!(!r.tail);
    }
}
