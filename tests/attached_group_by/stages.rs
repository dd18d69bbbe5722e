//! Waits on an attached pipeline with `group_by`: `GET /v1/cluster` lists one group per
//! stage (`stage` names every one past the first).

use std::time::Duration;

use serde_json::Value;

use crate::cluster::Node;
use crate::common::wait_until;

/// The groups of `pipeline`'s stages as `node` lists them: (stage, group, members, each
/// task's (topic, lag)).
pub type Groups = Vec<(String, String, usize, Vec<(String, Value)>)>;

/// `pipeline`'s groups as `node` sees them.
pub fn groups(node: &Node, pipeline: &str) -> Groups {
    let (_, view) = node.get("/v1/cluster");
    view["pipelines"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["name"] == pipeline)
        .map(|p| {
            let members = p["members"].as_array().cloned().unwrap_or_default();
            let tasks = members
                .iter()
                .flat_map(|m| m["tasks"].as_array().cloned().unwrap_or_default())
                .map(|t| {
                    (
                        t["topic"].as_str().unwrap_or("").to_string(),
                        t["lag"].clone(),
                    )
                })
                .collect();
            (
                p["stage"].as_str().unwrap_or("upstream").to_string(),
                p["group"].as_str().unwrap_or("").to_string(),
                members.len(),
                tasks,
            )
        })
        .collect()
}

/// Whether a task of `topic` lagging `lag` has read everything it will be asked about:
/// an input's lag is exact, but a repartition topic, written in transactions, ends with
/// commit (and, after a kill, abort) markers its group's committed offset (the next
/// record's) stays before, so its lag says nothing. Records of one repartition partition
/// keep the order the upstream task wrote them in, and exact results are asserted on the
/// outputs: this only says when to look.
fn settled(topic: &str, lag: &Value) -> bool {
    topic.ends_with("-repartition") || *lag == 0
}

/// Waits until `pipeline` has exactly the groups `stages` (stage name, topic partitions
/// its tasks cover), each with `members` members, none lagging ([`settled`]).
pub fn caught_up(node: &Node, pipeline: &str, members: usize, stages: &[(&str, usize)]) {
    let mut last = Vec::new();
    let ok = wait_until(Duration::from_secs(90), || {
        last = groups(node, pipeline);
        last.len() == stages.len()
            && stages.iter().all(|(stage, tasks)| {
                last.iter().any(|(s, _, m, ts)| {
                    s == stage
                        && *m == members
                        && ts.len() == *tasks
                        && ts.iter().all(|(topic, lag)| settled(topic, lag))
                })
            })
    });
    assert!(ok, "{pipeline} never caught up attached: {last:?}");
}
