//! The joiner world's call on an [`Instance`]: `join`, one result at a time (the streams
//! layer decides which records meet; the runtime only crosses the boundary). A plugin's
//! `join-failed` is a refusal that fails the record alone; a trap, a deadline or an
//! `invalid-config` fails the call with a [`RuntimeError`] and, for traps, rebuilds the
//! store before the next call.

use super::bindings::joiner::exports::weir::plugin::joining::JoinerError;
use super::error::RuntimeError;
use super::instance::{Bound, Instance, arm_deadline, classify, drain_output};
use super::state::MAX_VALUE_BYTES;

/// Largest joined value a plugin may answer, bytes: a result may become a table row (a
/// join's output read as a table), which holds at most one state value.
pub const MAX_JOINED_BYTES: usize = MAX_VALUE_BYTES - 8;

/// What one `join` call answered: the joined value (`None`: a null value), or the
/// plugin's refusal of this pair, in its words.
pub type JoinAnswered = Result<Option<Vec<u8>>, String>;

impl Instance {
    /// The joined value of `left` and `right`, of the result key `key`.
    pub fn join_values(
        &mut self,
        key: Option<&[u8]>,
        left: Option<&[u8]>,
        right: Option<&[u8]>,
    ) -> Result<JoinAnswered, RuntimeError> {
        let result = self.call_join(key, left, right);
        if result.as_ref().is_err_and(RuntimeError::poisons_instance) {
            self.poison();
        }
        result
    }

    fn call_join(
        &mut self,
        key: Option<&[u8]>,
        left: Option<&[u8]>,
        right: Option<&[u8]>,
    ) -> Result<JoinAnswered, RuntimeError> {
        let plugin = self.plugin().clone();
        let name = plugin.name.clone();
        let (log, limits) = (self.log_sink(), self.limits());
        let tick = plugin.runtime.shared.epoch_tick;
        let live = self.live()?;
        let Bound::Joiner(j) = &live.bound else {
            return Err(RuntimeError::Unsupported {
                plugin: name.to_string(),
                world: plugin.world().name(),
                call: "join",
            });
        };
        arm_deadline(&mut live.store, tick, limits);
        let result = j
            .weir_plugin_joining()
            .call_join(&mut live.store, key, left, right);
        let answer = match result {
            Ok(answer) => {
                drain_output(&name, &*log, &mut live.store)?;
                answer
            }
            Err(source) => return Err(classify(&name, &*log, limits, &mut live.store, source)),
        };
        match answer {
            Ok(Some(v)) if v.len() > MAX_JOINED_BYTES => Ok(Err(format!(
                "joiner join failed: returned a value of {} bytes; a joined value holds at most {MAX_JOINED_BYTES}",
                v.len()
            ))),
            Ok(v) => Ok(Ok(v)),
            // The configuration is wrong for every pair: the whole call fails.
            Err(JoinerError::InvalidConfig(message)) => Err(RuntimeError::Plugin {
                plugin: name.to_string(),
                kind: "invalid-config",
                message,
            }),
            Err(JoinerError::JoinFailed(m)) => Ok(Err(format!("joiner join failed: {m}"))),
        }
    }
}
