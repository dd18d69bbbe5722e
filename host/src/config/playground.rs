//! `[playground]`: the caps of `POST /v1/modules/{name}/{version}/test`, the console's
//! playground: a run holds an instance, its records and outputs while it runs.

use std::time::Duration;

use serde::Deserialize;

use super::ConfigError;
use crate::pipeline::playground::PlaygroundLimits;

/// `[playground]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaygroundSection {
    /// Most records one run takes.
    pub max_records: usize,
    /// Most bytes (keys, values, header names and values) of one run's records.
    pub max_bytes: usize,
    /// Runs at once, server-wide.
    pub max_running: usize,
    /// Longest run, ms.
    pub max_run_ms: u64,
    /// Output records one run keeps.
    pub max_outputs: usize,
    /// Output bytes one run keeps.
    pub max_output_bytes: usize,
    /// Log lines one run keeps.
    pub max_log_lines: usize,
}

impl PlaygroundSection {
    /// The playground's caps, or which key is unusable: each must be at least 1 (a cap
    /// of 0 would refuse every run, which is what removing a module does better).
    pub(super) fn build(&self) -> Result<PlaygroundLimits, ConfigError> {
        for (key, value) in [
            ("max_records", self.max_records as u64),
            ("max_bytes", self.max_bytes as u64),
            ("max_running", self.max_running as u64),
            ("max_run_ms", self.max_run_ms),
            ("max_outputs", self.max_outputs as u64),
            ("max_output_bytes", self.max_output_bytes as u64),
            ("max_log_lines", self.max_log_lines as u64),
        ] {
            if value == 0 {
                return Err(ConfigError::Invalid(format!(
                    "playground.{key} must be ≥ 1"
                )));
            }
        }
        Ok(PlaygroundLimits {
            max_records: self.max_records,
            max_bytes: self.max_bytes,
            max_running: self.max_running,
            max_run_time: Duration::from_millis(self.max_run_ms),
            max_outputs: self.max_outputs,
            max_output_bytes: self.max_output_bytes,
            max_log_lines: self.max_log_lines,
        })
    }
}
