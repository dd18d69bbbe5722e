//! The built-in mirror connectors in the service: their config checked and validated with
//! MM2's keys rather than a plugin's, and one native task thread each instead of a Wasm
//! plugin's (see [`super::super::mirror`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::pipeline::logs::PipelineLogs;
use crate::runtime::connector::ConfigDef;

use super::super::error::ConnectError;
use super::super::mirror::{self, MirrorKind, MirrorTaskContext};
use super::super::state::{ConnectorType, TargetState};
use super::super::store::StoredConnector;
use super::super::task::{Counters, TaskHandle, Want};
use super::validate::common_defs;
use super::{Connectors, PluginInfo, Run, ValidatedKey};

/// The mirror connector a config's `connector.class` names, if it names one.
pub(super) fn mirror_kind(config: &BTreeMap<String, String>) -> Option<MirrorKind> {
    config
        .get("connector.class")
        .and_then(|c| MirrorKind::of(c))
}

/// How Connect lists a mirror connector.
pub(super) fn info(kind: MirrorKind) -> PluginInfo {
    PluginInfo {
        class: kind.class().to_string(),
        kind: ConnectorType::Source,
        version: mirror::VERSION.to_string(),
    }
}

impl Connectors {
    /// Starts a stored mirror connector: its one task, unless STOPPED.
    pub(super) fn start_mirror(
        &self,
        kind: MirrorKind,
        stored: &StoredConnector,
        logs: &Arc<PipelineLogs>,
        counters: &Arc<Counters>,
        budget: u32,
    ) -> Result<Run, ConnectError> {
        mirror::check(&stored.config)?;
        let mut tasks = Vec::new();
        if stored.target != TargetState::Stopped {
            self.within_caps(&stored.name, 1, budget)?;
            tasks.push(self.mirror_task(kind, stored, logs, counters)?);
        }
        Ok(Run::Started {
            info: info(kind),
            task_configs: vec![stored.config.clone()],
            tasks,
        })
    }

    /// A mirror connector's task thread, started in its target state.
    pub(super) fn mirror_task(
        &self,
        kind: MirrorKind,
        stored: &StoredConnector,
        logs: &Arc<PipelineLogs>,
        counters: &Arc<Counters>,
    ) -> Result<TaskHandle, ConnectError> {
        let config = mirror::check(&stored.config)?;
        let want = if stored.target == TargetState::Paused {
            Want::Pause
        } else {
            Want::Run
        };
        mirror::spawn(
            kind,
            MirrorTaskContext {
                connector: stored.name.clone(),
                config,
                tree: self.store.tree(&stored.name)?,
                logs: logs.clone(),
                metrics: counters.mirror.clone(),
            },
            stored.config.clone(),
            want,
        )
    }

    /// Connect's `config/validate` for a mirror connector: the common keys and MM2's.
    pub(super) fn validate_mirror(
        &self,
        kind: MirrorKind,
        config: &BTreeMap<String, String>,
    ) -> (String, Vec<ValidatedKey>) {
        let issues = match mirror::config::MirrorConfig::parse(config) {
            Ok(_) => Vec::new(),
            Err(i) => i,
        };
        let common = common_defs(ConnectorType::Source);
        let n_common = common.len();
        let keys = common
            .into_iter()
            .chain(mirror::config::defs())
            .enumerate()
            .map(|(i, def)| ValidatedKey {
                errors: issues
                    .iter()
                    .filter(|(k, _)| *k == def.name)
                    .map(|(_, m)| m.clone())
                    .collect(),
                value: config
                    .get(&def.name)
                    .cloned()
                    .or_else(|| def.default_value.clone()),
                group: if i < n_common { "Common" } else { "Connector" },
                def,
            })
            .collect();
        (kind.class().to_string(), keys)
    }

    /// The config keys of a mirror connector.
    pub(super) fn mirror_defs() -> Vec<ConfigDef> {
        let mut defs = common_defs(ConnectorType::Source);
        defs.extend(mirror::config::defs());
        defs
    }
}
