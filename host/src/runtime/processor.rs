//! The processor world's calls on an [`Instance`]: `init` (with the optional stream-time
//! settings), the wall-clock timer, and stream-time punctuation.
//!
//! A processor is of world `processor` or `stream-processor`; the second also exports
//! `stream-time`, looked up at load ([`Plugin::has_stream_time`]) so that a processor built
//! before it existed, which lacks it, instantiates and runs exactly as it did.
//!
//! [`Plugin::has_stream_time`]: super::Plugin::has_stream_time

use wasmtime::Store;

use super::answer::Answer;
use super::bindings::processor::{Processor, ProcessorPre};
use super::bindings::stream_processor::exports::weir::plugin::stream_time;
use super::error::RuntimeError;
use super::host::HostState;
use super::instance::{Bound, Instance, Live, arm_deadline, classify, drain_output};
use super::output::Output;

/// What a processor asked for in `stream-time.settings`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamSettings {
    /// Punctuate each time stream time reaches the next multiple of this (ms).
    pub interval_ms: Option<u64>,
    /// Keep windows (by start) and sessions (by end) this long past the latest one stored
    /// (ms): Kafka's `retentionPeriod` over the store's observed stream time.
    pub retention_ms: Option<u64>,
}

/// A live processor's `stream-time` export and its settings.
pub(super) struct StreamTime {
    guest: stream_time::Guest,
    settings: StreamSettings,
}

/// Instantiates a processor, binding its `stream-time` export too when it has one.
pub(super) fn bind(
    pre: &ProcessorPre<HostState>,
    stream_time: Option<&stream_time::GuestIndices>,
    store: &mut Store<HostState>,
) -> wasmtime::Result<(Processor, Option<stream_time::Guest>)> {
    let Some(indices) = stream_time else {
        return pre.instantiate(&mut *store).map(|p| (p, None));
    };
    let instance = pre.instance_pre().instantiate(&mut *store)?;
    let processor = Processor::new(&mut *store, &instance)?;
    let guest = indices.load(&mut *store, &instance)?;
    Ok((processor, Some(guest)))
}

fn punctuation_error_parts(e: stream_time::PunctuationError) -> (&'static str, String) {
    match e {
        stream_time::PunctuationError::State(m) => ("state", m),
        stream_time::PunctuationError::Failed(m) => ("failed", m),
    }
}

impl Instance {
    /// Calls a fresh processor's `init` with the config, then its `stream-time.settings`.
    pub(super) fn init_processor(
        &self,
        live: &mut Live,
        stream_time: Option<stream_time::Guest>,
    ) -> Result<(), RuntimeError> {
        let Bound::Processor(p) = &live.bound else {
            return Ok(());
        };
        let entries: Vec<(String, String)> = self
            .config
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let res = p
            .weir_plugin_processing()
            .call_init(&mut live.store, &entries);
        let ended = self.drain_output(&mut live.store);
        match res {
            Ok(Ok(settings)) => {
                ended?;
                live.timer_interval_ms = settings.timer_interval_ms;
            }
            Ok(Err(e)) => {
                ended?;
                let (kind, message) = super::instance::processor_error_parts(e);
                return Err(RuntimeError::Plugin {
                    plugin: self.plugin.name.to_string(),
                    kind,
                    message,
                });
            }
            Err(source) => return Err(self.classify(&mut live.store, source)),
        }
        let Some(guest) = stream_time else {
            return Ok(());
        };
        let res = guest.call_settings(&mut live.store);
        let ended = self.drain_output(&mut live.store);
        match res {
            Ok(s) => {
                ended?;
                live.store.data_mut().window_retention_ms = s.retention_ms;
                live.stream_time = Some(StreamTime {
                    guest,
                    settings: StreamSettings {
                        interval_ms: s.interval_ms,
                        retention_ms: s.retention_ms,
                    },
                });
                Ok(())
            }
            Err(source) => Err(self.classify(&mut live.store, source)),
        }
    }

    /// A processor's stream-time settings (`None`: it does not export `stream-time`).
    pub fn stream_settings(&mut self) -> Result<Option<StreamSettings>, RuntimeError> {
        let live = self.live()?;
        Ok(live.stream_time.as_ref().map(|s| s.settings))
    }

    /// Calls a processor's timer with the wall clock `now_ms`; its records have no source.
    pub fn on_timer(&mut self, now_ms: i64) -> Result<Output, RuntimeError> {
        let result = self.call_timer(Clock::Wall, now_ms);
        if result.as_ref().is_err_and(RuntimeError::poisons_instance) {
            self.poison();
        }
        result
    }

    /// Calls a processor's stream-time punctuation with the task's stream time; its
    /// records have no source (the caller attributes them to the record that moved it).
    pub fn on_stream_time(&mut self, stream_time_ms: i64) -> Result<Output, RuntimeError> {
        let result = self.call_timer(Clock::Stream, stream_time_ms);
        if result.as_ref().is_err_and(RuntimeError::poisons_instance) {
            self.poison();
        }
        result
    }

    fn call_timer(&mut self, clock: Clock, ms: i64) -> Result<Output, RuntimeError> {
        let name = self.plugin.name.clone();
        let log = self.log.clone();
        let limits = self.limits();
        let tick = self.plugin.runtime.shared.epoch_tick;
        let world = self.plugin.world().name();
        let live = self.live()?;
        let unsupported = || RuntimeError::Unsupported {
            plugin: name.to_string(),
            world,
            call: clock.call(),
        };
        let Bound::Processor(p) = &live.bound else {
            return Err(unsupported());
        };
        arm_deadline(&mut live.store, tick, limits);
        let result = match clock {
            Clock::Wall => p
                .weir_plugin_processing()
                .call_on_timer(&mut live.store, ms)
                .map(|r| {
                    r.map(|o| (o.main, o.routes))
                        .map_err(super::instance::processor_error_parts)
                }),
            Clock::Stream => {
                let Some(st) = &live.stream_time else {
                    return Err(unsupported());
                };
                st.guest.call_on_stream_time(&mut live.store, ms).map(|r| {
                    r.map(|o| (o.main, o.routes))
                        .map_err(punctuation_error_parts)
                })
            }
        };
        let (main, routes) = match result {
            Ok(Ok(answer)) => {
                drain_output(&name, &*log, &mut live.store)?;
                answer
            }
            Ok(Err((kind, message))) => {
                drain_output(&name, &*log, &mut live.store)?;
                return Err(RuntimeError::Plugin {
                    plugin: name.to_string(),
                    kind,
                    message,
                });
            }
            Err(source) => return Err(classify(&name, &*log, limits, &mut live.store, source)),
        };
        let caps = self.plugin.runtime.shared.caps;
        let mut out = Answer::to_timer(&name, caps);
        out.batch(None, main, None)?;
        for (topic, batch) in routes {
            out.batch(Some(topic), batch, None)?;
        }
        Ok(out.finish())
    }
}

/// Which timer a call is.
#[derive(Clone, Copy)]
enum Clock {
    /// `processing.on-timer`, on the wall clock.
    Wall,
    /// `stream-time.on-stream-time`, on the task's stream time.
    Stream,
}

impl Clock {
    fn call(self) -> &'static str {
        match self {
            Clock::Wall => "timer",
            Clock::Stream => "stream-time punctuation",
        }
    }
}
