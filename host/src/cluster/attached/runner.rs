//! One pipeline's member of its consumer group on this node: the thread that polls the
//! inputs, keeps a [`PartitionTask`] per assigned partition (restored from its changelogs
//! first), and commits each round's outputs, changelog records and input offsets in one
//! transaction of the node's producer for the pipeline (Kafka Streams' EOS v2).
//!
//! Rounds never span a poll: a transaction is begun and committed between two polls, so a
//! rebalance (which happens inside a poll) finds nothing open, and a revoked partition's
//! work is committed before it goes. A member whose call fails is dropped whole and joins
//! again: the group hands its partitions out from their committed offsets, and the
//! producer's next `init_transactions` aborts whatever it left open. A zombie (a member
//! that lost its partitions without knowing) is fenced by the broker: its offsets carry an
//! old group generation, and its transaction is aborted.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::watch;

use crate::cluster::{
    ClusterError, Consumer, Delivered, Fetched, Producer, ProducerMode, Rebalance,
    RebalanceListener,
};
use crate::pipeline::chain::StepCode;
use crate::pipeline::handle::Desired;
use crate::pipeline::handle::PipelineHandle;
use crate::pipeline::spec::{SOURCE_SLOT_BASE, SourceKind, StartPosition};

use super::error::AttachedError;
use super::global::{GlobalRows, GlobalTables, global_sources};
use super::mark::{Store, commit};
use super::names::{changelog_topic, slot_changelog_topic, windows_changelog_topic};
use super::restore::restore;
use super::stage::{Staged, ensure_repartitions};
use super::task::{PartitionTask, Phase, note};
use super::{Node, TaskView};

/// Most records one round takes from a poll.
const ROUND_RECORDS: usize = 5_000;
/// How long a poll waits for the first record: also how soon a pipeline change is seen.
const POLL_WAIT: Duration = Duration::from_millis(100);
/// How long a transaction call may take.
const TXN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a member that failed waits before joining again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Rebalances told during a poll, for the runner to act on after it.
#[derive(Default)]
struct Changes(Mutex<Vec<Rebalance>>);

impl RebalanceListener for Changes {
    fn rebalanced(&self, change: Rebalance) {
        self.0.lock().push(change);
    }
}

/// Runs `stage` of `handle`'s pipeline on this node until it is deleted or the node
/// stops.
pub fn run(node: Arc<Node>, handle: Arc<PipelineHandle>, stage: Staged) {
    let mut desired = handle.desired.subscribe();
    // Where this member shows itself: the pipeline's name, `:<stage>` past the first.
    let key = stage.key(&handle.name);
    loop {
        let want = desired.borrow_and_update().clone();
        if want.stop || node.stopping() {
            break;
        }
        if want.paused || want.broken.is_some() {
            node.set_tasks(&key, BTreeMap::new());
            wait_change(&node, &mut desired);
            continue;
        }
        let mut member = Member {
            node: &node,
            handle: &handle,
            stage,
            key: key.clone(),
            tasks: BTreeMap::new(),
            generation: want.generation,
        };
        if let Err(e) = member.run(want, &mut desired) {
            tracing::warn!(pipeline = %key, "attached member stopped: {e}");
            handle.logs.note(&format!(
                "attached member {key} stopped: {e}; joining again"
            ));
            node.set_error(&key, Some(e.to_string()));
            std::thread::sleep(RETRY_AFTER);
        }
    }
    // Before its view goes: once no stage of a deleted pipeline shows, its trees are gone.
    node.leftovers
        .stopped(&node.db, super::leftovers::incarnation(&handle));
    node.forget(&key);
}

/// Waits for a change of the pipeline (or the node stopping).
fn wait_change(node: &Node, desired: &mut watch::Receiver<Desired>) {
    while !node.stopping() && !desired.has_changed().unwrap_or(true) {
        std::thread::sleep(POLL_WAIT);
    }
}

/// One membership of the group of a stage of the pipeline: its clients and tasks.
struct Member<'a> {
    node: &'a Node,
    handle: &'a Arc<PipelineHandle>,
    /// The stage its tasks run (the whole pipeline without `group_by`).
    stage: Staged,
    /// Its name in the node's views ([`Staged::key`]).
    key: String,
    tasks: BTreeMap<i32, PartitionTask>,
    /// The deployment generation the tasks' chains run.
    generation: u64,
}

