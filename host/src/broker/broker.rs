//! The broker: the set of topics, produce and fetch, and committed offsets.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::{Mutex, RwLock};

use crate::log::batch::{self, Record};
use crate::log::cleaner::aborted::AbortedSet;
use crate::log::{FirstBatch, FlushPolicy, PartitionLog, PartitionStats, ReadResult};

use super::error::BrokerError;
use super::metadata::{MetaStore, TopicRecord};
use super::offsets::LiveGroups;
use super::orphans::{self, Orphan};
use super::partitioner::{KeylessSpreader, partition_for_key};
use super::topic::Topic;
use super::topic_config::{self, TopicConfig};
use super::topic_limits::TopicLimits;

/// The broker's runtime settings (built from the server config).
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Root of all broker data.
    pub data_dir: PathBuf,
    /// fsync policy for every partition.
    pub flush: FlushPolicy,
    /// Bytes between sparse index entries.
    pub index_interval_bytes: u32,
    /// Config of a topic that sets nothing itself.
    pub topic_defaults: TopicConfig,
    /// Caps on topics and partitions.
    pub limits: TopicLimits,
}

/// A record to produce, with an optional explicit partition.
#[derive(Debug, Clone, Default)]
pub struct ProduceRecord {
    /// Target partition; `None` lets the partitioner choose.
    pub partition: Option<i64>,
    /// The record. A negative timestamp means "now".
    pub record: Record,
}

/// Where a produced record landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Produced {
    /// Partition it went to.
    pub partition: u32,
    /// Its offset there.
    pub offset: i64,
}

/// A topic's description.
#[derive(Debug, Clone)]
pub struct TopicInfo {
    /// Topic name.
    pub name: String,
    /// Per partition: its number and stats.
    pub partitions: Vec<(u32, PartitionStats)>,
    /// Effective config by Kafka name.
    pub config: BTreeMap<&'static str, String>,
    /// Entries set explicitly.
    pub overrides: BTreeMap<String, String>,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The broker.
#[derive(Debug)]
pub struct Broker {
    pub(super) config: BrokerConfig,
    pub(super) meta: MetaStore,
    pub(super) topics: RwLock<BTreeMap<String, Arc<Topic>>>,
    spreader: KeylessSpreader,
    /// Who knows which groups have members (the Kafka coordinator), once registered.
    pub(super) live_groups: RwLock<Option<Arc<dyn LiveGroups>>>,
    /// Topic directories the metadata does not list (kept, never deleted unasked).
    pub(super) orphans: Mutex<BTreeMap<String, Orphan>>,
    /// Serialises topic creation, deletion, new partitions and orphan adoption, so
    /// their file I/O runs without the topic map's lock (which produce and fetch take).
    pub(super) admin: Mutex<()>,
    /// Offsets consumers committed forward since the broker opened: the records out
    /// of the throughput history ([`super::history`]); resets do not add to it.
    pub(super) consumed: std::sync::atomic::AtomicU64,
}

pub(super) fn io_err(
    action: &'static str,
    path: &Path,
) -> impl FnOnce(std::io::Error) -> BrokerError {
    let path = path.to_path_buf();
    move |source| BrokerError::Io {
        action,
        path,
        source,
    }
}

impl Broker {
    /// Opens the broker's data directory, recovering every partition.
    pub fn open(config: BrokerConfig) -> Result<Broker, BrokerError> {
        let log_dir = config.data_dir.join("log");
        let trash = config.data_dir.join("trash");
        for dir in [&config.data_dir, &log_dir] {
            std::fs::create_dir_all(dir).map_err(io_err("creating", dir))?;
        }
        // Finish deletions a crash interrupted.
        if trash.exists() {
            std::fs::remove_dir_all(&trash).map_err(io_err("removing", &trash))?;
        }
        let fsync = config.flush == FlushPolicy::EveryBatch;
        let meta =
            MetaStore::open_with(&config.data_dir.join("meta"), fsync).map_err(|e| match e {
                // sled reports its lock file being held as an Io error of kind Other
                // whose text names the lock; WouldBlock is matched too in case that changes.
                BrokerError::Store(sled::Error::Io(io))
                    if io.kind() == std::io::ErrorKind::WouldBlock
                        || io.to_string().contains("could not acquire lock") =>
                {
                    BrokerError::DataDirInUse {
                        dir: config.data_dir.clone(),
                    }
                }
                other => other,
            })?;
        let broker = Broker {
            meta,
            topics: RwLock::new(BTreeMap::new()),
            spreader: KeylessSpreader::new(),
            live_groups: RwLock::new(None),
            orphans: Mutex::new(BTreeMap::new()),
            admin: Mutex::new(()),
            consumed: std::sync::atomic::AtomicU64::new(0),
            config,
        };
        let records = broker.meta.topics()?;
        let mut topics = BTreeMap::new();
        for rec in records {
            let config = broker.config.topic_defaults.with_overrides(&rec.config)?;
            let partitions = (0..rec.partitions)
                .map(|p| broker.open_partition(&rec.name, p, &config))
                .collect::<Result<Vec<_>, _>>()?;
            topics.insert(
                rec.name.clone(),
                Arc::new(Topic::new(
                    rec.name,
                    rec.created_ms,
                    rec.config,
                    config,
                    partitions,
                )),
            );
        }
        // A directory the metadata does not list is either a create that never finished
        // (its marker says so: nothing in it was acknowledged) or an orphan whose
        // metadata was lost: possibly the only copy of acknowledged records, so it is
        // kept and reported, never deleted here.
        let (orphans, unfinished) = orphans::find(&log_dir, &|name| topics.contains_key(name))?;
        for dir in unfinished {
            tracing::warn!(dir = %dir.display(), "removing the directory of a topic create that never finished");
            std::fs::remove_dir_all(&dir).map_err(io_err("removing", &dir))?;
        }
        for orphan in orphans.values() {
            tracing::warn!(
                topic = %orphan.topic,
                partitions = orphan.partitions.len(),
                bytes = orphan.bytes,
                "log directory of a topic the metadata does not know: kept; adopt it \
                 (`weir orphans adopt`) or delete it (`weir orphans delete`)"
            );
        }
        // A create that crashed after recording its topic left its marker behind.
        for name in topics.keys() {
            let marker = broker.topic_dir(name).join(orphans::CREATING);
            if marker.exists() {
                std::fs::remove_file(&marker).map_err(io_err("removing", &marker))?;
            }
        }
        *broker.orphans.lock() = orphans;
        *broker.topics.write() = topics;
        Ok(broker)
    }

