//! A source task's thread: poll the plugin, and commit each poll's records together with
//! their source offsets.
//!
//! Exactly once, the way pipelines' timer output is (`pipeline/task/timers.rs`): the
//! records, their `connect-offsets` records, the new source offsets and the sequences they
//! take are committed first, in one flushed sled batch (the checkpoint's outbox); then the
//! outbox is appended with the task's idempotent producer id; then emptied. A crash before
//! the commit loses the poll, and the task, resuming at the committed offsets, polls the same
//! records again; a crash after it appends the outbox at the next start, and the producer
//! window skips whatever had already reached the log.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use bytes::Bytes;

use crate::broker::partitioner::partition_for_key;
use crate::broker::{Broker, now_ms};
use crate::pipeline::outputs::{Group, from_outbox, to_outbox};
use crate::pipeline::task::append::write_groups;
use crate::record::Record;
use crate::runtime::ConnectorInstance;
use crate::runtime::connector::{CommittedOffset, SourceRecord};

use super::chain::{ConnectRecord, Transformed};
use super::config::Tolerance;
use super::error::ConnectError;
use super::state::TaskState;
use super::store::{self, SourceCheckpoint};
use super::task::{Counters, TaskControl, Want};
use super::worker::{TaskContext, answer, canonical_object};

/// Where source offsets are published, with Connect's key `["<name>", {partition}]`.
pub const OFFSETS_TOPIC: &str = "connect-offsets";
/// `connect-offsets`' partitions (Connect's `offset.storage.partitions` default).
pub const OFFSETS_PARTITIONS: u32 = 25;
/// Most records asked of one poll.
const MAX_POLL: u32 = 4096;
/// How long a task with nothing to poll waits before asking again.
const IDLE: Duration = Duration::from_millis(20);

/// Connect's key of a source partition's record in `connect-offsets`.
pub fn offsets_key(connector: &str, partition: &str) -> String {
    format!(
        "[{},{partition}]",
        serde_json::Value::String(connector.to_string())
    )
}

/// Runs a source task until it is asked to exit or fails.
pub fn run(ctx: TaskContext, control: Arc<TaskControl>) {
    let counted = Arc::default();
    let outcome = run_inner(&ctx, &control, &counted);
    ctx.finish(&control, outcome, &counted);
}

fn run_inner(
    ctx: &TaskContext,
    control: &TaskControl,
    counted: &Arc<AtomicBool>,
) -> Result<(), ConnectError> {
    let mut cp = store::checkpoint(&ctx.tree, ctx.task)?.unwrap_or_default();
    let producer_id = own_producer_id(&ctx.broker, &ctx.tree, ctx.task, &mut cp)?;
    // A Kafka client producing with it would disturb the window's skipping of replays.
    ctx.producers.reserve_internal(producer_id);
    drain_outbox(ctx, producer_id, &mut cp)?;
    let committed: Vec<CommittedOffset> = store::offsets(&ctx.tree)?
        .into_iter()
        .map(|(source_partition, source_offset)| CommittedOffset {
            source_partition,
            source_offset,
        })
        .collect();
    let mut inst = ConnectorInstance::new(
        ctx.plugin.clone(),
        ctx.config.clone(),
        &ctx.settings.dirs,
        ctx.net(counted),
        ctx.limits,
        ctx.logs.clone(),
    )?;
    if let Err(m) = answer("start", inst.source_start(&ctx.config_list(), &committed))? {
        return Err(ConnectError::Plugin {
            stage: "start",
            message: format!("retriable error at start: {m}"),
        });
    }
    let outcome = poll_loop(ctx, control, &mut inst, producer_id, &mut cp);
    let _ = inst.stop();
    outcome
}

