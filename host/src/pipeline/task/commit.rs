//! Committing a task's checkpoint with its pending state writes, at once or after the
//! pipeline's `commit_interval_ms`.
//!
//! A round's outputs are appended when it runs; its commit (input offsets, state writes,
//! output sequences) may wait, like Kafka Streams' `commit.interval.ms`: a crash replays
//! every round since the last commit, and the producer windows recognise their outputs as
//! appended, exactly as they do for the unflushed commits sled may lose. At a round a
//! millisecond the commit (encoding the checkpoint, a sled insert, sled's flusher writing
//! it) was a fixed cost of every round; held rounds pay it once per interval.

use std::time::Instant;

use super::super::chain::Emitted;
use super::super::handle::Desired;
use super::super::outputs::to_outbox;
use super::super::store::{self, Checkpoint};
use super::{Task, TaskError};

/// Rounds run and appended but not committed: their input offsets and sequences are in
/// the task's checkpoint in memory, their state writes in the overlay's held layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Held {
    /// The checkpoint in memory is the committed one.
    Nothing,
    /// Rounds finished since this instant wait for a commit.
    Since(Instant),
}

/// Whether a commit waits for sled's flush to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Durability {
    /// Joins sled's buffer (flushed within its `flush_every_ms`): a crash may lose it,
    /// and the rounds it covered are replayed.
    Buffered,
    /// Flushed before the call returns, for what no replay reproduces (pinned ranges,
    /// timer outboxes, moved sequences) or must not be replayed by other code (a swap).
    Flushed,
}

impl Task {
    /// Commits `checkpoint` with every pending state write (held rounds' and the running
    /// round's) in one atomic sled write; on failure the writes stay pending.
    pub(super) fn commit(
        &mut self,
        mut checkpoint: Checkpoint,
        mut durability: Durability,
        what: &'static str,
    ) -> Result<(), TaskError> {
        // Held outputs (see `deferred`) go into the outbox, numbered after what it holds,
        // and are on disk before any of them is appended.
        let mut deferred = Vec::new();
        // Whether the outbox will hold the held outputs alone (then they are appended as
        // planned here, not rebuilt from its copy).
        let outbox_was_empty = checkpoint.outbox.is_empty();
        let held = self.deferred.take().map_err(TaskError::Step)?;
        if !held.is_empty() {
            // Every deferred record is named: the output is the checkpoint's to choose.
            deferred = self.plan_to("", held, &mut checkpoint)?;
            checkpoint.outbox.extend(deferred.iter().map(to_outbox));
            durability = Durability::Flushed;
        }
        let had_deferred = !deferred.is_empty();
        let writes = self.overlay.take();
        let stored = match durability {
            Durability::Buffered => store::commit(&self.ctx.tree, &writes, &checkpoint),
            Durability::Flushed => store::commit_durable(&self.ctx.tree, &writes, &checkpoint),
        };
        if let Err(e) = stored {
            // The checkpoint in memory still matches them: a later commit retries.
            self.overlay.put_back(writes);
            self.deferred.put_back(deferred);
            return Err(TaskError::commit(what)(e));
        }
        self.ctx.checkpoint = checkpoint;
        self.held = Held::Nothing;
        if had_deferred {
            // Appended now rather than at the next turn: they are the task's output.
            if outbox_was_empty {
                self.drain_planned(&deferred)?;
            } else {
                self.drain_outbox()?;
            }
        }
        // Shown only now, after the deferred outputs are in the log: status' lag 0 means a
        // reader sees every result of the committed input (tests and scripts wait on it).
        *self.ctx.stats.committed.lock() = self.ctx.checkpoint.inputs.clone();
        Ok(())
    }

    /// Ends a round that ran and appended: commits it, or holds it while the oldest held
    /// round is younger than the pipeline's commit interval.
    pub(super) fn finish_round(
        &mut self,
        want: &Desired,
        checkpoint: Checkpoint,
        deferred: Option<(Vec<Emitted>, Vec<Emitted>)>,
    ) -> Result<(), TaskError> {
        if let Some((records, updates)) = deferred {
            self.deferred.add(&want.spec.output, records, updates);
        }
        let since = match self.held {
            Held::Since(t) => t,
            Held::Nothing => Instant::now(),
        };
        if since.elapsed() < want.spec.commit_interval() {
            self.overlay.hold_round();
            self.ctx.checkpoint = checkpoint;
            self.held = Held::Since(since);
            return Ok(());
        }
        self.commit(checkpoint, Durability::Buffered, "the round")
    }

    /// Commits held rounds, if any: when the task rests, fails, rolls back, pauses, swaps
    /// or stops, so that what it did is committed before anything else runs.
    pub(super) fn commit_held(&mut self, durability: Durability) -> Result<(), TaskError> {
        match self.held {
            Held::Nothing if durability == Durability::Buffered => Ok(()),
            Held::Nothing => self.ctx.tree.flush().map(drop).map_err(TaskError::Flush),
            Held::Since(_) => self.commit(self.ctx.checkpoint.clone(), durability, "held rounds"),
        }
    }
}
