//! One task: a pipeline's step chain over one partition of its inputs.
//!
//! Each round: read a batch from every input at the task's offsets, run it through the
//! chain, append the outputs with the task's producer id and per-partition sequences, then
//! commit state writes, input offsets and sequences in one sled batch, at once or (held in
//! memory) once per `commit_interval_ms`. A crash between the append and the commit replays
//! the rounds since the last commit; for a deterministic chain they produce the same
//! outputs with the same sequences, and the task skips those the producer windows show as
//! already appended. See ARCHITECTURE.md.
//!
//! - this file: [`run`], the task's loop over its [`Code`] states, and the wait for input.
//! - [`swap`]: building the chain of the wanted deployment, swapping, probation, rollback.
//! - [`round`]: one round over the inputs: read, run the chain, append, commit.
//! - [`commit`]: committing the checkpoint with the state writes, or holding rounds for
//!   the commit interval.
//! - [`deferred`]: outputs held until the next commit, for a chain ending in an
//!   `on_update` aggregation: the latest result per window and key.
//! - [`append`]: grouping outputs by partition, numbering and appending them.
//! - [`replay`]: outputs in the log past the checkpoint, and moving the checkpoint past them.
//! - [`timers`]: processor timers and the outbox their output goes through.
//! - [`error`]: [`TaskError`], why a task stopped.

pub mod append;
mod commit;
pub(crate) mod deferred;
pub mod error;
mod replay;
mod round;
mod swap;
mod timers;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;

use crate::broker::Broker;
use crate::broker::producer::ProducerRegistry;

use super::chain::Chain;
use super::handle::{Desired, PipelineHandle};
use super::stage::Stage;
use super::state::Overlay;
use super::stats::{TaskState, TaskStats};
use super::store::Checkpoint;
use super::workers::Workers;

use commit::{Durability, Held};
use deferred::Deferred;
pub use error::TaskError;

/// Everything a task needs.
pub struct TaskContext {
    /// The broker it reads and writes.
    pub broker: Arc<Broker>,
    /// Producer windows, for idempotent output appends.
    pub producers: Arc<ProducerRegistry>,
    /// Its pipeline.
    pub handle: Arc<PipelineHandle>,
    /// Its counters.
    pub stats: Arc<TaskStats>,
    /// Its sled tree (state and checkpoint).
    pub tree: sled::Tree,
    /// Its committed checkpoint.
    pub checkpoint: Checkpoint,
    /// The threads its turns run on.
    pub workers: Arc<Workers>,
    /// Which of the pipeline's steps it runs.
    pub stage: Stage,
}

/// The task's instances.
enum Code {
    /// None: before the first build, after a failure (their pool slots freed), and while
    /// a swap builds the next version.
    Unbuilt,
    /// The instances of one deployment generation (boxed: a chain is large, and the
    /// task holds its `Code` on the stack of its loop).
    Built(Box<Built>),
}

impl Code {
    /// The generation of the running instances.
    fn generation(&self) -> Option<u64> {
        match self {
            Code::Built(b) => Some(b.generation),
            Code::Unbuilt => None,
        }
    }

    /// The running instances.
    fn built(&mut self) -> Option<&mut Built> {
        match self {
            Code::Built(b) => Some(b),
            Code::Unbuilt => None,
        }
    }
}

/// A chain built for one deployment generation.
struct Built {
    generation: u64,
    chain: Chain,
}

/// Whether a failing call rolls the running version back. The task's, not the chain's: a
/// version that fails during its probation and is rebuilt (after a resume) is still on it.
#[derive(Clone, Copy)]
enum Trial {
    /// The version has proven itself (or there is nothing to roll back to): failures are
    /// the task's own.
    Settled,
    /// Just swapped in: a failing call within this many more batches rolls it back.
    Probation { batches_left: u32 },
}

impl Trial {
    fn on_probation(self) -> bool {
        matches!(self, Trial::Probation { .. })
    }

    /// One batch committed.
    fn passed(self) -> Trial {
        match self {
            Trial::Probation { batches_left } if batches_left > 1 => Trial::Probation {
                batches_left: batches_left - 1,
            },
            _ => Trial::Settled,
        }
    }
}

