//! The transaction coordinator: every transactional id's producer id, epoch
//! and current transaction, durable in sled, and the steps that end one.
//!
//! Ending a transaction is two-phase, as in Kafka: the decision (`Ending`) is
//! flushed to sled first, then a marker is appended and fsynced on every
//! partition and (on commit) the pending group offsets are committed, then
//! `Complete` is stored. A crash between the two phases is finished by
//! [`TxnCoordinator::open`]; writing a marker or an offset twice is harmless.
//! An `Ongoing` transaction survives a restart (its producer may go on) and is
//! aborted by the timeout if nobody ends it.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::broker::producer::{IdempotentAppend, ProducerRegistry};
use crate::broker::{Broker, BrokerError, OffsetCommit, Topic, now_ms};
use crate::log::LogError;
use crate::log::batch::Checked;

use super::marker::Marker;
use super::refusal::TxnRefusal;
use super::state::{OpenTxn, PendingOffset, TxnPhase, TxnRecord};

/// Kafka's `transaction.max.timeout.ms` default: longer timeouts are refused.
pub const MAX_TIMEOUT_MS: i32 = 15 * 60 * 1000;

/// Most partitions one transaction may touch, so a client cannot make the
/// coordinator hold (and write markers to) an unbounded set.
pub const MAX_PARTITIONS_PER_TXN: usize = 10_000;

/// Most transactional ids the coordinator tracks.
pub const MAX_TRANSACTIONAL_IDS: usize = 100_000;

/// Kafka's `transactional.id.expiration.ms` default: an id with no open
/// transaction and no request for this long is forgotten, so ids do not
/// accumulate up to [`MAX_TRANSACTIONAL_IDS`].
pub const ID_EXPIRATION_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// Every transactional id's state.
#[derive(Debug)]
pub struct TxnCoordinator {
    broker: Arc<Broker>,
    producers: Arc<ProducerRegistry>,
    ids: Mutex<HashMap<String, Arc<Mutex<TxnRecord>>>>,
}

/// Refuses unless `(producer_id, epoch)` is the id's current producer.
fn check(rec: &TxnRecord, producer_id: i64, epoch: i16) -> Result<(), TxnRefusal> {
    if rec.producer_id != producer_id {
        return Err(TxnRefusal::InvalidProducerIdMapping);
    }
    if epoch != rec.epoch {
        return Err(TxnRefusal::Fenced);
    }
    Ok(())
}

/// A topic or partition deleted since it joined the transaction gets no marker.
fn gone(e: &BrokerError) -> bool {
    matches!(
        e,
        BrokerError::UnknownTopic { .. }
            | BrokerError::UnknownPartition { .. }
            | BrokerError::Log {
                source: LogError::Deleted,
                ..
            }
    )
}

impl TxnCoordinator {
    /// Loads every transactional id from sled and finishes the transactions a
    /// crash left between decision and completion.
    pub fn open(
        broker: Arc<Broker>,
        producers: Arc<ProducerRegistry>,
    ) -> Result<TxnCoordinator, BrokerError> {
        let stored: Vec<(String, TxnRecord)> = broker.meta.transactions()?;
        let coordinator = TxnCoordinator {
            broker,
            producers,
            ids: Mutex::new(HashMap::new()),
        };
        for (id, mut rec) in stored {
            if matches!(rec.phase, TxnPhase::Ending { .. })
                && let Err(e) = coordinator.finish(&id, &mut rec)
            {
                // Left Ending: the periodic check retries it.
                tracing::error!(transactional_id = id, "finishing a transaction: {e}");
            }
            coordinator.ids.lock().insert(id, Arc::new(Mutex::new(rec)));
        }
        Ok(coordinator)
    }

    fn entry(&self, id: &str) -> Result<Arc<Mutex<TxnRecord>>, TxnRefusal> {
        self.ids
            .lock()
            .get(id)
            .cloned()
            .ok_or(TxnRefusal::InvalidProducerIdMapping)
    }

    fn store(&self, id: &str, rec: &mut TxnRecord, durable: bool) -> Result<(), BrokerError> {
        rec.updated_ms = now_ms();
        self.broker.meta.put_transaction(id, rec, durable)
    }