impl Member<'_> {
    /// Joins the group and runs rounds until the pipeline is paused, changed in a way that
    /// needs a new member, deleted, or a call fails.
    fn run(
        &mut self,
        mut want: Desired,
        desired: &mut watch::Receiver<Desired>,
    ) -> Result<(), AttachedError> {
        let name = self.handle.name.clone();
        let key = self.key.clone();
        let group = &self.node.config.group;
        let stage = self.stage;
        self.ensure_changelogs(&want)?;
        // Where a partition the group never committed starts: the spec's `start` (a
        // later stage's repartition topic: its first record).
        let clients = match want.spec.start {
            StartPosition::Latest if stage.reads_inputs() => &self.node.latest,
            _ => &self.node.consumers,
        };
        // The deployment as this stage's tasks run it.
        let mut view = stage.view(&want);
        // The global tables its steps read first, read to their ends before any task
        // runs a record.
        let mut globals = GlobalTables::bootstrap(
            &*self.node.plain,
            &self.node.db,
            &stage.global_tree(&name),
            &view.spec,
            self.handle,
        )?;
        let rows = globals.rows();
        let mut consumer = clients.consumer(Some(&stage.group_id(group, &name)))?;
        let changes = Arc::new(Changes::default());
        // `inputs` and the stream and table sources (or the repartition topics before
        // the stage): co-partitioned (checked at create), so the `range` assignor gives
        // partition p of each to the same member, and the task of p reads them all.
        consumer.subscribe_observed(&stage.inputs(&want.spec), changes.clone())?;
        let mut producer = self.node.producers.producer(ProducerMode::Transactional {
            id: stage.transactional_id(group, &name, &self.node.node),
        })?;
        producer.init_transactions(TXN_TIMEOUT)?;
        self.node.set_error(&key, None);
        self.node.set_generation(&key, self.generation);
        loop {
            if self.node.stopping() {
                return Ok(());
            }
            if desired.has_changed().unwrap_or(true) {
                let next = desired.borrow_and_update().clone();
                if next.stop || next.paused || next.broken.is_some() {
                    return Ok(());
                }
                if stage.inputs(&next.spec) != stage.inputs(&want.spec)
                    || global_sources(&stage.view(&next).spec) != global_sources(&view.spec)
                {
                    // Other topics: a new member subscribes to them (or reads the new
                    // global tables).
                    return Ok(());
                }
                if next.generation != self.generation {
                    // A failed task read past records it never committed: a new member
                    // reads them again from the committed offsets.
                    if self
                        .tasks
                        .values()
                        .any(|t| matches!(t.phase, Phase::Failed(_)))
                    {
                        return Ok(());
                    }
                    self.ensure_changelogs(&next)?;
                    let (next_view, layout) = self.stage_of(&next);
                    for t in self.tasks.values_mut() {
                        t.rebuild(self.handle, &next_view, layout.clone())?;
                    }
                    self.generation = next.generation;
                    self.node.set_generation(&key, self.generation);
                    self.handle.logs.note("attached tasks swapped");
                }
                view = stage.view(&next);
                want = next;
            }
            let records = consumer.poll(ROUND_RECORDS, POLL_WAIT)?;
            let told: Vec<Rebalance> = std::mem::take(&mut *changes.0.lock());
            for change in told {
                self.rebalanced(change, &want, &rows)?;
            }
            globals.catch_up(self.handle, !records.is_empty())?;
            // Also without records: timers fire on the wall clock.
            self.round(&view, records, &mut *consumer, &mut *producer)?;
        }
    }

    /// Acts on a rebalance: revoked tasks go (their rounds are committed: none spans a
    /// poll); assigned partitions get a task, its state restored first.
    fn rebalanced(
        &mut self,
        change: Rebalance,
        want: &Desired,
        globals: &GlobalRows,
    ) -> Result<(), AttachedError> {
        match change {
            Rebalance::Revoked(parts) => {
                for (_, p) in parts {
                    self.tasks.remove(&p);
                }
            }
            Rebalance::Assigned(parts) => {
                for (_, p) in parts {
                    if self.tasks.contains_key(&p) {
                        continue;
                    }
                    let tree = self
                        .node
                        .db
                        .open_tree(self.stage.tree(&self.handle.name, p))?;
                    let (view, layout) = self.stage_of(want);
                    // Plain slots and window spaces alike: one mark covers every
                    // changelog, so a cache kept here is read on from its tails.
                    let restored = restore(&*self.node.plain, &tree, &layout.changelogs, p)?;
                    if restored.records > 0 {
                        tracing::info!(
                            pipeline = %self.handle.name, partition = p,
                            records = restored.records, rate = restored.rate() as u64,
                            "restored state from the changelog"
                        );
                    }
                    self.node.note_restore(&self.key, restored);
                    let task =
                        PartitionTask::new(p, tree, self.handle, &view, layout, globals.clone())?;
                    self.tasks.insert(p, task);
                }
            }
        }
        self.publish();
        Ok(())
    }

    /// One round: every task's records through its chain, then one transaction with the
    /// outputs, changelog records and offsets of the tasks that ran; state applied to the
    /// cache once it commits.
    fn round(
        &mut self,
        want: &Desired,
        records: Vec<Fetched>,
        consumer: &mut dyn Consumer,
        producer: &mut dyn Producer,
    ) -> Result<(), AttachedError> {
        let mut by_partition: BTreeMap<i32, Vec<Fetched>> = BTreeMap::new();
        for r in records {
            by_partition.entry(r.partition).or_default().push(r);
        }
        // Records read before a rebalance took their partition are dropped: its next
        // owner reads them again.
        let now = crate::broker::now_ms();
        let mut outs = Vec::new();
        let mut stopped = false;
        for (&p, task) in self.tasks.iter_mut() {
            let recs = by_partition.remove(&p).unwrap_or_default();
            let was_running = matches!(task.phase, Phase::Running(_));
            match task.round(want, recs, now) {
                Some(out) if out.is_empty() => {}
                Some(out) => outs.push((p, out)),
                None if was_running => {
                    if let Phase::Failed(why) = &task.phase {
                        note(self.handle, p, &format!("stopped: {why}"));
                    }
                    stopped = true;
                }
                None => {}
            }
        }
        if stopped {
            self.publish();
        }
        if outs.is_empty() {
            return Ok(());
        }
        let Some(group) = consumer.group_metadata() else {
            return Err(ClusterError::ForeignGroupMetadata.into());
        };
        producer.begin()?;
        let sent = (|| -> Result<Vec<Delivered>, ClusterError> {
            let mut offsets = Vec::new();
            for (p, out) in &outs {
                for r in &out.records {
                    producer.send(r.clone())?;
                }
                // A round of timers alone moves no input, but its offsets are sent again:
                // they carry the group's generation, which fences a zombie's transaction.
                let sent = self.tasks.get(p).map(|t| t.positions()).unwrap_or_default();
                if sent.is_empty() {
                    offsets.extend(out.offsets.iter().cloned());
                } else {
                    offsets.extend(sent);
                }
            }
            if offsets.is_empty() {
                // Timers of tasks that have read nothing yet: their positions as assigned.
                let ours: Vec<i32> = outs.iter().map(|(p, _)| *p).collect();
                offsets = consumer
                    .positions()?
                    .into_iter()
                    .filter(|o| ours.contains(&o.partition) && o.offset >= 0)
                    .collect();
            }
            let delivered = producer.flush(TXN_TIMEOUT)?;
            if !offsets.is_empty() {
                producer.send_offsets(&offsets, &group, TXN_TIMEOUT)?;
            }
            producer.commit(TXN_TIMEOUT)?;
            Ok(delivered)
        })();
        let delivered = match sent {
            Ok(d) => d,
            Err(e) => {
                // Fenced or failed: nothing of the round counts; the member joins again and
                // reads from the committed offsets.
                let _ = producer.abort(TXN_TIMEOUT);
                return Err(AttachedError::Cluster(e));
            }
        };
        // Each task's writes land in its cache with its changelogs' marks moved past the
        // records it sent (where they landed: `delivered`, in send order).
        let mut at = 0;
        for (p, out) in &outs {
            let places = delivered
                .get(at..at + out.records.len())
                .unwrap_or_default();
            at += out.records.len();
            if let Some(task) = self.tasks.get(p) {
                commit(&task.tree, &out.writes, &out.records, places)?;
            }
        }
        let late: u64 = outs.iter().map(|(_, out)| out.late).sum();
        self.handle
            .attached_late_records
            .fetch_add(late, std::sync::atomic::Ordering::Relaxed);
        self.node.count_round(&self.key);
        Ok(())
    }

    /// Creates the changelog topics of `want`'s stateful steps (compacted, with the
    /// inputs' partition count), or checks the ones there.
    fn ensure_changelogs(&self, want: &Desired) -> Result<(), AttachedError> {
        let admin = self.node.plain.admin()?;
        let topics = admin.topics()?;
        let read = want.spec.read_topics();
        let Some(input) = read.first() else {
            return Ok(());
        };
        let Some(partitions) = topics
            .iter()
            .find(|t| &t.name == input)
            .map(|t| t.partitions)
        else {
            return Err(AttachedError::NoInput {
                topic: input.clone(),
            });
        };
        ensure_repartitions(&*admin, &topics, &want.spec, partitions)?;
        let configs = BTreeMap::from([("cleanup.policy".to_string(), "compact".to_string())]);
        for (_, topic) in changelogs(want, self.stage) {
            match topics.iter().find(|t| t.name == topic) {
                Some(t) if t.partitions == partitions => {}
                Some(t) => {
                    return Err(AttachedError::ChangelogPartitions {
                        topic,
                        found: t.partitions,
                        want: partitions,
                    });
                }
                None => match admin.create_topic(&topic, partitions, &configs) {
                    Ok(()) | Err(ClusterError::TopicExists { .. }) => {}
                    Err(e) => return Err(e.into()),
                },
            }
        }
        Ok(())
    }

    /// Shows this node's tasks in `GET /v1/cluster`.
    fn publish(&self) {
        let tasks = self
            .tasks
            .iter()
            .map(|(p, t)| {
                (
                    *p,
                    TaskView {
                        state: match &t.phase {
                            Phase::Running(_) => "running".into(),
                            Phase::Failed(why) => format!("failed: {why}"),
                        },
                    },
                )
            })
            .collect();
        self.node.set_tasks(&self.key, tasks);
    }

    /// The stage's view of `want` and what its tasks need beyond it.
    fn stage_of(&self, want: &Desired) -> (Desired, super::stage::Layout) {
        let layout = self.stage.layout(want, changelogs(want, self.stage));
        (self.stage.view(want), layout)
    }
}

