//! A sink task's thread: read its share of the sink's topic partitions, convert, put, and
//! commit the consumer group `connect-<name>` only after the plugin flushed.
//!
//! Each commit carries the position the plugin's `flush` answered as the offsets' metadata,
//! and a restart hands it back to `start`: a sink that drops what it wrote after that point
//! (FileStreamSink truncates its file) then delivers each record exactly once. A first start
//! commits the starting offsets with the plugin's first position, so that even a crash before
//! the first commit finds one.
//!
//! - this file: the task's loop (read, convert, put, flush, commit, swap).
//! - [`assign`]: which partitions a task reads, and from where.
//! - [`batch`]: the last read as it was in the log, for dead-letter reports.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::broker::{BrokerError, OffsetCommit, ProduceRecord};
use crate::record::Record;
use crate::runtime::ConnectorInstance;
use crate::runtime::connector::{Header, SinkRecord, TopicPartitionOffset};

mod assign;
mod batch;

use assign::{Positions, committed, refresh};
use batch::ReadBatch;

use super::chain::{ConnectRecord, Transformed};
use super::config::Tolerance;
use super::error::{ConnectError, RecordFault};
use super::state::TaskState;
use super::swap::{SwapOutcome, Version};
use super::task::{Counters, TaskControl, Want};
use super::worker::{TaskContext, answer};

/// How long a task with nothing to read waits before reading again.
const IDLE: Duration = Duration::from_millis(20);
/// Bytes read from one partition at a time.
const READ_BYTES: usize = 1 << 20;
/// A flush and commit at least this often while records flow (Connect's
/// `offset.flush.interval.ms` is 60 s; weir commits sooner, and at once when input stops).
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// How often the partitions of `topics.regex` (and new partitions) are looked for.
const REFRESH_EVERY: Duration = Duration::from_secs(2);

/// Connect's stage of a record the task refused (`sink-context.report`).
const PUT_STAGE: &str = "TASK_PUT";

/// The consumer group that holds a sink connector's progress.
pub fn group(connector: &str) -> String {
    format!("connect-{connector}")
}

/// Runs a sink task until it is asked to exit or fails.
pub fn run(mut ctx: TaskContext, control: Arc<TaskControl>) {
    let outcome = run_inner(&mut ctx, &control);
    ctx.finish(&control, outcome);
}

fn run_inner(ctx: &mut TaskContext, control: &TaskControl) -> Result<(), ConnectError> {
    let mut positions = Positions::new();
    let uncommitted = refresh(ctx, &mut positions)?;
    let mut inst = start(ctx, &ctx.version, &positions)?;
    let mut sink = Sink {
        ctx,
        control,
        inst: &mut inst,
        positions,
        batch: ReadBatch::default(),
        dirty: false,
        last_flush: Instant::now(),
        last_refresh: Instant::now(),
    };
    // Partitions without a committed offset: commit where they start, with the plugin's
    // first position, before anything is put.
    let outcome = match uncommitted {
        true => sink.flush_and_commit().and_then(|()| sink.run()),
        false => sink.run(),
    };
    let _ = inst.stop();
    outcome
}

/// An instance of `version`, started with the position the last commit of the task's
/// partitions carries.
fn start(
    ctx: &TaskContext,
    version: &Version,
    positions: &Positions,
) -> Result<ConnectorInstance, ConnectError> {
    let committed = committed(ctx)?;
    let metadata = committed
        .iter()
        .filter(|(k, _)| positions.contains_key(*k))
        .find_map(|(_, (_, m))| m.clone());
    let mut inst = ctx.instance(version)?;
    if let Err(m) = answer(
        "start",
        inst.sink_start(&version.config_list(), metadata.as_deref()),
    )? {
        return Err(ConnectError::Plugin {
            stage: "start",
            message: format!("retriable error at start: {m}"),
        });
    }
    Ok(inst)
}

struct Sink<'a> {
    ctx: &'a mut TaskContext,
    control: &'a TaskControl,
    inst: &'a mut ConnectorInstance,
    positions: Positions,
    /// The last read, as it was in the log, and which input each put entry came from.
    batch: ReadBatch,
    /// Records were put (or nothing was ever committed) since the last commit.
    dirty: bool,
    last_flush: Instant,
    last_refresh: Instant,
}