    /// InitProducerId with a transactional id: the id's producer id at its next
    /// epoch (a fresh producer id the first time), fencing older instances.
    /// A transaction left open is aborted first. `expected` is the producer id
    /// and epoch a producer that keeps its id sends (KIP-360).
    pub fn init_producer(
        &self,
        id: &str,
        timeout_ms: i32,
        expected: Option<(i64, i16)>,
    ) -> Result<(i64, i16), BrokerError> {
        if timeout_ms <= 0 || timeout_ms > MAX_TIMEOUT_MS {
            return Err(TxnRefusal::InvalidTimeout.into());
        }
        let existing = self.ids.lock().get(id).cloned();
        let entry = match existing {
            Some(entry) => entry,
            None => return self.create(id, timeout_ms),
        };
        let mut rec = entry.lock();
        if let Some((pid, epoch)) = expected {
            // The epoch before the current one is accepted too: the timeout
            // bumps the epoch of the producer whose transaction it aborts.
            let known = epoch == rec.epoch || epoch == rec.epoch.saturating_sub(1);
            if pid != rec.producer_id || !known {
                return Err(TxnRefusal::Fenced.into());
            }
        }
        if let TxnPhase::Ongoing(txn) = &rec.phase {
            rec.phase = TxnPhase::Ending {
                commit: false,
                txn: txn.clone(),
            };
            self.store(id, &mut rec, true)?;
        }
        self.finish(id, &mut rec)?;
        if rec.epoch >= i16::MAX - 1 {
            rec.producer_id = self.producers.next_producer_id()?;
            rec.epoch = 0;
        } else {
            rec.epoch += 1;
        }
        rec.timeout_ms = timeout_ms;
        rec.phase = TxnPhase::Empty;
        self.store(id, &mut rec, true)?;
        Ok((rec.producer_id, rec.epoch))
    }

    /// A new transactional id: a fresh producer id at epoch 0, stored before
    /// the answer. The map lock is not held across the sled flush: the entry
    /// goes in locked, so requests for the id wait on it, not on the map.
    fn create(&self, id: &str, timeout_ms: i32) -> Result<(i64, i16), BrokerError> {
        let fresh = Arc::new(Mutex::new(TxnRecord {
            producer_id: self.producers.next_producer_id()?,
            epoch: 0,
            timeout_ms,
            phase: TxnPhase::Empty,
            updated_ms: 0,
        }));
        let mut rec = fresh.lock();
        {
            let mut ids = self.ids.lock();
            if ids.contains_key(id) {
                // Another instance created it meanwhile: initialise as a second one.
                drop(ids);
                drop(rec);
                return self.init_producer(id, timeout_ms, None);
            }
            if ids.len() >= MAX_TRANSACTIONAL_IDS {
                return Err(TxnRefusal::TooMany {
                    what: "transactional ids",
                    max: MAX_TRANSACTIONAL_IDS,
                }
                .into());
            }
            ids.insert(id.to_string(), fresh.clone());
        }
        if let Err(e) = self.store(id, &mut rec, true) {
            self.ids.lock().remove(id);
            return Err(e);
        }
        Ok((rec.producer_id, rec.epoch))
    }

    /// The open transaction of `rec`, opened now if none is.
    fn open_txn(rec: &mut TxnRecord) -> Result<&mut OpenTxn, TxnRefusal> {
        if matches!(rec.phase, TxnPhase::Empty | TxnPhase::Complete { .. }) {
            rec.phase = TxnPhase::Ongoing(OpenTxn {
                started_ms: now_ms(),
                ..OpenTxn::default()
            });
        }
        match &mut rec.phase {
            TxnPhase::Ongoing(txn) => Ok(txn),
            _ => Err(TxnRefusal::Concurrent),
        }
    }

    /// AddPartitionsToTxn: the partitions (which the caller checked exist)
    /// join the transaction, opening one if none is open.
    pub fn add_partitions(
        &self,
        id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: &[(String, u32)],
    ) -> Result<(), BrokerError> {
        let entry = self.entry(id)?;
        let mut rec = entry.lock();
        check(&rec, producer_id, epoch)?;
        let txn = Self::open_txn(&mut rec)?;
        let new: Vec<&(String, u32)> = partitions
            .iter()
            .filter(|p| !txn.partitions.contains(p))
            .collect();
        if txn.partitions.len() + new.len() > MAX_PARTITIONS_PER_TXN {
            return Err(TxnRefusal::TooMany {
                what: "partitions in one transaction",
                max: MAX_PARTITIONS_PER_TXN,
            }
            .into());
        }
        txn.partitions.extend(new.into_iter().cloned());
        // Durable before the producer may write: recovery must know where to
        // put the markers.
        self.store(id, &mut rec, true)
    }