/// Every changelog a task of `stage` of `want` restores from, each with the store it
/// fills: each of the stage's steps with state (processors, aggregations, tables, joins;
/// numbered and named as in the whole spec) and each table source's rows it reads
/// (plain slots), then each processor's window stores and stream clock (its window
/// space). The order is the mark's: a list that changes gives a full restore.
pub fn changelogs(want: &Desired, stage: Staged) -> Vec<(Store, String)> {
    let first = stage.first_step(&want.spec);
    let view = stage.view(want);
    let steps = view
        .plans
        .iter()
        .enumerate()
        .filter(|(_, p)| has_state(&p.code))
        .map(|(i, _)| {
            let slot = first + i;
            (Store::Plain(slot), changelog_topic(&want.spec, slot))
        });
    // Source slots count in the stage's view of the sources.
    let tables = view
        .spec
        .sources
        .values()
        .enumerate()
        // A global table's topic is its own changelog (see `global`).
        .filter(|(_, s)| s.kind == SourceKind::Table)
        .map(|(s, _)| {
            let slot = SOURCE_SLOT_BASE + s;
            (Store::Plain(slot), slot_changelog_topic(&view.spec, slot))
        });
    let windows = view
        .plans
        .iter()
        .enumerate()
        .filter(|(_, p)| p.code.is_processor())
        .map(|(i, _)| {
            let step = first + i;
            (
                Store::Windows(step),
                windows_changelog_topic(&want.spec, step),
            )
        });
    steps.chain(tables).chain(windows).collect()
}

/// Whether a step keeps state in its task's store (and so has a changelog).
fn has_state(code: &StepCode) -> bool {
    match code {
        StepCode::Aggregate(_)
        | StepCode::ModuleAggregate(..)
        | StepCode::Table
        | StepCode::Join { .. } => true,
        StepCode::Wasm(_) => code.is_processor(),
        StepCode::Native(_) | StepCode::GroupBy(_) => false,
    }
}
