//! The key-selector world's call on an [`Instance`]: a new key for every record of a
//! batch (one call per batch, in the flat form transforms use).

use super::bindings::key_selector::exports::weir::plugin::key_selecting::KeySelectorError;
use super::error::RuntimeError;
use super::instance::{Bound, Instance, Origin, arm_deadline, classify, drain_output};
use super::output::RecordFailure;
use super::state::MAX_KEY_BYTES;
use crate::record::Record;

/// What a key selector answered for a batch.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Selected {
    /// Per input record, in order: its new key, or `None` to drop it. A failed record's
    /// entry is `None`.
    pub keys: Vec<Option<Vec<u8>>>,
    /// Records the plugin failed, each with its message.
    pub failures: Vec<RecordFailure>,
}

impl Instance {
    /// The new key of each of `records` (read from `origin`).
    pub fn select_keys(
        &mut self,
        origin: &Origin,
        records: &[Record],
    ) -> Result<Selected, RuntimeError> {
        if origin.offsets.len() != records.len() {
            return Err(RuntimeError::BadInput {
                reason: format!(
                    "origin has {} offsets for {} records",
                    origin.offsets.len(),
                    records.len()
                ),
            });
        }
        let result = self.with_encoded(records, |i, batch, n| i.call_select(origin, batch, n));
        if result.as_ref().is_err_and(RuntimeError::poisons_instance) {
            self.poison();
        }
        result
    }

    fn call_select(
        &mut self,
        origin: &Origin,
        batch: &super::bindings::Batch,
        inputs: usize,
    ) -> Result<Selected, RuntimeError> {
        let plugin = self.plugin().clone();
        let name = plugin.name.clone();
        let (log, limits) = (self.log_sink(), self.limits());
        let tick = plugin.runtime.shared.epoch_tick;
        let live = self.live()?;
        let Bound::KeySelector(k) = &live.bound else {
            return Err(RuntimeError::Unsupported {
                plugin: name.to_string(),
                world: plugin.world().name(),
                call: "select",
            });
        };
        arm_deadline(&mut live.store, tick, limits);
        let result = k
            .weir_plugin_key_selecting()
            .call_select(&mut live.store, origin, batch);
        let answer = match result {
            Ok(answer) => {
                drain_output(&name, &*log, &mut live.store)?;
                answer
            }
            Err(source) => return Err(classify(&name, &*log, limits, &mut live.store, source)),
        };
        let bad = |reason: String| RuntimeError::BadOutput {
            plugin: name.to_string(),
            reason,
        };
        let answer = answer.map_err(|e| {
            let (kind, message) = match e {
                KeySelectorError::InvalidConfig(m) => ("invalid-config", m),
                KeySelectorError::Failed(m) => ("failed", m),
            };
            RuntimeError::Plugin {
                plugin: name.to_string(),
                kind,
                message,
            }
        })?;
        if answer.keys.len() != inputs {
            return Err(bad(format!(
                "{} keys for a batch of {inputs} records",
                answer.keys.len()
            )));
        }
        let mut selected = Selected {
            keys: answer.keys,
            failures: Vec::with_capacity(answer.failures.len()),
        };
        for f in answer.failures {
            let Some(key) = selected.keys.get_mut(f.index as usize) else {
                return Err(bad(format!(
                    "failure for record {} of a batch of {inputs}",
                    f.index
                )));
            };
            *key = None;
            selected.failures.push(RecordFailure {
                index: f.index,
                message: f.message,
            });
        }
        // A key the host could not aggregate or store fails its record here, with the reason.
        for (index, key) in selected.keys.iter_mut().enumerate() {
            if let Some(k) = key
                && k.len() > MAX_KEY_BYTES
            {
                selected.failures.push(RecordFailure {
                    index: index as u32,
                    message: format!(
                        "selected a key of {} bytes; a key holds at most {MAX_KEY_BYTES}",
                        k.len()
                    ),
                });
                *key = None;
            }
        }
        Ok(selected)
    }
}
