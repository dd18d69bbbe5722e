//! A pipeline's life: tasks created and started, updates published to running tasks (the
//! hot-swap), pause, resume, deletion and shutdown. Specs are checked and their steps loaded
//! in `plan.rs`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::watch;

use super::super::chain::StepPlan;
use super::super::error::PipelineError;
use super::super::handle::{Desired, PipelineHandle};
use super::super::logs::PipelineLogs;
use super::super::spec::{PipelineSpec, StartPosition};
use super::super::stage::Stage;
use super::super::stats::TaskStats;
use super::super::status::PipelineStatus;
use super::super::store::{self, Checkpoint, Deployment, PipelineRecord};
use super::super::task::{self, TaskContext, TaskError};
use super::{Pipelines, spec_err};
use crate::streams::Op;

impl Pipelines {
    /// Creates and starts a pipeline.
    pub fn create(&self, spec: PipelineSpec) -> Result<PipelineStatus, PipelineError> {
        let _op = self.ops.lock();
        self.catch_up()?;
        if self.store.get(&spec.name)?.is_some() {
            return Err(PipelineError::PipelineExists {
                name: spec.name.clone(),
            });
        }
        let (partitions, plans) = self.resolve(&spec)?;
        self.check_instances(&spec.name, partitions, &plans)?;
        self.check_internal_topics(&spec, partitions)?;
        let mut made = Vec::new();
        let stored = self
            .repartition_topics(&spec, partitions, &mut made)
            .and_then(|()| self.store_new(spec, partitions, &plans));
        let record = match stored {
            Ok(record) => record,
            Err(e) => {
                // Nothing claims them yet: a retry must not find them in its way.
                for t in made {
                    if let Err(gone) = self.broker.delete_topic(&t) {
                        tracing::warn!(topic = %t, error = %gone, "repartition topic of a failed create left behind");
                    }
                }
                return Err(e);
            }
        };
        let handle = self.start(&record, plans, None)?;
        Ok(self.status_of(&handle, &record))
    }

    /// Creates the repartition topics of `spec` that are not there (a leftover one was
    /// accepted by `check_internal_topics`), naming each in `made`.
    fn repartition_topics(
        &self,
        spec: &PipelineSpec,
        partitions: u32,
        made: &mut Vec<String>,
    ) -> Result<(), PipelineError> {
        // Attached: the cluster's, made by the runners (`cluster/attached/stage.rs`).
        if self.config.external.is_some() {
            return Ok(());
        }
        for r in spec.repartitions() {
            if self.broker.topic(&r.topic).is_err() {
                self.repartition_topic(&r.topic, partitions)?;
                made.push(r.topic);
            }
        }
        Ok(())
    }

