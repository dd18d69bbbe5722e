//! A spec's `group_by`s as stage boundaries, and what the steps after them may read.
//!
//! The steps are split into stages at runs of `group_by`s ([`Boundary`]): consecutive
//! `group_by` steps none of which reads another of the run (`orders` and `payments`
//! each re-keyed, to be joined) end one stage together, each writing its own
//! repartition topic. A step of a later stage reads the `group_by`s of the boundary
//! just before its stage (by name, or the last one as the default input), the steps of
//! its own stage, and named sources (each stage's tasks read the sources their steps
//! name, co-partitioned with the repartition topics, which have the inputs' partition
//! count). [`PipelineSpec::stage_spec`] is the spec as one stage's tasks run it: its
//! steps, the repartition topics before it as `inputs` (an unnamed `group_by`) or as
//! stream sources named after their steps, the sources its steps read, and the
//! repartition topics after it as outputs.

use std::collections::BTreeSet;

use super::spec_err;
use super::{Graph, Node, PipelineSpec, Repartition, SourceKind, SourceSpec, SpecError, Wiring};
use crate::streams::Op;

/// A run of `group_by`s ending a stage: their records go to their repartition topics,
/// which the next stage's tasks read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Boundary {
    /// The run's `group_by`s, in step order (consecutive steps).
    pub group_bys: Vec<Repartition>,
}

impl Boundary {
    /// Index of the run's last step: its stage ends there.
    pub fn last(&self) -> usize {
        self.group_bys.last().map_or(0, |r| r.step)
    }

    /// Whether step `i` is one of the run's `group_by`s.
    pub fn holds(&self, i: usize) -> bool {
        self.group_bys.iter().any(|r| r.step == i)
    }
}

/// `<pipeline>-<label>-repartition`, the published name of a `group_by`'s internal topic
/// (`label`: the step's name, else its index).
pub fn repartition_topic(pipeline: &str, label: &str) -> String {
    format!("{pipeline}-{label}-repartition")
}

/// The nodes step `i`'s wiring reads.
fn reads(w: &Wiring) -> Vec<Node> {
    match *w {
        Wiring::From(n) => vec![n],
        Wiring::Join { left, right, .. } => vec![left, right],
    }
}

impl PipelineSpec {
    /// The stage boundaries: runs of consecutive `group_by`s none of which reads another
    /// of its run. Without a graph (a spec that does not resolve), each `group_by` is its
    /// own boundary.
    pub fn boundaries(&self) -> Vec<Boundary> {
        let graph = Graph::of(self).ok();
        let mut out: Vec<Boundary> = Vec::new();
        for r in self.repartitions() {
            let joins_run = out.last().is_some_and(|b| {
                b.last() + 1 == r.step
                    && graph.as_ref().is_some_and(|g| {
                        reads(&g.wiring[r.step])
                            .iter()
                            .all(|n| !matches!(*n, Node::Step(j) if b.holds(j)))
                    })
            });
            match out.last_mut() {
                Some(b) if joins_run => b.group_bys.push(r),
                _ => out.push(Boundary { group_bys: vec![r] }),
            }
        }
        out
    }

    /// Checks what the steps after the first `group_by` read: the `group_by`s of the
    /// boundary before their stage, its other steps, and sources; and that each
    /// `group_by`'s records are read by a step of the next stage.
    pub(super) fn check_after_group_bys(&self, graph: &Graph) -> Result<(), SpecError> {
        let bounds = self.boundaries();
        for (s, before) in bounds.iter().enumerate() {
            let first = before.last() + 1;
            let end = bounds.get(s + 1).map_or(self.steps.len(), |b| b.last() + 1);
            let mut read = BTreeSet::new();
            for k in first..end {
                for n in reads(&graph.wiring[k]) {
                    match n {
                        Node::Source(_) => {}
                        Node::Step(j) if j >= first || before.holds(j) => {
                            read.insert(j);
                        }
                        Node::Step(_) | Node::Inputs => {
                            return Err(spec_err(
                                format!("steps[{k}].input"),
                                "after a \"group_by\" a step reads that group_by (or another of \
                                 the group_bys right before its stage), the steps after it, or \
                                 named sources; not a step before the group_by, whose records \
                                 have the old key",
                            ));
                        }
                    }
                }
            }
            if let Some(r) = before.group_bys.iter().find(|r| !read.contains(&r.step)) {
                return Err(spec_err(
                    format!("steps[{}]", r.step),
                    "no step after this \"group_by\" reads its records: name it and read it by \
                     name (a join's \"left\" or \"right\", or a step's \"input\")",
                ));
            }
        }
        Ok(())
    }

