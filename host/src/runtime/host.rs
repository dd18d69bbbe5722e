//! The data each store holds, and the thin adapters from the generated host traits to the
//! backends (config map, [`LogSink`], [`StateBackend`]).

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use std::time::Instant;

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::caps::{CallCaps, Cap};

use super::bindings::processor::weir::plugin::state as wit_state;
use super::bindings::transform::weir::plugin::{config as wit_config, log as wit_log};
use super::guest_output::{GuestOutput, LogBudget, LogLevel, LogSink};
use super::http_send::HttpHooks;
use super::state::{StateBackend, StateError};

/// A record a sink task reported it cannot deliver (`sink-context.report`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrantReport {
    /// Its topic, as the task was given it.
    pub topic: String,
    /// Its partition.
    pub partition: u32,
    /// Its offset.
    pub offset: i64,
    /// Why it cannot be delivered.
    pub message: String,
}

/// Everything one store carries: WASI (granting nothing, see [`super::grants`]), limits, the
/// plugin's backends, and what the current call has used of its caps.
pub struct HostState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) plugin: Arc<str>,
    pub(crate) config: Arc<BTreeMap<String, String>>,
    pub(crate) log: Arc<dyn LogSink>,
    pub(crate) state: Option<Box<dyn StateBackend>>,
    /// The window key space of `state` (see [`StateBackend::windows`]), for a processor's
    /// window and session stores.
    pub(crate) windows: Option<Box<dyn StateBackend>>,
    /// The retention of the window and session stores, from `stream-time.settings`: the
    /// stores enforce it on every call (see [`super::state::window`]).
    pub(crate) window_retention_ms: Option<u64>,
    pub(crate) stdout: GuestOutput,
    pub(crate) stderr: GuestOutput,
    pub(crate) caps: CallCaps,
    /// When the current call must end: blocking WASI calls wait no longer ([`super::poll`]).
    pub(crate) call_deadline: Instant,
    /// Log lines of the current call, against its log caps.
    pub(crate) log_budget: LogBudget,
    /// State bytes put during the current call.
    pub(crate) state_written: usize,
    /// A cap a host call refused during the current call: the call fails with it even if the
    /// plugin ignored the refusal.
    pub(crate) crossed: Option<(Cap, usize, usize)>,
    /// wasi:http's context (linked for connectors only).
    pub(crate) http_ctx: wasmtime_wasi_http::WasiHttpCtx,
    /// Where a connector's requests are checked and sent; pipeline steps get one granting
    /// nothing (they are never linked to wasi:http anyway).
    pub(crate) http_hooks: HttpHooks,
    /// Records the current sink `put` reported; at most `errant_cap` are kept.
    pub(crate) errant: Vec<ErrantReport>,
    /// How many reports the current call may make (the batch's length): a guest reporting in
    /// a loop cannot grow the host's list past what it was given.
    pub(crate) errant_cap: usize,
    /// The TCP it is granted and the sockets it holds (nothing, but for a connector).
    pub(crate) net: super::net::NetState,
}

impl HostState {
    /// A store's data for `plugin`, its memory cap and its backends.
    pub(crate) fn new(
        plugin: Arc<str>,
        caps: CallCaps,
        memory_bytes: usize,
        config: Arc<BTreeMap<String, String>>,
        log: Arc<dyn LogSink>,
        state: Option<Box<dyn StateBackend>>,
    ) -> HostState {
        let stdout = GuestOutput::default();
        let stderr = GuestOutput::default();
        let mut table = ResourceTable::new();
        table.set_max_capacity(caps.max_wasi_resources);
        let http_hooks = HttpHooks::deny_all(plugin.clone(), log.clone());
        let windows = state.as_ref().and_then(|s| s.windows());
        HostState {
            wasi: super::grants::wasi_ctx(&stdout, &stderr),
            table,
            limiter: MemoryLimiter {
                limit: memory_bytes,
                refused: None,
            },
            plugin,
            config,
            log,
            state,
            windows,
            window_retention_ms: None,
            stdout,
            stderr,
            caps,
            call_deadline: Instant::now(),
            log_budget: LogBudget::default(),
            state_written: 0,
            crossed: None,
            http_ctx: wasmtime_wasi_http::WasiHttpCtx::new(),
            http_hooks,
            errant: Vec::new(),
            errant_cap: 0,
            net: super::net::NetState::default(),
        }
    }

    /// Starts a call that must end by `deadline`: its budgets start from zero.
    pub(crate) fn start_call(&mut self, deadline: Instant) {
        self.call_deadline = deadline;
        self.log_budget = LogBudget::default();
        self.state_written = 0;
        self.crossed = None;
    }
}

impl wasmtime_wasi_http::WasiHttpView for HostState {
    fn http(&mut self) -> wasmtime_wasi_http::WasiHttpCtxView<'_> {
        wasmtime_wasi_http::WasiHttpCtxView {
            ctx: &mut self.http_ctx,
            table: &mut self.table,
            hooks: &mut self.http_hooks,
        }
    }
}

