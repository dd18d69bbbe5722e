//! [`Staged`]: one stage of an attached pipeline (`pipeline/stage.rs`) as its own group
//! member on each node. A pipeline without `group_by` is one stage, run as before; each
//! `group_by` ends a stage at its repartition topic `<pipeline>-<step>-repartition`
//! (created here on the cluster, the inputs' partition count), and the next stage's tasks
//! read that topic.
//!
//! Why a group per stage and not one group for every sub-topology, as Kafka Streams has:
//! each stage's tasks are then ordinary attached tasks of the stage's view of the
//! deployment (what the embedded engine runs too), with the runner unchanged; the stages
//! run on their own threads, so a node's two cores work on both sides of a repartition;
//! a rebalance of one stage does not stop the other. What joins the stages is the
//! repartition topic alone: the upstream task writes the re-keyed records into it in the
//! transaction that commits its input offsets, and the downstream task reads them
//! read_committed and commits its outputs, changelog records and repartition offsets in
//! its own: each stage is exactly-once, so the pipeline is.
//!
//! The first stage keeps the names a pipeline without `group_by` has (group
//! `<group>.<pipeline>`, producer `<group>.<pipeline>.<node>`, cache trees
//! `<pipeline>/<partition>`); a later one adds `:<stage>` (`downstream`, `middle_1`):
//! a `:` no pipeline name holds, so no other pipeline's group can take the name, and a
//! prefixed ACL on `<group>.<pipeline>` covers every stage.

use std::collections::BTreeMap;

use crate::cluster::{Admin, ClusterError, TopicInfo};
use crate::pipeline::PipelineSpec;
use crate::pipeline::handle::Desired;
use crate::pipeline::stage::Stage;

use super::error::AttachedError;
use super::mark::Store;
use super::names::{group_id, transactional_id};

/// One stage of a pipeline, as a member of its own group on each node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Staged(pub Stage);

impl Staged {
    /// The stages `spec`'s tasks run in, in order (one for a pipeline without `group_by`).
    pub fn of(spec: &PipelineSpec) -> Vec<Staged> {
        Stage::of(spec).into_iter().map(Staged).collect()
    }

    /// `downstream`, `middle_1` (status's names); `None` for the first stage.
    fn label(self) -> Option<String> {
        match self.0 {
            Stage::Whole | Stage::Upstream => None,
            Stage::Middle(k) => Some(format!("middle_{k}")),
            Stage::Downstream => Some("downstream".into()),
        }
    }

    /// The name its member keeps in the node's views: the pipeline's, `:<stage>` added
    /// past the first stage.
    pub fn key(self, pipeline: &str) -> String {
        match self.label() {
            Some(l) => format!("{pipeline}:{l}"),
            None => pipeline.to_string(),
        }
    }

    /// The stage's consumer group: `<group>.<pipeline>`, `:<stage>` added past the first.
    pub fn group_id(self, group: &str, pipeline: &str) -> String {
        group_id(group, &self.key(pipeline))
    }

    /// The `transactional.id` of a node's producer for the stage:
    /// `<group>.<pipeline>.<node>`, `<group>.<pipeline>:<stage>.<node>` past the first.
    pub fn transactional_id(self, group: &str, pipeline: &str, node: &str) -> String {
        transactional_id(group, &self.key(pipeline), node)
    }

    /// The cache tree of its task of `partition`: the embedded task tree's suffix
    /// (`<pipeline>/<partition>`, `/after-group-by` for the last stage).
    pub fn tree(self, pipeline: &str, partition: i32) -> String {
        format!("{pipeline}/{partition}{}", self.0.tree_suffix())
    }

    /// The node's copy of the global tables its steps read (`<pipeline>/global`, with the
    /// stage's suffix: two stages may read different ones).
    pub fn global_tree(self, pipeline: &str) -> String {
        format!("{pipeline}/global{}", self.0.tree_suffix())
    }

    /// Whether its tasks read the pipeline's inputs (where `start` applies): a later
    /// stage reads its repartition topic from the first record, whatever the spec says,
    /// as an embedded one does (created empty with the pipeline).
    pub fn reads_inputs(self) -> bool {
        self.0.reads_inputs()
    }

    /// The deployment as the stage's tasks run it (`Stage::view`).
    pub fn view(self, want: &Desired) -> Desired {
        self.0.view(want)
    }

    /// The topics its tasks read one partition of.
    pub fn inputs(self, spec: &PipelineSpec) -> Vec<String> {
        self.0.inputs(spec)
    }

    /// Index, in the whole spec, of its first step: state keys and changelog names count
    /// from it.
    pub fn first_step(self, spec: &PipelineSpec) -> usize {
        self.0.first_step(spec)
    }

