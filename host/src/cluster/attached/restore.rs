//! Restoring a task's state cache from its changelog partitions: the cache is wiped and
//! each stateful step's `<pipeline>-<step>-changelog` partition is read, read_committed,
//! from its start to its end, puts applied and tombstones removed, before the task runs a
//! record. Kafka Streams' rule under exactly-once without a clean checkpoint.

use std::time::{Duration, Instant};

use crate::cluster::{Cluster, TopicOffset};
use crate::pipeline::state::step_prefix;

use super::error::AttachedError;

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

/// Wipes `tree` and fills it from the changelogs `(step, topic)` at `partition`.
pub fn restore(
    cluster: &dyn Cluster,
    tree: &sled::Tree,
    changelogs: &[(usize, String)],
    partition: i32,
) -> Result<Restored, AttachedError> {
    let started = Instant::now();
    tree.clear()?;
    let admin = cluster.admin()?;
    let mut records = 0u64;
    for (step, topic) in changelogs {
        let (start, end) = admin.watermarks(topic, partition)?;
        if end <= start {
            continue;
        }
        let mut consumer = cluster.consumer(None)?;
        consumer.assign(&[TopicOffset {
            topic: topic.clone(),
            partition,
            offset: start,
        }])?;
        let prefix = step_prefix(*step);
        let deadline = Instant::now() + RESTORE_DEADLINE;
        let mut seen = start;
        loop {
            let got = consumer.poll(RESTORE_BATCH, Duration::from_millis(200))?;
            let mut batch = sled::Batch::default();
            for r in &got {
                let key = [&prefix[..], r.key.as_deref().unwrap_or_default()].concat();
                match &r.value {
                    Some(v) => batch.insert(key, v.as_slice()),
                    None => batch.remove(key),
                }
            }
            records += got.len() as u64;
            if let Some(last) = got.last() {
                seen = last.offset + 1;
            }
            tree.apply_batch(batch)?;
            // The position passes control records and aborted data, which poll never
            // returns: the end is reached when it does.
            let at = consumer
                .positions()?
                .into_iter()
                .find(|p| p.topic == *topic && p.partition == partition)
                .map_or(seen, |p| p.offset)
                .max(seen);
            // Or nothing more comes and only the last transaction's commit marker is left.
            if at >= end || (got.is_empty() && seen + 1 >= end - 1) {
                break;
            }
            if Instant::now() > deadline {
                return Err(AttachedError::RestoreStalled {
                    topic: topic.clone(),
                    partition,
                    at,
                    end,
                });
            }
        }
    }
    Ok(Restored {
        records,
        took: started.elapsed(),
    })
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

    struct FakeCluster(Log);
    struct FakeAdmin(Log);
    struct FakeConsumer {
        log: Log,
        at: i64,
    }

    impl Cluster for FakeCluster {
        fn consumer(&self, _: Option<&str>) -> Result<Box<dyn Consumer>, ClusterError> {
            Ok(Box::new(FakeConsumer {
                log: self.0.clone(),
                at: 0,
            }))
        }
        fn producer(&self, _: ProducerMode) -> Result<Box<dyn Producer>, ClusterError> {
            unreachable!("a restore produces nothing")
        }
        fn admin(&self) -> Result<Box<dyn Admin>, ClusterError> {
            Ok(Box::new(FakeAdmin(self.0.clone())))
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
        Fetched {
            topic: "p-s-changelog".into(),
            partition: 3,
            offset,
            timestamp: None,
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
        let cluster = FakeCluster(log);
        let changelogs = [(2, "p-s-changelog".to_string())];
        let r = restore(&cluster, &tree, &changelogs, 3).unwrap();
        assert_eq!(r.records, 5);
        let got: Vec<(Vec<u8>, Vec<u8>)> = tree
            .iter()
            .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
            .collect();
        assert_eq!(
            got,
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
        let cluster = FakeCluster(Log {
            records: Vec::new(),
            end: 0,
        });
        let r = restore(&cluster, &tree, &[(0, "c".into())], 0).unwrap();
        assert_eq!(r.records, 0);
        assert!(tree.is_empty());
        assert_eq!(r.rate(), 0.0);
    }
}
