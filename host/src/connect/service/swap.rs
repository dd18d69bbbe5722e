//! The hot-swap of a running connector's plugin (`PUT`/`PATCH .../config` changing only
//! `connector.class`, e.g. `module:NAME@1` to `module:NAME@2`): each task takes the new
//! version at its next clean boundary, without a restart; if any task's new version fails to
//! start or fails its first call, every task goes back to the old one and the connector keeps
//! running with the failure in its status (see `connect/swap.rs` for the task's side).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::runtime::Plugin;

use super::super::error::ConnectError;
use super::super::state::TargetState;
use super::super::swap::{SwapOutcome, Version};
use super::{ConnectorInfo, Connectors, Entry, PluginInfo, Run};

/// How long a task may take to reach a clean boundary (a poll or a flush ends) before the
/// swap is given up.
const BOUNDARY_WAIT: Duration = Duration::from_secs(30);

/// A swap found possible: the new plugin and its task configs, one per running task.
pub(super) struct SwapPlan {
    plugin: Arc<Plugin>,
    info: PluginInfo,
    task_configs: Vec<BTreeMap<String, String>>,
}

impl Connectors {
    /// Whether `config` can replace `e`'s by a hot-swap: the connector runs, every task is
    /// alive, only `connector.class` changes, to a plugin of the same kind that splits the
    /// work into as many tasks. Anything else is applied by restarting the tasks.
    pub(super) fn swap_plan(
        &self,
        e: &Entry,
        config: &BTreeMap<String, String>,
    ) -> Result<Option<SwapPlan>, ConnectError> {
        let Run::Started {
            info: running,
            tasks,
            ..
        } = &e.run
        else {
            return Ok(None);
        };
        // A mirror connector runs no plugin: any change restarts it.
        if super::mirror::mirror_kind(config).is_some()
            || super::mirror::mirror_kind(&e.stored.config).is_some()
        {
            return Ok(None);
        }
        let class =
            |c: &BTreeMap<String, String>| c.get("connector.class").map(|v| v.trim().to_string());
        let others_same = {
            let strip = |c: &BTreeMap<String, String>| {
                let mut c = c.clone();
                c.remove("connector.class");
                c
            };
            strip(config) == strip(&e.stored.config)
        };
        if e.stored.target != TargetState::Running
            || tasks.is_empty()
            || tasks.iter().any(|t| t.control.state().trace().is_some())
            || !others_same
            || class(config) == class(&e.stored.config)
        {
            return Ok(None);
        }
        let (plugin, info, settings) = self.resolve_config(config)?;
        if info.kind != running.kind {
            return Ok(None);
        }
        let task_configs = self.split(&plugin, config, settings.tasks_max, &e.logs)?;
        if task_configs.len() != tasks.len() {
            return Ok(None);
        }
        Ok(Some(SwapPlan {
            plugin,
            info,
            task_configs,
        }))
    }

    /// Swaps `e`'s tasks to `plan`; on any refusal swaps them all back. Answers the new info,
    /// or why the new version was rolled back.
    pub(super) fn hot_swap(
        &self,
        e: &mut Entry,
        config: BTreeMap<String, String>,
        plan: SwapPlan,
    ) -> Result<ConnectorInfo, ConnectError> {
        let old_plugin = self.resolve_stored(&e.stored)?.0;
        let new_class = config.get("connector.class").cloned().unwrap_or_default();
        let Run::Started {
            info,
            task_configs,
            tasks,
        } = &mut e.run
        else {
            return Err(ConnectError::BadRequest(
                "the connector stopped while it was being swapped".into(),
            ));
        };
        let old_class = info.class.clone();
        for (t, c) in tasks.iter().zip(&plan.task_configs) {
            t.control.swap.order(Version {
                plugin: plan.plugin.clone(),
                config: c.clone(),
            });
        }
        let outcomes: Vec<Option<SwapOutcome>> = tasks
            .iter()
            .map(|t| t.control.swap.wait(BOUNDARY_WAIT))
            .collect();
        let refused = outcomes.iter().enumerate().find_map(|(i, o)| match o {
            Some(SwapOutcome::Swapped) => None,
            Some(SwapOutcome::RolledBack { reason }) => Some(format!("task {i}: {reason}")),
            None => Some(format!(
                "task {i} did not reach a clean boundary within {BOUNDARY_WAIT:?}"
            )),
        });
        let Some(reason) = refused else {
            for (t, c) in tasks.iter_mut().zip(&plan.task_configs) {
                t.config = c.clone();
            }
            *task_configs = plan.task_configs;
            *info = plan.info;
            e.stored.config = config;
            self.store.put(&e.stored)?;
            e.swap_failure = None;
            e.logs
                .note(&format!("swapped from {old_class} to {new_class}"));
            return Ok(Self::info_of(e));
        };
        // Tasks that took the new version go back to the old one, the same way.
        for ((t, c), o) in tasks.iter().zip(task_configs.iter()).zip(&outcomes) {
            if *o == Some(SwapOutcome::Swapped) {
                t.control.swap.order(Version {
                    plugin: old_plugin.clone(),
                    config: c.clone(),
                });
                let _ = t.control.swap.wait(BOUNDARY_WAIT);
            }
        }
        let trace = format!("{new_class} was rolled back to {old_class}: {reason}");
        e.logs.note(&trace);
        tracing::warn!(connector = %e.stored.name, "{trace}");
        e.swap_failure = Some(trace);
        Err(ConnectError::SwapRolledBack {
            name: e.stored.name.clone(),
            class: new_class,
            reason,
        })
    }
}