/// What the task knows of its outputs in the log past its committed sequences.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Replay {
    /// There may be some: a round's commit was lost (a crash) or never made (a round that
    /// failed half-way). Timers wait until a replay has reproduced them.
    MaybeAhead,
    /// The log holds none: the committed sequences are the log's.
    CaughtUp,
}

/// How a round ended.
enum RoundEnd {
    /// Committed this many input records (0: nothing to read).
    Committed(usize),
    /// The update failed and was rolled back: run the round again.
    RolledBack,
    /// The task stops with this error until the pipeline changes.
    Failed(TaskError),
}

/// A task's durable side: its context, the uncommitted state writes, the rounds held for
/// a commit, and what it knows of the log. The code it runs is the loop's, passed in where
/// a step needs it.
struct Task {
    ctx: TaskContext,
    overlay: Overlay,
    held: Held,
    /// Outputs of held rounds that wait for their commit (see [`deferred`]).
    deferred: Deferred,
    replay: Replay,
    trial: Trial,
}

/// What a turn on a worker thread came to.
enum Outcome {
    /// Nothing to read: wait for input, or until the next timer (ms since the epoch).
    Idle { next_timer_ms: Option<i64> },
    /// A round or timer committed this many input records; it took this long; `more`:
    /// an input already holds records past the new position (a backlog: no lingering).
    Progress {
        records: usize,
        took: Duration,
        more: bool,
    },
    /// The pipeline stopped while the turn waited for a worker: it did nothing.
    Stopped,
    /// The update failed and was rolled back: go again with the previous version.
    RolledBack,
    /// The task stops with this error until the pipeline changes.
    Failed(TaskError),
}

/// Runs a task until its pipeline stops: waits here, on its lane, and runs each turn on
/// the same lane outside the runtime ([`Workers`]).
pub async fn run(ctx: TaskContext) {
    let workers = ctx.workers.clone();
    let stats = ctx.stats.clone();
    let mut desired = ctx.handle.desired.subscribe();
    let mut task = Task {
        ctx,
        overlay: Overlay::default(),
        held: Held::Nothing,
        deferred: Deferred::default(),
        replay: Replay::MaybeAhead,
        trial: Trial::Settled,
    };
    let mut code = Code::Unbuilt;
    let stage = task.ctx.stage;
    loop {
        // The task's stage of the deployment: its steps, inputs and main output.
        let want = stage.view(&desired.borrow_and_update());
        if want.stop {
            break;
        }
        if want.paused {
            // Nothing the task did may wait in memory through a pause (an update may
            // follow, or a restart).
            task = match commit_held_on_lane(&workers, task).await {
                Some(t) => t,
                None => return,
            };
            stats.set_state(TaskState::Paused);
            let _ = desired.changed().await;
            continue;
        }
        let job = want.clone();
        let handle = task.ctx.handle.clone();
        let Some((t, c, outcome)) = workers
            .run(move || {
                // A turn may wait in the queue behind slow ones: one of a pipeline stopped
                // (deleted) meanwhile must not read, run or append any more.
                let outcome = if task.ctx.handle.desired.borrow().stop {
                    Outcome::Stopped
                } else {
                    task.step(&job, &mut code)
                };
                (task, code, outcome)
            })
            .await
        else {
            turn_lost(&workers, &handle, &stats);
            return;
        };
        (task, code) = (t, c);
        match outcome {
            Outcome::Idle { next_timer_ms } => {
                stats.set_state(TaskState::Running);
                let positions = task.positions(&want);
                let woke =
                    wait_for_input(&task.ctx.broker, positions, next_timer_ms, &mut desired).await;
                // New input after a rest: let more gather.
                if woke == Woke::Input {
                    linger(&want, &mut desired).await;
                }
            }
            Outcome::Progress {
                records,
                took,
                more,
            } => {
                stats.latency.observe(took);
                stats.set_state(TaskState::Running);
                // A short round that read everything means input trickles in: let more
                // gather before the next. A backlog is read at full speed.
                if records < LINGER_BELOW_RECORDS && !more {
                    linger(&want, &mut desired).await;
                }
            }
            Outcome::RolledBack => {}
            Outcome::Stopped => break,
            Outcome::Failed(error) => task.stop_on(error, &mut desired).await,
        }
    }
    // Stopped (deleted, or the server shuts down): held rounds are committed, so a
    // restart does not replay them.
    if commit_held_on_lane(&workers, task).await.is_some() {
        stats.set_state(TaskState::Stopped);
    }
}

