//! The `MirrorSourceConnector` task: source topics that pass the filters (and are no cycle)
//! copied to their remote names on the target, partition for partition, with key, value,
//! headers and timestamp; remote topics created with the source's partitions and configs and
//! grown when the source grows; an offset sync written per MM2's rule; its positions kept in
//! the connector's store after each delivered batch (at-least-once across a restart).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::cluster::{
    self, Admin, Cluster, ClusterError, Consumer, Fetched, OutRecord, Producer, ProducerMode,
    TopicOffset,
};

use super::config::MirrorConfig;
use super::error::{MirrorError, on};
use super::metrics::MirrorMetrics;
use super::policy::is_internal;
use super::records::OffsetSync;
use super::syncs::PartitionState;
use super::{MirrorTaskContext, STEP_WAIT, Step};
use crate::pipeline::logs::PipelineLogs;

/// Records taken per poll.
const POLL_MAX: usize = 2000;
/// How long a batch's delivery may take.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(60);
/// How often the lag figure is refreshed.
const LAG_EVERY: Duration = Duration::from_secs(2);
/// Topic configs never copied (MM2's `config.properties.exclude` default).
const CONFIGS_EXCLUDED: &[&str] = &[
    "follower.replication.throttled.replicas",
    "leader.replication.throttled.replicas",
    "message.timestamp.difference.max.ms",
    "message.timestamp.type",
    "unclean.leader.election.enable",
    "min.insync.replicas",
];

/// A record sent and not yet acknowledged.
struct Sent {
    topic: String,
    partition: i32,
    offset: i64,
    timestamp: Option<i64>,
    bytes: usize,
    read_ms: i64,
}

/// The source task.
pub struct SourceTask {
    cfg: MirrorConfig,
    tree: sled::Tree,
    logs: Arc<PipelineLogs>,
    metrics: Arc<MirrorMetrics>,
    clusters: (Arc<dyn Cluster>, Arc<dyn Cluster>),
    source: Box<dyn Admin>,
    target: Box<dyn Admin>,
    consumer: Box<dyn Consumer>,
    producer: Box<dyn Producer>,
    syncs: Box<dyn Producer>,
    syncs_topic: String,
    /// Next offset to read, per assigned source partition.
    positions: BTreeMap<(String, i32), i64>,
    states: BTreeMap<(String, i32), PartitionState>,
    /// Sent and not yet acknowledged, in send order.
    batch: std::collections::VecDeque<Sent>,
    in_flight: usize,
    next_refresh: Instant,
    next_configs: Instant,
    next_lag: Instant,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The store key of a partition's position.
fn position_key(topic: &str, partition: i32) -> Vec<u8> {
    format!("mirror.position/{topic}/{partition}").into_bytes()
}

impl SourceTask {
    /// Connects to both clusters and makes sure the offset-syncs topic exists.
    pub fn new(ctx: MirrorTaskContext) -> Result<SourceTask, MirrorError> {
        let cfg = ctx.config;
        let src = cluster::connect(cfg.source.clone());
        let tgt = cluster::connect(cfg.target.clone());
        let syncs_cluster = cluster::connect(cfg.syncs_cluster().clone());
        let syncs_topic = cfg.syncs_topic();
        let s = &cfg.source_alias;
        let t = &cfg.target_alias;
        let syncs_admin = syncs_cluster.admin().map_err(on("offset-syncs"))?;
        ensure_topic(&*syncs_admin, &syncs_topic, 1, &compacted()).map_err(on("offset-syncs"))?;
        let now = Instant::now();
        Ok(SourceTask {
            source: src.admin().map_err(on(s))?,
            target: tgt.admin().map_err(on(t))?,
            consumer: src.consumer(None).map_err(on(s))?,
            producer: tgt.producer(ProducerMode::Idempotent).map_err(on(t))?,
            syncs: syncs_cluster
                .producer(ProducerMode::Idempotent)
                .map_err(on("offset-syncs"))?,
            syncs_topic,
            clusters: (src, tgt),
            cfg,
            tree: ctx.tree,
            logs: ctx.logs,
            metrics: ctx.metrics,
            positions: BTreeMap::new(),
            states: BTreeMap::new(),
            batch: Default::default(),
            in_flight: 0,
            next_refresh: now,
            next_configs: now,
            next_lag: now,
        })
    }

    /// Whether source topic `topic` is mirrored (MM2's `shouldReplicateTopic`).
    fn replicates(&self, topic: &str) -> bool {
        (self.cfg.topics.accepts(topic) || self.cfg.policy.is_heartbeats(topic))
            && !is_internal(topic)
            && !self.cfg.policy.is_cycle(topic, &self.cfg.target_alias)
    }