/// The task's producer id: the checkpoint's, or a fresh one stored durably before anything
/// is appended with it. The same id across restarts is what lets the producer window skip an
/// outbox that reached the log before a crash; an outbox appended under a new id is appended
/// twice.
fn own_producer_id(
    broker: &Broker,
    tree: &sled::Tree,
    task: u32,
    cp: &mut SourceCheckpoint,
) -> Result<i64, ConnectError> {
    if let Some(id) = cp.producer_id {
        return Ok(id);
    }
    let id = broker.next_producer_id()?;
    cp.producer_id = Some(id);
    store::commit_source(tree, task, &BTreeMap::new(), cp)?;
    Ok(id)
}

fn poll_loop(
    ctx: &TaskContext,
    control: &TaskControl,
    inst: &mut ConnectorInstance,
    producer_id: i64,
    cp: &mut SourceCheckpoint,
) -> Result<(), ConnectError> {
    loop {
        match control.want() {
            Want::Exit => return Ok(()),
            Want::Pause => {
                control.set_state(TaskState::Paused);
                control.wait(Duration::from_secs(1));
                continue;
            }
            Want::Run => {
                if control.state() != TaskState::Running {
                    control.set_state(TaskState::Running);
                }
            }
        }
        let records = match answer("poll", inst.poll(MAX_POLL))? {
            Ok(r) => r,
            Err(m) => {
                ctx.note(&format!("poll: retriable error: {m}"));
                control.wait(
                    ctx.settings
                        .errors
                        .retry_delay_max
                        .min(Duration::from_secs(1)),
                );
                continue;
            }
        };
        if records.is_empty() {
            control.wait(IDLE);
            continue;
        }
        let offsets = commit(ctx, producer_id, cp, records)?;
        inst.committed(&offsets)?;
    }
}

/// Appends what the outbox holds (skipping what the log has), then empties it.
fn drain_outbox(
    ctx: &TaskContext,
    producer_id: i64,
    cp: &mut SourceCheckpoint,
) -> Result<(), ConnectError> {
    if cp.outbox.is_empty() {
        return Ok(());
    }
    let mut groups = Vec::with_capacity(cp.outbox.len());
    for g in &cp.outbox {
        groups.push(Group {
            topic: ctx.topic(&g.topic)?,
            name: g.topic.clone(),
            partition: g.partition,
            first_seq: g.first_seq,
            records: g.records.iter().map(from_outbox).collect(),
        });
    }
    write_groups(&ctx.producers, producer_id, &groups)?;
    cp.outbox.clear();
    store::put_checkpoint(&ctx.tree, ctx.task, cp)
}

/// A record failed a stage: the task fails, or (`errors.tolerance=all`) it is skipped.
fn tolerate(
    ctx: &TaskContext,
    stage: &'static str,
    what: &str,
    message: String,
) -> Result<(), ConnectError> {
    let err = ConnectError::Record {
        stage,
        what: what.to_string(),
        message,
    };
    match ctx.settings.errors.tolerance {
        Tolerance::None => Err(err),
        Tolerance::All => {
            Counters::add(&ctx.counters.skipped, 1);
            if ctx.settings.errors.log {
                ctx.note(&format!("skipped: {err}"));
            }
            Ok(())
        }
    }
}

