//! Sandbox limits of one instance.

use std::time::Duration;

/// Default linear-memory cap: room for a Python or JS guest (≈12 MiB minimum) and its batches.
pub const DEFAULT_MEMORY_BYTES: usize = 128 << 20;
/// Default wall-clock budget of one call into a plugin.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(2);

/// Limits applied to one instance; pipelines override them per pipeline. What a call may hand
/// the host (output, logs, state writes) is capped runtime-wide: [`super::CallCaps`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Cap on the instance's linear memory, in bytes (default 128 MiB).
    pub memory_bytes: usize,
    /// Budget of one call (default 2 s), enforced by epoch interruption at the runtime's tick.
    pub deadline: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: DEFAULT_MEMORY_BYTES,
            deadline: DEFAULT_DEADLINE,
        }
    }
}
