//! One task: a pipeline's step chain over one partition of its inputs.
//!
//! Each round: read a batch from every input at the committed offsets, run it through the
//! chain, append the outputs with the task's producer id and per-partition sequences, then
//! commit state writes, input offsets and sequences in one sled batch. A crash between the
//! append and the commit replays the batch from the last commit; for a deterministic chain
//! it produces the same outputs with the same sequences, and the task skips those the
//! producer windows show as already appended. See ARCHITECTURE.md.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::FutureExt;

use crate::broker::partitioner::partition_for_key;
use crate::broker::producer::{IdempotentAppend, ProducerRegistry};
use crate::broker::{Broker, Topic};
use crate::log::batch::{BatchIter, Record, decode_records, encode_batch, set_producer};

use super::chain::{Chain, ChainOutput, Emitted, Failed};
use super::handle::{Desired, PipelineHandle};
use super::outputs::{
    Group, SEQ_MODULUS, already_appended, chunks, dead_letter, from_outbox, to_outbox,
};
use super::spec::OnError;
use super::state::Overlay;
use super::stats::{TaskState, TaskStats};
use super::store::{self, Checkpoint};

/// Bytes read from each input per round.
const READ_BYTES: usize = 1 << 20;
/// Batches after an update during which a failing call rolls the update back.
const PROBATION_BATCHES: u32 = 3;

/// Everything a task needs.
pub struct TaskContext {
    /// The broker it reads and writes.
    pub broker: Arc<Broker>,
    /// Producer windows, for idempotent output appends.
    pub producers: Arc<ProducerRegistry>,
    /// Its pipeline.
    pub handle: Arc<PipelineHandle>,
    /// Its counters.
    pub stats: Arc<TaskStats>,
    /// Its sled tree (state and checkpoint).
    pub tree: sled::Tree,
    /// Its committed checkpoint.
    pub checkpoint: Checkpoint,
}

/// Why a round did not commit.
enum RoundEnd {
    /// Committed this many input records (0: nothing to read).
    Committed(usize),
    /// The update failed and was rolled back: run the round again.
    RolledBack,
    /// The task stops with this error until the pipeline changes.
    Failed(String),
}

struct Task {
    ctx: TaskContext,
    overlay: Overlay,
    chain: Option<(u64, Chain)>,
    probation: u32,
    /// Known: the log holds no outputs of this task past its committed sequences. Checked
    /// (a scan of every output partition) only until true, and again after a failed
    /// round, which may have appended part of its outputs; timers wait for it.
    caught_up: bool,
}

/// Runs a task until its pipeline stops.
pub async fn run(ctx: TaskContext) {
    let mut desired = ctx.handle.desired.subscribe();
    let mut task = Task {
        ctx,
        overlay: Overlay::default(),
        chain: None,
        probation: 0,
        caught_up: false,
    };
    let partition = task.ctx.stats.partition;
    let name = task.ctx.handle.name.clone();
    loop {
        let want = desired.borrow_and_update().clone();
        if want.stop {
            break;
        }
        if want.paused {
            task.ctx.stats.set_state(TaskState::Paused);
            let _ = desired.changed().await;
            continue;
        }
        // Wasm runs in `block_in_place`: wasmtime-wasi's synchronous streams block on the
        // ambient runtime, which tokio allows only there; the worker hands its other tasks
        // to a fresh thread meanwhile.
        match tokio::task::block_in_place(|| task.ensure_chain(&want)) {
            Ok(true) => {}
            // Rolled back: the next turn builds the previous version.
            Ok(false) => continue,
            Err(error) => {
                task.stop_on(&name, partition, error, &mut desired).await;
                continue;
            }
        }
        let started = Instant::now();
        let end = tokio::task::block_in_place(|| {
            if let Err(e) = task.drain_outbox() {
                return RoundEnd::Failed(e);
            }
            match task.timer_round(&want) {
                RoundEnd::Committed(_) => match task.round(&want) {
                    // Timers wait for a replay, but there is nothing left to replay: the
                    // outputs ahead came from a round no replay reproduces (input gone to
                    // retention, output partitions added, a non-deterministic step).
                    RoundEnd::Committed(0)
                        if task.timers_held() && task.ctx.checkpoint.in_flight.is_none() =>
                    {
                        match task.skip_ahead(
                            &want,
                            "outputs in the log that no replay reproduces stay; timers resume",
                        ) {
                            Ok(()) => RoundEnd::Committed(0),
                            Err(e) => RoundEnd::Failed(e),
                        }
                    }
                    other => other,
                },
                other => other,
            }
        });
        match end {
            RoundEnd::Committed(0) => {
                task.ctx.stats.set_state(TaskState::Running);
                let positions = task.ctx.checkpoint.inputs.clone();
                let timer = task
                    .chain
                    .as_ref()
                    .filter(|_| !task.timers_held())
                    .and_then(|(_, c)| c.next_timer_ms());
                wait_for_input(
                    &task.ctx.broker,
                    partition,
                    positions,
                    timer,
                    &want,
                    &mut desired,
                )
                .await;
            }
            RoundEnd::Committed(_) => {
                task.ctx.stats.latency.observe(started.elapsed());
                task.ctx.stats.set_state(TaskState::Running);
                // Let other tasks on this worker run between batches.
                tokio::task::yield_now().await;
            }
            RoundEnd::RolledBack => {}
            RoundEnd::Failed(error) => task.stop_on(&name, partition, error, &mut desired).await,
        }
    }
    task.ctx.stats.set_state(TaskState::Stopped);
}

