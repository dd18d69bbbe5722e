//! Every partition's idempotent producer windows, and the checked append.
//!
//! State is rebuilt lazily, on a partition's first idempotent append after a
//! start, from the batch headers of the partition's last two segments (Kafka
//! rebuilds from the log tail the same way). Batch headers carry producer id,
//! epoch and base sequence, so no separate state file can disagree with the log.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use crate::broker::txn::marker::{self, Marker};
use crate::broker::txn::partition::{AbortedTxn, PartitionTxns};
use crate::broker::{Broker, BrokerError, Topic};
use crate::log::batch::{BatchHeader, Checked};
use crate::log::cleaner::aborted::AbortedSet;
use crate::log::{AppendInfo, FirstBatch, LogError, PartitionLog, ReadResult};

use super::epochs::{EpochBump, ProducerEpochs};
use super::limits::{PartitionProducers, ProducerLimits, Windows};
use super::window::{BatchSeq, SeqCheck, Window};

/// Outcome of an append through the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdempotentAppend {
    /// Appended now.
    Appended(AppendInfo),
    /// Appended before; nothing written now.
    Duplicate {
        /// The original batch's base offset.
        base_offset: i64,
    },
    /// Refused: a gap or reordering in the sequence.
    OutOfOrder {
        /// The sequence that was expected.
        expected: i32,
    },
    /// Refused: the epoch is older than the producer's current one.
    Fenced,
}

/// What a `read_committed` reader gets from one partition.
#[derive(Debug, Clone)]
pub struct CommittedRead {
    /// Batches below the last stable offset.
    pub read: ReadResult,
    /// The last stable offset: the first offset of the oldest open transaction,
    /// or the high watermark if none is open.
    pub last_stable: i64,
    /// Aborted transactions whose records may be among the batches.
    pub aborted: Vec<AbortedTxn>,
}

impl CommittedRead {
    /// Whether a batch read belongs to an aborted transaction, so a committed
    /// reader skips it (as Kafka's consumers do with the aborted list).
    pub fn is_aborted(&self, header: &BatchHeader) -> bool {
        header.is_transactional()
            && !header.is_control()
            && self.aborted.iter().any(|a| {
                a.producer_id == header.producer_id
                    && a.first_offset <= header.base_offset
                    && header.base_offset < a.last_offset
            })
    }
}

/// One idempotent producer as a partition remembers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActiveProducer {
    /// Producer id.
    pub id: i64,
    /// Its current epoch on the partition.
    pub epoch: i16,
    /// Sequence of its last record there (-1 if none is known).
    pub last_sequence: i32,
    /// When it last appended (ms); after a restart, its last batch's max timestamp.
    pub last_append_ms: i64,
}

/// One partition's producer state. The log it belongs to is fixed at creation
/// (a deleted and recreated topic gets a fresh slot), so finding the slot never
/// takes its lock; the windows are rebuilt once, by the first append that
/// locks it, and the lock is held across check and append.
///
/// Its transactions (open ones, aborted ones) are loaded separately, by the
/// first transactional append or `read_committed` read, because that needs a
/// scan of the whole partition that plain idempotent producers should not pay.
/// Lock order: `state`, then `txns`; readers take only `txns`.
#[derive(Debug)]
struct PartitionSlot {
    log: Weak<PartitionLog>,
    state: Mutex<Option<PartitionProducers>>,
    txns: Mutex<Option<PartitionTxns>>,
}

impl PartitionSlot {
    fn belongs_to(&self, log: &Arc<PartitionLog>) -> bool {
        self.log.upgrade().is_some_and(|l| Arc::ptr_eq(&l, log))
    }
}

/// Producer windows of every partition that has seen an idempotent batch.
#[derive(Debug)]
pub struct ProducerRegistry {
    broker: Arc<Broker>,
    partitions: Mutex<HashMap<(String, u32), Arc<PartitionSlot>>>,
    epochs: ProducerEpochs,
    limits: ProducerLimits,
    /// Producer ids the host's own writers (pipeline tasks) append with: a client
    /// producing with one, or bumping its epoch, would disturb their exactly-once
    /// trimming, so neither is accepted from clients.
    internal: Mutex<std::collections::HashSet<i64>>,
}