    /// Writes a new pipeline's first checkpoints and its record: once the record is
    /// stored, the pipeline exists (and claims its repartition topics).
    fn store_new(
        &self,
        spec: PipelineSpec,
        partitions: u32,
        plans: &Arc<Vec<StepPlan>>,
    ) -> Result<PipelineRecord, PipelineError> {
        // Attached: the tasks' positions are their consumer group's, on the cluster.
        let embedded = if self.config.external.is_some() {
            Vec::new()
        } else {
            Stage::of(&spec)
        };
        for stage in embedded {
            for p in 0..partitions {
                let tree = self.store.stage_tree(&spec.name, stage, p)?;
                let topics = stage.inputs(&spec);
                let mut inputs = Vec::with_capacity(topics.len());
                for t in &topics {
                    let stats = self.broker.topic(t)?.partition(i64::from(p))?.stats();
                    inputs.push(match spec.start {
                        StartPosition::Earliest => stats.log_start_offset,
                        StartPosition::Latest => stats.high_watermark,
                    });
                }
                // A global table is read whole, from its start, by every task of a
                // stage whose steps read it.
                let mut globals = BTreeMap::new();
                for t in stage.globals(&spec) {
                    let topic = self.broker.topic(&t)?;
                    let mut positions = Vec::new();
                    for gp in 0..topic.partition_count() {
                        positions.push(topic.partition(i64::from(gp))?.stats().log_start_offset);
                    }
                    globals.insert(t, positions);
                }
                let checkpoint = Checkpoint {
                    producer_id: self.producers.next_producer_id()?,
                    inputs,
                    sequences: BTreeMap::new(),
                    outbox: Vec::new(),
                    in_flight: None,
                    globals,
                    in_flight_globals: None,
                    solo: None,
                    deployment: Some(0),
                };
                store::commit(&tree, &BTreeMap::new(), &checkpoint)?;
            }
        }
        let record = PipelineRecord {
            spec: spec.clone(),
            partitions,
            paused: false,
            created_ms: crate::broker::now_ms(),
            history: vec![Deployment {
                modules: plans
                    .iter()
                    .map(|p| (p.module.clone(), p.version))
                    .collect(),
                at_ms: crate::broker::now_ms(),
                reason: "created".into(),
            }],
            specs: vec![spec],
            forgotten: 0,
        };
        // Shared: the catalog settles a race with another node creating the same name.
        if let Some(catalog) = self.shared() {
            catalog.create_pipeline(&record)?;
        }
        self.store.put(&record)?;
        Ok(record)
    }

    /// Starts the tasks of a stored pipeline. `broken` marks every task failed (a stored
    /// deployment whose modules cannot be loaded).
    pub(super) fn start(
        &self,
        record: &PipelineRecord,
        plans: Arc<Vec<StepPlan>>,
        broken: Option<Arc<PipelineError>>,
    ) -> Result<Arc<PipelineHandle>, PipelineError> {
        let name = record.spec.name.clone();
        let mut contexts = Vec::new();
        let mut tasks = Vec::new();
        // Attached: no embedded tasks; the external ones follow the handle.
        let embedded = if self.config.external.is_some() {
            Vec::new()
        } else {
            Stage::of(&record.spec)
        };
        for stage in embedded {
            for p in 0..record.partitions {
                let tree = self.store.stage_tree(&name, stage, p)?;
                let checkpoint =
                    store::load_checkpoint(&tree)?.ok_or_else(|| PipelineError::Corrupt {
                        what: format!("pipeline {name:?} task {p}{}", stage.tree_suffix()),
                        reason: "no checkpoint".into(),
                    })?;
                let stats = Arc::new(TaskStats::new(p, checkpoint.inputs.clone()).in_stage(stage));
                if let Some(e) = &broken {
                    stats.fail(TaskError::Undeployable(e.clone()));
                }
                tasks.push(stats.clone());
                contexts.push((tree, checkpoint, stats));
            }
        }
        let (desired, _) = watch::channel(Desired {
            generation: 1,
            deployment: record.current_number(),
            spec: Arc::new(record.spec.clone()),
            plans,
            paused: record.paused,
            stop: false,
            broken: broken.clone(),
        });
        let handle = Arc::new(PipelineHandle {
            name: name.clone(),
            desired,
            previous: Mutex::new(None),
            tasks,
            logs: Arc::new(PipelineLogs::default()),
            samples: Default::default(),
            swaps: AtomicU64::new(0),
            rollbacks: AtomicU64::new(0),
            rollback_reason: Mutex::new(None),
            joins: Mutex::new(Vec::new()),
            state_limits: self.config.state_limits,
            attached_late_records: AtomicU64::new(0),
            store: self.store.clone(),
        });
        // Tasks run even for a broken deployment: they wait, failed, for an update.
        {
            let mut joins = handle.joins.lock();
            for (tree, checkpoint, stats) in contexts {
                self.producers.reserve_internal(checkpoint.producer_id);
                let stage = stats.stage;
                let task = self.workers.spawn(task::run(TaskContext {
                    broker: self.broker.clone(),
                    producers: self.producers.clone(),
                    handle: handle.clone(),
                    stats,
                    tree,
                    checkpoint,
                    workers: self.workers.clone(),
                    stage,
                }));
                joins.push(task.ok_or(PipelineError::ShuttingDown)?);
            }
        }
        self.handles.lock().insert(name, handle.clone());
        if let Some(external) = &self.config.external {
            external.started(handle.clone());
        }
        Ok(handle)
    }