impl Task {
    /// Builds the chain of `want`'s generation if it is not the running one; measures the
    /// pause of a swap and rolls a failing update back. `Ok(false)`: rolled back, nothing
    /// built.
    fn ensure_chain(&mut self, want: &Desired) -> Result<bool, String> {
        if self
            .chain
            .as_ref()
            .is_some_and(|(g, _)| *g == want.generation)
        {
            return Ok(true);
        }
        if let Some(reason) = &want.broken {
            return Err(reason.clone());
        }
        let swap = self.chain.is_some();
        let started = Instant::now();
        if swap {
            // The old version's last commits must be on disk before the new version runs:
            // a replay of an unflushed round by the new code would not reproduce its
            // outputs.
            self.ctx
                .tree
                .flush()
                .map_err(|e| format!("flushing before the swap: {e}"))?;
        }
        self.resync_if_other_code(want)?;
        // Free the old instances' pool slots first; pending writes never outlive a round.
        self.chain = None;
        let limits = super::service::limits_of(&want.spec);
        match Chain::build(
            &want.plans,
            &self.ctx.tree,
            &self.overlay,
            limits,
            self.ctx.handle.logs.clone(),
        ) {
            Ok(chain) => {
                self.chain = Some((want.generation, chain));
                if swap {
                    self.ctx.stats.swapped(started.elapsed());
                    self.probation = PROBATION_BATCHES;
                }
                Ok(true)
            }
            Err(e) => {
                // State an `init` wrote before a later step failed is not kept.
                self.overlay.take();
                let error = format!("cannot start {e}");
                if self.ctx.handle.rollback(want.generation, &error) {
                    Ok(false)
                } else {
                    Err(error)
                }
            }
        }
    }

    /// Outputs in the log past the committed sequences were appended by rounds whose
    /// commit was lost (a crash) or never made (a round that failed half-way). A replay
    /// reproduces them only with the code that made them; when the checkpoint says other
    /// code ran (an update landed in between), the sequences move past them instead: that
    /// round's input is processed again by the new code, at least once rather than lost.
    fn resync_if_other_code(&mut self, want: &Desired) -> Result<(), String> {
        let same_code = self
            .ctx
            .checkpoint
            .deployment
            .is_none_or(|d| d == want.deployment);
        if same_code {
            return Ok(());
        }
        self.skip_ahead(
            want,
            "outputs of an uncommitted round by the previous version stay; its input is \
             processed again by the new one",
        )
    }