/// A turn that never came back: the workers stopped (shutdown), or it panicked and took
/// the task's state with it; its last commit is where it resumes after a restart.
fn turn_lost(workers: &Workers, handle: &PipelineHandle, stats: &TaskStats) {
    if !workers.stopped() {
        let error = TaskError::Panicked;
        tracing::error!(pipeline = %handle.name, partition = stats.partition, "{error}");
        handle
            .logs
            .note(&format!("task {} stopped: {error}", stats.partition));
        stats.fail(error);
    } else {
        stats.set_state(TaskState::Stopped);
    }
}

/// Commits and flushes the task's held rounds in a turn on its lane; `None` if the lanes
/// stopped or the turn panicked (the task is gone; its last commit is where it resumes).
async fn commit_held_on_lane(workers: &Workers, mut task: Task) -> Option<Task> {
    if task.held == Held::Nothing {
        // As before the interval existed: no turn, no flush (a thousand tasks stopping).
        return Some(task);
    }
    let stats = task.ctx.stats.clone();
    let handle = task.ctx.handle.clone();
    let Some((task, result)) = workers
        .run(move || {
            let result = task.commit_held(Durability::Flushed);
            (task, result)
        })
        .await
    else {
        turn_lost(workers, &handle, &stats);
        return None;
    };
    if let Err(error) = result {
        tracing::error!(pipeline = %handle.name, partition = stats.partition, "{error}");
        handle
            .logs
            .note(&format!("task {}: {error}", stats.partition));
    }
    Some(task)
}

impl Task {
    /// One turn on a worker thread: the chain of `want` built (or swapped in), then the
    /// outbox a crash left, due timers, and a round over the inputs.
    fn step(&mut self, want: &Desired, code: &mut Code) -> Outcome {
        let built = match self.ensure_chain(code, want) {
            Ok(Some(built)) => built,
            // Rolled back: the next turn builds the previous version.
            Ok(None) => return Outcome::RolledBack,
            Err(error) => {
                *code = Code::Unbuilt;
                return Outcome::Failed(error);
            }
        };
        let started = Instant::now();
        let end = self.turn(want, built);
        // A task that rests, fails or rolls back commits the rounds it holds first.
        if !matches!(end, RoundEnd::Committed(n) if n > 0)
            && let Err(error) = self.commit_held(Durability::Buffered)
        {
            *code = Code::Unbuilt;
            return Outcome::Failed(error);
        }
        match end {
            RoundEnd::Committed(0) => Outcome::Idle {
                // Held timers look again shortly whether the replay has caught up.
                next_timer_ms: if self.timers_held(built) {
                    Some(crate::broker::now_ms() + HELD_TIMER_RECHECK_MS)
                } else {
                    built.chain.next_timer_ms()
                },
            },
            RoundEnd::Committed(records) => Outcome::Progress {
                records,
                took: started.elapsed(),
                more: self.input_waiting(want),
            },
            RoundEnd::RolledBack => Outcome::RolledBack,
            RoundEnd::Failed(error) => {
                *code = Code::Unbuilt;
                Outcome::Failed(error)
            }
        }
    }

    /// One turn of a task with its chain built: the outbox a crash left, due timers, then
    /// a round over the inputs.
    fn turn(&mut self, want: &Desired, built: &mut Built) -> RoundEnd {
        if let Err(e) = self.drain_outbox() {
            return RoundEnd::Failed(e);
        }
        match self.timer_round(want, built) {
            RoundEnd::Committed(_) => match self.round(want, built) {
                // Timers wait for a replay, but there is nothing left to replay: the
                // outputs ahead came from a round no replay reproduces (input gone to
                // retention, output partitions added, a non-deterministic step).
                RoundEnd::Committed(0)
                    if self.timers_held(built) && self.ctx.checkpoint.in_flight.is_none() =>
                {
                    match self.skip_ahead(
                        want,
                        "outputs in the log that no replay reproduces stay; timers resume",
                    ) {
                        Ok(()) => RoundEnd::Committed(0),
                        Err(e) => RoundEnd::Failed(e),
                    }
                }
                other => other,
            },
            other => other,
        }
    }