    /// The repartition topics its tasks write (those of the `group_by`s ending it).
    pub fn repartitions(self, spec: &PipelineSpec) -> Vec<String> {
        let end = match self.0 {
            Stage::Whole | Stage::Downstream => return Vec::new(),
            Stage::Upstream => 0,
            Stage::Middle(k) => usize::from(k),
        };
        spec.boundaries()
            .get(end)
            .map(|b| b.group_bys.iter().map(|r| r.topic.clone()).collect())
            .unwrap_or_default()
    }

    /// What its tasks need beyond their view: where their steps start, where their
    /// state goes, and which topics they repartition into.
    pub fn layout(self, want: &Desired, changelogs: Vec<(Store, String)>) -> Layout {
        Layout {
            first_step: self.first_step(&want.spec),
            changelogs,
            repartitions: self.repartitions(&want.spec),
        }
    }
}

/// What a stage's task needs beyond its view of the deployment.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    /// Index, in the whole spec, of the stage's first step.
    pub first_step: usize,
    /// Each store of the task's state with its changelog topic.
    pub changelogs: Vec<(Store, String)>,
    /// The repartition topics the stage writes: a record with no key goes to the task's
    /// own partition of them, as the embedded engine places it (Kafka's rule for a
    /// null new key kept for a left join, KIP-962), not to a random one.
    pub repartitions: Vec<String>,
}

impl Layout {
    /// The changelog topic of `store`.
    pub fn changelog(&self, store: Store) -> Option<&str> {
        self.changelogs
            .iter()
            .find(|(s, _)| *s == store)
            .map(|(_, t)| t.as_str())
    }
}

/// Creates the repartition topics of `spec` that are not on the cluster (`topics`: what
/// is), with the inputs' `partitions`, as the embedded engine makes them at create; one
/// there with another count is an error naming it.
pub fn ensure_repartitions(
    admin: &dyn Admin,
    topics: &[TopicInfo],
    spec: &PipelineSpec,
    partitions: i32,
) -> Result<(), AttachedError> {
    for r in spec.repartitions() {
        match topics.iter().find(|t| t.name == r.topic) {
            Some(t) if t.partitions == partitions => {}
            Some(t) => {
                return Err(AttachedError::RepartitionPartitions {
                    topic: r.topic,
                    found: t.partitions,
                    want: partitions,
                });
            }
            None => match admin.create_topic(&r.topic, partitions, &BTreeMap::new()) {
                Ok(()) | Err(ClusterError::TopicExists { .. }) => {}
                Err(e) => return Err(e.into()),
            },
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_stages_add_their_name_and_write_their_group_bys_topics() {
        let spec: PipelineSpec = serde_json::from_value(serde_json::json!({
            "name": "p", "inputs": ["in"], "output": "out",
            "steps": [{"op": "group_by", "module": "a"}, {"module": "f"},
                      {"name": "again", "op": "group_by", "module": "b"}, {"op": "count"}]
        }))
        .unwrap();
        let stages = Staged::of(&spec);
        assert_eq!(stages.len(), 3);
        let [up, mid, down] = [stages[0], stages[1], stages[2]];
        assert_eq!(up.group_id("g", "p"), "g.p");
        assert_eq!(mid.group_id("g", "p"), "g.p:middle_1");
        assert_eq!(down.group_id("g", "p"), "g.p:downstream");
        assert_eq!(up.transactional_id("g", "p", "n"), "g.p.n");
        assert_eq!(down.transactional_id("g", "p", "n"), "g.p:downstream.n");
        assert_eq!(up.tree("p", 2), "p/2");
        assert_eq!(down.tree("p", 2), "p/2/after-group-by");
        assert_eq!(up.repartitions(&spec), ["p-0-repartition"]);
        assert_eq!(mid.repartitions(&spec), ["p-again-repartition"]);
        assert!(down.repartitions(&spec).is_empty());
        assert_eq!(mid.inputs(&spec), ["p-0-repartition"]);
        assert_eq!(down.first_step(&spec), 3);
        assert!(up.reads_inputs() && !mid.reads_inputs() && !down.reads_inputs());
        let whole: PipelineSpec = serde_json::from_value(serde_json::json!({
            "name": "w", "inputs": ["in"], "output": "out", "steps": [{"op": "count"}]
        }))
        .unwrap();
        let only = Staged::of(&whole);
        assert_eq!(only.len(), 1);
        assert_eq!(only[0].key("w"), "w");
        assert!(only[0].repartitions(&whole).is_empty());
    }
}
