//! [`CallCaps`]: what one call into a plugin may produce, and [`Cap`], which cap a call crossed.
//!
//! The memory cap bounds the guest, not the host: a guest inside 16 MiB can still answer
//! `keep` with the same index 200 000 times, hang one 64 KiB header on 3 000 records, or hand
//! the host megabytes of log lines and state writes, each of which the host then holds or copies
//! on. These caps bound what crosses into the host per call. Output is bounded both relative to
//! the input (a multiple of its records and bytes, so a flat-map can still fan out) and
//! absolutely. Crossing an output or state cap fails the call ([`super::RuntimeError::CapExceeded`]),
//! which the pipeline's `on_error` then handles like any plugin failure; log lines are truncated
//! instead (see [`CallCaps::max_log_line_bytes`]).

/// Default: records out per record in.
pub const DEFAULT_OUTPUT_RECORDS_PER_INPUT: usize = 1000;
/// Default: records out of one call, whatever its input.
pub const DEFAULT_MAX_OUTPUT_RECORDS: usize = 100_000;
/// Default: bytes out per byte in.
pub const DEFAULT_OUTPUT_BYTES_PER_INPUT_BYTE: usize = 64;
/// Default: bytes out allowed on top of the multiple (so a map of empty records can answer).
pub const DEFAULT_OUTPUT_BYTES_BASE: usize = 1 << 20;
/// Default: bytes (keys, values, headers) out of one call, whatever its input.
pub const DEFAULT_MAX_OUTPUT_BYTES: usize = 16 << 20;
/// Default: headers on one emitted record.
pub const DEFAULT_MAX_HEADERS_PER_RECORD: usize = 1000;
/// Default: header bytes (keys and values) on one emitted record.
pub const DEFAULT_MAX_HEADER_BYTES_PER_RECORD: usize = 1 << 20;
/// Default: bytes of one log line (longer ones are cut, with a marker).
pub const DEFAULT_MAX_LOG_LINE_BYTES: usize = 16 << 10;
/// Default: log bytes of one call (later lines are dropped, with one marker).
pub const DEFAULT_MAX_LOG_BYTES_PER_CALL: usize = 256 << 10;
/// Default: state bytes (keys and values put) of one call.
pub const DEFAULT_MAX_STATE_WRITE_BYTES_PER_CALL: usize = 16 << 20;
/// Default: WASI resources (streams, pollables, ...) one instance holds at once.
pub const DEFAULT_MAX_WASI_RESOURCES: usize = 10_000;

/// Per-call caps on what a plugin hands the host; `[sandbox]` in `weir.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallCaps {
    /// Records out per record in (`keep` indices and new records alike).
    pub output_records_per_input: usize,
    /// Records out of one call (and of one timer call, which has no input).
    pub max_output_records: usize,
    /// Bytes out per byte in. A record's bytes are its key, value and every header it carries
    /// (a header shared by many records counts once per record: each is stored on its own).
    pub output_bytes_per_input_byte: usize,
    /// Bytes out allowed on top of `output_bytes_per_input_byte` × bytes in.
    pub output_bytes_base: usize,
    /// Bytes out of one call, whatever its input.
    pub max_output_bytes: usize,
    /// Headers on one emitted record.
    pub max_headers_per_record: usize,
    /// Header bytes on one emitted record.
    pub max_header_bytes_per_record: usize,
    /// Bytes of one log line; a longer line is cut and marked, not failed: a log line is the
    /// plugin author's debugging aid, and failing records over it would turn a chatty plugin
    /// into data loss. Guest stdout/stderr lines are cut the same way.
    pub max_log_line_bytes: usize,
    /// Log bytes of one call; further lines are dropped and one marker line says how many.
    pub max_log_bytes_per_call: usize,
    /// State bytes (keys and values) one call may put; the put that crosses it is refused and
    /// the call fails, since state the plugin believes written but was not would be corrupt.
    pub max_state_write_bytes_per_call: usize,
    /// WASI resources (streams, pollables, clock subscriptions) one instance holds at once:
    /// they live in host memory, outside the guest's memory cap, so a guest subscribing in a
    /// loop without dropping would otherwise grow the host without bound. Past it the WASI
    /// call fails, which traps the guest.
    pub max_wasi_resources: usize,
}

impl Default for CallCaps {
    fn default() -> Self {
        CallCaps {
            output_records_per_input: DEFAULT_OUTPUT_RECORDS_PER_INPUT,
            max_output_records: DEFAULT_MAX_OUTPUT_RECORDS,
            output_bytes_per_input_byte: DEFAULT_OUTPUT_BYTES_PER_INPUT_BYTE,
            output_bytes_base: DEFAULT_OUTPUT_BYTES_BASE,
            max_output_bytes: DEFAULT_MAX_OUTPUT_BYTES,
            max_headers_per_record: DEFAULT_MAX_HEADERS_PER_RECORD,
            max_header_bytes_per_record: DEFAULT_MAX_HEADER_BYTES_PER_RECORD,
            max_log_line_bytes: DEFAULT_MAX_LOG_LINE_BYTES,
            max_log_bytes_per_call: DEFAULT_MAX_LOG_BYTES_PER_CALL,
            max_state_write_bytes_per_call: DEFAULT_MAX_STATE_WRITE_BYTES_PER_CALL,
            max_wasi_resources: DEFAULT_MAX_WASI_RESOURCES,
        }
    }
}