    /// AddOffsetsToTxn: the group's offsets will be committed with the transaction.
    pub fn add_offsets(
        &self,
        id: &str,
        producer_id: i64,
        epoch: i16,
        group: &str,
    ) -> Result<(), BrokerError> {
        let entry = self.entry(id)?;
        let mut rec = entry.lock();
        check(&rec, producer_id, epoch)?;
        Self::open_txn(&mut rec)?.groups.insert(group.to_string());
        self.store(id, &mut rec, true)
    }

    /// TxnOffsetCommit: offsets held with the transaction, committed (made
    /// visible to the group) only if it commits. Durable, since the
    /// transaction may commit after a restart.
    pub fn commit_offsets(
        &self,
        id: &str,
        producer_id: i64,
        epoch: i16,
        group: &str,
        offsets: Vec<((String, u32), PendingOffset)>,
    ) -> Result<(), BrokerError> {
        let entry = self.entry(id)?;
        let mut rec = entry.lock();
        check(&rec, producer_id, epoch)?;
        let TxnPhase::Ongoing(txn) = &mut rec.phase else {
            return Err(TxnRefusal::InvalidState.into());
        };
        txn.groups.insert(group.to_string());
        txn.offsets
            .entry(group.to_string())
            .or_default()
            .extend(offsets);
        self.store(id, &mut rec, true)
    }

    /// EndTxn: commits or aborts the open transaction. Ending one that already
    /// ended the same way answers success (a retried request).
    pub fn end(
        &self,
        id: &str,
        producer_id: i64,
        epoch: i16,
        commit: bool,
    ) -> Result<(), BrokerError> {
        let entry = self.entry(id)?;
        let mut rec = entry.lock();
        check(&rec, producer_id, epoch)?;
        match &rec.phase {
            TxnPhase::Ongoing(txn) => {
                rec.phase = TxnPhase::Ending {
                    commit,
                    txn: txn.clone(),
                };
                self.store(id, &mut rec, true)?;
            }
            TxnPhase::Ending { commit: c, .. } if *c == commit => {}
            TxnPhase::Complete { commit: c } if *c == commit => return Ok(()),
            _ => return Err(TxnRefusal::InvalidState.into()),
        }
        self.finish(id, &mut rec)
    }

    /// Second phase of ending: markers everywhere, then offsets, then `Complete`.
    /// A no-op unless the transaction is `Ending`.
    fn finish(&self, id: &str, rec: &mut TxnRecord) -> Result<(), BrokerError> {
        let TxnPhase::Ending { commit, txn } = &rec.phase else {
            return Ok(());
        };
        let commit = *commit;
        let marker = Marker::ending(commit);
        for (topic, partition) in &txn.partitions {
            let written = self.broker.topic(topic).and_then(|t| {
                self.producers
                    .append_marker(&t, *partition, rec.producer_id, rec.epoch, marker)
            });
            match written {
                Err(e) if !gone(&e) => return Err(e),
                _ => {}
            }
        }
        if commit {
            for (group, offsets) in &txn.offsets {
                let commits: Vec<OffsetCommit> = offsets
                    .iter()
                    .filter(|((t, p), _)| {
                        self.broker
                            .topic(t)
                            .and_then(|t| t.partition(i64::from(*p)))
                            .is_ok()
                    })
                    .map(|((topic, partition), o)| OffsetCommit {
                        topic: topic.clone(),
                        partition: i64::from(*partition),
                        offset: o.offset,
                        metadata: o.metadata.clone(),
                    })
                    .collect();
                if !commits.is_empty() {
                    self.broker.commit_offsets(group, commits)?;
                }
            }
        }
        rec.phase = TxnPhase::Complete { commit };
        // Not flushed: if lost, recovery finds `Ending` and redoes harmless work.
        self.store(id, rec, false)
    }