    /// Creates the internal topic a `group_by` repartitions through, with the inputs'
    /// partition count (`check_internal_topics` has made sure none is there).
    fn repartition_topic(&self, topic: &str, partitions: u32) -> Result<(), PipelineError> {
        self.broker
            .create_topic(topic, partitions, BTreeMap::new())?;
        Ok(())
    }

    pub(super) fn handle(&self, name: &str) -> Result<Arc<PipelineHandle>, PipelineError> {
        self.handles
            .lock()
            .get(name)
            .cloned()
            .ok_or_else(|| PipelineError::UnknownPipeline {
                name: name.to_string(),
            })
    }

    pub(super) fn record(&self, name: &str) -> Result<PipelineRecord, PipelineError> {
        self.store
            .get(name)?
            .ok_or_else(|| PipelineError::UnknownPipeline {
                name: name.to_string(),
            })
    }

    /// Deploys a new spec on a running pipeline (the hot-swap): every task finishes its
    /// batch, commits, and continues with the new steps and the same state. A version that
    /// fails to start or fails its first batches is rolled back by the tasks.
    pub fn update(&self, name: &str, spec: PipelineSpec) -> Result<PipelineStatus, PipelineError> {
        let _op = self.ops.lock();
        self.catch_up()?;
        let handle = self.handle(name)?;
        let record = self.record(name)?;
        if spec.name != name {
            return Err(spec_err(
                "name",
                format!(
                    "{:?} differs from the pipeline being updated, {name:?}",
                    spec.name
                ),
            ));
        }
        if spec.inputs != record.spec.inputs {
            return Err(spec_err(
                "inputs",
                "the inputs of a pipeline cannot change; create a new pipeline instead",
            ));
        }
        if spec.sources != record.spec.sources {
            return Err(spec_err(
                "sources",
                "the sources of a pipeline cannot change; create a new pipeline instead",
            ));
        }
        same_aggregations(&record.spec, &spec)?;
        same_stage_inputs(&record.spec, &spec)?;
        self.check_shared_topics(&spec)?;
        let (_, plans) = self.resolve(&spec)?;
        self.check_instances(name, record.partitions, &plans)?;
        let modules: Vec<(String, u32)> = plans
            .iter()
            .map(|p| (p.module.clone(), p.version))
            .collect();
        // Held across storing and publishing, as `rollback` holds it, so a rollback and
        // an update cannot interleave and leave the store and the tasks disagreeing.
        let mut previous = handle.previous.lock();
        let record = match self.shared() {
            // Over the catalog's latest record: an update made meanwhile on another node
            // stays in the history. The checks above hold for it too: inputs, sources
            // and stateful steps never change in an update.
            Some(catalog) => {
                let deployment = Deployment {
                    modules,
                    at_ms: crate::broker::now_ms(),
                    reason: "updated".into(),
                };
                let keep = self.config.max_history;
                let mut push = |r: &mut PipelineRecord| {
                    r.push_deployment(&spec, deployment.clone(), keep);
                    Ok(())
                };
                let record = catalog.edit_pipeline(name, &mut push)?.ok_or_else(|| {
                    PipelineError::UnknownPipeline {
                        name: name.to_string(),
                    }
                })?;
                self.store.put(&record)?;
                record
            }
            None => {
                self.store
                    .record_deployment(name, &spec, modules, "updated")?;
                self.record(name)?
            }
        };
        self.publish(&handle, &mut previous, &record, plans);
        drop(previous);
        Ok(self.status_of(&handle, &record))
    }