    /// Moves the committed sequences past outputs in the log that no replay will
    /// reproduce, saying so in the pipeline's log when there were any.
    fn skip_ahead(&mut self, want: &Desired, why: &str) -> Result<(), String> {
        let ahead = self.outputs_ahead(want)?;
        let mut checkpoint = self.ctx.checkpoint.clone();
        checkpoint.deployment = Some(want.deployment);
        for (topic, partition, extra) in &ahead {
            *checkpoint
                .sequences
                .entry(topic.clone())
                .or_default()
                .entry(*partition)
                .or_insert(0) += *extra as u64;
        }
        if !ahead.is_empty() {
            let note = format!("task {}: {why}", self.ctx.stats.partition);
            tracing::warn!(pipeline = %self.ctx.handle.name, "{note}");
            self.ctx.handle.logs.note(&note);
        }
        store::commit_durable(&self.ctx.tree, Default::default(), &checkpoint)
            .map_err(|e| format!("committing the checkpoint: {e}"))?;
        self.ctx.checkpoint = checkpoint;
        self.caught_up = true;
        Ok(())
    }

    /// Whether due timers are held back for a replay that has not caught up.
    fn timers_held(&self) -> bool {
        !self.caught_up
            && self
                .chain
                .as_ref()
                .is_some_and(|(_, c)| c.next_timer_ms().is_some())
    }

    /// Output partitions holding records of this task past its committed sequences:
    /// (topic, partition, how many).
    fn outputs_ahead(&self, want: &Desired) -> Result<Vec<(String, u32, usize)>, String> {
        let mut topics: std::collections::BTreeSet<String> =
            self.ctx.checkpoint.sequences.keys().cloned().collect();
        topics.extend(want.spec.written_topics().into_iter().map(str::to_string));
        let pid = self.ctx.checkpoint.producer_id;
        let mut ahead = Vec::new();
        for name in topics {
            // A topic deleted since has nothing to replay into.
            let Ok(topic) = self.ctx.broker.topic(&name) else {
                continue;
            };
            for p in 0..topic.partition_count() {
                let seq = self
                    .ctx
                    .checkpoint
                    .sequences
                    .get(&name)
                    .and_then(|s| s.get(&p))
                    .copied()
                    .unwrap_or(0);
                let last = self
                    .ctx
                    .producers
                    .last_sequence(&topic, p, pid)
                    .map_err(|e| format!("output {name}/{p}: {e}"))?;
                if let Some(last) = last {
                    let n = already_appended(seq, last);
                    if n > 0 {
                        ahead.push((name.clone(), p, n));
                    }
                }
            }
        }
        Ok(ahead)
    }

    async fn stop_on(
        &mut self,
        name: &str,
        partition: u32,
        error: String,
        desired: &mut tokio::sync::watch::Receiver<Desired>,
    ) {
        tracing::error!(pipeline = %name, partition, "task stopped: {error}");
        self.ctx
            .handle
            .logs
            .note(&format!("task {partition} stopped: {error}"));
        self.ctx.stats.fail(error);
        self.chain = None;
        // The failed round may have appended part of its outputs.
        self.caught_up = false;
        // Until the pipeline is updated, resumed, or stopped.
        let _ = desired.changed().await;
    }