impl CallCaps {
    /// Records one call with `inputs` input records may emit (`None`: a timer call).
    pub fn records_allowed(&self, inputs: Option<usize>) -> (usize, Cap) {
        let absolute = (self.max_output_records, Cap::MaxOutputRecords);
        match inputs {
            Some(n) => {
                let relative = self.output_records_per_input.saturating_mul(n);
                if relative < absolute.0 {
                    (relative, Cap::OutputRecordsPerInput)
                } else {
                    absolute
                }
            }
            None => absolute,
        }
    }

    /// Bytes one call with `input_bytes` bytes in may emit (`None`: a timer call).
    pub fn bytes_allowed(&self, input_bytes: Option<usize>) -> (usize, Cap) {
        let absolute = (self.max_output_bytes, Cap::MaxOutputBytes);
        match input_bytes {
            Some(n) => {
                let relative = self
                    .output_bytes_per_input_byte
                    .saturating_mul(n)
                    .saturating_add(self.output_bytes_base);
                if relative < absolute.0 {
                    (relative, Cap::OutputBytesPerInputByte)
                } else {
                    absolute
                }
            }
            None => absolute,
        }
    }

    /// Checks that no cap is zero where zero would refuse every call.
    pub fn validate(&self) -> Result<(), Cap> {
        let nonzero = [
            (self.output_records_per_input, Cap::OutputRecordsPerInput),
            (self.max_output_records, Cap::MaxOutputRecords),
            (self.max_output_bytes, Cap::MaxOutputBytes),
            (self.max_log_line_bytes, Cap::MaxLogLineBytes),
            (self.max_wasi_resources, Cap::MaxWasiResources),
        ];
        match nonzero.into_iter().find(|(v, _)| *v == 0) {
            Some((_, cap)) => Err(cap),
            None => Ok(()),
        }
    }
}

/// One of the [`CallCaps`], named as in `weir.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cap {
    /// `sandbox.output_records_per_input`.
    OutputRecordsPerInput,
    /// `sandbox.max_output_records`.
    MaxOutputRecords,
    /// `sandbox.output_bytes_per_input_byte` (with `sandbox.output_bytes_base`).
    OutputBytesPerInputByte,
    /// `sandbox.max_output_bytes`.
    MaxOutputBytes,
    /// `sandbox.max_headers_per_record`.
    MaxHeadersPerRecord,
    /// `sandbox.max_header_bytes_per_record`.
    MaxHeaderBytesPerRecord,
    /// `sandbox.max_log_line_bytes`.
    MaxLogLineBytes,
    /// `sandbox.max_state_write_bytes_per_call`.
    MaxStateWriteBytesPerCall,
    /// `sandbox.max_wasi_resources`.
    MaxWasiResources,
}

impl Cap {
    /// The cap's key in `weir.toml`.
    pub fn key(self) -> &'static str {
        match self {
            Cap::OutputRecordsPerInput => "sandbox.output_records_per_input",
            Cap::MaxOutputRecords => "sandbox.max_output_records",
            Cap::OutputBytesPerInputByte => {
                "sandbox.output_bytes_per_input_byte × input bytes + sandbox.output_bytes_base"
            }
            Cap::MaxOutputBytes => "sandbox.max_output_bytes",
            Cap::MaxHeadersPerRecord => "sandbox.max_headers_per_record",
            Cap::MaxHeaderBytesPerRecord => "sandbox.max_header_bytes_per_record",
            Cap::MaxLogLineBytes => "sandbox.max_log_line_bytes",
            Cap::MaxStateWriteBytesPerCall => "sandbox.max_state_write_bytes_per_call",
            Cap::MaxWasiResources => "sandbox.max_wasi_resources",
        }
    }

    /// What the cap counts, for messages.
    pub fn counts(self) -> &'static str {
        match self {
            Cap::OutputRecordsPerInput | Cap::MaxOutputRecords => "output records",
            Cap::OutputBytesPerInputByte | Cap::MaxOutputBytes => "output bytes",
            Cap::MaxHeadersPerRecord => "headers on one record",
            Cap::MaxHeaderBytesPerRecord => "header bytes on one record",
            Cap::MaxLogLineBytes => "log line bytes",
            Cap::MaxStateWriteBytesPerCall => "state bytes written",
            Cap::MaxWasiResources => "WASI resources held",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_smaller_of_relative_and_absolute_applies() {
        let caps = CallCaps::default();
        assert_eq!(
            caps.records_allowed(Some(1)),
            (1000, Cap::OutputRecordsPerInput)
        );
        assert_eq!(
            caps.records_allowed(Some(1_000_000)),
            (100_000, Cap::MaxOutputRecords)
        );
        assert_eq!(caps.records_allowed(None), (100_000, Cap::MaxOutputRecords));
        assert_eq!(
            caps.bytes_allowed(Some(0)),
            (1 << 20, Cap::OutputBytesPerInputByte)
        );
        assert_eq!(
            caps.bytes_allowed(Some(usize::MAX)),
            (16 << 20, Cap::MaxOutputBytes)
        );
        assert_eq!(caps.validate(), Ok(()));
        let zero = CallCaps {
            max_output_records: 0,
            ..caps
        };
        assert_eq!(zero.validate(), Err(Cap::MaxOutputRecords));
    }
}