    /// The names of the sources steps `range` read.
    fn sources_read(&self, graph: &Graph, range: std::ops::Range<usize>) -> BTreeSet<String> {
        range
            .filter_map(|k| graph.wiring.get(k))
            .flat_map(reads)
            .filter_map(|n| match n {
                Node::Source(s) => Some(graph.sources[s].name.clone()),
                _ => None,
            })
            .collect()
    }

    /// The spec as the tasks of the stage between boundaries `from` and `to` (`None`:
    /// the inputs, or the outputs) run it; see the module's doc.
    pub fn stage_spec(&self, from: Option<&Boundary>, to: Option<&Boundary>) -> PipelineSpec {
        let mut spec = self.clone();
        let first = from.map_or(0, |b| b.last() + 1).min(self.steps.len());
        let end = to
            .map_or(self.steps.len(), |b| b.last() + 1)
            .min(self.steps.len());
        spec.steps = self.steps[first..end].to_vec();
        let graph = Graph::of(self).ok();
        // Each stage reads the sources its steps name; the first also those no step names
        // (as a pipeline without `group_by` reads all of them).
        if let Some(graph) = &graph {
            let mine = self.sources_read(graph, first..end);
            let later = self.sources_read(graph, end..self.steps.len());
            spec.sources
                .retain(|name, _| mine.contains(name) || (from.is_none() && !later.contains(name)));
        }
        if let Some(b) = from {
            // Past a group_by the chain reads its topic: as `inputs` when the step has no
            // name (only the next step's default input reads it), else as a stream
            // source of the step's name, which the stage's steps name it by.
            spec.inputs.clear();
            for r in &b.group_bys {
                match &self.steps[r.step].name {
                    Some(name) => {
                        spec.sources.insert(
                            name.clone(),
                            SourceSpec {
                                topic: r.topic.clone(),
                                kind: SourceKind::Stream,
                                history_retention_ms: None,
                            },
                        );
                    }
                    None => spec.inputs.push(r.topic.clone()),
                }
            }
            if let Some(step) = spec.steps.first_mut()
                && step.input.is_none()
            {
                step.input = self.steps[b.last()].name.clone();
            }
        }
        if let Some(b) = to {
            // Whether each group_by passes null new keys on is up to the steps after it,
            // which the view no longer holds.
            for r in &b.group_bys {
                let local = r.step.checked_sub(first);
                if let (Some(graph), Some(step)) =
                    (&graph, local.and_then(|k| spec.steps.get_mut(k)))
                {
                    step.keeps_null_keys = self.keeps_null_keys(graph, r.step);
                }
            }
            // The last group_by, last in the view, feeds the main output; the others of
            // its run route their records to their topics.
            spec.output = b.group_bys.last().map_or(spec.output, |r| r.topic.clone());
            spec.output_from = None;
            let n = b.group_bys.len().saturating_sub(1);
            spec.outputs
                .extend(b.group_bys[..n].iter().map(|r| r.topic.clone()));
        }
        spec
    }

    /// The repartition topic step `local` of this (stage) spec writes, if it is a named
    /// `group_by` that does not feed the main output (one of a run but the last).
    pub fn routed_group_by(&self, local: usize, output: usize) -> Option<String> {
        let step = self.steps.get(local)?;
        if step.op != Op::GroupBy || local == output {
            return None;
        }
        step.name
            .as_deref()
            .map(|name| repartition_topic(&self.name, name))
    }

    /// The topics whose records reach `node`, stopping at a `group_by`, whose records
    /// reach the steps after it through its repartition topic.
    pub fn topics_reaching(&self, graph: &Graph, node: Node) -> Vec<String> {
        if let Node::Step(j) = node
            && let Some(r) = self.repartitions().into_iter().find(|r| r.step == j)
        {
            return vec![r.topic];
        }
        match node {
            Node::Step(j) => match graph.wiring[j] {
                Wiring::From(n) => self.topics_reaching(graph, n),
                Wiring::Join { left, right, .. } => {
                    let mut t = self.topics_reaching(graph, left);
                    t.extend(self.topics_reaching(graph, right));
                    t
                }
            },
            other => graph
                .topics_of(self, other)
                .into_iter()
                .map(str::to_string)
                .collect(),
        }
    }
}