/// The sequence of a batch's last record, wrapping like the producer does.
fn last_seq(header: &BatchHeader) -> i32 {
    let last = i64::from(header.base_sequence) + i64::from(header.last_offset_delta);
    (last % (i64::from(i32::MAX) + 1)) as i32
}

impl ProducerRegistry {
    /// An empty registry over `broker`, with the default limits.
    pub fn new(broker: Arc<Broker>) -> ProducerRegistry {
        ProducerRegistry::with_limits(broker, ProducerLimits::default())
    }

    /// An empty registry over `broker` keeping producer state within `limits`.
    pub fn with_limits(broker: Arc<Broker>, limits: ProducerLimits) -> ProducerRegistry {
        ProducerRegistry {
            broker,
            partitions: Mutex::new(HashMap::new()),
            epochs: ProducerEpochs::new(limits.expiration_ms),
            limits,
            internal: Mutex::new(std::collections::HashSet::new()),
        }
    }

    /// Marks `id` as a host writer's (see [`ProducerRegistry::is_internal`]).
    pub fn reserve_internal(&self, id: i64) {
        self.internal.lock().insert(id);
    }

    /// Whether `id` belongs to a host writer, so a client may not use it.
    pub fn is_internal(&self, id: i64) -> bool {
        id >= 0 && self.internal.lock().contains(&id)
    }

    /// A fresh producer id (durable counter in the broker's metadata store).
    /// Tracked at epoch 0 for [`ProducerRegistry::bump_epoch`].
    pub fn next_producer_id(&self) -> Result<i64, BrokerError> {
        let id = self.broker.next_producer_id()?;
        self.epochs.issued(id, crate::broker::now_ms());
        Ok(id)
    }

    /// KIP-360: a producer keeping its id asks for the next epoch; only its
    /// current epoch may, so a fenced instance cannot take the id back.
    pub fn bump_epoch(&self, id: i64, epoch: i16) -> EpochBump {
        self.epochs.bump(id, epoch, crate::broker::now_ms())
    }

    /// Appends one checked batch; batches with a producer id go through the sequence
    /// check. Blocking (file I/O); call from a blocking task.
    pub fn append(
        &self,
        topic: &Topic,
        partition: u32,
        batch: Checked<'_>,
    ) -> Result<IdempotentAppend, BrokerError> {
        let header = *batch.header();
        if header.producer_id < 0 || header.base_sequence < 0 {
            // Not idempotent: no sequence to check.
            return self
                .broker
                .append_batch(topic, partition, batch)
                .map(IdempotentAppend::Appended);
        }
        let log = topic.partition(i64::from(partition))?;
        let slot = self.slot_of(topic.name(), partition, &log);
        // Held across check and append so two retries of one batch cannot both append.
        let mut guard = slot.state.lock();
        let state = loaded(&mut guard, &log).map_err(BrokerError::log(topic.name(), partition))?;
        let first_seq = header.base_sequence;
        let last_seq = last_seq(&header);
        let epoch = header.producer_epoch;
        let check = match state.windows.get(&header.producer_id) {
            Some((w, _)) => w.check(epoch, first_seq, last_seq),
            None => Window::new(epoch).check(epoch, first_seq, last_seq),
        };
        match check {
            SeqCheck::Duplicate { base_offset } => Ok(IdempotentAppend::Duplicate { base_offset }),
            SeqCheck::OutOfOrder { expected } => Ok(IdempotentAppend::OutOfOrder { expected }),
            SeqCheck::Fenced { .. } => Ok(IdempotentAppend::Fenced),
            SeqCheck::Append => {
                if header.is_transactional() {
                    crate::broker::txn::partition::mark(log.dir())
                        .map_err(BrokerError::log(topic.name(), partition))?;
                }
                let now = crate::broker::now_ms();
                let info = log
                    .append_checked(batch, now)
                    .map_err(BrokerError::log(topic.name(), partition))?;
                if !state.windows.contains_key(&header.producer_id) {
                    state.make_room(now, &self.limits);
                }
                let (window, last) = state
                    .windows
                    .entry(header.producer_id)
                    .or_insert_with(|| (Window::new(epoch), now));
                *last = now;
                window.record(
                    epoch,
                    BatchSeq {
                        first_seq,
                        last_seq,
                        base_offset: info.base_offset,
                    },
                );
                if header.is_transactional() {
                    let header = BatchHeader {
                        base_offset: info.base_offset,
                        ..header
                    };
                    slot.with_txns(&log, |t| t.on_batch(&header))
                        .map_err(BrokerError::log(topic.name(), partition))?;
                }
                Ok(IdempotentAppend::Appended(info))
            }
        }
    }