/// Converts, transforms, commits and appends one poll's records; answers the offsets now
/// committed.
fn commit(
    ctx: &TaskContext,
    producer_id: i64,
    cp: &mut SourceCheckpoint,
    records: Vec<SourceRecord>,
) -> Result<Vec<CommittedOffset>, ConnectError> {
    let s = &ctx.settings;
    let now = now_ms();
    let mut latest: BTreeMap<String, String> = BTreeMap::new();
    let mut out: BTreeMap<(String, u32), Vec<Record>> = BTreeMap::new();
    let mut topics = BTreeMap::new();
    for r in records {
        let partition =
            canonical_object(&r.source_partition).ok_or_else(|| ConnectError::Plugin {
                stage: "poll",
                message: format!(
                    "source partition {:?} is not a JSON object",
                    r.source_partition
                ),
            })?;
        let offset = canonical_object(&r.source_offset).ok_or_else(|| ConnectError::Plugin {
            stage: "poll",
            message: format!("source offset {:?} is not a JSON object", r.source_offset),
        })?;
        let what = format!("the record of source partition {partition} at {offset}");
        latest.insert(partition, offset);
        let rec = ConnectRecord {
            topic: r.topic,
            partition: r.kafka_partition,
            key: r.key,
            value: r.value,
            headers: r.headers.into_iter().map(|h| (h.key, h.value)).collect(),
            // A record without a time is stamped with the append's now: the chain's
            // InsertField and TimestampRouter see the time the log will hold.
            timestamp: Some(r.timestamp.unwrap_or(now)),
        };
        // A dropped record's offset is still committed (`latest` above): it was processed.
        let rec = match ctx.chain.apply(rec, None) {
            Transformed::Kept(rec) => rec,
            Transformed::Dropped => continue,
            Transformed::Failed(m) => {
                tolerate(ctx, "TRANSFORMATION", &what, m)?;
                continue;
            }
        };
        let key = match s.key.to_bytes(&rec.key) {
            Ok(k) => k,
            Err(m) => {
                tolerate(ctx, "KEY_CONVERTER", &what, m)?;
                continue;
            }
        };
        let value = match s.value.to_bytes(&rec.value) {
            Ok(v) => v,
            Err(m) => {
                tolerate(ctx, "VALUE_CONVERTER", &what, m)?;
                continue;
            }
        };
        let mut headers = Vec::with_capacity(rec.headers.len());
        let mut bad_header = None;
        for (k, v) in &rec.headers {
            match s.header.to_bytes(v) {
                Ok(b) => headers.push((k.clone(), b.map(Bytes::from))),
                Err(m) => bad_header = Some(format!("header {k:?}: {m}")),
            }
        }
        if let Some(m) = bad_header {
            tolerate(ctx, "HEADER_CONVERTER", &what, m)?;
            continue;
        }
        if rec.topic.is_empty() {
            return Err(ConnectError::Plugin {
                stage: "poll",
                message: format!("{what} names no topic"),
            });
        }
        let topic = match topics.get(&rec.topic) {
            Some(t) => Arc::clone(t),
            None => {
                let t = ctx.topic(&rec.topic)?;
                topics.insert(rec.topic.clone(), t.clone());
                t
            }
        };
        let count = topic.partition_count();
        let p = match (rec.partition, &key) {
            (Some(p), _) if p < count => p,
            (Some(p), _) => {
                return Err(ConnectError::Plugin {
                    stage: "poll",
                    message: format!(
                        "{what} names partition {p} of {}, which has {count}",
                        rec.topic
                    ),
                });
            }
            (None, Some(k)) => partition_for_key(k, count),
            (None, None) => ctx.task % count,
        };
        out.entry((rec.topic, p)).or_default().push(Record {
            key: key.map(Bytes::from),
            value: value.map(Bytes::from),
            headers,
            timestamp: rec.timestamp.unwrap_or(now),
        });
    }
    let offsets_topic = ctx.topic(super::source::OFFSETS_TOPIC)?;
    topics.insert(OFFSETS_TOPIC.to_string(), offsets_topic.clone());
    for (partition, offset) in &latest {
        let key = offsets_key(&ctx.connector, partition);
        let p = partition_for_key(key.as_bytes(), offsets_topic.partition_count());
        out.entry((OFFSETS_TOPIC.to_string(), p))
            .or_default()
            .push(Record {
                key: Some(Bytes::from(key)),
                value: Some(Bytes::from(offset.clone())),
                headers: Vec::new(),
                timestamp: now,
            });
    }
    let mut groups = Vec::with_capacity(out.len());
    let mut moved = 0u64;
    for ((name, p), records) in out {
        if name != OFFSETS_TOPIC {
            moved += records.len() as u64;
        }
        let seq = cp
            .sequences
            .entry(name.clone())
            .or_default()
            .entry(p)
            .or_insert(0);
        let first_seq = *seq;
        *seq += records.len() as u64;
        groups.push(Group {
            topic: topics[&name].clone(),
            name,
            partition: p,
            first_seq,
            records,
        });
    }
    cp.outbox = groups.iter().map(to_outbox).collect();
    store::commit_source(&ctx.tree, ctx.task, &latest, cp)?;
    write_groups(&ctx.producers, producer_id, &groups)?;
    cp.outbox.clear();
    store::put_checkpoint(&ctx.tree, ctx.task, cp)?;
    Counters::add(&ctx.counters.records, moved);
    Ok(latest
        .into_iter()
        .map(|(source_partition, source_offset)| CommittedOffset {
            source_partition,
            source_offset,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::BrokerConfig;
    use crate::broker::producer::ProducerRegistry;
    use crate::connect::store::ConnectStore;
    use crate::log::FlushPolicy;

    /// A restart drains the outbox under the id the task first appended it with. The
    /// broker's first producer id is 0, which the checkpoint once took for "none yet": the
    /// restarted task took a new id and appended its last poll a second time.
    #[test]
    fn a_restart_appends_the_outbox_under_the_same_producer_id_even_id_0() {
        let dir = tempfile::tempdir().unwrap();
        let broker = Arc::new(
            Broker::open(BrokerConfig {
                data_dir: dir.path().join("broker"),
                flush: FlushPolicy::Os,
                index_interval_bytes: 4096,
                topic_defaults: Default::default(),
                limits: Default::default(),
            })
            .unwrap(),
        );
        let topic = broker.create_topic("t", 1, BTreeMap::new()).unwrap();
        let store = ConnectStore::open(&dir.path().join("connect")).unwrap();
        let tree = store.tree("c").unwrap();

        // First start: a fresh id (the broker's first, 0), one poll committed and appended,
        // then a crash before the emptied outbox was stored.
        let mut cp = store::checkpoint(&tree, 0).unwrap().unwrap_or_default();
        let id = own_producer_id(&broker, &tree, 0, &mut cp).unwrap();
        assert_eq!(id, 0, "the case this test is about: producer id 0");
        let records: Vec<Record> = (0..3)
            .map(|i| Record {
                key: None,
                value: Some(Bytes::from(format!("line {i}"))),
                headers: Vec::new(),
                timestamp: 1,
            })
            .collect();
        let groups = vec![Group {
            topic: topic.clone(),
            name: "t".into(),
            partition: 0,
            first_seq: 0,
            records,
        }];
        cp.outbox = groups.iter().map(to_outbox).collect();
        store::commit_source(&tree, 0, &BTreeMap::new(), &cp).unwrap();
        let producers = ProducerRegistry::new(broker.clone());
        assert_eq!(write_groups(&producers, id, &groups).unwrap(), 3);

        // Restart: the stored checkpoint, producer windows rebuilt from the log.
        let mut cp = store::checkpoint(&tree, 0).unwrap().unwrap();
        let again = own_producer_id(&broker, &tree, 0, &mut cp).unwrap();
        assert_eq!(again, id, "the restarted task kept its producer id");
        let producers = ProducerRegistry::new(broker.clone());
        let outbox: Vec<Group> = cp
            .outbox
            .iter()
            .map(|g| Group {
                topic: topic.clone(),
                name: g.topic.clone(),
                partition: g.partition,
                first_seq: g.first_seq,
                records: g.records.iter().map(from_outbox).collect(),
            })
            .collect();
        assert_eq!(
            write_groups(&producers, again, &outbox).unwrap(),
            0,
            "the outbox was in the log already"
        );
        assert_eq!(topic.partition(0).unwrap().high_watermark(), 3);
    }
}