    /// Reads, runs, appends and commits one batch per input.
    fn round(&mut self, want: &Desired) -> RoundEnd {
        let partition = self.ctx.stats.partition;
        let mut outputs: Vec<Emitted> = Vec::new();
        let mut next_inputs = self.ctx.checkpoint.inputs.clone();
        let mut consumed = 0;
        let mut errored = 0;
        // A replay must reproduce the lost round's outputs as a prefix of its own. With one
        // input it does (it reads from the same offset, perhaps further). With several,
        // reading further in the first input would put new outputs before the second's, so
        // the round's ranges are made durable first and a replay reads exactly them.
        let pinned = self.ctx.checkpoint.in_flight.clone();
        let mut batches = Vec::with_capacity(want.spec.inputs.len());
        for (i, topic) in want.spec.inputs.iter().enumerate() {
            let end = pinned.as_ref().and_then(|p| p.get(i).copied());
            let (offsets, records, next) = match self.read(topic, partition, next_inputs[i], end) {
                Ok(r) => r,
                Err(e) => return RoundEnd::Failed(e),
            };
            next_inputs[i] = next;
            batches.push((topic.clone(), offsets, records));
        }
        let any = batches.iter().any(|(_, _, r)| !r.is_empty());
        if want.spec.inputs.len() > 1 && any && pinned.is_none() {
            let mut intent = self.ctx.checkpoint.clone();
            intent.in_flight = Some(next_inputs.clone());
            intent.deployment = Some(want.deployment);
            let durable = store::commit_durable(&self.ctx.tree, Default::default(), &intent);
            if let Err(e) = durable {
                return RoundEnd::Failed(format!("committing the round's input ranges: {e}"));
            }
            self.ctx.checkpoint = intent;
        }
        for (topic, offsets, records) in batches {
            let topic = topic.as_str();
            if records.is_empty() {
                continue;
            }
            consumed += records.len();
            let mut from_input = Vec::new();
            let (out, mut failures) = match self.run_chain(want, topic, &offsets, &records) {
                Ok(r) => r,
                Err(end) => {
                    self.overlay.take();
                    return end;
                }
            };
            // Routing is allowed only to the topics the spec lists.
            for e in out {
                match &e.topic {
                    Some(t) if !want.spec.outputs.contains(t) => failures.push(Failed {
                        source: e.source,
                        step: want.plans.len().saturating_sub(1),
                        message: format!(
                            "routed a record to {t:?}, which is not in the pipeline's outputs"
                        ),
                    }),
                    _ => from_input.push(e),
                }
            }
            if !failures.is_empty() {
                match want.spec.on_error {
                    OnError::Fail => {
                        self.overlay.take();
                        let f = &failures[0];
                        return RoundEnd::Failed(format!(
                            "record at {topic}/{partition} offset {} failed in step {}: {}",
                            offsets[f.source], f.step, f.message
                        ));
                    }
                    OnError::Skip => {}
                    OnError::DeadLetter => {
                        let dlq = want.spec.dead_letter_topic.clone().unwrap_or_default();
                        for f in &failures {
                            from_input.push(dead_letter(
                                &dlq,
                                &want.spec.name,
                                topic,
                                partition,
                                offsets[f.source],
                                &records[f.source],
                                f,
                            ));
                        }
                    }
                }
                errored += failures.len();
            }
            // Outputs in input order (stable within a record), whatever order the steps,
            // routing and failures produced them in: a replay's outputs then extend the
            // lost round's.
            from_input.sort_by_key(|e| e.source);
            outputs.extend(from_input);
        }
        if consumed == 0 && next_inputs == self.ctx.checkpoint.inputs {
            return RoundEnd::Committed(0);
        }
        let mut checkpoint = self.ctx.checkpoint.clone();
        checkpoint.inputs = next_inputs;
        checkpoint.in_flight = None;
        checkpoint.deployment = Some(want.deployment);
        let appended = match self
            .plan(want, outputs, &mut checkpoint)
            .and_then(|groups| self.write(checkpoint.producer_id, &groups))
        {
            Ok(n) => n,
            Err(e) => {
                self.overlay.take();
                return RoundEnd::Failed(e);
            }
        };
        if let Err(e) = store::commit(&self.ctx.tree, self.overlay.take(), &checkpoint) {
            return RoundEnd::Failed(format!("committing: {e}"));
        }
        self.probation = self.probation.saturating_sub(1);
        *self.ctx.stats.committed.lock() = checkpoint.inputs.clone();
        self.ctx.checkpoint = checkpoint;
        let s = &self.ctx.stats;
        s.records_in.fetch_add(consumed as u64, Ordering::Relaxed);
        s.records_out.fetch_add(appended as u64, Ordering::Relaxed);
        s.records_errored
            .fetch_add(errored as u64, Ordering::Relaxed);
        s.batches.fetch_add(1, Ordering::Relaxed);
        RoundEnd::Committed(consumed.max(1))
    }