    /// The sequence of the last record `producer_id` appended to the partition, as far as
    /// the window remembers (rebuilt from the log tail after a start); `None` if none is
    /// known. Pipelines ask this after a restart to skip outputs a crash left appended but
    /// uncommitted.
    pub fn last_sequence(
        &self,
        topic: &Topic,
        partition: u32,
        producer_id: i64,
    ) -> Result<Option<i32>, BrokerError> {
        let log = topic.partition(i64::from(partition))?;
        let slot = self.slot_of(topic.name(), partition, &log);
        let mut guard = slot.state.lock();
        let state = loaded(&mut guard, &log).map_err(BrokerError::log(topic.name(), partition))?;
        Ok(state
            .windows
            .get(&producer_id)
            .and_then(|(w, _)| w.last_seq()))
    }

    /// The producers the partition's windows remember (rebuilt from the log
    /// tail after a start), sorted by id: Kafka's DescribeProducers.
    pub fn producers(
        &self,
        topic: &Topic,
        partition: u32,
    ) -> Result<Vec<ActiveProducer>, BrokerError> {
        let log = topic.partition(i64::from(partition))?;
        let slot = self.slot_of(topic.name(), partition, &log);
        let mut guard = slot.state.lock();
        let state = loaded(&mut guard, &log).map_err(BrokerError::log(topic.name(), partition))?;
        let mut out: Vec<ActiveProducer> = state
            .windows
            .iter()
            .map(|(&id, (w, last_ms))| ActiveProducer {
                id,
                epoch: w.epoch(),
                last_sequence: w.last_seq().unwrap_or(-1),
                last_append_ms: *last_ms,
            })
            .collect();
        out.sort_by_key(|p| p.id);
        Ok(out)
    }

    /// Writes `marker` ending `producer_id`'s transaction on the partition and
    /// makes it durable before returning, whatever the flush policy: the
    /// coordinator forgets a transaction only once all its markers are on disk.
    pub fn append_marker(
        &self,
        topic: &Topic,
        partition: u32,
        producer_id: i64,
        epoch: i16,
        which: Marker,
    ) -> Result<(), BrokerError> {
        let fail = |e| BrokerError::log(topic.name(), partition)(e);
        let log = topic.partition(i64::from(partition))?;
        let slot = self.slot_of(topic.name(), partition, &log);
        // Serialised with the partition's idempotent appends.
        let _guard = slot.state.lock();
        let now = crate::broker::now_ms();
        let bytes = marker::encode(which, producer_id, epoch, now)
            .map_err(|e| fail(LogError::InvalidBatch(e)))?;
        let info = log.append(&bytes, now).map_err(fail)?;
        let log_start = log.stats().log_start_offset;
        slot.with_txns(&log, |t| {
            t.on_marker(producer_id, which, info.base_offset);
            t.forget_before(log_start);
        })
        .map_err(fail)?;
        log.flush()
            .map_err(BrokerError::log(topic.name(), partition))
    }

    /// A `read_committed` read: batches below the last stable offset, and the
    /// aborted transactions among them.
    pub fn read_committed(
        &self,
        topic: &Topic,
        partition: u32,
        offset: i64,
        max_bytes: usize,
    ) -> Result<CommittedRead, BrokerError> {
        self.read_committed_within(topic, partition, offset, max_bytes, FirstBatch::AlwaysWhole)
    }

