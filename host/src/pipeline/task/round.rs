//! One round over the inputs: read a batch from each at the committed offsets (or the
//! pinned ranges of a lost round), run it through the chain, append the outputs, and
//! commit state, offsets and sequences in one sled batch.

use std::sync::atomic::Ordering;

use crate::broker::BrokerError;
use crate::log::batch::{BatchIter, Record, decode_records};

use super::super::chain::{ChainOutput, Emitted, Failed};
use super::super::handle::Desired;
use super::super::outputs::dead_letter;
use super::super::spec::OnError;
use super::commit::Durability;
use super::{Built, RoundEnd, Task, TaskError};

/// Bytes read from each input per round.
const READ_BYTES: usize = 1 << 20;

/// One input's batch: its topic, the records' offsets, and the records.
type InputBatch = (String, u32, Vec<i64>, Vec<Record>);

/// Output topics' `max.message.bytes`, by name.
type MaxBytes = std::collections::BTreeMap<String, usize>;

/// A record batch's fixed header, bytes.
const BATCH_HEADER_BYTES: usize = 61;

/// At least the bytes of `record` alone in a batch: its fields plus the most its
/// varints and the batch header take.
fn batch_bytes_upper_bound(record: &Record) -> usize {
    BATCH_HEADER_BYTES
        + 5 * 6
        + record.key.as_ref().map_or(0, |k| k.len())
        + record.value.as_ref().map_or(0, |v| v.len())
        + record
            .headers
            .iter()
            .map(|(k, v)| 10 + k.len() + v.as_ref().map_or(0, |v| v.len()))
            .sum::<usize>()
}

impl Task {
    /// Why `record` cannot go to `topic` (larger than its `max.message.bytes` even alone
    /// in a batch), or `None`. The exact size is only computed for records near the limit.
    fn oversized(
        &self,
        max_bytes: &mut MaxBytes,
        topic: &str,
        record: &Record,
    ) -> Result<Option<String>, TaskError> {
        let max = match max_bytes.get(topic) {
            Some(max) => *max,
            None => {
                let max = usize::try_from(self.output_topic(topic)?.config().max_message_bytes)
                    .unwrap_or(usize::MAX);
                max_bytes.insert(topic.to_string(), max);
                max
            }
        };
        if batch_bytes_upper_bound(record) <= max {
            return Ok(None);
        }
        let size = crate::log::batch::encode_batch(std::slice::from_ref(record), 0)
            .map_or(usize::MAX, |b| b.len());
        Ok((size > max).then(|| {
            format!(
                "output record of {size} bytes is larger than topic {topic:?}'s max.message.bytes ({max})"
            )
        }))
    }

