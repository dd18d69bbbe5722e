//! The `MirrorCheckpointConnector` task: reads the offset syncs as they come, and every
//! `emit.checkpoints.interval.seconds` translates each source group's committed offsets of
//! mirrored partitions into checkpoints on `<source>.checkpoints.internal` (target); with
//! `sync.group.offsets.enabled` it also commits them to the target's group, only forward and
//! only while that group has no active members there (MM2's rule: never under a consumer).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::cluster::{self, Admin, Consumer, OutRecord, Producer, ProducerMode, TopicOffset};

use super::config::MirrorConfig;
use super::error::{MirrorError, on};
use super::metrics::MirrorMetrics;
use super::policy::checkpoints_topic;
use super::records::{Checkpoint, OffsetSync};
use super::source::{compacted, ensure_topic};
use super::syncs::OffsetSyncStore;
use super::{MirrorTaskContext, STEP_WAIT, Step};

/// Each group's translated offsets: `(remote topic, partition, upstream, downstream)`.
type Translated = BTreeMap<String, Vec<(String, i32, i64, i64)>>;

/// How long a round's delivery may take.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(60);

/// Offset-sync records that could not be decoded: skipped and counted, so one bad record
/// (another writer's, or a newer format) does not fail the task on every restart.
#[derive(Debug, Default)]
struct BadSyncs {
    skipped: u64,
}

impl BadSyncs {
    /// Adds the sync `k`/`v` to `store`, or skips and counts it (logged the first time).
    fn read(&mut self, store: &mut OffsetSyncStore, k: &[u8], v: &[u8]) {
        match OffsetSync::decode(k, v) {
            Ok(sync) => store.add(sync),
            Err(e) => {
                if self.skipped == 0 {
                    tracing::warn!("skipping an undecodable offset-sync record (logged once): {e}");
                }
                self.skipped += 1;
            }
        }
    }
}

/// The checkpoint task.
pub struct CheckpointTask {
    cfg: MirrorConfig,
    metrics: Arc<MirrorMetrics>,
    source: Box<dyn Admin>,
    target: Box<dyn Admin>,
    syncs: Box<dyn Consumer>,
    producer: Box<dyn Producer>,
    topic: String,
    store: OffsetSyncStore,
    bad_syncs: BadSyncs,
    /// The last checkpoint written per (group, remote topic, partition): upstream, downstream.
    emitted: BTreeMap<(String, String, i32), (i64, i64)>,
    next_checkpoints: Instant,
    next_group_sync: Instant,
}

impl CheckpointTask {
    /// Connects to both clusters; reads the offset syncs from their start.
    pub fn new(ctx: MirrorTaskContext) -> Result<CheckpointTask, MirrorError> {
        let cfg = ctx.config;
        let s = cfg.source_alias.clone();
        let t = cfg.target_alias.clone();
        let src = cluster::connect(cfg.source.clone());
        let tgt = cluster::connect(cfg.target.clone());
        let syncs_cluster = cluster::connect(cfg.syncs_cluster().clone());
        let syncs_topic = cfg.syncs_topic();
        ensure_topic(
            &*syncs_cluster.admin().map_err(on("offset-syncs"))?,
            &syncs_topic,
            1,
            &compacted(),
        )
        .map_err(on("offset-syncs"))?;
        let mut syncs = syncs_cluster.consumer(None).map_err(on("offset-syncs"))?;
        syncs
            .assign(&[TopicOffset {
                topic: syncs_topic,
                partition: 0,
                offset: 0,
            }])
            .map_err(on("offset-syncs"))?;
        let target = tgt.admin().map_err(on(&t))?;
        let topic = checkpoints_topic(&s);
        ensure_topic(&*target, &topic, 1, &compacted()).map_err(on(&t))?;
        let now = Instant::now();
        Ok(CheckpointTask {
            source: src.admin().map_err(on(&s))?,
            producer: tgt.producer(ProducerMode::Idempotent).map_err(on(&t))?,
            target,
            syncs,
            topic,
            store: OffsetSyncStore::default(),
            bad_syncs: BadSyncs::default(),
            emitted: BTreeMap::new(),
            next_checkpoints: now + cfg.checkpoints.unwrap_or(Duration::MAX / 4),
            next_group_sync: now + cfg.sync_group_offsets.unwrap_or(Duration::MAX / 4),
            cfg,
            metrics: ctx.metrics,
        })
    }

    /// Each accepted source group's offsets of mirrored partitions, translated: per group,
    /// `(remote topic, partition, upstream, downstream)`.
    fn translated(&self) -> Result<Translated, MirrorError> {
        let s = &self.cfg.source_alias;
        let partitions = self.store.partitions();
        let mut out = BTreeMap::new();
        if partitions.is_empty() {
            return Ok(out);
        }
        for g in self.source.groups().map_err(on(s))? {
            if !self.cfg.groups.accepts(&g.name) {
                continue;
            }
            let committed = self
                .source
                .group_offsets(&g.name, &partitions)
                .map_err(on(s))?;
            let rows: Vec<_> = committed
                .into_iter()
                .filter_map(|o| {
                    let down = self.store.translate(&o.topic, o.partition, o.offset)?;
                    let remote = self.cfg.policy.remote_topic(s, &o.topic);
                    Some((remote, o.partition, o.offset, down))
                })
                .collect();
            if !rows.is_empty() {
                out.insert(g.name, rows);
            }
        }
        Ok(out)
    }