    /// Pauses or resumes a pipeline (resuming also restarts tasks stopped by an error).
    pub fn set_paused(&self, name: &str, paused: bool) -> Result<PipelineStatus, PipelineError> {
        let _op = self.ops.lock();
        self.catch_up()?;
        let handle = self.handle(name)?;
        let edited = match self.shared() {
            Some(catalog) => {
                let edited = catalog.edit_pipeline(name, &mut |r| {
                    r.paused = paused;
                    Ok(())
                })?;
                if let Some(r) = &edited {
                    self.store.put(r)?;
                }
                edited
            }
            None => self.store.edit(name, |r| r.paused = paused)?,
        };
        let record = edited.ok_or_else(|| PipelineError::UnknownPipeline {
            name: name.to_string(),
        })?;
        // Resuming a deployment that failed to load at start-up tries to load it again.
        let broken = handle.desired.borrow().broken.clone();
        if !paused && broken.is_some() {
            let plans = self.plans_of(&record.spec, &record.current().modules)?;
            self.check_instances(name, record.partitions, &plans)?;
            handle.desired.send_modify(|d| {
                d.generation += 1;
                d.plans = plans;
                d.broken = None;
            });
        }
        handle.desired.send_modify(|d| d.paused = paused);
        handle.logs.note(if paused { "paused" } else { "resumed" });
        Ok(self.status_of(&handle, &record))
    }

    /// Stops and deletes a pipeline with its state and checkpoints.
    pub fn delete(&self, name: &str) -> Result<(), PipelineError> {
        let _op = self.ops.lock();
        self.catch_up()?;
        let handle = self.handle(name)?;
        let record = self.record(name)?;
        // Shared: gone from the catalog first (every node stops it), and if that fails
        // nothing here has changed.
        if let Some(catalog) = self.shared() {
            catalog.delete_pipeline(name)?;
        }
        self.stop(&handle);
        self.handles.lock().remove(name);
        self.store.remove(&record)?;
        if let Some(external) = &self.config.external {
            external.deleted(name, Some(&handle));
        }
        // The repartition topic is the pipeline's own: it goes with it (after the
        // tasks that read it, and its record, so a restart does not look for it).
        // Attached: it is the cluster's, and stays there, as the changelogs do.
        let local = if self.config.external.is_some() {
            Vec::new()
        } else {
            record.spec.repartitions()
        };
        for r in local {
            if let Err(e) = self.broker.delete_topic(&r.topic) {
                tracing::warn!(pipeline = name, topic = %r.topic, "repartition topic not deleted: {e}");
            }
        }
        Ok(())
    }

    /// Asks the tasks to stop after their current batch and waits for them (bounded).
    pub(super) fn stop(&self, handle: &PipelineHandle) {
        handle.desired.send_modify(|d| d.stop = true);
        let joins = std::mem::take(&mut *handle.joins.lock());
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        for j in joins {
            while !j.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if !j.is_finished() {
                j.abort();
            }
        }
    }

    /// Stops every pipeline (each task commits its batch first) and the worker threads.
    pub fn shutdown(&self) {
        // After this no catalog change starts anything (`follow_catalog` may still run).
        {
            let _op = self.ops.lock();
            self.closed.store(true, Ordering::SeqCst);
        }
        let handles: Vec<_> = self.handles.lock().values().cloned().collect();
        for h in &handles {
            self.stop(h);
        }
        if let Err(e) = self.store.flush() {
            tracing::error!("flushing pipeline state: {e}");
        }
        self.workers.stop();
    }
}

