//! Connector and task lifecycles as types: what a user asked for ([`TargetState`]) and
//! where a task is ([`TaskState`]), with Connect's names.

use serde::{Deserialize, Serialize};

/// What a user asked a connector to be: Connect's `initial_state` and `pause` / `resume` /
/// `stop`. Persisted with the config, so a restart of weir brings it back as it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TargetState {
    /// Tasks run.
    Running,
    /// Tasks keep their resources but move nothing.
    Paused,
    /// Tasks are shut down; only now may offsets change.
    Stopped,
}

impl TargetState {
    /// Connect's name.
    pub fn name(self) -> &'static str {
        match self {
            TargetState::Running => "RUNNING",
            TargetState::Paused => "PAUSED",
            TargetState::Stopped => "STOPPED",
        }
    }
}

/// Where a task (or the connector itself) is, as `GET .../status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskState {
    /// Not started yet.
    Unassigned,
    /// Moving records.
    Running,
    /// Paused: holds its instance, moves nothing.
    Paused,
    /// Shut down.
    Stopped,
    /// Ended by an error; `trace` says why.
    Failed {
        /// The failure, as Connect's `trace`.
        trace: String,
    },
    /// Being restarted.
    Restarting,
}

impl TaskState {
    /// Connect's name.
    pub fn name(&self) -> &'static str {
        match self {
            TaskState::Unassigned => "UNASSIGNED",
            TaskState::Running => "RUNNING",
            TaskState::Paused => "PAUSED",
            TaskState::Stopped => "STOPPED",
            TaskState::Failed { .. } => "FAILED",
            TaskState::Restarting => "RESTARTING",
        }
    }

    /// The failure's trace, if failed.
    pub fn trace(&self) -> Option<&str> {
        match self {
            TaskState::Failed { trace } => Some(trace),
            _ => None,
        }
    }
}

/// Whether a connector is a source or a sink (Connect's `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectorType {
    /// Reads from outside into topics.
    Source,
    /// Writes topics outside.
    Sink,
}

impl ConnectorType {
    /// Connect's name.
    pub fn name(self) -> &'static str {
        match self {
            ConnectorType::Source => "source",
            ConnectorType::Sink => "sink",
        }
    }
}