    /// [`ProducerRegistry::read_committed`], with the choice of what a first batch over
    /// `max_bytes` does (a Kafka fetch past its first non-empty partition).
    pub fn read_committed_within(
        &self,
        topic: &Topic,
        partition: u32,
        offset: i64,
        max_bytes: usize,
        first: FirstBatch,
    ) -> Result<CommittedRead, BrokerError> {
        let fail = || BrokerError::log(topic.name(), partition);
        let log = topic.partition(i64::from(partition))?;
        let slot = self.slot_of(topic.name(), partition, &log);
        let high_watermark = registered_end(&slot, &log);
        let (last_stable, aborted) = slot
            .with_txns(&log, |t| {
                let lso = t.last_stable(high_watermark);
                (lso, t.aborted_between(offset, lso))
            })
            .map_err(fail())?;
        let read = log
            .read_within(offset, max_bytes, last_stable, first)
            .map_err(fail())?;
        Ok(CommittedRead {
            read,
            last_stable,
            aborted,
        })
    }

    /// The partition's last stable offset: the first offset of its oldest open
    /// transaction, or the high watermark.
    pub fn last_stable_offset(&self, topic: &Topic, partition: u32) -> Result<i64, BrokerError> {
        let log = topic.partition(i64::from(partition))?;
        let slot = self.slot_of(topic.name(), partition, &log);
        let high_watermark = registered_end(&slot, &log);
        slot.with_txns(&log, |t| t.last_stable(high_watermark))
            .map_err(BrokerError::log(topic.name(), partition))
    }

    /// What a compaction pass of the partition must respect: its last stable
    /// offset (nothing at or past it is cleaned) and the aborted transactions below
    /// it (their records are dropped and supersede nothing).
    pub fn cleaner_bounds(
        &self,
        topic: &Topic,
        partition: u32,
    ) -> Result<(i64, AbortedSet), BrokerError> {
        let log = topic.partition(i64::from(partition))?;
        let slot = self.slot_of(topic.name(), partition, &log);
        let high_watermark = registered_end(&slot, &log);
        slot.with_txns(&log, |t| {
            let lso = t.last_stable(high_watermark);
            let mut aborted = AbortedSet::default();
            for a in t.aborted_between(i64::MIN, lso) {
                aborted.insert(a.producer_id, a.first_offset, a.last_offset);
            }
            (lso, aborted)
        })
        .map_err(BrokerError::log(topic.name(), partition))
    }

    /// Producers with a transaction open on the partition, and the first
    /// offset of each there (DescribeProducers' current transaction start).
    pub fn open_transactions(
        &self,
        topic: &Topic,
        partition: u32,
    ) -> Result<Vec<(i64, i64)>, BrokerError> {
        let log = topic.partition(i64::from(partition))?;
        let slot = self.slot_of(topic.name(), partition, &log);
        slot.with_txns(&log, |t| t.open_producers().collect())
            .map_err(BrokerError::log(topic.name(), partition))
    }

    /// The slot of `log`, created empty if missing or left from a deleted
    /// topic. Only the registry's map lock is taken, and only briefly, so a
    /// slow partition never holds up the others.
    fn slot_of(&self, topic: &str, partition: u32, log: &Arc<PartitionLog>) -> Arc<PartitionSlot> {
        let mut all = self.partitions.lock();
        let slot = all
            .entry((topic.to_string(), partition))
            .or_insert_with(|| PartitionSlot::fresh(log));
        if !slot.belongs_to(log) {
            *slot = PartitionSlot::fresh(log);
        }
        slot.clone()
    }
}

impl PartitionSlot {
    fn fresh(log: &Arc<PartitionLog>) -> Arc<PartitionSlot> {
        Arc::new(PartitionSlot {
            log: Arc::downgrade(log),
            state: Mutex::new(None),
            txns: Mutex::new(None),
        })
    }

    /// Runs `f` on the partition's transactions, rebuilt from the log first if
    /// not loaded. Every update is idempotent, so a rebuild racing an append
    /// that then applies its own batch again is harmless.
    fn with_txns<T>(
        &self,
        log: &PartitionLog,
        f: impl FnOnce(&mut PartitionTxns) -> T,
    ) -> Result<T, LogError> {
        let mut guard = self.txns.lock();
        let txns = match &mut *guard {
            Some(txns) => txns,
            empty => empty.insert(PartitionTxns::rebuild(log)?),
        };
        Ok(f(txns))
    }
}

