//! The names attached mode gives things on the cluster: consumer groups, transactional ids,
//! changelog topics. Published: users grant ACLs and watch lag by them.

use crate::pipeline::PipelineSpec;
use crate::pipeline::spec::SOURCE_SLOT_BASE;

/// The consumer group of a pipeline's tasks: `<group>.<pipeline>` (the node's `--group`,
/// a dot, the pipeline's name), one group per pipeline so each splits its own inputs'
/// partitions among the nodes, as a Kafka Streams application's `application.id` does.
pub fn group_id(group: &str, pipeline: &str) -> String {
    format!("{group}.{pipeline}")
}

/// The `transactional.id` of one node's producer for one pipeline:
/// `<group>.<pipeline>.<node>`. Stable across the node's restarts (the node id is kept in
/// its data directory), so a restarted node fences its own zombie; different per node,
/// as Kafka Streams' EOS v2 has one producer per instance.
pub fn transactional_id(group: &str, pipeline: &str, node: &str) -> String {
    format!("{group}.{pipeline}.{node}")
}

/// The compacted topic a step's state is changelogged to: `<pipeline>-<step>-changelog`,
/// `<step>` being the step's name, else its index (the repartition topics' rule).
pub fn changelog_topic(spec: &PipelineSpec, step: usize) -> String {
    let name = spec
        .steps
        .get(step)
        .and_then(|s| s.name.clone())
        .unwrap_or_else(|| step.to_string());
    format!("{}-{name}-changelog", spec.name)
}

/// The changelog of a task's state slot: a step's ([`changelog_topic`]), or a table
/// source's rows (slots from [`SOURCE_SLOT_BASE`], in the sources' name order):
/// `<pipeline>-<source>-changelog`.
pub fn slot_changelog_topic(spec: &PipelineSpec, slot: usize) -> String {
    match slot
        .checked_sub(SOURCE_SLOT_BASE)
        .and_then(|s| spec.sources.keys().nth(s))
    {
        Some(source) => format!("{}-{source}-changelog", spec.name),
        None => changelog_topic(spec, slot),
    }
}

/// The compacted topic a processor step's window and session stores and stream clock are
/// changelogged to: `<pipeline>-<step>-windows-changelog`. A topic of their own, as Kafka
/// Streams has one per store: in the step's plain changelog a window key could equal a
/// plain key and compaction would keep only one of them.
pub fn windows_changelog_topic(spec: &PipelineSpec, step: usize) -> String {
    let plain = changelog_topic(spec, step);
    let base = plain.strip_suffix("-changelog").unwrap_or(&plain);
    format!("{base}-windows-changelog")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_documented_patterns() {
        assert_eq!(group_id("g", "p"), "g.p");
        assert_eq!(transactional_id("g", "p", "n1"), "g.p.n1");
        let mut spec: PipelineSpec = serde_json::from_value(serde_json::json!({
            "name": "counts", "inputs": ["in"], "output": "out",
            "steps": [{"module": "a"}, {"name": "tally", "module": "b"}]
        }))
        .unwrap();
        assert_eq!(changelog_topic(&spec, 0), "counts-0-changelog");
        assert_eq!(changelog_topic(&spec, 1), "counts-tally-changelog");
        assert_eq!(
            windows_changelog_topic(&spec, 1),
            "counts-tally-windows-changelog"
        );
        let with_source: PipelineSpec = serde_json::from_value(serde_json::json!({
            "name": "j", "sources": {"a": {"topic": "a", "as": "table"},
                "b": {"topic": "b", "as": "table"}},
            "output": "out", "steps": [{"op": "join", "left": "a", "right": "b"}]
        }))
        .unwrap();
        assert_eq!(
            slot_changelog_topic(&with_source, SOURCE_SLOT_BASE + 1),
            "j-b-changelog"
        );
        assert_eq!(slot_changelog_topic(&with_source, 0), "j-0-changelog");
        spec.name = "x".into();
        assert_eq!(changelog_topic(&spec, 1), "x-tally-changelog");
    }
}