    /// `text` (an error's message) as a client may see it: paths named
    /// relative to the data directory (see [`super::error::relative_to`]).
    pub fn client_text(&self, text: &str) -> String {
        super::error::relative_to(&self.config.data_dir, text)
    }

    pub(super) fn topic_dir(&self, topic: &str) -> PathBuf {
        self.config.data_dir.join("log").join(topic)
    }

    fn partition_dir(&self, topic: &str, partition: u32) -> PathBuf {
        self.topic_dir(topic).join(partition.to_string())
    }

    pub(super) fn open_partition(
        &self,
        topic: &str,
        partition: u32,
        config: &TopicConfig,
    ) -> Result<Arc<PartitionLog>, BrokerError> {
        let log_config = config.log_config(self.config.flush, self.config.index_interval_bytes);
        PartitionLog::open(&self.partition_dir(topic, partition), log_config)
            .map(Arc::new)
            .map_err(BrokerError::log(topic, partition))
    }

    /// Changes a topic's config: entries mapped to `Some` are set, entries mapped to
    /// `None` go back to the default. Validated as a whole before anything changes;
    /// applies to every partition from its next append or retention pass.
    pub fn alter_topic_config(
        &self,
        name: &str,
        changes: BTreeMap<String, Option<String>>,
    ) -> Result<Arc<Topic>, BrokerError> {
        let topics = self.topics.write();
        let topic = lookup(&topics, name)?;
        let (overrides, config) = self.merged_config(&topic, changes)?;
        self.meta.put_topic(&TopicRecord {
            name: name.to_string(),
            partitions: topic.partition_count(),
            config: overrides.clone(),
            created_ms: topic.created_ms(),
        })?;
        let log_config = config.log_config(self.config.flush, self.config.index_interval_bytes);
        for p in topic.partitions() {
            p.set_config(log_config.clone());
        }
        topic.set_config(overrides, config);
        Ok(topic)
    }

    /// Checks config changes as [`Broker::alter_topic_config`] would apply
    /// them, changing nothing (Kafka's `validate_only`).
    pub fn check_topic_config(
        &self,
        name: &str,
        changes: BTreeMap<String, Option<String>>,
    ) -> Result<(), BrokerError> {
        let topic = self.topic(name)?;
        self.merged_config(&topic, changes).map(|_| ())
    }

