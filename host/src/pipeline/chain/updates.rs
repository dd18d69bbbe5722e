//! [`PendingUpdates`]: where the task finds, at its commit, the results of a chain whose
//! output is an `on_update` count or sum over time windows. Such a step writes each
//! batch's changes to its state and emits nothing for windows still open; the task
//! builds their results from the uncommitted writes when it commits
//! ([`Aggregation::uncommitted_updates`]), the latest per window and key.

use crate::runtime::Body;
use crate::streams::Aggregation;

use super::super::state::StepState;
use super::{Chain, Emitted, Runner, Step, StepError};

/// The deferring step of a chain: its aggregation and its state.
#[derive(Debug, Clone)]
pub struct PendingUpdates {
    aggregation: Aggregation,
    state: StepState,
    /// The step's index in the whole spec, and `name@version`, for errors.
    step: usize,
    module: String,
}

impl PendingUpdates {
    /// The results of every (window, key) changed since the last commit and still open,
    /// for the main output, in (start, key) order.
    pub fn take(&self) -> Result<Vec<Emitted>, StepError> {
        let records = self
            .aggregation
            .uncommitted_updates(&self.state)
            .map_err(|e| StepError {
                step: self.step,
                module: self.module.clone(),
                error: e.into(),
            })?;
        Ok(records
            .into_iter()
            .filter_map(|r| match r.body {
                Body::New(record) => Some(Emitted {
                    topic: None,
                    record: *record,
                    source: 0,
                }),
                Body::Input => None,
            })
            .collect())
    }
}

impl Chain {
    /// Lets the deferred output step, if it keeps open windows in memory, leave its
    /// open windows' results to the commit ([`Chain::pending_updates`]).
    pub(super) fn defer_open_windows(&mut self) {
        if let Some(d) = self.deferred
            && let Some(Step {
                runner: Runner::Aggregate(_, _, open),
                ..
            }) = self.steps.get_mut(d)
        {
            open.defer_updates();
        }
    }

    /// Where the results of the output step that waits for the commit are, when it is a
    /// built-in count or sum (a module's aggregation emits each batch's).
    pub fn pending_updates(&self) -> Option<PendingUpdates> {
        let d = self.deferred?;
        match &self.steps.get(d)?.runner {
            Runner::Aggregate(aggregation, state, open) if open.defers_updates() => {
                Some(PendingUpdates {
                    aggregation: *aggregation,
                    state: state.clone(),
                    step: self.first_step + d,
                    module: self.steps[d].module.clone(),
                })
            }
            _ => None,
        }
    }
}
