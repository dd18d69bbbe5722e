//! Building the chain of the wanted deployment: the first build, a hot-swap (flush the
//! old version's commits, resync if other code ran, build the new one over the same
//! state), and the probation that rolls a failing update back.

use std::time::Instant;

use super::super::chain::Chain;
use super::super::handle::Desired;
use super::commit::Durability;
use super::{Built, Code, Task, TaskError, Trial};

/// Batches after an update during which a failing call rolls the update back.
const PROBATION_BATCHES: u32 = 3;

impl Task {
    /// The chain of `want`'s generation, built now if it is not the running one; measures
    /// the pause of a swap and rolls a failing update back. `Ok(None)`: rolled back,
    /// nothing built.
    pub(super) fn ensure_chain<'c>(
        &mut self,
        code: &'c mut Code,
        want: &Desired,
    ) -> Result<Option<&'c mut Built>, TaskError> {
        let running = code.generation();
        if running == Some(want.generation) {
            return Ok(code.built());
        }
        if let Some(reason) = &want.broken {
            return Err(TaskError::Undeployable(reason.clone()));
        }
        let swap = running.is_some();
        let started = Instant::now();
        if swap {
            // The old version's rounds must be committed and on disk before the new
            // version runs: a replay of an uncommitted round by the new code would not
            // reproduce its outputs.
            self.commit_held(Durability::Flushed)?;
        }
        self.resync_if_other_code(want)?;
        // Free the old instances' pool slots first; pending writes never outlive a round.
        *code = Code::Unbuilt;
        let limits = want.spec.sandbox_limits();
        match Chain::build(
            &want.plans,
            &want.spec,
            self.ctx.stage.first_step(&self.ctx.handle.spec()),
            &self.ctx.tree,
            &self.overlay,
            limits,
            self.ctx.handle.state_limits,
            self.ctx.handle.logs.clone(),
        ) {
            Ok(chain) => {
                if swap {
                    self.ctx.stats.swapped(started.elapsed());
                    self.trial = Trial::Probation {
                        batches_left: PROBATION_BATCHES,
                    };
                }
                self.deferred
                    .running(chain.pending_updates(), &want.spec.output);
                *code = Code::Built(Box::new(Built {
                    generation: want.generation,
                    chain,
                }));
                Ok(code.built())
            }
            Err(e) => {
                // State an `init` wrote before a later step failed is not kept.
                self.overlay.discard_round();
                let error = TaskError::Start(e);
                if self
                    .ctx
                    .handle
                    .rollback(want.generation, &error.to_string())
                {
                    Ok(None)
                } else {
                    Err(error)
                }
            }
        }
    }

    /// Rolls the running version back after a failing call, if it is on probation.
    /// Returns whether it did (the round is then run again by the previous version).
    pub(super) fn roll_back_on_probation(
        &self,
        built: &Built,
        reason: &dyn std::fmt::Display,
    ) -> bool {
        self.trial.on_probation()
            && self
                .ctx
                .handle
                .rollback(built.generation, &reason.to_string())
    }
}
