//! `[sandbox]`: what one call into a plugin may hand the host, and module compilation.

use std::time::Duration;

use serde::Deserialize;

use super::ConfigError;
use crate::runtime::{CallCaps, SandboxSettings};

/// `[sandbox]`: what one call into a plugin may hand the host, and module compilation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxSection {
    /// Modules compiling at once.
    pub compile_concurrency: usize,
    /// Longest wait for a compile slot, ms (then 503).
    pub compile_wait_ms: u64,
    /// Records out per record in.
    pub output_records_per_input: usize,
    /// Records out of one call.
    pub max_output_records: usize,
    /// Bytes out per byte in.
    pub output_bytes_per_input_byte: usize,
    /// Bytes out on top of the multiple.
    pub output_bytes_base: usize,
    /// Bytes out of one call.
    pub max_output_bytes: usize,
    /// Headers on one emitted record.
    pub max_headers_per_record: usize,
    /// Header bytes on one emitted record.
    pub max_header_bytes_per_record: usize,
    /// Bytes of one log line.
    pub max_log_line_bytes: usize,
    /// Log bytes of one call.
    pub max_log_bytes_per_call: usize,
    /// State bytes put in one call.
    pub max_state_write_bytes_per_call: usize,
    /// WASI resources one instance holds at once.
    pub max_wasi_resources: usize,
    /// Uploads waiting for a compile slot at once (more: 503 at once).
    pub compile_queue: usize,
}

impl SandboxSection {
    /// The runtime's settings, or which key is unusable.
    pub(super) fn build(&self) -> Result<SandboxSettings, ConfigError> {
        let caps = CallCaps {
            output_records_per_input: self.output_records_per_input,
            max_output_records: self.max_output_records,
            output_bytes_per_input_byte: self.output_bytes_per_input_byte,
            output_bytes_base: self.output_bytes_base,
            max_output_bytes: self.max_output_bytes,
            max_headers_per_record: self.max_headers_per_record,
            max_header_bytes_per_record: self.max_header_bytes_per_record,
            max_log_line_bytes: self.max_log_line_bytes,
            max_log_bytes_per_call: self.max_log_bytes_per_call,
            max_state_write_bytes_per_call: self.max_state_write_bytes_per_call,
            max_wasi_resources: self.max_wasi_resources,
        };
        caps.validate()
            .map_err(|cap| ConfigError::Invalid(format!("{} must be > 0", cap.key())))?;
        if self.compile_concurrency == 0 {
            return Err(ConfigError::Invalid(
                "sandbox.compile_concurrency must be > 0".into(),
            ));
        }
        Ok(SandboxSettings {
            caps,
            compile_concurrency: self.compile_concurrency,
            compile_wait: Duration::from_millis(self.compile_wait_ms),
            compile_queue: self.compile_queue,
        })
    }
}