    /// Appends a transactional batch from `id`'s producer to a partition of its
    /// open transaction; anything else is refused. Held under the id's lock so
    /// that no batch can land after the transaction's marker.
    pub fn produce(
        &self,
        id: &str,
        topic: &Topic,
        partition: u32,
        producer_id: i64,
        epoch: i16,
        batch: Checked<'_>,
    ) -> Result<IdempotentAppend, BrokerError> {
        let entry = self.entry(id)?;
        let rec = entry.lock();
        check(&rec, producer_id, epoch)?;
        match &rec.phase {
            TxnPhase::Ongoing(txn)
                if txn
                    .partitions
                    .contains(&(topic.name().to_string(), partition)) =>
            {
                self.producers.append(topic, partition, batch)
            }
            _ => Err(TxnRefusal::InvalidState.into()),
        }
    }

    /// Aborts open transactions older than their timeout, bumping the epoch so
    /// the producer that went silent is fenced, retries completions that
    /// failed, and forgets ids idle for [`ID_EXPIRATION_MS`]. Returns how many
    /// transactions it ended.
    pub fn abort_expired(&self, now_ms: i64) -> usize {
        let all = self.snapshot();
        let mut ended = 0;
        for (id, entry) in all {
            // An id busy with a request is not idle: look again next time.
            let Some(mut rec) = entry.try_lock() else {
                continue;
            };
            let idle = matches!(rec.phase, TxnPhase::Empty | TxnPhase::Complete { .. })
                && now_ms.saturating_sub(rec.updated_ms) > ID_EXPIRATION_MS;
            if idle {
                // Removed from the map under the id's lock, so a request that
                // found the entry before finds it gone on its next lookup.
                self.ids.lock().remove(&id);
                if let Err(e) = self.broker.meta.delete_transaction(&id) {
                    tracing::error!(transactional_id = id, "forgetting an expired id: {e}");
                }
                continue;
            }
            let expired = match &rec.phase {
                TxnPhase::Ongoing(txn) => {
                    now_ms.saturating_sub(txn.started_ms) > i64::from(rec.timeout_ms)
                }
                TxnPhase::Ending { .. } => true,
                _ => false,
            };
            if !expired {
                continue;
            }
            let result = (|| {
                if let TxnPhase::Ongoing(txn) = &rec.phase {
                    let txn = txn.clone();
                    rec.epoch = rec.epoch.saturating_add(1);
                    rec.phase = TxnPhase::Ending { commit: false, txn };
                    self.store(&id, &mut rec, true)?;
                }
                self.finish(&id, &mut rec)
            })();
            match result {
                Ok(()) => ended += 1,
                Err(e) => tracing::error!(transactional_id = id, "ending a transaction: {e}"),
            }
        }
        ended
    }

    /// Every id with its entry, copied out of the map so that each entry's lock is
    /// taken without holding the map's.
    fn snapshot(&self) -> Vec<(String, Arc<Mutex<TxnRecord>>)> {
        self.ids
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// A transactional id's state.
    pub fn describe(&self, id: &str) -> Option<TxnRecord> {
        let entry = self.ids.lock().get(id).cloned()?;
        let rec = entry.lock().clone();
        Some(rec)
    }

    /// Every transactional id with its state, sorted by id.
    pub fn list(&self) -> Vec<(String, TxnRecord)> {
        let all = self.snapshot();
        let mut out: Vec<(String, TxnRecord)> = all
            .into_iter()
            .map(|(id, e)| (id, e.lock().clone()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Whether an open transaction holds an offset for the group's partition
    /// (OffsetFetch with `require_stable` answers UNSTABLE_OFFSET_COMMIT then).
    pub fn has_pending_offset(&self, group: &str, topic: &str, partition: u32) -> bool {
        let key = (topic.to_string(), partition);
        let all: Vec<Arc<Mutex<TxnRecord>>> = self.ids.lock().values().cloned().collect();
        // Each id's lock is taken briefly, one at a time, nothing cloned.
        all.iter().any(|entry| {
            entry
                .lock()
                .phase
                .txn()
                .and_then(|t| t.offsets.get(group))
                .is_some_and(|o| o.contains_key(&key))
        })
    }
}

#[cfg(test)]
mod tests;
