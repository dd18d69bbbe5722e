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
            _ => spec.read_topics(),
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::pipeline::chain::{StepCode, StepPlan};
    use crate::streams::AggregateSpec;

    #[test]
    fn each_stage_sees_its_side_of_the_group_by() {
        let spec: PipelineSpec = serde_json::from_value(json!({
            "name": "p", "inputs": ["in"], "output": "out", "outputs": ["side"],
            "steps": [{"module": "f"}, {"op": "group_by", "module": "k"}, {"op": "count"}]
        }))
        .unwrap();
        let count = AggregateSpec {
            op: crate::streams::Op::Count,
            ..AggregateSpec::default()
        }
        .build()
        .unwrap();
        let plan = |module: &str| StepPlan {
            module: module.into(),
            version: 1,
            code: StepCode::Aggregate(count),
            config: Default::default(),
        };
        let want = Desired {
            generation: 3,
            deployment: 0,
            spec: Arc::new(spec.clone()),
            plans: Arc::new(vec![plan("f"), plan("k"), plan("count")]),
            paused: false,
            stop: false,
            broken: None,
        };
        assert_eq!(Stage::of(&spec), &[Stage::Upstream, Stage::Downstream]);
        let up = Stage::Upstream.view(&want);
        assert_eq!(up.spec.inputs, vec!["in"]);
        assert_eq!(up.spec.output, "p-1-repartition");
        assert_eq!(up.spec.outputs, vec!["side"]);
        let names: Vec<_> = up.plans.iter().map(|p| p.module.as_str()).collect();
        assert_eq!(names, ["f", "k"]);
        assert_eq!(Stage::Upstream.first_step(&spec), 0);
        let down = Stage::Downstream.view(&want);
        assert_eq!(down.spec.inputs, vec!["p-1-repartition"]);
        assert_eq!(down.spec.output, "out");
        assert_eq!(down.spec.steps.len(), 1);
        let names: Vec<_> = down.plans.iter().map(|p| p.module.as_str()).collect();
        assert_eq!(names, ["count"]);
        assert_eq!(Stage::Downstream.first_step(&spec), 2);
        assert_eq!(down.generation, 3, "the same deployment");
        assert_eq!(Stage::Downstream.inputs(&spec), vec!["p-1-repartition"]);
        assert!(Stage::Upstream.reads_inputs() && !Stage::Upstream.writes_outputs());
        assert!(!Stage::Downstream.reads_inputs() && Stage::Downstream.writes_outputs());
        // Without a group_by, one stage sees everything.
        let mut plain = spec.clone();
        plain.steps.remove(1);
        assert_eq!(Stage::of(&plain), &[Stage::Whole]);
        let all = Stage::Whole.view(&want);
        assert_eq!(all.plans.len(), 3);
        assert_eq!(all.spec.output, "out");
    }
}