    /// The topic's overrides with `changes` applied, and the config they make.
    fn merged_config(
        &self,
        topic: &Topic,
        changes: BTreeMap<String, Option<String>>,
    ) -> Result<(BTreeMap<String, String>, TopicConfig), BrokerError> {
        let mut overrides = topic.overrides();
        for (key, value) in changes {
            match value {
                Some(v) => overrides.insert(key, v),
                None => {
                    // Resetting an unknown key is as wrong as setting one.
                    topic_config::check_key(&key)?;
                    overrides.remove(&key)
                }
            };
        }
        let config = self.config.topic_defaults.with_overrides(&overrides)?;
        Ok((overrides, config))
    }

    /// The settings the broker was opened with.
    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    /// A topic by name.
    pub fn topic(&self, name: &str) -> Result<Arc<Topic>, BrokerError> {
        lookup(&self.topics.read(), name)
    }

    /// All topics, sorted by name.
    pub fn topics(&self) -> Vec<Arc<Topic>> {
        self.topics.read().values().cloned().collect()
    }

    /// A topic's partitions, stats and config.
    pub fn describe_topic(&self, name: &str) -> Result<TopicInfo, BrokerError> {
        let topic = self.topic(name)?;
        Ok(TopicInfo {
            name: topic.name().to_string(),
            partitions: topic
                .partitions()
                .iter()
                .enumerate()
                .map(|(i, p)| (i as u32, p.stats()))
                .collect(),
            config: topic.config().entries(),
            overrides: topic.overrides(),
        })
    }

    /// Produces records: keyed ones go where Kafka's default partitioner puts
    /// them, keyless ones of one call stick to one partition (round-robin across
    /// calls). One batch is appended per partition. Returns positions in input order.
    pub fn produce(
        &self,
        topic: &str,
        records: Vec<ProduceRecord>,
    ) -> Result<Vec<Produced>, BrokerError> {
        if records.is_empty() {
            return Err(BrokerError::InvalidRequest("no records to produce".into()));
        }
        let topic = self.topic(topic)?;
        let count = topic.partition_count();
        let now = now_ms();
        let mut sticky = None;
        let mut by_partition: BTreeMap<u32, Vec<(usize, Record)>> = BTreeMap::new();
        for (
            i,
            ProduceRecord {
                partition,
                mut record,
            },
        ) in records.into_iter().enumerate()
        {
            let p = match (partition, &record.key) {
                (Some(p), _) => {
                    if p < 0 || p >= i64::from(count) {
                        return Err(BrokerError::UnknownPartition {
                            topic: topic.name().to_string(),
                            partition: p,
                            count,
                        });
                    }
                    p as u32
                }
                (None, Some(key)) => partition_for_key(key, count),
                (None, None) => *sticky.get_or_insert_with(|| self.spreader.next(count)),
            };
            if record.timestamp < 0 {
                record.timestamp = now;
            }
            by_partition.entry(p).or_default().push((i, record));
        }
        let total = by_partition.values().map(Vec::len).sum();
        let mut out = vec![
            Produced {
                partition: 0,
                offset: -1
            };
            total
        ];
        // Encode and size-check every batch before appending any, so a request
        // refused for one partition stores nothing in the others.
        let max = topic.config().max_message_bytes;
        let mut batches = Vec::with_capacity(by_partition.len());
        for (p, items) in by_partition {
            let recs: Vec<Record> = items.iter().map(|(_, r)| r.clone()).collect();
            let bytes = batch::encode_batch(&recs, 0).map_err(|e| BrokerError::Log {
                topic: topic.name().to_string(),
                partition: p,
                source: e.into(),
            })?;
            if bytes.len() as i64 > max {
                return Err(BrokerError::Log {
                    topic: topic.name().to_string(),
                    partition: p,
                    source: crate::log::LogError::BatchTooLarge {
                        size: bytes.len(),
                        max: max.clamp(0, i64::from(u32::MAX)) as u32,
                    },
                });
            }
            batches.push((p, items, bytes));
        }
        for (p, items, bytes) in batches {
            let checked = crate::log::batch::Checked::new(&bytes)
                .map_err(|e| BrokerError::log(topic.name(), p)(e.into()))?;
            let info = self.append_batch(&topic, p, checked)?;
            for (n, (i, _)) in items.iter().enumerate() {
                out[*i] = Produced {
                    partition: p,
                    offset: info.base_offset + n as i64,
                };
            }
        }
        Ok(out)
    }

