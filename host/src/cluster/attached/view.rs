//! What `GET /v1/cluster` shows in attached mode: this node, the shared catalog as it
//! has read it ([`CatalogView`]: records applied, skipped by why, each topic's lag), and
//! per pipeline its group's members (DescribeGroups through the admin client), their
//! tasks (pipeline × partition) and each task's lag (end offset − committed offset).

use std::sync::Weak;

use serde::Serialize;

use super::names::group_id;
use super::{Attached, AttachedError, PipelineView};
use crate::cluster::catalog::CatalogView;

/// The cluster as this node sees it.
#[derive(Debug, Serialize)]
pub struct ClusterView {
    /// `attached`.
    pub mode: &'static str,
    /// This node's id (its clients' `client.id`).
    pub node: String,
    /// The nodes' group.
    pub group: String,
    /// The cluster's bootstrap list.
    pub bootstrap: String,
    /// The shared catalog as this node has read it (`None`: not open yet).
    pub catalog: Option<CatalogView>,
    /// Each pipeline this node runs.
    pub pipelines: Vec<PipelineMembers>,
}

/// One pipeline's group (one per stage of a pipeline with `group_by`).
#[derive(Debug, Serialize)]
pub struct PipelineMembers {
    /// The pipeline.
    pub name: String,
    /// The stage past the first (`middle_1`, `downstream`) whose group this is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// Its consumer group on the cluster.
    pub group: String,
    /// The group's members and their tasks.
    pub members: Vec<MemberView>,
    /// What this node holds of it.
    pub local: PipelineView,
}

/// One member of a pipeline's group.
#[derive(Debug, Serialize)]
pub struct MemberView {
    /// The node it runs on (its `client.id`).
    pub node: String,
    /// Its member id.
    pub member: String,
    /// The host it connects from.
    pub host: String,
    /// Its tasks.
    pub tasks: Vec<TaskLag>,
}

/// One task and its lag.
#[derive(Debug, Serialize)]
pub struct TaskLag {
    /// The pipeline.
    pub pipeline: String,
    /// The input topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// Records past the group's committed offset (`None`: unknown).
    pub lag: Option<i64>,
}

impl Attached {
    /// The cluster as this node sees it (blocking: admin calls).
    pub fn view(&self) -> Result<ClusterView, AttachedError> {
        let node = &self.0;
        let locals: Vec<(String, PipelineView)> = node
            .views
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let admin = node.plain.admin()?;
        let mut pipelines = Vec::new();
        for (key, local) in locals {
            // A later stage's member shows itself as `<pipeline>:<stage>` (`stage.rs`).
            let group = group_id(&node.config.group, &key);
            let (name, stage) = match key.split_once(':') {
                Some((name, stage)) => (name.to_string(), Some(stage.to_string())),
                None => (key, None),
            };
            let members = admin.group_members(&group)?;
            let assigned: Vec<(String, i32)> =
                members.iter().flat_map(|m| m.assignment.clone()).collect();
            let committed = admin.group_offsets(&group, &assigned)?;
            let mut views = Vec::new();
            for m in members {
                let mut tasks = Vec::new();
                for (topic, partition) in m.assignment {
                    let end = admin.watermarks(&topic, partition).ok().map(|(_, hi)| hi);
                    let at = committed
                        .iter()
                        .find(|o| o.topic == topic && o.partition == partition)
                        .map(|o| o.offset);
                    let lag = match (end, at) {
                        (Some(end), Some(at)) => Some((end - at).max(0)),
                        (Some(end), None) => Some(end),
                        _ => None,
                    };
                    tasks.push(TaskLag {
                        pipeline: name.clone(),
                        topic,
                        partition,
                        lag,
                    });
                }
                views.push(MemberView {
                    node: m.client_id,
                    member: m.member,
                    host: m.host,
                    tasks,
                });
            }
            pipelines.push(PipelineMembers {
                name,
                stage,
                group,
                members: views,
                local,
            });
        }
        let catalog = match node.catalog.get().and_then(Weak::upgrade) {
            Some(c) => Some(c.view()?),
            None => None,
        };
        Ok(ClusterView {
            mode: "attached",
            catalog,
            node: node.node.clone(),
            group: node.config.group.clone(),
            bootstrap: node.config.props.bootstrap().to_string(),
            pipelines,
        })
    }
}