    /// Records of `topic`/`partition` from `from` (and before `end`, if given): their
    /// offsets, the records, and the next position (past retention-deleted offsets when
    /// the log moved on).
    fn read(
        &self,
        topic: &str,
        partition: u32,
        from: i64,
        end: Option<i64>,
    ) -> Result<(Vec<i64>, Vec<Record>, i64), String> {
        let log = self
            .ctx
            .broker
            .topic(topic)
            .and_then(|t| t.partition(i64::from(partition)))
            .map_err(|e| format!("input {topic}: {e}"))?;
        let mut attempts = 0;
        let (from, read) = loop {
            let stats = log.stats();
            let from = from.max(stats.log_start_offset);
            let limit = end.map_or(stats.high_watermark, |e| e.min(stats.high_watermark));
            if from >= limit {
                return Ok((Vec::new(), Vec::new(), from));
            }
            match log.read(from, READ_BYTES) {
                Ok(read) => break (from, read),
                // Retention removed the segment between the stats and the read: the log
                // start moved on, so does the task.
                Err(crate::log::LogError::OffsetOutOfRange { .. }) if attempts < 3 => {
                    attempts += 1;
                }
                Err(e) => return Err(format!("reading {topic}/{partition} at {from}: {e}")),
            }
        };
        let limit = end.unwrap_or(i64::MAX).min(read.high_watermark);
        let mut offsets = Vec::new();
        let mut records = Vec::new();
        let mut next = from;
        for batch in BatchIter::new(&read.bytes) {
            let (_, bytes) = batch.map_err(|e| format!("reading {topic}/{partition}: {e}"))?;
            let stored =
                decode_records(bytes).map_err(|e| format!("reading {topic}/{partition}: {e}"))?;
            for r in stored {
                if r.offset < from || r.offset >= limit {
                    continue;
                }
                next = r.offset + 1;
                offsets.push(r.offset);
                records.push(Record {
                    key: r.key,
                    value: r.value,
                    headers: r.headers,
                    timestamp: r.timestamp,
                });
            }
        }
        Ok((offsets, records, next))
    }

    /// Runs the chain over one input batch. A failing call rolls back an update on
    /// probation; otherwise, under `skip` and `dead-letter`, the batch is run record by
    /// record to find the failing ones.
    fn run_chain(
        &mut self,
        want: &Desired,
        topic: &str,
        offsets: &[i64],
        records: &[Record],
    ) -> Result<(Vec<Emitted>, Vec<Failed>), RoundEnd> {
        let partition = self.ctx.stats.partition;
        let (generation, chain) = self.chain.as_mut().expect("built before the round");
        let generation = *generation;
        let before = self.overlay.snapshot();
        match chain.run(topic, partition, offsets, records.to_vec()) {
            Ok(ChainOutput { records, failures }) => Ok((records, failures)),
            Err(e) => {
                self.overlay.restore(before);
                if self.probation > 0 && self.ctx.handle.rollback(generation, &e.to_string()) {
                    return Err(RoundEnd::RolledBack);
                }
                if want.spec.on_error == OnError::Fail {
                    return Err(RoundEnd::Failed(e.to_string()));
                }
                let mut out = Vec::new();
                let mut failures = Vec::new();
                for (i, record) in records.iter().enumerate() {
                    let before = self.overlay.snapshot();
                    match chain.run(topic, partition, &offsets[i..=i], vec![record.clone()]) {
                        Ok(o) => {
                            out.extend(o.records.into_iter().map(|mut r| {
                                r.source = i;
                                r
                            }));
                            failures.extend(o.failures.into_iter().map(|mut f| {
                                f.source = i;
                                f
                            }));
                        }
                        Err(e) => {
                            self.overlay.restore(before);
                            failures.push(Failed {
                                source: i,
                                step: e.step,
                                message: e.to_string(),
                            });
                        }
                    }
                }
                Ok((out, failures))
            }
        }
    }