impl super::bindings::sink::weir::plugin::sink_context::Host for HostState {
    fn report(&mut self, topic: String, partition: u32, offset: i64, message: String) {
        if self.errant.len() >= self.errant_cap || topic.len() > 255 {
            return;
        }
        // A message is a line of the connector's log and a DLQ header: cut like a log line.
        let mut message = message;
        let max = self.caps.max_log_line_bytes;
        if message.len() > max {
            let mut cut = max;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
        }
        self.errant.push(ErrantReport {
            topic,
            partition,
            offset,
            message,
        });
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Caps linear memory and remembers a refused growth, so the trap it causes can be reported
/// as a memory-limit error rather than a bare `unreachable`.
#[derive(Debug)]
pub struct MemoryLimiter {
    pub(crate) limit: usize,
    pub(crate) refused: Option<usize>,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.refused = Some(desired);
            // Trap at once: a guest allocator that sees a failed grow would abort anyway,
            // with a far less useful message.
            wasmtime::bail!("memory limit of {} bytes exceeded", self.limit);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1 << 20)
    }
}

impl wit_config::Host for HostState {
    fn get(&mut self, key: String) -> Option<String> {
        self.config.get(&key).cloned()
    }

    fn entries(&mut self) -> Vec<(String, String)> {
        self.config
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

impl wit_log::Host for HostState {
    fn write(&mut self, level: wit_log::Level, message: String) {
        let level = match level {
            wit_log::Level::Trace => LogLevel::Trace,
            wit_log::Level::Debug => LogLevel::Debug,
            wit_log::Level::Info => LogLevel::Info,
            wit_log::Level::Warn => LogLevel::Warn,
            wit_log::Level::Error => LogLevel::Error,
        };
        let (log, plugin, caps) = (&*self.log, &*self.plugin, self.caps);
        self.log_budget.write(log, plugin, caps, level, &message);
    }
}

impl super::bindings::transform::weir::plugin::types::Host for HostState {}

impl super::bindings::source::weir::plugin::connect_types::Host for HostState {}

pub(super) fn to_wit(err: StateError) -> wit_state::StateError {
    match err {
        StateError::Unavailable { .. } => wit_state::StateError::Unavailable(err.to_string()),
        StateError::TooLarge { .. } | StateError::TooMany { .. } | StateError::Invalid { .. } => {
            wit_state::StateError::TooLarge(err.to_string())
        }
    }
}

fn entries(found: Vec<(Vec<u8>, Vec<u8>)>) -> Vec<wit_state::Entry> {
    found
        .into_iter()
        .map(|(key, value)| wit_state::Entry { key, value })
        .collect()
}

impl HostState {
    /// Counts `bytes` put by the current call against its cap, refusing the put that
    /// would cross it before the backend buffers it: the host holds no more than the cap.
    pub(super) fn count_write(&mut self, bytes: usize) -> Result<(), wit_state::StateError> {
        let limit = self.caps.max_state_write_bytes_per_call;
        let written = self.state_written.saturating_add(bytes);
        if written > limit {
            let cap = Cap::MaxStateWriteBytesPerCall;
            self.crossed.get_or_insert((cap, written, limit));
            return Err(wit_state::StateError::TooLarge(format!(
                "this put would make {written} {} in one call, over {} = {limit}",
                cap.counts(),
                cap.key()
            )));
        }
        self.state_written = written;
        Ok(())
    }

    fn backend(&mut self) -> Result<&mut Box<dyn StateBackend>, wit_state::StateError> {
        self.state.as_mut().ok_or_else(|| {
            wit_state::StateError::Unavailable("this instance has no state store".into())
        })
    }
}

impl wit_state::Host for HostState {
    fn get(&mut self, key: Vec<u8>) -> Result<Option<Vec<u8>>, wit_state::StateError> {
        self.backend()?.get(&key).map_err(to_wit)
    }

    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) -> Result<(), wit_state::StateError> {
        self.count_write(key.len() + value.len())?;
        self.backend()?.put(&key, &value).map_err(to_wit)
    }

    fn delete(&mut self, key: Vec<u8>) -> Result<(), wit_state::StateError> {
        self.backend()?.delete(&key).map_err(to_wit)
    }

    fn scan_prefix(
        &mut self,
        prefix: Vec<u8>,
        limit: u32,
    ) -> Result<Vec<wit_state::Entry>, wit_state::StateError> {
        let found = self.backend()?.prefix(&prefix, limit as usize);
        found.map(entries).map_err(to_wit)
    }

    fn scan_range(
        &mut self,
        start: Vec<u8>,
        end: Option<Vec<u8>>,
        limit: u32,
    ) -> Result<Vec<wit_state::Entry>, wit_state::StateError> {
        let end = match &end {
            Some(e) => Bound::Excluded(e.as_slice()),
            None => Bound::Unbounded,
        };
        let found = self
            .backend()?
            .range(Bound::Included(&start), end, limit as usize);
        found.map(entries).map_err(to_wit)
    }
}
