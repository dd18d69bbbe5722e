//! [`Stage`]: which of a pipeline's steps a task runs. A pipeline without `group_by` runs
//! every step in one task per input partition. A `group_by` splits it in two around the
//! internal topic `<pipeline>-<step>-repartition` (as many partitions as the inputs): the
//! upstream tasks read the inputs, run the steps through the `group_by` and append the
//! records, keyed anew, to that topic (partitioned by the new key); the downstream tasks
//! each read one of its partitions and run the remaining steps to the outputs. Each task
//! is an ordinary task of its stage's view of the deployment: the repartition write
//! commits with the upstream task's input offsets, and the downstream task's state and
//! outputs with its offsets in the repartition topic, so each stage is exactly-once.

use std::sync::Arc;

use super::handle::Desired;
use super::spec::PipelineSpec;

/// Which steps a task runs, and so what it reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Every step: the inputs to the outputs (a pipeline without `group_by`).
    Whole,
    /// The steps through the `group_by`: the inputs to the repartition topic.
    Upstream,
    /// The steps after the `group_by`: the repartition topic to the outputs.
    Downstream,
}

impl Stage {
    /// Whether it is the one stage of a pipeline without `group_by`.
    pub fn is_whole(&self) -> bool {
        *self == Stage::Whole
    }

    /// The stages the tasks of `spec` run in.
    pub fn of(spec: &PipelineSpec) -> &'static [Stage] {
        if spec.repartition().is_some() {
            &[Stage::Upstream, Stage::Downstream]
        } else {
            &[Stage::Whole]
        }
    }

    /// Index, in the whole spec, of the stage's first step (state is kept under it).
    pub fn first_step(self, spec: &PipelineSpec) -> usize {
        match (self, spec.repartition()) {
            (Stage::Downstream, Some(r)) => r.step + 1,
            _ => 0,
        }
    }

    /// The topics the stage's tasks read.
    pub fn inputs(self, spec: &PipelineSpec) -> Vec<String> {
        match (self, spec.repartition()) {
            (Stage::Downstream, Some(r)) => vec![r.topic],
            _ => spec.inputs.clone(),
        }
    }

    /// Whether its tasks read the pipeline's own inputs (their records count as in).
    pub fn reads_inputs(self) -> bool {
        !matches!(self, Stage::Downstream)
    }

    /// Whether its tasks write the pipeline's outputs (their records count as out).
    pub fn writes_outputs(self) -> bool {
        !matches!(self, Stage::Upstream)
    }

    /// The deployment as a task of this stage runs it: its steps, what it reads and
    /// where its main output goes.
    pub fn view(self, want: &Desired) -> Desired {
        let Some(r) = want.spec.repartition() else {
            return want.clone();
        };
        let split = (r.step + 1).min(want.plans.len());
        let mut spec = (*want.spec).clone();
        let plans = match self {
            Stage::Whole => return want.clone(),
            Stage::Upstream => {
                spec.output = r.topic;
                spec.steps.truncate(r.step + 1);
                want.plans[..split].to_vec()
            }
            Stage::Downstream => {
                spec.inputs = vec![r.topic];
                spec.steps.drain(..(r.step + 1).min(spec.steps.len()));
                want.plans[split..].to_vec()
            }
        };
        Desired {
            spec: Arc::new(spec),
            plans: Arc::new(plans),
            ..want.clone()
        }
    }

    /// Suffix of the name of its tasks' trees (none for the first stage, whose trees keep
    /// the names of pipelines without `group_by`).
    pub fn tree_suffix(self) -> &'static str {
        match self {
            Stage::Whole | Stage::Upstream => "",
            Stage::Downstream => "/after-group-by",
        }
    }
}