/// The slot's state, rebuilt from the log's tail on first use.
fn loaded<'a>(
    state: &'a mut Option<PartitionProducers>,
    log: &PartitionLog,
) -> Result<&'a mut PartitionProducers, crate::log::LogError> {
    Ok(match state {
        Some(state) => state,
        empty => empty.insert(PartitionProducers::new(rebuild(log)?)),
    })
}

/// Replays the batch headers of the last two segments (the active one and the
/// one sealed before it) into producer windows, each stamped with its last
/// batch's max timestamp. Two segments cover a producer whose last batches were
/// written just before a roll; only headers are read, not records.
fn rebuild(log: &PartitionLog) -> Result<Windows, crate::log::LogError> {
    let mut windows = Windows::new();
    log.for_each_tail_header(2, |header| {
        if header.producer_id < 0 || header.base_sequence < 0 {
            return;
        }
        let (window, last) = windows
            .entry(header.producer_id)
            .or_insert_with(|| (Window::new(header.producer_epoch), header.max_timestamp));
        *last = header.max_timestamp;
        window.record(
            header.producer_epoch,
            BatchSeq {
                first_seq: header.base_sequence,
                last_seq: last_seq(header),
                base_offset: header.base_offset,
            },
        );
    })?;
    Ok(windows)
}

/// The high watermark as far as the partition's transactions are known: read under the
/// appends' lock, which an append holds until it has registered its batch's open
/// transaction. Read without it, a batch appended but not yet registered would count as
/// stable, and a `read_committed` reader (or the cleaner) would take the records of a
/// transaction that may still abort.
fn registered_end(slot: &PartitionSlot, log: &PartitionLog) -> i64 {
    let _appends = slot.state.lock();
    log.high_watermark()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partition_held_by_a_slow_append_does_not_hold_up_the_registry() {
        use crate::broker::BrokerConfig;
        use crate::broker::topic_config::TopicConfig;
        use crate::log::FlushPolicy;
        use crate::log::batch::{Record, encode_batch};

        let dir = tempfile::tempdir().unwrap();
        let broker = Arc::new(
            Broker::open(BrokerConfig {
                data_dir: dir.path().to_path_buf(),
                flush: FlushPolicy::Os,
                index_interval_bytes: 4096,
                topic_defaults: TopicConfig::default(),
                limits: Default::default(),
            })
            .unwrap(),
        );
        let topic = broker.create_topic("t", 2, Default::default()).unwrap();
        let reg = ProducerRegistry::new(broker);
        let log0 = topic.partition(0).unwrap();
        let slot0 = reg.slot_of("t", 0, &log0);
        let held = slot0.state.lock();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                // Finding the held partition's slot, and appending to another
                // partition, must not wait for the held lock.
                let same = reg.slot_of("t", 0, &log0);
                let mut batch = encode_batch(
                    &[Record {
                        value: Some(b"v".to_vec().into()),
                        timestamp: 1,
                        ..Record::default()
                    }],
                    0,
                )
                .unwrap();
                batch[43..51].copy_from_slice(&7i64.to_be_bytes());
                batch[51..53].copy_from_slice(&0i16.to_be_bytes());
                batch[53..57].copy_from_slice(&3i32.to_be_bytes());
                let crc = crc32c::crc32c(&batch[21..]);
                batch[17..21].copy_from_slice(&crc.to_be_bytes());
                let other = reg
                    .append(&topic, 1, Checked::new(&batch).unwrap())
                    .unwrap();
                tx.send((Arc::ptr_eq(&same, &slot0), other)).unwrap();
            });
            let got = rx.recv_timeout(std::time::Duration::from_secs(20));
            drop(held);
            let (same, other) = got.expect("the registry waited for a held partition");
            assert!(same, "the slot was replaced");
            assert!(matches!(other, IdempotentAppend::Appended(_)), "{other:?}");
        });
    }
}