    /// Lists the source's topics again: remote topics created or grown, new partitions
    /// assigned from their stored position (or the start).
    fn refresh(&mut self) -> Result<(), MirrorError> {
        let s = self.cfg.source_alias.clone();
        let t = self.cfg.target_alias.clone();
        let topics = self.source.topics().map_err(on(&s))?;
        let remote: BTreeMap<String, i32> = self
            .target
            .topics()
            .map_err(on(&t))?
            .into_iter()
            .map(|i| (i.name, i.partitions))
            .collect();
        let mut changed = false;
        let wanted: Vec<_> = topics
            .into_iter()
            .filter(|i| self.replicates(&i.name))
            .collect();
        for info in &wanted {
            let name = self.cfg.policy.remote_topic(&s, &info.name);
            match remote.get(&name) {
                None => {
                    let configs = self.wanted_configs(&info.name)?;
                    match self.target.create_topic(&name, info.partitions, &configs) {
                        Ok(()) | Err(ClusterError::TopicExists { .. }) => {}
                        Err(e) => return Err(on(&t)(e)),
                    }
                    self.logs.note(&format!(
                        "task 0: created {name} with {} partitions on {t}",
                        info.partitions
                    ));
                }
                Some(&n) if n < info.partitions => {
                    self.target
                        .create_partitions(&name, info.partitions)
                        .map_err(on(&t))?;
                    self.logs.note(&format!(
                        "task 0: grew {name} to {} partitions on {t}",
                        info.partitions
                    ));
                }
                Some(_) => {}
            }
            for p in 0..info.partitions {
                let key = (info.name.clone(), p);
                if !self.positions.contains_key(&key) {
                    let stored = self
                        .tree
                        .get(position_key(&info.name, p))?
                        .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
                        .map_or(0, i64::from_be_bytes);
                    self.positions.insert(key, stored);
                    changed = true;
                }
            }
        }
        if changed {
            // New clients, so that both know the new partitions now: librdkafka's cached
            // metadata would refuse a partition it has not seen until its next refresh.
            // Nothing is in flight here (a step delivers its batch before it ends).
            self.consumer = self.clusters.0.consumer(None).map_err(on(&s))?;
            self.producer = self
                .clusters
                .1
                .producer(ProducerMode::Idempotent)
                .map_err(on(&t))?;
            let assignment: Vec<TopicOffset> = self
                .positions
                .iter()
                .map(|((topic, partition), offset)| TopicOffset {
                    topic: topic.clone(),
                    partition: *partition,
                    offset: *offset,
                })
                .collect();
            self.consumer.assign(&assignment).map_err(on(&s))?;
        }
        Ok(())
    }

    /// The configs a remote topic should have: the source topic's own, minus the excluded.
    fn wanted_configs(&self, topic: &str) -> Result<BTreeMap<String, String>, MirrorError> {
        if self.cfg.sync_configs.is_none() {
            return Ok(BTreeMap::new());
        }
        let mut c = self
            .source
            .describe_configs(topic)
            .map_err(on(&self.cfg.source_alias))?;
        c.retain(|k, _| !CONFIGS_EXCLUDED.contains(&k.as_str()));
        Ok(c)
    }

    /// Copies each mirrored topic's configs where the remote topic's differ.
    fn sync_configs(&mut self) -> Result<(), MirrorError> {
        let topics: BTreeSet<String> = self.positions.keys().map(|(t, _)| t.clone()).collect();
        for topic in topics {
            let want = self.wanted_configs(&topic)?;
            let name = self.cfg.policy.remote_topic(&self.cfg.source_alias, &topic);
            let t = &self.cfg.target_alias;
            let have = self.target.describe_configs(&name).map_err(on(t))?;
            if have != want {
                self.target.alter_configs(&name, &want).map_err(on(t))?;
                self.logs
                    .note(&format!("task 0: synced {name}'s configs from {topic}"));
            }
        }
        Ok(())
    }

    /// Sends what was polled to the target.
    fn send(&mut self, records: Vec<Fetched>) -> Result<(), MirrorError> {
        let read_ms = now_ms();
        for r in records {
            let bytes = r.size();
            if bytes > self.cfg.max_in_flight_bytes {
                return Err(MirrorError::TooLarge {
                    topic: r.topic,
                    partition: r.partition,
                    offset: r.offset,
                    bytes,
                    limit: self.cfg.max_in_flight_bytes,
                });
            }
            if self.in_flight + bytes > self.cfg.max_in_flight_bytes {
                self.deliver()?;
            }
            let remote = self
                .cfg
                .policy
                .remote_topic(&self.cfg.source_alias, &r.topic);
            self.batch.push_back(Sent {
                topic: r.topic,
                partition: r.partition,
                offset: r.offset,
                timestamp: r.timestamp,
                bytes,
                read_ms,
            });
            self.in_flight += bytes;
            self.producer
                .send(OutRecord {
                    topic: remote,
                    partition: Some(r.partition),
                    timestamp: r.timestamp,
                    key: r.key,
                    value: r.value,
                    headers: r.headers,
                })
                .map_err(on(&self.cfg.target_alias))?;
        }
        self.acknowledged()
    }

    /// Acts on the deliveries that completed, without waiting: records go on flowing while
    /// earlier ones are in flight.
    fn acknowledged(&mut self) -> Result<(), MirrorError> {
        let done = self.producer.ready().map_err(on(&self.cfg.target_alias))?;
        self.acked(done)?;
        // Offset syncs go out asynchronously too; this surfaces a failed one.
        self.syncs.ready().map_err(on("offset-syncs"))?;
        Ok(())
    }