    /// Groups outputs by (topic, partition) and numbers them from the sequences in
    /// `checkpoint`, advancing those.
    fn plan(
        &self,
        want: &Desired,
        outputs: Vec<Emitted>,
        checkpoint: &mut Checkpoint,
    ) -> Result<Vec<Group>, String> {
        let mut topics: BTreeMap<String, Arc<Topic>> = BTreeMap::new();
        let mut groups: BTreeMap<(String, u32), Vec<Record>> = BTreeMap::new();
        let partition = self.ctx.stats.partition;
        for e in outputs {
            let name = e.topic.unwrap_or_else(|| want.spec.output.clone());
            let topic = match topics.get(&name) {
                Some(t) => t.clone(),
                None => {
                    let t = self.output_topic(&name)?;
                    topics.insert(name.clone(), t.clone());
                    t
                }
            };
            let count = topic.partition_count();
            // Keyless records follow the input partition, so a replay lands them alike.
            let p = match &e.record.key {
                Some(k) => partition_for_key(k, count),
                None => partition % count,
            };
            groups.entry((name, p)).or_default().push(e.record);
        }
        Ok(groups
            .into_iter()
            .map(|((name, p), records)| {
                let seq = checkpoint
                    .sequences
                    .entry(name.clone())
                    .or_default()
                    .entry(p)
                    .or_insert(0);
                let first_seq = *seq;
                *seq += records.len() as u64;
                Group {
                    topic: topics[&name].clone(),
                    name,
                    partition: p,
                    first_seq,
                    records,
                }
            })
            .collect())
    }

    fn output_topic(&self, name: &str) -> Result<Arc<Topic>, String> {
        self.ctx
            .broker
            .topic(name)
            .map_err(|err| format!("output {name}: {err}"))
    }

    /// Appends planned groups with the task's producer id. Records the producer window
    /// shows as appended already are skipped: rounds whose commit a crash lost appended
    /// them (asked every round, an in-memory lookup, since sled may lose several unflushed
    /// commits at once). Returns how many records were appended.
    fn write(&self, producer_id: i64, groups: &[Group]) -> Result<usize, String> {
        let pid = producer_id;
        let mut appended = 0;
        for g in groups {
            let (name, p, topic) = (&g.name, g.partition, &g.topic);
            let mut skip = 0;
            if let Some(last) = self
                .ctx
                .producers
                .last_sequence(topic, p, pid)
                .map_err(|e| format!("output {name}/{p}: {e}"))?
            {
                skip = already_appended(g.first_seq, last).min(g.records.len());
            }
            let max =
                usize::try_from(topic.config().max_message_bytes.max(1024)).unwrap_or(1 << 20);
            let mut next = g.first_seq + skip as u64;
            for chunk in chunks(&g.records[skip..], max / 2) {
                let mut bytes = encode_batch(chunk, 0)
                    .map_err(|e| format!("encoding output for {name}/{p}: {e}"))?;
                set_producer(&mut bytes, pid, 0, (next % SEQ_MODULUS) as i32);
                match self
                    .ctx
                    .producers
                    .append(topic, p, bytes)
                    .map_err(|e| format!("appending to {name}/{p}: {e}"))?
                {
                    IdempotentAppend::Appended(_) => appended += chunk.len(),
                    IdempotentAppend::Duplicate { .. } => {}
                    IdempotentAppend::OutOfOrder { expected } => {
                        return Err(format!(
                            "appending to {name}/{p}: sequence {} refused, the partition \
                             expects {expected} (another writer uses producer id {pid}?)",
                            next % SEQ_MODULUS
                        ));
                    }
                    IdempotentAppend::Fenced => {
                        return Err(format!("appending to {name}/{p}: producer {pid} fenced"));
                    }
                }
                next += chunk.len() as u64;
            }
        }
        Ok(appended)
    }

    /// Appends what the checkpoint's outbox holds (timer output a crash may have cut
    /// short), then empties it; the next commit records it empty.
    fn drain_outbox(&mut self) -> Result<(), String> {
        if self.ctx.checkpoint.outbox.is_empty() {
            return Ok(());
        }
        let mut groups = Vec::new();
        for g in &self.ctx.checkpoint.outbox {
            groups.push(Group {
                topic: self.output_topic(&g.topic)?,
                name: g.topic.clone(),
                partition: g.partition,
                first_seq: g.first_seq,
                records: g.records.iter().map(from_outbox).collect(),
            });
        }
        let n = self.write(self.ctx.checkpoint.producer_id, &groups)?;
        self.ctx
            .stats
            .records_out
            .fetch_add(n as u64, Ordering::Relaxed);
        self.ctx.checkpoint.outbox.clear();
        // Recorded at once, not at the next round: an idle task would otherwise keep the
        // drained outbox on disk, to be appended again after a restart.
        store::commit(&self.ctx.tree, Default::default(), &self.ctx.checkpoint)
            .map_err(|e| format!("committing the checkpoint: {e}"))
    }

