//! What users see of running pipelines: status with per-task positions and counters,
//! log lines, the Prometheus metrics, the sampled figures for charts, and dead letters.

use super::super::error::PipelineError;
use super::super::handle::PipelineHandle;
use super::super::logs::PipelineLogs;
use super::super::outputs::{DeadLetters, MAX_DEAD_LETTER_BYTES, MAX_DEAD_LETTERS_LISTED};
use super::super::samples::{MetricsHistory, Sample, TaskSample};
use super::super::stats::quantile;
use super::super::status::{PipelineStatus, TaskStatus};
use super::super::store::PipelineRecord;
use super::Pipelines;
use crate::broker::RecordRead;
use crate::broker::record_read::bytes_of;

impl Pipelines {
    /// Status of every pipeline.
    pub fn list(&self) -> Result<Vec<PipelineStatus>, PipelineError> {
        let handles: Vec<_> = self.handles.lock().values().cloned().collect();
        let mut out = Vec::new();
        for h in handles {
            if let Some(record) = self.store.get(&h.name)? {
                out.push(self.status_of(&h, &record));
            }
        }
        Ok(out)
    }

    /// Status of one pipeline.
    pub fn status(&self, name: &str) -> Result<PipelineStatus, PipelineError> {
        let handle = self.handle(name)?;
        let record = self.record(name)?;
        Ok(self.status_of(&handle, &record))
    }

    pub(super) fn status_of(
        &self,
        handle: &PipelineHandle,
        record: &PipelineRecord,
    ) -> PipelineStatus {
        let desired = handle.desired.borrow().clone();
        let tasks: Vec<TaskStatus> = handle
            .tasks
            .iter()
            .map(|t| TaskStatus::of(t, &desired.spec, &self.broker))
            .collect();
        let pauses = handle
            .tasks
            .iter()
            .flat_map(|t| t.swap_pauses.lock().clone())
            .collect::<Vec<_>>();
        let mut status = PipelineStatus::new(
            record,
            &desired,
            tasks,
            handle,
            [
                quantile(&pauses, 0.5),
                quantile(&pauses, 0.99),
                pauses.iter().max().copied(),
            ],
            pauses.len(),
        );
        for input in &desired.spec.read_topics() {
            if let Ok(topic) = self.broker.topic(input) {
                let n = topic.partition_count();
                if n != record.partitions {
                    status.warnings.push(format!(
                        "input {input:?} has {n} partitions but the pipeline runs {} tasks \
                         (one per partition when it was created); records in partitions \
                         added since are not processed: create a new pipeline to cover them",
                        record.partitions
                    ));
                }
            }
        }
        status
    }

    /// The newest `tail` log lines of a pipeline.
    pub fn logs(&self, name: &str, tail: usize) -> Result<Vec<String>, PipelineError> {
        Ok(self.handle(name)?.logs.tail(tail))
    }

    /// A pipeline's log ring, for readers following it.
    pub fn log_ring(&self, name: &str) -> Result<std::sync::Arc<PipelineLogs>, PipelineError> {
        Ok(self.handle(name)?.logs.clone())
    }

    /// Every task's totals now.
    fn sample_of(&self, handle: &PipelineHandle) -> Sample {
        let spec = handle.spec();
        Sample {
            at_ms: crate::broker::now_ms(),
            tasks: handle
                .tasks
                .iter()
                .map(|t| TaskSample::of(t, TaskStatus::of(t, &spec, &self.broker).lag))
                .collect(),
        }
    }

    /// Adds a sample of every pipeline to its ring (the server calls this every
    /// [`super::super::samples::SAMPLE_INTERVAL`]).
    pub fn sample(&self) {
        let handles: Vec<_> = self.handles.lock().values().cloned().collect();
        for h in handles {
            let sample = self.sample_of(&h);
            h.samples.push(sample);
        }
    }

    /// A pipeline's sampled figures of the last 15 minutes, ending now.
    pub fn metrics_history(&self, name: &str) -> Result<MetricsHistory, PipelineError> {
        let handle = self.handle(name)?;
        let now = self.sample_of(&handle);
        Ok(handle.samples.history(now))
    }

    /// The pipeline's dead-letter topic, if it has one: a caller checks READ on it before
    /// [`Pipelines::dead_letters`] reads it.
    pub fn dead_letter_topic(&self, name: &str) -> Result<Option<String>, PipelineError> {
        Ok(self.handle(name)?.spec().dead_letter_topic.clone())
    }

    /// The newest `limit` records (at most [`MAX_DEAD_LETTERS_LISTED`]) of the dead-letter
    /// topic `topic` (as [`Pipelines::dead_letter_topic`] named it), newest first. Reads
    /// the newest `limit` records of each partition, keeping the newest that fit in
    /// [`MAX_DEAD_LETTER_BYTES`].
    pub fn dead_letters(&self, topic: &str, limit: usize) -> Result<DeadLetters, PipelineError> {
        let limit = limit.min(MAX_DEAD_LETTERS_LISTED);
        let t = self.broker.topic(topic)?;
        let mut records = Vec::new();
        for p in 0..t.partition_count() {
            let log = t.partition(i64::from(p))?;
            let end = log.high_watermark();
            let mut from = (end - limit as i64).max(log.stats().log_start_offset);
            // A window of the newest records read so far, oldest dropped past the budget:
            // memory stays near MAX_DEAD_LETTER_BYTES however large the records.
            let mut window = std::collections::VecDeque::new();
            let mut held = 0usize;
            while from < end {
                let read = RecordRead::committed_within(
                    &self.broker,
                    &self.producers,
                    topic,
                    i64::from(p),
                    from,
                    limit,
                    1 << 20,
                )?;
                if read.next_offset <= from {
                    break;
                }
                from = read.next_offset;
                for r in read.records {
                    held += bytes_of(&r);
                    window.push_back(r);
                }
                while held > MAX_DEAD_LETTER_BYTES {
                    let Some(old) = window.pop_front() else { break };
                    held -= bytes_of(&old);
                }
            }
            records.extend(window.into_iter().map(|r| (p, r)));
        }
        records.sort_by(|(pa, a), (pb, b)| {
            (b.timestamp, b.offset, pb).cmp(&(a.timestamp, a.offset, pa))
        });
        records.truncate(limit);
        // Across partitions too: the newest that fit in the budget.
        let mut held = 0usize;
        let fit = records
            .iter()
            .take_while(|(_, r)| {
                held += bytes_of(r);
                held <= MAX_DEAD_LETTER_BYTES
            })
            .count();
        records.truncate(fit);
        Ok(DeadLetters {
            topic: Some(topic.to_string()),
            records,
        })
    }

    /// Prometheus text exposition of every pipeline's counters.
    pub fn metrics(&self) -> String {
        let handles: Vec<_> = self.handles.lock().values().cloned().collect();
        super::super::metrics::render(&handles, &self.broker, &self.runtime)
    }
}
