//! The aggregator world's calls on an [`Instance`]: `initial`, `add`, `merge` and
//! `subtract`, one record or two aggregates at a time (the streams layer decides what
//! to call; the runtime only crosses the boundary). A plugin's own refusal of one call
//! is a [`Refused`], which fails that record alone; a trap, a deadline or an
//! `invalid-config` fails the call with a [`RuntimeError`] and, for traps, rebuilds the
//! store before the next call.

use super::bindings::aggregator::exports::weir::plugin::aggregating::{AggregatorError, Item};
use super::error::RuntimeError;
use super::instance::{Bound, Instance, arm_deadline, classify, drain_output};
use super::state::MAX_VALUE_BYTES;

/// Largest aggregate a plugin may answer, bytes: the host stores it (with an 8-byte
/// timestamp) as one state value.
pub const MAX_AGGREGATE_BYTES: usize = MAX_VALUE_BYTES - 8;

/// How an aggregator without a subtractor begins its `subtract-failed` answer (what
/// both SDKs answer when none was given): a table aggregation asks at create.
pub const NO_SUBTRACT: &str = "this aggregator has no subtract";

/// One record as an aggregator sees it.
#[derive(Debug, Clone, Copy)]
pub struct AggregatorInput<'a> {
    /// The grouping key.
    pub key: &'a [u8],
    /// The value.
    pub value: &'a [u8],
    /// Create time, ms since the epoch.
    pub timestamp: i64,
}

/// A plugin's refusal of one call, in its words, naming the function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// `initial`, `add`, `merge` or `subtract`.
    pub function: &'static str,
    /// What the plugin (or the host, for an oversized aggregate) said.
    pub message: String,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "aggregator {} failed: {}", self.function, self.message)
    }
}

/// What one aggregator call answered: the new aggregate, or the plugin's refusal.
pub type Answered = Result<Vec<u8>, Refused>;

/// The call to make.
enum Call<'a> {
    Initial,
    Add(AggregatorInput<'a>, &'a [u8]),
    Merge(&'a [u8], &'a [u8], &'a [u8]),
    Subtract(AggregatorInput<'a>, &'a [u8]),
}

impl Call<'_> {
    fn function(&self) -> &'static str {
        match self {
            Call::Initial => "initial",
            Call::Add(..) => "add",
            Call::Merge(..) => "merge",
            Call::Subtract(..) => "subtract",
        }
    }
}

fn item(input: AggregatorInput<'_>) -> Item {
    Item {
        key: input.key.to_vec(),
        value: input.value.to_vec(),
        timestamp: input.timestamp,
    }
}

impl Instance {
    /// The aggregate of no records.
    pub fn initial(&mut self) -> Result<Answered, RuntimeError> {
        self.aggregator_call(Call::Initial)
    }

    /// `aggregate` with `input` added.
    pub fn add(
        &mut self,
        input: AggregatorInput<'_>,
        aggregate: &[u8],
    ) -> Result<Answered, RuntimeError> {
        self.aggregator_call(Call::Add(input, aggregate))
    }

    /// One aggregate of `left` and `right`, both of `key`.
    pub fn merge(
        &mut self,
        key: &[u8],
        left: &[u8],
        right: &[u8],
    ) -> Result<Answered, RuntimeError> {
        self.aggregator_call(Call::Merge(key, left, right))
    }

    /// `aggregate` with `input` taken out.
    pub fn subtract(
        &mut self,
        input: AggregatorInput<'_>,
        aggregate: &[u8],
    ) -> Result<Answered, RuntimeError> {
        self.aggregator_call(Call::Subtract(input, aggregate))
    }

    fn aggregator_call(&mut self, call: Call<'_>) -> Result<Answered, RuntimeError> {
        let result = self.call_aggregator(&call);
        if result.as_ref().is_err_and(RuntimeError::poisons_instance) {
            self.poison();
        }
        result
    }

    fn call_aggregator(&mut self, call: &Call<'_>) -> Result<Answered, RuntimeError> {
        let plugin = self.plugin().clone();
        let name = plugin.name.clone();
        let (log, limits) = (self.log_sink(), self.limits());
        let tick = plugin.runtime.shared.epoch_tick;
        let live = self.live()?;
        let Bound::Aggregator(a) = &live.bound else {
            return Err(RuntimeError::Unsupported {
                plugin: name.to_string(),
                world: plugin.world().name(),
                call: call.function(),
            });
        };
        arm_deadline(&mut live.store, tick, limits);
        let f = a.weir_plugin_aggregating();
        let store = &mut live.store;
        let result = match *call {
            Call::Initial => f.call_initial(store),
            Call::Add(input, agg) => f.call_add(store, &item(input), agg),
            Call::Merge(key, left, right) => f.call_merge(store, key, left, right),
            Call::Subtract(input, agg) => f.call_subtract(store, &item(input), agg),
        };
        let answer = match result {
            Ok(answer) => {
                drain_output(&name, &*log, &mut live.store)?;
                answer
            }
            Err(source) => return Err(classify(&name, &*log, limits, &mut live.store, source)),
        };
        let refused = |message: String| {
            Ok(Err(Refused {
                function: call.function(),
                message,
            }))
        };
        match answer {
            Ok(agg) if agg.len() > MAX_AGGREGATE_BYTES => refused(format!(
                "returned an aggregate of {} bytes; an aggregate holds at most {MAX_AGGREGATE_BYTES}",
                agg.len()
            )),
            Ok(agg) => Ok(Ok(agg)),
            // The configuration is wrong for every record: the whole call fails.
            Err(AggregatorError::InvalidConfig(message)) => Err(RuntimeError::Plugin {
                plugin: name.to_string(),
                kind: "invalid-config",
                message,
            }),
            Err(
                AggregatorError::InitialFailed(m)
                | AggregatorError::AddFailed(m)
                | AggregatorError::MergeFailed(m)
                | AggregatorError::SubtractFailed(m),
            ) => refused(m),
        }
    }
}