impl Sink<'_> {
    fn run(&mut self) -> Result<(), ConnectError> {
        loop {
            match self.control.want() {
                Want::Exit => {
                    if self.dirty {
                        self.flush_and_commit()?;
                    }
                    return Ok(());
                }
                Want::Pause => {
                    if self.dirty {
                        self.flush_and_commit()?;
                    }
                    self.control.set_state(TaskState::Paused);
                    self.control.wait(Duration::from_secs(1));
                    continue;
                }
                Want::Run => {
                    if self.control.state() != TaskState::Running {
                        self.control.set_state(TaskState::Running);
                    }
                }
            }
            if let Some(next) = self.control.swap.take() {
                let outcome = self.swap(next);
                self.control.swap.answer(match &outcome {
                    Ok(o) => o.clone(),
                    Err(e) => SwapOutcome::RolledBack {
                        reason: format!("the task failed while swapping: {e}"),
                    },
                });
                outcome?;
            }
            if self.last_refresh.elapsed() >= REFRESH_EVERY {
                let uncommitted = refresh(self.ctx, &mut self.positions)?;
                self.last_refresh = Instant::now();
                if uncommitted {
                    self.flush_and_commit()?;
                }
            }
            let batch = self.read()?;
            if batch.is_empty() {
                if self.dirty {
                    self.flush_and_commit()?;
                }
                self.control.wait(IDLE);
                continue;
            }
            if !self.put(batch)? {
                // Asked to exit mid-retry: the positions already count the batch the plugin
                // never took, so committing them would lose it. Leave the last commit
                // standing; the restart truncates to it and reads from it again.
                return Ok(());
            }
            if self.last_flush.elapsed() >= FLUSH_EVERY {
                self.flush_and_commit()?;
            }
        }
    }

    /// Swaps `next` in (see `connect/swap.rs`): what the old version took is flushed and
    /// committed first; the new one starts from that commit and must answer a flush (its
    /// first call), which is committed too. If it cannot, the old version starts again
    /// from the same commit.
    fn swap(&mut self, next: Version) -> Result<SwapOutcome, ConnectError> {
        if self.dirty {
            self.flush_and_commit()?;
        }
        let _ = self.inst.stop();
        let tried = start(self.ctx, &next, &self.positions).and_then(|fresh| {
            *self.inst = fresh;
            self.flush_and_commit()
        });
        match tried {
            Ok(()) => {
                self.ctx.version = next;
                self.ctx.note("swapped to a new version");
                Ok(SwapOutcome::Swapped)
            }
            Err(e) => {
                let _ = self.inst.stop();
                let reason = e.to_string();
                self.ctx
                    .note(&format!("new version refused, rolled back: {reason}"));
                *self.inst = start(self.ctx, &self.ctx.version, &self.positions)?;
                Ok(SwapOutcome::RolledBack { reason })
            }
        }
    }

    /// Reads each partition once from its position; converts the records, then transforms
    /// all of them in one pass of the chain.
    fn read(&mut self) -> Result<Vec<SinkRecord>, ConnectError> {
        let ctx = &*self.ctx;
        // Each record as read (for the dead-letter queue) and as converted. The batch's
        // buffers are reused from one read to the next.
        let mut batch = std::mem::take(&mut self.batch);
        batch.clear();
        let mut prepared = Vec::new();
        let keys: Vec<(String, u32)> = self.positions.keys().cloned().collect();
        for key in keys {
            let from = self.positions[&key];
            let topic = match ctx.broker.topic(&key.0) {
                Ok(t) => t,
                // Deleted: nothing more to read there.
                Err(BrokerError::UnknownTopic { .. }) => {
                    self.positions.remove(&key);
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let (records, next) =
                super::read::committed(&ctx.producers, &topic, key.1, from, READ_BYTES)?;
            let p = batch.partitions.len();
            for (offset, r) in records {
                if let Some(rec) = self.convert(&key.0, key.1, offset, &r)? {
                    prepared.push((rec, Some(offset)));
                    batch.records.push((p, offset, r));
                }
            }
            batch.partitions.push(key.clone());
            self.positions.insert(key, next);
        }
        let mut out = Vec::with_capacity(prepared.len());
        let transformed = self.ctx.chain.apply_all(prepared);
        let mut origin = std::mem::take(&mut batch.origin);
        for (i, ((p, offset, r), outcome)) in batch.records.iter().zip(transformed).enumerate() {
            let (topic, partition) = (&batch.partitions[*p].0, &batch.partitions[*p].1);
            let rec = match outcome {
                Transformed::Kept(rec) => rec,
                Transformed::Dropped => continue,
                Transformed::Failed(m) => {
                    self.failed(
                        "TRANSFORMATION",
                        "transforms",
                        topic,
                        *partition,
                        *offset,
                        r,
                        m.into(),
                    )?;
                    continue;
                }
            };
            origin.push(i);
            out.push(SinkRecord {
                topic: rec.topic,
                partition: rec.partition.unwrap_or(*partition),
                offset: *offset,
                key: rec.key,
                value: rec.value,
                headers: rec
                    .headers
                    .into_iter()
                    .map(|(key, value)| Header { key, value })
                    .collect(),
                timestamp: rec.timestamp.unwrap_or(r.timestamp),
            });
        }
        batch.origin = origin;
        self.batch = batch;
        Ok(out)
    }

    /// One record through the converters: `None` when it is skipped under
    /// `errors.tolerance=all`.
    fn convert(
        &self,
        topic: &str,
        partition: u32,
        offset: i64,
        r: &Record,
    ) -> Result<Option<ConnectRecord>, ConnectError> {
        let s = &self.ctx.settings;
        let key = match s.key.to_value(r.key.as_deref()) {
            Ok(k) => k,
            Err(m) => {
                self.failed(
                    "KEY_CONVERTER",
                    s.key.class(),
                    topic,
                    partition,
                    offset,
                    r,
                    m.into(),
                )?;
                return Ok(None);
            }
        };
        let value = match s.value.to_value(r.value.as_deref()) {
            Ok(v) => v,
            Err(m) => {
                self.failed(
                    "VALUE_CONVERTER",
                    s.value.class(),
                    topic,
                    partition,
                    offset,
                    r,
                    m.into(),
                )?;
                return Ok(None);
            }
        };
        let mut headers = Vec::with_capacity(r.headers.len());
        for (k, v) in &r.headers {
            match s.header.to_value(v.as_deref()) {
                Ok(v) => headers.push((k.clone(), v)),
                Err(source) => {
                    self.failed(
                        "HEADER_CONVERTER",
                        s.header.class(),
                        topic,
                        partition,
                        offset,
                        r,
                        RecordFault::Header {
                            key: k.clone(),
                            source,
                        },
                    )?;
                    return Ok(None);
                }
            }
        }
        Ok(Some(ConnectRecord {
            topic: topic.to_string(),
            partition: Some(partition),
            key,
            value,
            headers,
            timestamp: Some(r.timestamp),
        }))
    }

    /// A record failed a stage: the task fails, or the record is skipped (and goes to the
    /// dead-letter queue, with the `__connect.errors.*` headers if asked for).
    #[allow(clippy::too_many_arguments)]
    fn failed(
        &self,
        stage: &'static str,
        class: &str,
        topic: &str,
        partition: u32,
        offset: i64,
        r: &Record,
        cause: RecordFault,
    ) -> Result<(), ConnectError> {
        let ctx = &*self.ctx;
        let errors = &ctx.settings.errors;
        let message = cause.to_string();
        let exception = cause.exception_class();
        let err = ConnectError::Record {
            stage,
            what: format!("{topic}-{partition}@{offset}"),
            cause,
        };
        if errors.tolerance == Tolerance::None {
            return Err(err);
        }
        Counters::add(&ctx.counters.skipped, 1);
        if errors.log {
            let mut line = format!("skipped: {err}");
            if errors.log_messages {
                line.push_str(&format!(
                    " (key {:?}, value {:?})",
                    r.key.as_deref().map(String::from_utf8_lossy),
                    r.value.as_deref().map(String::from_utf8_lossy)
                ));
            }
            ctx.note(&line);
        }
        if let Some(dlq) = &errors.dlq {
            let mut record = r.clone();
            if dlq.context_headers {
                let h =
                    |k: &str, v: String| (format!("__connect.errors.{k}"), Some(Bytes::from(v)));
                record.headers.extend([
                    h("topic", topic.to_string()),
                    h("partition", partition.to_string()),
                    h("offset", offset.to_string()),
                    h("connector.name", ctx.connector.clone()),
                    h("task.id", ctx.task.to_string()),
                    h("stage", stage.to_string()),
                    h("class.name", class.to_string()),
                    h("exception.class.name", exception.into()),
                    h("exception.message", message.clone()),
                    h("exception.stacktrace", format!("{exception}: {message}")),
                ]);
            }
            ctx.topic(&dlq.topic)?;
            ctx.broker.produce(
                &dlq.topic,
                vec![ProduceRecord {
                    partition: None,
                    record,
                }],
            )?;
        }
        Ok(())
    }

    /// Puts a batch; a retriable error offers it again after a backoff (up to
    /// `errors.retry.delay.max.ms`) until the task is asked to stop. Answers whether the
    /// plugin took it (`false`: asked to exit first).
    fn put(&mut self, batch: Vec<SinkRecord>) -> Result<bool, ConnectError> {
        let n = batch.len() as u64;
        let mut delay = Duration::from_millis(100);
        loop {
            let answered = answer("put", self.inst.put(&batch))?;
            // Reports count whatever the answer: a retriable answer offers the batch again,
            // and the plugin (which remembers what it delivered) does not report them twice.
            self.dead_letter_reports(&batch)?;
            match answered {
                Ok(()) => break,
                Err(m) => {
                    self.ctx.note(&format!(
                        "put: retriable error, trying again in {delay:?}: {m}"
                    ));
                    if self.control.wait(delay) == Want::Exit {
                        return Ok(false);
                    }
                    delay = (delay * 2).min(
                        self.ctx
                            .settings
                            .errors
                            .retry_delay_max
                            .max(Duration::from_millis(100)),
                    );
                }
            }
        }
        self.dirty = true;
        Counters::add(&self.ctx.counters.records, n);
        Ok(true)
    }

    /// The records the plugin reported it cannot deliver: to the dead-letter queue, or the
    /// task fails (`errors.tolerance`).
    fn dead_letter_reports(&mut self, batch: &[SinkRecord]) -> Result<(), ConnectError> {
        let reports = self.inst.take_errant();
        if reports.is_empty() {
            return Ok(());
        }
        let index: std::collections::HashMap<(&str, u32, i64), usize> = batch
            .iter()
            .enumerate()
            .map(|(i, b)| ((b.topic.as_str(), b.partition, b.offset), i))
            .collect();
        for report in reports {
            let at = index
                .get(&(report.topic.as_str(), report.partition, report.offset))
                .copied();
            // A report of a record not in the batch is ignored, as the WIT says.
            if let Some((topic, partition, r)) = at.and_then(|i| self.batch.input(i)) {
                self.failed(
                    PUT_STAGE,
                    &self.ctx.settings.class,
                    topic,
                    partition,
                    report.offset,
                    r,
                    RecordFault::Refused(report.message),
                )?;
            }
        }
        Ok(())
    }

    /// Flushes the plugin, then commits the positions with the position it answered.
    fn flush_and_commit(&mut self) -> Result<(), ConnectError> {
        let offsets: Vec<TopicPartitionOffset> = self
            .positions
            .iter()
            .map(|((topic, partition), offset)| TopicPartitionOffset {
                topic: topic.clone(),
                partition: *partition,
                offset: *offset,
            })
            .collect();
        let position = loop {
            match answer("flush", self.inst.flush(&offsets))? {
                Ok(p) => break p,
                Err(m) => {
                    self.ctx.note(&format!("flush: retriable error: {m}"));
                    if self.control.wait(Duration::from_millis(200)) == Want::Exit {
                        return Ok(());
                    }
                }
            }
        };
        if position.len() > crate::broker::offsets::OFFSET_METADATA_MAX_BYTES {
            return Err(ConnectError::Plugin {
                stage: "flush",
                message: format!(
                    "answered a position of {} bytes, over the {} a commit may carry",
                    position.len(),
                    crate::broker::offsets::OFFSET_METADATA_MAX_BYTES
                ),
            });
        }
        if !offsets.is_empty() {
            let commits = offsets
                .iter()
                .map(|o| OffsetCommit {
                    topic: o.topic.clone(),
                    partition: i64::from(o.partition),
                    offset: o.offset,
                    metadata: Some(position.clone()),
                })
                .collect();
            self.ctx
                .broker
                .commit_offsets(&group(&self.ctx.connector), commits)?;
        }
        self.dirty = false;
        self.last_flush = Instant::now();
        Ok(())
    }
}