    /// Reads, runs, appends and commits one batch per input.
    pub(super) fn round(&mut self, want: &Desired, built: &mut Built) -> RoundEnd {
        let partition = self.ctx.stats.partition;
        let mut outputs: Vec<Emitted> = Vec::new();
        let mut next_inputs = self.ctx.checkpoint.inputs.clone();
        let mut consumed = 0;
        // Records in are the pipeline's inputs' and sources': a later stage's records of
        // a repartition topic were counted as they came in.
        let mut from_sources = 0;
        let internal: Vec<String> = if self.ctx.stage.reads_inputs() {
            Vec::new()
        } else {
            let spec = self.ctx.handle.spec();
            spec.repartitions().into_iter().map(|r| r.topic).collect()
        };
        let mut errored = 0;
        let mut late = 0;
        // Each output topic's max.message.bytes, looked up once a round.
        let mut max_bytes = MaxBytes::new();
        // A replay must reproduce the lost round's outputs as a prefix of its own. With one
        // input it does (it reads from the same offset, perhaps further). With several,
        // reading further in the first input would put new outputs before the second's, so
        // the round's ranges are made durable first and a replay reads exactly them; or,
        // for rounds that read one input alone, that input is, and a replay reads it
        // alone until it has caught up.
        let pinned = self.ctx.checkpoint.in_flight.clone();
        let topics = want.spec.read_topics();
        let several = topics.len() + want.spec.global_topics().len() > 1;
        let alone = match self.replaying_alone(want, several) {
            Ok(alone) => alone,
            Err(e) => return RoundEnd::Failed(e),
        };
        let skipped = |topic: &str, p: u32| {
            alone
                .as_ref()
                .is_some_and(|(t, ap)| (t.as_str(), *ap) != (topic, p))
        };
        let mut batches: Vec<InputBatch> = Vec::with_capacity(topics.len());
        // Global tables first, every partition of each: their rows are what the round's
        // stream records are looked up in.
        let globals = want.spec.global_topics();
        let mut next_globals = self.ctx.checkpoint.globals.clone();
        let pinned_globals = self.ctx.checkpoint.in_flight_globals.clone();
        for topic in &globals {
            let count = match self.ctx.broker.topic(topic) {
                Ok(t) => t.partition_count(),
                Err(source) => {
                    return RoundEnd::Failed(TaskError::Read {
                        topic: topic.clone(),
                        partition,
                        source,
                    });
                }
            };
            let positions = next_globals.entry(topic.clone()).or_default();
            // Partitions added since: read from their start (`read` moves up to it).
            positions.resize(positions.len().max(count as usize), 0);
            for gp in 0..count {
                if skipped(topic, gp) {
                    batches.push((topic.clone(), gp, Vec::new(), Vec::new()));
                    continue;
                }
                let end = pinned_globals
                    .as_ref()
                    .and_then(|p| p.get(topic))
                    .and_then(|p| p.get(gp as usize).copied());
                let (offsets, records, next) =
                    match self.read(topic, gp, positions[gp as usize], end) {
                        Ok(r) => r,
                        Err(e) => return RoundEnd::Failed(e),
                    };
                positions[gp as usize] = next;
                batches.push((topic.clone(), gp, offsets, records));
            }
        }
        for (i, topic) in topics.iter().enumerate() {
            if skipped(topic, partition) {
                batches.push((topic.clone(), partition, Vec::new(), Vec::new()));
                continue;
            }
            let end = pinned.as_ref().and_then(|p| p.get(i).copied());
            let (offsets, records, next) = match self.read(topic, partition, next_inputs[i], end) {
                Ok(r) => r,
                Err(e) => return RoundEnd::Failed(e),
            };
            next_inputs[i] = next;
            batches.push((topic.clone(), partition, offsets, records));
        }
        let mut read: Vec<&InputBatch> = batches.iter().filter(|b| !b.3.is_empty()).collect();
        let any = !read.is_empty();
        if alone.is_some() && !any {
            // The input read alone is exhausted with outputs of the lost rounds still
            // ahead: no replay reproduces them (their input went to retention). The
            // sequences move past them, and every input is read again.
            if let Err(e) = self.skip_ahead(
                want,
                "outputs in the log that no replay reproduces stay; every input is read again",
            ) {
                return RoundEnd::Failed(e);
            }
            return self.round(want, built);
        }
        // An `on_update` aggregation emits the state at the end of the batch: a replay
        // reading further would emit other values than the lost round's, so its range is
        // pinned too, unless the chain defers those results (and with them every output
        // of the round) to the commit (see `deferred`).
        let pins_rounds = built.chain.pins_rounds();
        // A round of several inputs that read one of them alone replays as a round of
        // one input does, from the committed offset perhaps further, as long as the replay
        // reads that input alone too: that needs one durable mark per stretch of such
        // rounds, not a flushed pin per round.
        let solo = match read.pop() {
            Some((topic, p, ..)) if several && !pins_rounds && read.is_empty() => {
                Some((topic.clone(), *p))
            }
            _ => None,
        };
        let pin = (several || pins_rounds) && solo.is_none();
        let defer = built.chain.defers_updates();
        let mut updates: Vec<Emitted> = Vec::new();
        if pin && any && pinned.is_none() {
            let mut intent = self.ctx.checkpoint.clone();
            intent.in_flight = Some(next_inputs.clone());
            intent.in_flight_globals = (!globals.is_empty()).then(|| next_globals.clone());
            intent.solo = None;
            intent.deployment = Some(want.deployment);
            // Held rounds' writes go with it: the checkpoint in memory includes them.
            if let Err(e) = self.commit(intent, Durability::Flushed, "the round's input ranges") {
                return RoundEnd::Failed(e);
            }
        } else if solo.is_some() && pinned.is_none() && self.ctx.checkpoint.solo != solo {
            let mut intent = self.ctx.checkpoint.clone();
            intent.solo = solo;
            intent.deployment = Some(want.deployment);
            if let Err(e) = self.commit(intent, Durability::Flushed, "the input read alone") {
                return RoundEnd::Failed(e);
            }
        }
        for (topic, partition, offsets, records) in batches {
            let topic = topic.as_str();
            if records.is_empty() {
                continue;
            }
            consumed += records.len();
            if !internal.iter().any(|t| t == topic) {
                from_sources += records.len();
            }
            let mut from_input = Vec::new();
            let mut failures_of_updates = Vec::new();
            let (out, mut failures, late_letters) =
                match self.run_chain(want, built, topic, partition, &offsets, &records) {
                    Ok(r) => {
                        late += r.late;
                        for e in r.updates {
                            match self.oversized(&mut max_bytes, &want.spec.output, &e.record) {
                                Ok(None) => updates.push(e),
                                Ok(Some(message)) => failures_of_updates.push(Failed {
                                    source: e.source,
                                    step: want.plans.len().saturating_sub(1),
                                    message,
                                }),
                                Err(error) => {
                                    self.overlay.discard_round();
                                    return RoundEnd::Failed(error);
                                }
                            }
                        }
                        let mut failures = r.failures;
                        failures.append(&mut failures_of_updates);
                        (r.records, failures, r.late_letters)
                    }
                    Err(end) => {
                        self.overlay.discard_round();
                        return end;
                    }
                };
            // Routing is allowed only to the topics the spec lists, and a record must fit
            // its topic's max.message.bytes: either failure follows on_error like a
            // record the plugin failed, rather than failing the task at the append.
            let last_step = want.plans.len().saturating_sub(1);
            for e in out {
                match &e.topic {
                    Some(t) if !want.spec.outputs.contains(t) => failures.push(Failed {
                        source: e.source,
                        step: last_step,
                        message: format!(
                            "routed a record to {t:?}, which is not in the pipeline's outputs"
                        ),
                    }),
                    _ => {
                        let name = e.topic.as_deref().unwrap_or(&want.spec.output);
                        match self.oversized(&mut max_bytes, name, &e.record) {
                            Ok(None) => from_input.push(e),
                            Ok(Some(message)) => failures.push(Failed {
                                source: e.source,
                                step: last_step,
                                message,
                            }),
                            Err(error) => {
                                self.overlay.discard_round();
                                return RoundEnd::Failed(error);
                            }
                        }
                    }
                }
            }
            if !failures.is_empty() {
                match want.spec.on_error {
                    OnError::Fail => {
                        self.overlay.discard_round();
                        let f = &failures[0];
                        return RoundEnd::Failed(TaskError::Record {
                            topic: topic.to_string(),
                            partition,
                            offset: offsets[f.source],
                            step: f.step,
                            message: f.message.clone(),
                        });
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
            // Late records of steps that send them on go where failures would, whatever
            // on_error says (the spec requires the topic).
            if let Some(dlq) = &want.spec.dead_letter_topic {
                for f in &late_letters {
                    from_input.push(dead_letter(
                        dlq,
                        &want.spec.name,
                        topic,
                        partition,
                        offsets[f.source],
                        &records[f.source],
                        f,
                    ));
                }
            }
            // Outputs in input order (stable within a record), whatever order the steps,
            // routing and failures produced them in: a replay's outputs then extend the
            // lost round's.
            from_input.sort_by_key(|e| e.source);
            outputs.extend(from_input);
        }
        if consumed == 0
            && next_inputs == self.ctx.checkpoint.inputs
            && next_globals == self.ctx.checkpoint.globals
        {
            return RoundEnd::Committed(0);
        }
        let mut checkpoint = self.ctx.checkpoint.clone();
        checkpoint.inputs = next_inputs;
        checkpoint.in_flight = None;
        checkpoint.globals = next_globals;
        checkpoint.in_flight_globals = None;
        checkpoint.deployment = Some(want.deployment);
        let (appended, deferred) = if defer {
            (0, Some((outputs, updates)))
        } else {
            match self
                .plan(want, outputs, &mut checkpoint)
                .and_then(|groups| self.write(checkpoint.producer_id, &groups))
            {
                Ok(n) => (n, None),
                Err(e) => {
                    self.overlay.discard_round();
                    return RoundEnd::Failed(e);
                }
            }
        };
        if let Err(e) = self.finish_round(want, checkpoint, deferred) {
            return RoundEnd::Failed(e);
        }
        self.trial = self.trial.passed();
        let s = &self.ctx.stats;
        s.records_in
            .fetch_add(from_sources as u64, Ordering::Relaxed);
        s.records_out.fetch_add(appended as u64, Ordering::Relaxed);
        s.records_errored
            .fetch_add(errored as u64, Ordering::Relaxed);
        s.late_records.fetch_add(late, Ordering::Relaxed);
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
    ) -> Result<(Vec<i64>, Vec<Record>, i64), TaskError> {
        let failed = |source: BrokerError| TaskError::Read {
            topic: topic.to_string(),
            partition,
            source,
        };
        let topic_ref = self.ctx.broker.topic(topic).map_err(failed)?;
        let log = topic_ref.partition(i64::from(partition)).map_err(failed)?;
        let mut attempts = 0;
        let (from, read) = loop {
            let stats = log.stats();
            let from = from.max(stats.log_start_offset);
            let limit = end.map_or(stats.high_watermark, |e| e.min(stats.high_watermark));
            if from >= limit {
                return Ok((Vec::new(), Vec::new(), from));
            }
            // Committed data only: a transaction's records once it commits (the
            // read stops at the last stable offset), never an aborted one's.
            match self
                .ctx
                .producers
                .read_committed(&topic_ref, partition, from, READ_BYTES)
            {
                Ok(read) => break (from, read),
                // Retention removed the segment between the stats and the read: the log
                // start moved on, so does the task.
                Err(BrokerError::Log {
                    source: crate::log::LogError::OffsetOutOfRange { .. },
                    ..
                }) if attempts < 3 => {
                    attempts += 1;
                }
                Err(e) => return Err(failed(e)),
            }
        };
        let in_log =
            |source: crate::log::LogError| failed(BrokerError::log(topic, partition)(source));
        let limit = end.unwrap_or(i64::MAX).min(read.read.high_watermark);
        let mut offsets = Vec::new();
        let mut records = Vec::new();
        let mut next = from;
        for batch in BatchIter::new(&read.read.bytes) {
            let (header, bytes) = batch.map_err(|e| in_log(e.into()))?;
            if header.is_control() || read.is_aborted(&header) {
                // Nothing to process, but the position moves past it.
                if header.base_offset < limit {
                    next = next.max(header.next_offset().min(limit));
                }
                continue;
            }
            let stored = decode_records(bytes).map_err(|e| in_log(e.into()))?;
            // A compacted batch may end with (or be only) offsets whose records are
            // gone: the batch's end, not its last record, is where reading goes on.
            next = next.max(header.next_offset().min(limit));
            for r in stored {
                if r.offset < from || r.offset >= limit {
                    continue;
                }
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
        built: &mut Built,
        topic: &str,
        partition: u32,
        offsets: &[i64],
        records: &[Record],
    ) -> Result<ChainOutput, RoundEnd> {
        let before = self.overlay.snapshot();
        match built.chain.run(topic, partition, offsets, records) {
            Ok(output) => Ok(output),
            Err(e) => {
                self.overlay.restore(before);
                if self.roll_back_on_probation(built, &e) {
                    return Err(RoundEnd::RolledBack);
                }
                if want.spec.on_error == OnError::Fail {
                    return Err(RoundEnd::Failed(TaskError::Step(e)));
                }
                let mut out = Vec::new();
                let mut failures = Vec::new();
                let mut late = 0;
                let mut late_letters = Vec::new();
                let mut updates = Vec::new();
                for (i, record) in records.iter().enumerate() {
                    let before = self.overlay.snapshot();
                    match built.chain.run(
                        topic,
                        partition,
                        &offsets[i..=i],
                        std::slice::from_ref(record),
                    ) {
                        Ok(o) => {
                            late += o.late;
                            late_letters.extend(o.late_letters.into_iter().map(|mut f| {
                                f.source = i;
                                f
                            }));
                            out.extend(o.records.into_iter().map(|mut r| {
                                r.source = i;
                                r
                            }));
                            updates.extend(o.updates.into_iter().map(|mut r| {
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
                Ok(ChainOutput {
                    records: out,
                    failures,
                    late,
                    late_letters,
                    updates,
                })
            }
        }
    }
}
