//! Outputs in the log past the committed sequences, appended by rounds whose commit was
//! lost (a crash) or never made (a round that failed half-way). A replay by the same code
//! reproduces them and the appends skip them; where no replay will (other code runs now,
//! or the input is gone), the checkpoint moves past them instead.

use std::collections::BTreeSet;

use super::super::handle::Desired;
use super::super::outputs::already_appended;
use super::commit::Durability;
use super::{Built, Replay, Task, TaskError};

impl Task {
    /// A replay reproduces a lost round's outputs only with the code that made them; when
    /// the checkpoint says other code ran (an update landed in between), the sequences
    /// move past them instead: that round's input is processed again by the new code, at
    /// least once rather than lost.
    pub(super) fn resync_if_other_code(&mut self, want: &Desired) -> Result<(), TaskError> {
        let same_code = self
            .ctx
            .checkpoint
            .deployment
            .is_none_or(|d| d == want.deployment);
        if same_code {
            return Ok(());
        }
        self.skip_ahead(
            want,
            "outputs of an uncommitted round by the previous version stay; its input is \
             processed again by the new one",
        )
    }

    /// Moves the committed sequences past outputs in the log that no replay will
    /// reproduce, saying so in the pipeline's log when there were any.
    pub(super) fn skip_ahead(&mut self, want: &Desired, why: &str) -> Result<(), TaskError> {
        let ahead = self.outputs_ahead(want)?;
        let mut checkpoint = self.ctx.checkpoint.clone();
        checkpoint.deployment = Some(want.deployment);
        for (topic, partition, extra) in &ahead {
            *checkpoint
                .sequences
                .entry(topic.clone())
                .or_default()
                .entry(*partition)
                .or_insert(0) += *extra as u64;
        }
        if !ahead.is_empty() {
            let note = format!("task {}: {why}", self.ctx.stats.partition);
            tracing::warn!(pipeline = %self.ctx.handle.name, "{note}");
            self.ctx.handle.logs.note(&note);
        }
        self.commit(checkpoint, Durability::Flushed, "the checkpoint")?;
        self.replay = Replay::CaughtUp;
        Ok(())
    }

    /// Whether due timers are held back for a replay that has not caught up.
    pub(super) fn timers_held(&self, built: &Built) -> bool {
        self.replay == Replay::MaybeAhead && built.chain.next_timer_ms().is_some()
    }

    /// The input a replay reads alone: the one the rounds since the committed checkpoint
    /// read alone (its `solo`), while the log still holds outputs past the task's
    /// sequences, which those rounds appended. Reading another input first would put its
    /// outputs among theirs, as a pinned round's replay reading further would. `None`:
    /// every input is read.
    pub(super) fn replaying_alone(
        &mut self,
        want: &Desired,
        several: bool,
    ) -> Result<Option<(String, u32)>, TaskError> {
        let solo = match &self.ctx.checkpoint.solo {
            Some(solo) if several && self.ctx.checkpoint.in_flight.is_none() => solo.clone(),
            _ => return Ok(None),
        };
        Ok((!self.caught_up(want)?).then_some(solo))
    }

    /// Checks (a scan of every output partition) whether the log holds outputs past the
    /// committed sequences, remembering when it does not.
    pub(super) fn caught_up(&mut self, want: &Desired) -> Result<bool, TaskError> {
        if self.replay == Replay::CaughtUp {
            return Ok(true);
        }
        if self.outputs_ahead(want)?.is_empty() {
            self.replay = Replay::CaughtUp;
            return Ok(true);
        }
        Ok(false)
    }

    /// Output partitions holding records of this task past its committed sequences:
    /// (topic, partition, how many).
    fn outputs_ahead(&self, want: &Desired) -> Result<Vec<(String, u32, usize)>, TaskError> {
        let mut topics: BTreeSet<String> = self.ctx.checkpoint.sequences.keys().cloned().collect();
        topics.extend(want.spec.written_topics().into_iter().map(str::to_string));
        let pid = self.ctx.checkpoint.producer_id;
        let mut ahead = Vec::new();
        for name in topics {
            // A topic deleted since has nothing to replay into.
            let Ok(topic) = self.ctx.broker.topic(&name) else {
                continue;
            };
            for p in 0..topic.partition_count() {
                let seq = self
                    .ctx
                    .checkpoint
                    .sequences
                    .get(&name)
                    .and_then(|s| s.get(&p))
                    .copied()
                    .unwrap_or(0);
                let last = self
                    .ctx
                    .producers
                    .last_sequence(&topic, p, pid)
                    .map_err(|source| TaskError::Output {
                        topic: name.clone(),
                        source,
                    })?;
                if let Some(last) = last {
                    let n = already_appended(seq, last);
                    if n > 0 {
                        ahead.push((name.clone(), p, n));
                    }
                }
            }
        }
        Ok(ahead)
    }
}
