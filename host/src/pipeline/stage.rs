//! [`Stage`]: which of a pipeline's steps a task runs. A pipeline without `group_by` runs
//! every step in one task per input partition. Each `group_by` splits it around the
//! internal topic `<pipeline>-<step>-repartition` (as many partitions as the inputs): the
//! upstream tasks read the inputs, run the steps through the first `group_by` and append
//! the records, keyed anew, to its topic (partitioned by the new key); a middle stage's
//! tasks read one partition of a `group_by`'s topic and run the steps through the next
//! one into its topic; the downstream tasks read the last topic and run the remaining
//! steps to the outputs. Any stage may also read named sources and join them (see
//! `spec/regroup.rs`: what a stage's steps read, and its view of the spec). Each task
//! is an ordinary task of its stage's view of the deployment: the repartition write
//! commits with the upstream task's input offsets, and the downstream task's state and
//! outputs with its offsets in the repartition topic, so each stage is exactly-once.

use std::sync::Arc;

use super::handle::Desired;
use super::spec::{Boundary, PipelineSpec};

/// Which steps a task runs, and so what it reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Every step: the inputs to the outputs (a pipeline without `group_by`).
    Whole,
    /// The steps through the first `group_by`: the inputs to its repartition topic.
    Upstream,
    /// Between two `group_by`s: the steps after the `k`-th (from 1) through the next,
    /// from the one's repartition topic to the other's.
    Middle(u8),
    /// The steps after the last `group_by`: its repartition topic to the outputs.
    Downstream,
}

/// As status shows it: `upstream`, `middle_1`, `downstream` (`whole` is not shown).
impl serde::Serialize for Stage {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Stage::Whole => s.serialize_str("whole"),
            Stage::Upstream => s.serialize_str("upstream"),
            Stage::Middle(k) => s.collect_str(&format_args!("middle_{k}")),
            Stage::Downstream => s.serialize_str("downstream"),
        }
    }
}

impl Stage {
    /// Whether it is the one stage of a pipeline without `group_by`.
    pub fn is_whole(&self) -> bool {
        *self == Stage::Whole
    }

    /// The stages the tasks of `spec` run in, in order.
    pub fn of(spec: &PipelineSpec) -> Vec<Stage> {
        let n = spec.boundaries().len();
        if n == 0 {
            return vec![Stage::Whole];
        }
        std::iter::once(Stage::Upstream)
            .chain((1..n).map(|k| Stage::Middle(k as u8)))
            .chain(std::iter::once(Stage::Downstream))
            .collect()
    }

    /// The stage whose tasks run step `index` of `spec`.
    pub fn of_step(spec: &PipelineSpec, index: usize) -> Stage {
        let bounds = spec.boundaries();
        match bounds.iter().filter(|b| index > b.last()).count() {
            0 => Stage::Whole,
            k if k == bounds.len() => Stage::Downstream,
            k => Stage::Middle(k as u8),
        }
    }

    /// The boundaries (runs of `group_by`s) before and after the stage's steps (`None`:
    /// the inputs before, or the outputs after).
    fn bounds(self, bounds: &[Boundary]) -> (Option<&Boundary>, Option<&Boundary>) {
        match self {
            Stage::Whole => (None, None),
            Stage::Upstream => (None, bounds.first()),
            Stage::Middle(k) => (bounds.get(k as usize - 1), bounds.get(k as usize)),
            Stage::Downstream => (bounds.last(), None),
        }
    }

    /// Index, in the whole spec, of the stage's first step (state is kept under it).
    pub fn first_step(self, spec: &PipelineSpec) -> usize {
        match self.bounds(&spec.boundaries()).0 {
            Some(b) => b.last() + 1,
            None => 0,
        }
    }

    /// The spec as the stage's tasks run it (see [`PipelineSpec::stage_spec`]).
    pub fn spec(self, spec: &PipelineSpec) -> PipelineSpec {
        if self.is_whole() {
            return spec.clone();
        }
        let bounds = spec.boundaries();
        let (from, to) = self.bounds(&bounds);
        spec.stage_spec(from, to)
    }

    /// The topics the stage's tasks read one partition of, in their checkpoint's order.
    pub fn inputs(self, spec: &PipelineSpec) -> Vec<String> {
        // Status asks this of every task: a pipeline without group_by needs no view.
        match self {
            Stage::Whole => spec.read_topics(),
            _ => self.spec(spec).read_topics(),
        }
    }

