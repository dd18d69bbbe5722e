//! What the REST API reads of connectors: info, task configs, status, logs, topics, and
//! the counters `/metrics` shows.

use super::super::error::ConnectError;
use super::super::sink;
use super::super::source::OFFSETS_TOPIC;
use super::super::state::{ConnectorType, TargetState, TaskState};
use super::super::store;
use super::{
    ConnectorInfo, ConnectorStatus, Connectors, Run, Series, TaskConfig, TaskStatus, unknown,
};

impl Connectors {
    /// Names of every connector.
    pub fn list(&self) -> Vec<String> {
        self.entries.lock().keys().cloned().collect()
    }

    /// A connector's info.
    pub fn get(&self, name: &str) -> Result<ConnectorInfo, ConnectError> {
        self.entries
            .lock()
            .get(name)
            .map(Self::info_of)
            .ok_or_else(|| unknown(name))
    }

    /// A connector's tasks and their configs.
    pub fn tasks(&self, name: &str) -> Result<Vec<TaskConfig>, ConnectError> {
        let entries = self.entries.lock();
        let e = entries.get(name).ok_or_else(|| unknown(name))?;
        Ok(match &e.run {
            Run::Started { task_configs, .. } => task_configs
                .iter()
                .cloned()
                .enumerate()
                .map(|(i, c)| (i as u32, c))
                .collect(),
            Run::Failed { .. } => Vec::new(),
        })
    }

    /// A connector's status.
    pub fn status(&self, name: &str) -> Result<ConnectorStatus, ConnectError> {
        let entries = self.entries.lock();
        let e = entries.get(name).ok_or_else(|| unknown(name))?;
        let (state, tasks) = match &e.run {
            Run::Failed { trace } => (
                TaskState::Failed {
                    trace: trace.clone(),
                },
                Vec::new(),
            ),
            Run::Started { tasks, .. } => (
                match e.stored.target {
                    TargetState::Running => TaskState::Running,
                    TargetState::Paused => TaskState::Paused,
                    TargetState::Stopped => TaskState::Stopped,
                },
                tasks
                    .iter()
                    .map(|t| TaskStatus {
                        id: t.id,
                        state: t.control.state(),
                    })
                    .collect(),
            ),
        };
        Ok(ConnectorStatus {
            name: name.to_string(),
            state,
            tasks,
            kind: e.kind(),
            denied: e.counters.denied.load(std::sync::atomic::Ordering::Relaxed),
            swap_failure: e.swap_failure.clone(),
            mirror: super::mirror::mirror_kind(&e.stored.config)
                .map(|_| e.counters.mirror.figures()),
        })
    }

    /// One task's status.
    pub fn task_status(&self, name: &str, task: u32) -> Result<TaskStatus, ConnectError> {
        self.status(name)?
            .tasks
            .into_iter()
            .find(|t| t.id == task)
            .ok_or(ConnectError::UnknownTask {
                name: name.to_string(),
                task,
            })
    }

    /// A connector's recent log lines (its plugin's and the host's about it).
    pub fn logs(&self, name: &str, n: usize) -> Result<Vec<String>, ConnectError> {
        Ok(self
            .entries
            .lock()
            .get(name)
            .ok_or_else(|| unknown(name))?
            .logs
            .tail(n))
    }

    /// The topics a connector uses (KIP-558): a source's outputs, a sink's inputs.
    pub fn topics(&self, name: &str) -> Result<Vec<String>, ConnectError> {
        let entries = self.entries.lock();
        let e = entries.get(name).ok_or_else(|| unknown(name))?;
        let mut topics = std::collections::BTreeSet::new();
        match e.kind() {
            Some(ConnectorType::Source) => {
                let tree = self.store.tree(name)?;
                let n = match &e.run {
                    Run::Started { task_configs, .. } => task_configs.len() as u32,
                    Run::Failed { .. } => 0,
                };
                for t in 0..n {
                    if let Some(cp) = store::checkpoint(&tree, t)? {
                        topics.extend(cp.sequences.into_keys().filter(|t| t != OFFSETS_TOPIC));
                    }
                }
            }
            Some(ConnectorType::Sink) => {
                if let Ok(rows) = self.broker.group_offsets(&sink::group(name)) {
                    topics.extend(rows.into_iter().map(|r| r.topic));
                }
            }
            None => {}
        }
        Ok(topics.into_iter().collect())
    }

    /// Counters in Prometheus' text format, for `/metrics`.
    pub fn metrics(&self) -> String {
        use std::fmt::Write;
        use std::sync::atomic::Ordering::Relaxed;
        let entries = self.entries.lock();
        let mut out = String::new();
        let series: [Series; 3] = [
            (
                "weir_connector_records_total",
                "Records a connector moved (appended by a source, put by a sink).",
                |c| c.records.load(Relaxed),
            ),
            (
                "weir_connector_skipped_total",
                "Records skipped under errors.tolerance=all.",
                |c| c.skipped.load(Relaxed),
            ),
            (
                "weir_connector_denied_total",
                "Calls refused a capability the connector's weir.allow.* config does not grant.",
                |c| c.denied.load(Relaxed),
            ),
        ];
        let label = |name: &str| name.replace('\\', "\\\\").replace('"', "\\\"");
        for (metric, help, get) in series {
            let _ = writeln!(out, "# HELP {metric} {help}\n# TYPE {metric} counter");
            for (name, e) in entries.iter() {
                let _ = writeln!(
                    out,
                    "{metric}{{connector=\"{}\"}} {}",
                    label(name),
                    get(&e.counters)
                );
            }
        }
        // Mirror connectors' figures under MM2's names (`-` as `_`, as Prometheus wants).
        let mirrors: Vec<(&String, Vec<(&str, i64)>)> = entries
            .iter()
            .filter(|(_, e)| super::mirror::mirror_kind(&e.stored.config).is_some())
            .map(|(n, e)| (n, e.counters.mirror.figures()))
            .collect();
        if let Some((_, first)) = mirrors.first() {
            for (i, (figure, _)) in first.iter().enumerate() {
                let metric = format!("weir_mirror_{}", figure.replace('-', "_"));
                let kind = if figure.ends_with("count") {
                    "counter"
                } else {
                    "gauge"
                };
                let _ = writeln!(
                    out,
                    "# HELP {metric} MirrorMaker 2's {figure}, per mirror connector.\n# TYPE {metric} {kind}"
                );
                for (name, figures) in &mirrors {
                    let _ = writeln!(
                        out,
                        "{metric}{{connector=\"{}\"}} {}",
                        label(name),
                        figures[i].1
                    );
                }
            }
        }
        out
    }
}