    /// Waits for every record in flight (and offset sync) to be delivered, and acts on them.
    fn deliver(&mut self) -> Result<(), MirrorError> {
        if !self.batch.is_empty() {
            let t = self.cfg.target_alias.clone();
            let done = self.producer.flush(DELIVERY_TIMEOUT).map_err(on(&t))?;
            if done.len() != self.batch.len() {
                return Err(MirrorError::Deliveries {
                    sent: self.batch.len(),
                    got: done.len(),
                });
            }
            self.acked(done)?;
        }
        self.syncs
            .flush(DELIVERY_TIMEOUT)
            .map_err(on("offset-syncs"))?;
        Ok(())
    }

    /// For the oldest records in flight, delivered at `done`: offset syncs, figures and
    /// positions (stored only for delivered records: at-least-once).
    fn acked(&mut self, done: Vec<crate::cluster::Delivered>) -> Result<(), MirrorError> {
        if done.is_empty() {
            return Ok(());
        }
        if done.len() > self.batch.len() {
            return Err(MirrorError::Deliveries {
                sent: self.batch.len(),
                got: done.len(),
            });
        }
        let done_ms = now_ms();
        let mut store = sled::Batch::default();
        let n = done.len();
        for (sent, d) in self.batch.drain(..n).zip(done) {
            self.in_flight = self.in_flight.saturating_sub(sent.bytes);
            let key = (sent.topic, sent.partition);
            let state = self.states.entry(key.clone()).or_default();
            if state.update(sent.offset, d.offset, self.cfg.offset_lag_max) {
                let (k, v) = OffsetSync {
                    topic: key.0.clone(),
                    partition: key.1,
                    upstream: sent.offset,
                    downstream: d.offset,
                }
                .encode();
                self.syncs
                    .send(OutRecord {
                        topic: self.syncs_topic.clone(),
                        partition: Some(0),
                        timestamp: None,
                        key: Some(k),
                        value: Some(v),
                        headers: Vec::new(),
                    })
                    .map_err(on("offset-syncs"))?;
                self.metrics.offset_syncs.fetch_add(1, Ordering::Relaxed);
            }
            let ts = sent.timestamp.unwrap_or(sent.read_ms);
            self.metrics
                .replicated(sent.bytes, sent.read_ms - ts, done_ms - ts);
            store.insert(
                position_key(&key.0, key.1),
                (sent.offset + 1).to_be_bytes().to_vec(),
            );
            self.positions.insert(key, sent.offset + 1);
        }
        self.tree.apply_batch(store)?;
        Ok(())
    }

    /// Records left to copy, summed over the assigned partitions.
    fn lag(&self) -> Result<i64, MirrorError> {
        let mut lag = 0;
        for ((topic, partition), pos) in &self.positions {
            let (_, end) = self
                .source
                .watermarks(topic, *partition)
                .map_err(on(&self.cfg.source_alias))?;
            lag += (end - pos).max(0);
        }
        Ok(lag)
    }
}

impl Step for SourceTask {
    fn step(&mut self) -> Result<(), MirrorError> {
        let now = Instant::now();
        if now >= self.next_refresh {
            // A refresh may replace the clients: nothing may be in flight then.
            self.deliver()?;
            self.refresh()?;
            // Without refreshes the topics of the first listing stay the set.
            self.next_refresh = now + self.cfg.refresh_topics.unwrap_or(Duration::MAX / 4);
        }
        if let Some(every) = self.cfg.sync_configs
            && now >= self.next_configs
        {
            self.sync_configs()?;
            self.next_configs = now + every;
        }
        let wait = self.cfg.poll_timeout.min(STEP_WAIT);
        let records = if self.positions.is_empty() {
            std::thread::sleep(wait);
            Vec::new()
        } else {
            self.consumer
                .poll(POLL_MAX, wait)
                .map_err(on(&self.cfg.source_alias))?
        };
        if records.is_empty() {
            // Idle: finish what is in flight, so positions and figures catch up.
            self.deliver()?;
        } else {
            self.send(records)?;
        }
        if Instant::now() >= self.next_lag {
            let lag = self.lag()?;
            self.metrics.lag.store(lag, Ordering::Relaxed);
            self.next_lag = Instant::now() + LAG_EVERY;
        }
        Ok(())
    }
}

/// `cleanup.policy=compact`, as MM2's internal topics have it.
pub fn compacted() -> BTreeMap<String, String> {
    BTreeMap::from([("cleanup.policy".to_string(), "compact".to_string())])
}

/// Creates `topic` unless it exists.
pub fn ensure_topic(
    admin: &dyn Admin,
    topic: &str,
    partitions: i32,
    configs: &BTreeMap<String, String>,
) -> Result<(), ClusterError> {
    if admin.topics()?.iter().any(|t| t.name == topic) {
        return Ok(());
    }
    match admin.create_topic(topic, partitions, configs) {
        Ok(()) | Err(ClusterError::TopicExists { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}