    /// Fires due timers. Their output is not a function of the input, so it cannot be
    /// replayed: it is committed (with the state it changed and the sequences it takes)
    /// and flushed to disk first, then appended, exactly like a restart's outbox.
    fn timer_round(&mut self, want: &Desired) -> RoundEnd {
        let now = crate::broker::now_ms();
        let (_, chain) = self.chain.as_ref().expect("built before the round");
        let Some(due) = chain.next_timer_ms() else {
            return RoundEnd::Committed(0);
        };
        // While a replay after a crash is still catching up, timer records would take the
        // sequence numbers of outputs already in the log and be skipped as appended.
        if !self.caught_up {
            match self.outputs_ahead(want) {
                Ok(ahead) if !ahead.is_empty() => return RoundEnd::Committed(0),
                Ok(_) => self.caught_up = true,
                Err(e) => return RoundEnd::Failed(e),
            }
        }
        if due > now {
            return RoundEnd::Committed(0);
        }
        let (generation, chain) = self.chain.as_mut().expect("built before the round");
        let generation = *generation;
        let emitted = match chain.fire_timers(now) {
            Ok(e) => e,
            Err(e) => {
                self.overlay.take();
                if self.probation > 0 && self.ctx.handle.rollback(generation, &e.to_string()) {
                    return RoundEnd::RolledBack;
                }
                return RoundEnd::Failed(format!("timer: {e}"));
            }
        };
        let mut outputs = Vec::new();
        for e in emitted {
            match &e.topic {
                Some(t) if !want.spec.outputs.contains(t) => {
                    self.ctx.handle.logs.note(&format!(
                        "timer output routed to {t:?}, which is not in the pipeline's outputs, dropped"
                    ));
                }
                _ => outputs.push(e),
            }
        }
        let writes = self.overlay.take();
        if outputs.is_empty() && writes.is_empty() {
            return RoundEnd::Committed(0);
        }
        let mut checkpoint = self.ctx.checkpoint.clone();
        let groups = match self.plan(want, outputs, &mut checkpoint) {
            Ok(g) => g,
            Err(e) => return RoundEnd::Failed(e),
        };
        checkpoint.outbox = groups.iter().map(to_outbox).collect();
        checkpoint.deployment = Some(want.deployment);
        let durable = store::commit_durable(&self.ctx.tree, writes, &checkpoint);
        if let Err(e) = durable {
            return RoundEnd::Failed(format!("committing timer output: {e}"));
        }
        self.ctx.checkpoint = checkpoint;
        if let Err(e) = self.drain_outbox() {
            return RoundEnd::Failed(e);
        }
        RoundEnd::Committed(1)
    }
}

/// Waits for new input, a pipeline change, or a short timeout.
async fn wait_for_input(
    broker: &Broker,
    partition: u32,
    positions: Vec<i64>,
    next_timer_ms: Option<i64>,
    want: &Desired,
    desired: &mut tokio::sync::watch::Receiver<Desired>,
) {
    let idle = match next_timer_ms {
        Some(at) => Duration::from_millis((at - crate::broker::now_ms()).clamp(0, 1000) as u64),
        None => Duration::from_secs(1),
    };
    let mut watches = Vec::new();
    for (topic, &pos) in want.spec.inputs.iter().zip(&positions) {
        if let Ok(log) = broker
            .topic(topic)
            .and_then(|t| t.partition(i64::from(partition)))
        {
            watches.push((log.subscribe(), pos));
        }
    }
    let any_input = async {
        if watches.is_empty() {
            // Nothing to watch (an input was deleted): the timeout ends the wait.
            return std::future::pending().await;
        }
        let waits = watches.iter_mut().map(|(w, pos)| {
            let pos = *pos;
            async move {
                let _ = w.wait_for(|hw| *hw > pos).await;
            }
            .boxed()
        });
        futures_util::future::select_all(waits).await;
    };
    tokio::select! {
        _ = desired.changed() => {}
        _ = any_input => {}
        _ = tokio::time::sleep(idle) => {}
    }
}