    /// Writes the checkpoints that changed.
    fn checkpoints(&mut self, groups: &Translated, start: Instant) -> Result<(), MirrorError> {
        let mut n = 0;
        for (group, rows) in groups {
            for (topic, partition, up, down) in rows {
                let key = (group.clone(), topic.clone(), *partition);
                if self.emitted.get(&key) == Some(&(*up, *down)) {
                    continue;
                }
                let (k, v) = Checkpoint {
                    group: group.clone(),
                    topic: topic.clone(),
                    partition: *partition,
                    upstream: *up,
                    downstream: *down,
                    metadata: String::new(),
                }
                .encode();
                self.producer
                    .send(OutRecord {
                        topic: self.topic.clone(),
                        partition: Some(0),
                        timestamp: None,
                        key: Some(k),
                        value: Some(v),
                        headers: Vec::new(),
                    })
                    .map_err(on(&self.cfg.target_alias))?;
                self.emitted.insert(key, (*up, *down));
                n += 1;
            }
        }
        if n > 0 {
            self.producer
                .flush(DELIVERY_TIMEOUT)
                .map_err(on(&self.cfg.target_alias))?;
            self.metrics
                .checkpointed(n, start.elapsed().as_millis() as i64);
        }
        Ok(())
    }

    /// Commits translated offsets to the target's groups that have no active members, where
    /// they move the group forward.
    fn sync_groups(&mut self, groups: &Translated) -> Result<(), MirrorError> {
        let t = self.cfg.target_alias.clone();
        let busy: BTreeMap<String, usize> = self
            .target
            .groups()
            .map_err(on(&t))?
            .into_iter()
            .map(|g| (g.name, g.members))
            .collect();
        for (group, rows) in groups {
            if busy.get(group).is_some_and(|m| *m > 0) {
                continue;
            }
            let partitions: Vec<(String, i32)> =
                rows.iter().map(|(t, p, _, _)| (t.clone(), *p)).collect();
            let current: BTreeMap<(String, i32), i64> = self
                .target
                .group_offsets(group, &partitions)
                .map_err(on(&t))?
                .into_iter()
                .map(|o| ((o.topic, o.partition), o.offset))
                .collect();
            let forward: Vec<TopicOffset> = rows
                .iter()
                .filter(|(topic, p, _, down)| {
                    current
                        .get(&(topic.clone(), *p))
                        .is_none_or(|have| down > have)
                })
                .map(|(topic, p, _, down)| TopicOffset {
                    topic: topic.clone(),
                    partition: *p,
                    offset: *down,
                })
                .collect();
            if forward.is_empty() {
                continue;
            }
            match self.target.alter_group_offsets(group, &forward) {
                Ok(()) => {}
                // The group became active since `groups()` saw it empty: MM2's rule is never
                // to commit under a consumer, so it is left alone this round.
                Err(e) if e.is_group_busy() => {
                    tracing::debug!(group = %group, "target group became active: {e}");
                    continue;
                }
                Err(e) => return Err(on(&t)(e)),
            }
            self.metrics
                .group_syncs
                .fetch_add(forward.len() as u64, Ordering::Relaxed);
        }
        Ok(())
    }
}

impl Step for CheckpointTask {
    fn step(&mut self) -> Result<(), MirrorError> {
        for r in self
            .syncs
            .poll(10_000, STEP_WAIT)
            .map_err(on("offset-syncs"))?
        {
            if let (Some(k), Some(v)) = (&r.key, &r.value) {
                self.bad_syncs.read(&mut self.store, k, v);
            }
        }
        let now = Instant::now();
        let checkpoint = self.cfg.checkpoints.is_some() && now >= self.next_checkpoints;
        let group_sync = self.cfg.sync_group_offsets.is_some() && now >= self.next_group_sync;
        if !checkpoint && !group_sync {
            return Ok(());
        }
        let groups = self.translated()?;
        if checkpoint {
            self.checkpoints(&groups, now)?;
            self.next_checkpoints = now + self.cfg.checkpoints.unwrap_or(Duration::MAX / 4);
        }
        if group_sync {
            self.sync_groups(&groups)?;
            self.next_group_sync = now + self.cfg.sync_group_offsets.unwrap_or(Duration::MAX / 4);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_undecodable_offset_sync_is_skipped_and_counted() {
        let good = OffsetSync {
            topic: "t".into(),
            partition: 0,
            upstream: 10,
            downstream: 4,
        }
        .encode();
        let mut store = OffsetSyncStore::default();
        let mut bad = BadSyncs::default();
        bad.read(&mut store, b"\x00", b"\x01");
        bad.read(&mut store, &good.0, &good.1);
        bad.read(&mut store, b"", b"");
        assert_eq!(bad.skipped, 2);
        assert_eq!(store.translate("t", 0, 10), Some(4));
    }
}