    /// The global tables the stage's tasks read whole.
    pub fn globals(self, spec: &PipelineSpec) -> Vec<String> {
        match self {
            Stage::Whole => spec.global_topics(),
            _ => self.spec(spec).global_topics(),
        }
    }

    /// Whether its tasks read the pipeline's own inputs (their records count as in).
    pub fn reads_inputs(self) -> bool {
        matches!(self, Stage::Whole | Stage::Upstream)
    }

    /// Whether its tasks write the pipeline's outputs (their records count as out).
    pub fn writes_outputs(self) -> bool {
        matches!(self, Stage::Whole | Stage::Downstream)
    }

    /// The deployment as a task of this stage runs it: its steps, what it reads and
    /// where its main output goes.
    pub fn view(self, want: &Desired) -> Desired {
        let bounds = want.spec.boundaries();
        if self.is_whole() || bounds.is_empty() {
            return want.clone();
        }
        let (from, to) = self.bounds(&bounds);
        let first = from.map_or(0, |b| b.last() + 1);
        let end = to.map_or(want.spec.steps.len(), |b| b.last() + 1);
        let spec = want.spec.stage_spec(from, to);
        let plans = want.plans[first.min(want.plans.len())..end.min(want.plans.len())].to_vec();
        Desired {
            spec: Arc::new(spec),
            plans: Arc::new(plans),
            ..want.clone()
        }
    }

    /// Suffix of the name of its tasks' trees (none for the first stage, whose trees keep
    /// the names of pipelines without `group_by`; the last stage's is the one a single
    /// `group_by` has always used).
    pub fn tree_suffix(self) -> String {
        match self {
            Stage::Whole | Stage::Upstream => String::new(),
            Stage::Middle(k) => format!("/after-group-by-{k}"),
            Stage::Downstream => "/after-group-by".into(),
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
        assert_eq!(Stage::of(&spec), [Stage::Upstream, Stage::Downstream]);
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
        assert_eq!(Stage::of(&plain), [Stage::Whole]);
        let all = Stage::Whole.view(&want);
        assert_eq!(all.plans.len(), 3);
        assert_eq!(all.spec.output, "out");
    }

    #[test]
    fn two_group_bys_make_three_stages_chained_by_their_topics() {
        let spec: PipelineSpec = serde_json::from_value(json!({
            "name": "p", "inputs": ["in"], "output": "out",
            "steps": [{"op": "group_by", "module": "a"}, {"module": "f"},
                      {"op": "group_by", "module": "b"}, {"op": "count"}]
        }))
        .unwrap();
        let plan = |module: &str| StepPlan {
            module: module.into(),
            version: 1,
            code: StepCode::Table,
            config: Default::default(),
        };
        let want = Desired {
            generation: 1,
            deployment: 0,
            spec: Arc::new(spec.clone()),
            plans: Arc::new(vec![plan("a"), plan("f"), plan("b"), plan("count")]),
            paused: false,
            stop: false,
            broken: None,
        };
        let stages = Stage::of(&spec);
        assert_eq!(
            stages,
            [Stage::Upstream, Stage::Middle(1), Stage::Downstream]
        );
        let seen: Vec<(Vec<String>, String, Vec<String>, usize)> = stages
            .iter()
            .map(|s| {
                let v = s.view(&want);
                let names = v.plans.iter().map(|p| p.module.clone()).collect();
                (
                    v.spec.inputs.clone(),
                    v.spec.output.clone(),
                    names,
                    s.first_step(&spec),
                )
            })
            .collect();
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            seen,
            [
                (
                    strings(&["in"]),
                    "p-0-repartition".into(),
                    strings(&["a"]),
                    0
                ),
                (
                    strings(&["p-0-repartition"]),
                    "p-2-repartition".into(),
                    strings(&["f", "b"]),
                    1
                ),
                (
                    strings(&["p-2-repartition"]),
                    "out".into(),
                    strings(&["count"]),
                    3
                ),
            ]
        );
        assert_eq!(Stage::Middle(1).inputs(&spec), ["p-0-repartition"]);
        assert!(!Stage::Middle(1).reads_inputs() && !Stage::Middle(1).writes_outputs());
        assert_eq!(Stage::of_step(&spec, 0), Stage::Whole);
        assert_eq!(Stage::of_step(&spec, 2), Stage::Middle(1));
        assert_eq!(Stage::of_step(&spec, 3), Stage::Downstream);
        assert_eq!(Stage::Middle(1).tree_suffix(), "/after-group-by-1");
        assert_eq!(serde_json::to_value(Stage::Middle(1)).unwrap(), "middle_1");
    }
}
