//! The playground's run: a module version loaded from the registry and run through a
//! [`Trial`] on records given or read from a topic (see [`super::super::playground`]).

use std::sync::Arc;

use crate::broker::RecordRead;
use crate::record::Record;
use crate::runtime::{CapturedLog, Limits, Trial, TrialBounds, World};

use super::super::error::PipelineError;
use super::super::playground::{
    PlaygroundError, PlaygroundInput, PlaygroundLimits, PlaygroundRequest, PlaygroundRun,
};
use super::Pipelines;

impl Pipelines {
    /// The playground's caps (`[playground]`).
    pub fn playground_limits(&self) -> &PlaygroundLimits {
        &self.config.playground
    }

    /// Runs module `name@version` over the request's records in an instance of its own.
    /// Blocks for up to a few seconds (the calls' deadlines); refused at once when the
    /// playground's run slots are all taken.
    pub fn try_module(
        &self,
        name: &str,
        version: u32,
        request: PlaygroundRequest,
    ) -> Result<PlaygroundRun, PipelineError> {
        let limits = self.config.playground;
        let deadline = request.deadline()?;
        let batch_size = request.batch_size(limits.max_records)?;
        let module = self.modules.get(name, Some(version))?;
        // The slot first: reading a topic's records is work a busy playground refuses too.
        let _slot = self.playground.take()?;
        let (topic, partition, inputs) = match request.input {
            PlaygroundInput::Records(records) => {
                limits.check_records(&records)?;
                let inputs = records
                    .into_iter()
                    .enumerate()
                    .map(|(i, r)| (i as i64, r))
                    .collect::<Vec<_>>();
                (None, 0, inputs)
            }
            PlaygroundInput::Topic {
                topic,
                partition,
                offset,
                count,
            } => {
                if count == 0 {
                    return Err(PlaygroundError::NoRecords.into());
                }
                limits.check_count(count)?;
                let t = self.broker.topic(&topic)?;
                let log = t.partition(i64::from(partition))?;
                let from = offset.unwrap_or_else(|| log.stats().log_start_offset);
                // Reads stop just past the run's byte cap, which check_records then refuses.
                let read = RecordRead::committed_within(
                    &self.broker,
                    &self.producers,
                    &topic,
                    i64::from(partition),
                    from,
                    count,
                    limits.max_bytes,
                )?;
                let inputs: Vec<(i64, Record)> = read
                    .records
                    .into_iter()
                    .map(|r| {
                        let record = Record {
                            key: r.key,
                            value: r.value,
                            headers: r.headers,
                            timestamp: r.timestamp,
                        };
                        (r.offset, record)
                    })
                    .collect();
                let records: Vec<Record> = inputs.iter().map(|(_, r)| r.clone()).collect();
                limits.check_records(&records)?;
                (Some(topic), partition, inputs)
            }
        };
        let bytes = self.modules.bytes(&module)?;
        let plugin = self.runtime.load(name, &bytes).map_err(|e| {
            if e.is_host_fault() {
                PipelineError::Runtime(e)
            } else {
                PipelineError::InvalidModule {
                    name: name.to_string(),
                    reason: e.to_string(),
                }
            }
        })?;
        if !matches!(plugin.world(), World::Transform | World::Processor) {
            return Err(PlaygroundError::NotAMapModule {
                name: name.to_string(),
                version,
                world: plugin.world().name(),
            }
            .into());
        }
        let trial = Trial {
            limits: Limits {
                deadline,
                ..Limits::default()
            },
            config: request.config,
            batch_size,
            topic: topic.clone().unwrap_or_else(|| "input".to_string()),
            partition,
            bounds: TrialBounds {
                total: Some(limits.max_run_time),
                max_outputs: limits.max_outputs,
                max_output_bytes: limits.max_output_bytes,
            },
        };
        let (records, offsets): (Vec<Record>, Vec<i64>) =
            inputs.iter().map(|(o, r)| (r.clone(), *o)).unzip();
        let log = Arc::new(CapturedLog::new(limits.max_log_lines, None));
        let outcome = trial.run(plugin, &records, &offsets, log)?;
        Ok(PlaygroundRun {
            module,
            topic,
            partition,
            inputs,
            outcome,
        })
    }
}