    /// Appends one producer-built record batch to a partition as it is.
    pub fn append_batch(
        &self,
        topic: &Topic,
        partition: u32,
        batch: crate::log::batch::Checked<'_>,
    ) -> Result<crate::log::AppendInfo, BrokerError> {
        topic
            .partition(i64::from(partition))?
            .append_checked(batch, now_ms())
            .map_err(BrokerError::log(topic.name(), partition))
    }

    /// Reads whole batches from a partition starting at `offset`; `first` says
    /// whether a first batch over `max_bytes` comes anyway.
    pub fn fetch(
        &self,
        topic: &str,
        partition: i64,
        offset: i64,
        max_bytes: usize,
        first: FirstBatch,
    ) -> Result<ReadResult, BrokerError> {
        let log = self.topic(topic)?.partition(partition)?;
        log.read_limited(offset, max_bytes, first)
            .map_err(BrokerError::log(topic, partition as u32))
    }

    /// A fresh idempotent producer id, never handed out before.
    pub fn next_producer_id(&self) -> Result<i64, BrokerError> {
        self.meta.next_producer_id()
    }

    /// Applies retention to every partition; failures are logged, not fatal.
    pub fn apply_retention(&self) -> usize {
        let now = now_ms();
        let mut removed = 0;
        for topic in self.topics() {
            for (p, log) in topic.partitions().iter().enumerate() {
                match log.apply_retention(now) {
                    Ok(n) => removed += n,
                    Err(e) => {
                        tracing::error!(topic = topic.name(), partition = p, "retention: {e}")
                    }
                }
            }
        }
        removed
    }

    /// Runs a compaction pass on every partition of a compacted topic that is dirty
    /// enough (one partition at a time, on the caller's thread), within each
    /// partition's `bounds`: its last stable offset and its aborted transactions;
    /// failures are logged.
    pub fn compact_all(&self, bounds: impl Fn(&Topic, u32) -> (i64, AbortedSet)) {
        let now = now_ms();
        for topic in self.topics() {
            for (p, log) in topic.partitions().iter().enumerate() {
                let (stable_end, aborted) = bounds(&topic, p as u32);
                match log.compact_below(now, stable_end, &aborted) {
                    Ok(Some(stats)) => tracing::info!(
                        topic = topic.name(),
                        partition = p,
                        segments = stats.segments,
                        bytes_read = stats.bytes_read,
                        bytes_written = stats.bytes_written,
                        records_removed = stats.records_removed,
                        "compacted"
                    ),
                    Ok(None) => {}
                    Err(e) => {
                        tracing::error!(topic = topic.name(), partition = p, "compaction: {e}")
                    }
                }
            }
        }
    }

    /// The metadata tree `name` for a layer above that keeps durable records of its
    /// own there (auth's users and tokens).
    pub fn meta_tree(&self, name: &str) -> Result<super::MetaTree, BrokerError> {
        self.meta.tree(name)
    }

    /// fsyncs every partition (the interval flush policy's tick).
    pub fn flush_all(&self) {
        for topic in self.topics() {
            for (p, log) in topic.partitions().iter().enumerate() {
                if let Err(e) = log.flush() {
                    tracing::error!(topic = topic.name(), partition = p, "flush: {e}");
                }
            }
        }
    }

    /// Clean shutdown: fsync all data, record recovery points, flush metadata.
    pub fn close(&self) -> Result<(), BrokerError> {
        for topic in self.topics() {
            for (p, log) in topic.partitions().iter().enumerate() {
                log.close()
                    .map_err(BrokerError::log(topic.name(), p as u32))?;
            }
        }
        self.meta.flush()
    }
}

/// A topic from the map, or `UnknownTopic`.
pub(super) fn lookup(
    topics: &BTreeMap<String, Arc<Topic>>,
    name: &str,
) -> Result<Arc<Topic>, BrokerError> {
    topics
        .get(name)
        .cloned()
        .ok_or_else(|| BrokerError::UnknownTopic {
            name: name.to_string(),
        })
}

/// fsyncs a directory so entries created or renamed in it are durable.
pub(super) fn sync_dir(dir: &Path) -> Result<(), BrokerError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("syncing directory", dir))
}