/// Refuses an update that would read an aggregation's state with other rules (or move a
/// `group_by`, which splits the tasks in two around it): state is kept by step index, so windows of another size, another op, or a step moved to or
/// from an aggregation's index would meet entries they cannot mean (a processor's keys
/// read as windows). Emit mode, formats and retention may change.
fn same_aggregations(old: &PipelineSpec, new: &PipelineSpec) -> Result<(), PipelineError> {
    if let Some((a, b)) = old
        .repartitions()
        .into_iter()
        .zip(new.repartitions())
        .find(|(a, b)| a.topic != b.topic)
    {
        return Err(spec_err(
            format!("steps[{}].name", b.step),
            format!(
                "the group_by repartitions through {:?}; renaming the step would need another topic: create a new pipeline instead",
                a.topic
            ),
        ));
    }
    let steps = old.steps.len().max(new.steps.len());
    for i in 0..steps {
        let (a, b) = (old.steps.get(i), new.steps.get(i));
        // Tables and joins keep state by position too.
        let aggregating = |s: Option<&super::super::spec::StepSpec>| {
            s.is_some_and(|s| {
                s.op.is_aggregation() || matches!(s.op, Op::GroupBy | Op::Join | Op::ToTable)
            })
        };
        if !aggregating(a) && !aggregating(b) {
            continue;
        }
        let same = matches!((a, b), (Some(a), Some(b)) if a.op == b.op && a.window == b.window
            && a.left == b.left && a.right == b.right && a.join_type == b.join_type);
        if !same {
            return Err(spec_err(
                format!("steps[{i}]"),
                "an aggregation, table or join step keeps its state by position: its op, \
                 window and inputs, and whether step i keeps such state, cannot change in an \
                 update; create a new pipeline instead",
            ));
        }
        // A group_by moved between a stream and a table turns the aggregation after it
        // from a running one into one of the table's changes (or back), over the same
        // state, which means something else to each.
        if old.aggregates_table(i) != new.aggregates_table(i) {
            let (was, now) = if old.aggregates_table(i) {
                ("a table's changes", "a stream")
            } else {
                ("a stream", "a table's changes")
            };
            return Err(spec_err(
                format!("steps[{}].input", i - 1),
                format!(
                    "the group_by before step {i} would read {now} instead of {was}: the \
                     aggregation's state cannot change meaning in an update; create a new \
                     pipeline instead"
                ),
            ));
        }
    }
    Ok(())
}

/// Refuses an update that would change what a stage's tasks read (a step after a
/// `group_by` reading another source): their checkpoints hold one position per topic
/// read, in order.
fn same_stage_inputs(old: &PipelineSpec, new: &PipelineSpec) -> Result<(), PipelineError> {
    for stage in Stage::of(old) {
        if stage.inputs(old) != stage.inputs(new) || stage.globals(old) != stage.globals(new) {
            return Err(spec_err(
                "steps",
                format!(
                    "the {} stage's tasks would read {:?} instead of {:?}: the sources the steps \
                     on each side of a group_by read cannot change; create a new pipeline instead",
                    serde_json::to_value(stage)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    stage.inputs(new),
                    stage.inputs(old),
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec(group_by_input: &str) -> PipelineSpec {
        serde_json::from_value(json!({"name": "p", "output": "out",
            "sources": {"orders": {"topic": "o"}, "customers": {"topic": "c", "as": "table"}},
            "steps": [{"op": "group_by", "module": "k", "input": group_by_input},
                      {"op": "count"}]}))
        .unwrap()
    }

    #[test]
    fn an_update_cannot_move_a_group_by_between_a_stream_and_a_table() {
        let (stream, table) = (spec("orders"), spec("customers"));
        assert!(table.aggregates_table(1) && !stream.aggregates_table(1));
        for (old, new, now) in [
            (&stream, &table, "a table's changes"),
            (&table, &stream, "a stream"),
        ] {
            let err = same_aggregations(old, new).unwrap_err().to_string();
            assert!(err.contains("steps[0].input") && err.contains(now), "{err}");
        }
        same_aggregations(&table, &table).unwrap();
        same_aggregations(&stream, &stream).unwrap();
    }
}
