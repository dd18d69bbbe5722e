//! Processor timers. Their output is not a function of the input, so no replay can
//! reproduce it: it is committed (with the state it changed and the sequences it takes)
//! and flushed into the checkpoint's outbox first, then appended, exactly like the outbox
//! a crash leaves, which the next turn drains.

use std::sync::atomic::Ordering;

use super::super::handle::Desired;
use super::super::outputs::{Group, from_outbox, to_outbox};
use super::commit::Durability;
use super::{Built, RoundEnd, Task, TaskError};

impl Task {
    /// Appends what the checkpoint's outbox holds (timer output a crash may have cut
    /// short), then empties it; the next commit records it empty.
    pub(super) fn drain_outbox(&mut self) -> Result<(), TaskError> {
        if self.ctx.checkpoint.outbox.is_empty() {
            return Ok(());
        }
        let mut groups = Vec::new();
        for g in &self.ctx.checkpoint.outbox {
            groups.push(Group {
                topic: self.output_topic(&g.topic)?,
                name: g.topic.clone(),
                partition: g.partition,
                first_seq: g.first_seq,
                records: g.records.iter().map(from_outbox).collect(),
            });
        }
        self.drain_planned(&groups)
    }

    /// Appends `groups`, which are the checkpoint's whole outbox as planned before it was
    /// committed (a commit's held outputs, still in memory: rebuilding every record from
    /// the outbox's copy was a third set of allocations per result), then empties it as
    /// [`Task::drain_outbox`] does.
    pub(super) fn drain_planned(&mut self, groups: &[Group]) -> Result<(), TaskError> {
        let n = self.write(self.ctx.checkpoint.producer_id, groups)?;
        self.ctx
            .stats
            .records_out
            .fetch_add(n as u64, Ordering::Relaxed);
        self.ctx.checkpoint.outbox.clear();
        // Recorded at once, not at the next round: an idle task would otherwise keep the
        // drained outbox on disk, to be appended again after a restart.
        self.commit(
            self.ctx.checkpoint.clone(),
            Durability::Buffered,
            "the checkpoint",
        )
    }

    /// Fires due timers through the outbox.
    pub(super) fn timer_round(&mut self, want: &Desired, built: &mut Built) -> RoundEnd {
        let now = crate::broker::now_ms();
        let Some(due) = built.chain.next_timer_ms() else {
            return RoundEnd::Committed(0);
        };
        // While a replay after a crash is still catching up, timer records would take the
        // sequence numbers of outputs already in the log and be skipped as appended.
        match self.caught_up(want) {
            Ok(true) => {}
            Ok(false) => return RoundEnd::Committed(0),
            Err(e) => return RoundEnd::Failed(e),
        }
        if due > now {
            return RoundEnd::Committed(0);
        }
        let emitted = match built.chain.fire_timers(now) {
            Ok(e) => e,
            Err(e) => {
                self.overlay.discard_round();
                if self.roll_back_on_probation(built, &e) {
                    return RoundEnd::RolledBack;
                }
                return RoundEnd::Failed(TaskError::Timer(e));
            }
        };
        let mut outputs = Vec::new();
        for e in emitted {
            match &e.topic {
                Some(t) if !want.spec.outputs.contains(t) => {
                    self.ctx.handle.logs.note(&format!(
                        "timer output routed to {t:?}, which is not in the pipeline's outputs, dropped"
                    ));
                }
                _ => outputs.push(e),
            }
        }
        if outputs.is_empty() && self.overlay.round_is_empty() {
            return RoundEnd::Committed(0);
        }
        let mut checkpoint = self.ctx.checkpoint.clone();
        let groups = match self.plan(want, outputs, &mut checkpoint) {
            Ok(g) => g,
            Err(e) => return RoundEnd::Failed(e),
        };
        checkpoint.outbox = groups.iter().map(to_outbox).collect();
        checkpoint.deployment = Some(want.deployment);
        // With held rounds' writes: the checkpoint in memory includes them.
        if let Err(e) = self.commit(checkpoint, Durability::Flushed, "timer output") {
            return RoundEnd::Failed(e);
        }
        if let Err(e) = self.drain_outbox() {
            return RoundEnd::Failed(e);
        }
        RoundEnd::Committed(1)
    }
}
