//! What users see of running pipelines: status with per-task positions and counters,
//! log lines, and the Prometheus metrics.

use super::super::error::PipelineError;
use super::super::handle::PipelineHandle;
use super::super::stats::quantile;
use super::super::status::{PipelineStatus, TaskStatus};
use super::super::store::PipelineRecord;
use super::Pipelines;

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

    /// Prometheus text exposition of every pipeline's counters.
    pub fn metrics(&self) -> String {
        let handles: Vec<_> = self.handles.lock().values().cloned().collect();
        super::super::metrics::render(&handles, &self.broker, &self.runtime)
    }
}