    /// Every (topic, partition, next offset) the task reads: its partition of each input
    /// and source, and every partition of each global table.
    fn positions(&self, want: &Desired) -> Vec<(String, u32, i64)> {
        let partition = self.ctx.stats.partition;
        let mut all: Vec<(String, u32, i64)> = want
            .spec
            .read_topics()
            .into_iter()
            .zip(&self.ctx.checkpoint.inputs)
            .map(|(topic, &pos)| (topic, partition, pos))
            .collect();
        for (topic, positions) in &self.ctx.checkpoint.globals {
            for (p, &pos) in positions.iter().enumerate() {
                all.push((topic.clone(), p as u32, pos));
            }
        }
        all
    }

    /// Whether an input holds records past the task's committed position.
    fn input_waiting(&self, want: &Desired) -> bool {
        self.positions(want)
            .into_iter()
            .any(|(topic, partition, pos)| {
                self.ctx
                    .broker
                    .topic(&topic)
                    .and_then(|t| t.partition(i64::from(partition)))
                    .is_ok_and(|log| log.high_watermark() > pos)
            })
    }

    /// Marks the task failed and waits until the pipeline is updated, resumed or stopped.
    async fn stop_on(
        &mut self,
        error: TaskError,
        desired: &mut tokio::sync::watch::Receiver<Desired>,
    ) {
        let partition = self.ctx.stats.partition;
        tracing::error!(pipeline = %self.ctx.handle.name, partition, "task stopped: {error}");
        self.ctx
            .handle
            .logs
            .note(&format!("task {partition} stopped: {error}"));
        self.ctx.stats.fail(error);
        // The failed round may have appended part of its outputs.
        self.replay = Replay::MaybeAhead;
        let _ = desired.changed().await;
    }
}

/// How often held timers check whether a replay has caught up, ms.
const HELD_TIMER_RECHECK_MS: i64 = 1000;
/// The longest an idle task waits without a timer or new input. Input and pipeline
/// changes wake it at once; this only bounds the wait when neither can (an input deleted).
const IDLE_WAIT: Duration = Duration::from_secs(10);

/// A round shorter than this lets input gather for the pipeline's linger before the next.
const LINGER_BELOW_RECORDS: usize = 256;

/// Waits for the pipeline's `linger_ms` (cut short by a pipeline change), so that a trickle
/// of input makes rounds of several records: each round costs a read, a Wasm call, an
/// append and a commit whatever its size.
async fn linger(want: &Desired, desired: &mut tokio::sync::watch::Receiver<Desired>) {
    let linger = want.spec.linger();
    if !linger.is_zero() {
        tokio::select! {
            _ = desired.changed() => {}
            _ = tokio::time::sleep(linger) => {}
        }
    }
}

/// What ended a wait for input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Woke {
    /// An input partition has records past the task's position.
    Input,
    /// The pipeline changed (update, pause, stop).
    Changed,
    /// The next timer is due, or the idle wait ran out.
    Timeout,
}

/// Waits for new input, a pipeline change, the next timer, or [`IDLE_WAIT`].
async fn wait_for_input(
    broker: &Broker,
    positions: Vec<(String, u32, i64)>,
    next_timer_ms: Option<i64>,
    desired: &mut tokio::sync::watch::Receiver<Desired>,
) -> Woke {
    let idle = match next_timer_ms {
        Some(at) => {
            Duration::from_millis((at - crate::broker::now_ms()).max(0) as u64).min(IDLE_WAIT)
        }
        None => IDLE_WAIT,
    };
    let mut watches = Vec::new();
    for (topic, partition, pos) in positions {
        if let Ok(log) = broker
            .topic(&topic)
            .and_then(|t| t.partition(i64::from(partition)))
        {
            watches.push((log.subscribe(), pos));
        }
    }
    let any_input = async {
        if watches.is_empty() {
            // Nothing to watch (an input was deleted): the timeout ends the wait.
            return std::future::pending().await;
        }
        let waits = watches.iter_mut().map(|(w, pos)| {
            let pos = *pos;
            async move {
                let _ = w.wait_for(|hw| *hw > pos).await;
            }
            .boxed()
        });
        futures_util::future::select_all(waits).await;
    };
    tokio::select! {
        _ = desired.changed() => Woke::Changed,
        _ = any_input => Woke::Input,
        _ = tokio::time::sleep(idle) => Woke::Timeout,
    }
}
