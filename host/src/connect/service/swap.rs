//! The hot-swap of a running connector's plugin (`PUT`/`PATCH .../config` changing only
//! `connector.class`, e.g. `module:NAME@1` to `module:NAME@2`): each task takes the new
//! version at its next clean boundary, without a restart; if any task's new version fails to
//! start or fails its first call, every task goes back to the old one and the connector keeps
//! running with the failure in its status (see `connect/swap.rs` for the task's side).
//!
//! A task may take up to [`BOUNDARY_WAIT`] to reach its boundary, so the swap is ordered under
//! the connectors' lock, waited for without it (every other REST call goes on meanwhile), and
//! finished under it again, once the connector is found to be the one that was swapped: a
//! connector deleted, restarted or reconfigured while its swap was pending ends the swap with
//! [`ConnectError::SwapAbandoned`]. While a swap is pending, another config change of the same
//! connector is refused ([`ConnectError::SwapPending`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::runtime::Plugin;

use super::super::error::ConnectError;
use super::super::state::TargetState;
use super::super::swap::{SwapOutcome, Version};
use super::super::task::TaskControl;
use super::{ConnectorInfo, Connectors, Entry, PluginInfo, Run, SwapPhase};

/// How long a task may take to reach a clean boundary (a poll or a flush ends) before the
/// swap is given up.
const BOUNDARY_WAIT: Duration = Duration::from_secs(30);

/// A swap found possible: the new plugin and its task configs, one per running task.
pub(super) struct SwapPlan {
    plugin: Arc<Plugin>,
    info: PluginInfo,
    task_configs: Vec<BTreeMap<String, String>>,
}

/// A swap ordered to every task and not yet answered: what the service needs to finish it
/// once the lock is taken again.
pub(super) struct OrderedSwap {
    plan: SwapPlan,
    /// The tasks it was ordered to, in order: the connector is still the one swapped only
    /// while it runs these very tasks.
    controls: Vec<Arc<TaskControl>>,
    /// The version each task ran before, to go back to.
    old: Vec<Version>,
    old_class: String,
    new_class: String,
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

    /// Orders `plan` to each of `e`'s tasks (under the lock) and marks the swap pending.
    pub(super) fn order_swap(
        &self,
        e: &mut Entry,
        config: &BTreeMap<String, String>,
        plan: SwapPlan,
    ) -> Result<OrderedSwap, ConnectError> {
        let old_plugin = self.resolve_stored(&e.stored)?.0;
        let Run::Started { info, tasks, .. } = &e.run else {
            return Err(ConnectError::BadRequest(
                "the connector stopped while it was being swapped".into(),
            ));
        };
        for (t, c) in tasks.iter().zip(&plan.task_configs) {
            t.control.swap.order(Version {
                plugin: plan.plugin.clone(),
                config: c.clone(),
            });
        }
        e.swap = SwapPhase::Pending;
        let new_class = config.get("connector.class").cloned().unwrap_or_default();
        e.logs.note(&format!(
            "swap to {new_class} ordered to {} task(s); each takes it at its next clean boundary",
            tasks.len()
        ));
        Ok(OrderedSwap {
            controls: tasks.iter().map(|t| t.control.clone()).collect(),
            old: tasks
                .iter()
                .map(|t| Version {
                    plugin: old_plugin.clone(),
                    config: t.config.clone(),
                })
                .collect(),
            old_class: info.class.clone(),
            new_class,
            plan,
        })
    }

    /// Waits for every task's answer without the lock, then finishes the swap under it: the
    /// new version stored, or every task that took it swapped back (again waited for without
    /// the lock). Answers the new info, or why the swap was rolled back or abandoned.
    pub(super) fn finish_swap(
        &self,
        name: &str,
        config: BTreeMap<String, String>,
        order: OrderedSwap,
    ) -> Result<ConnectorInfo, ConnectError> {
        let outcomes = wait_all(&order.controls);
        let refused = outcomes.iter().enumerate().find_map(|(i, o)| match o {
            Some(SwapOutcome::Swapped) => None,
            Some(SwapOutcome::RolledBack { reason }) => Some(format!("task {i}: {reason}")),
            None => Some(format!(
                "task {i} did not reach a clean boundary within {BOUNDARY_WAIT:?}"
            )),
        });
        let OrderedSwap {
            plan,
            controls,
            old,
            old_class,
            new_class,
        } = order;
        let Some(reason) = refused else {
            let mut entries = self.entries.lock();
            let e = still_swapped(&mut entries, name, &controls, &new_class)?;
            // `still_swapped` found the tasks running.
            if let Run::Started {
                info,
                task_configs,
                tasks,
            } = &mut e.run
            {
                for (t, c) in tasks.iter_mut().zip(&plan.task_configs) {
                    t.config = c.clone();
                }
                *task_configs = plan.task_configs;
                *info = plan.info;
            }
            e.stored.config = config;
            e.swap = SwapPhase::Settled;
            e.swap_failure = None;
            self.store.put(&e.stored)?;
            e.logs
                .note(&format!("swapped from {old_class} to {new_class}"));
            return Ok(Self::info_of(e));
        };
        // Tasks that took the new version go back to the old one, the same way.
        let back: Vec<Arc<TaskControl>> = controls
            .iter()
            .zip(old)
            .zip(&outcomes)
            .filter(|(_, o)| **o == Some(SwapOutcome::Swapped))
            .map(|((c, v), _)| {
                c.swap.order(v);
                c.clone()
            })
            .collect();
        let _ = wait_all(&back);
        let mut entries = self.entries.lock();
        let e = still_swapped(&mut entries, name, &controls, &new_class)?;
        let trace = format!("{new_class} was rolled back to {old_class}: {reason}");
        e.logs.note(&trace);
        tracing::warn!(connector = %name, "{trace}");
        e.swap = SwapPhase::Settled;
        e.swap_failure = Some(trace);
        Err(ConnectError::SwapRolledBack {
            name: name.to_string(),
            class: new_class,
            reason,
        })
    }
}

/// Each task's answer, waited for in turn (an order a task never took is withdrawn).
fn wait_all(controls: &[Arc<TaskControl>]) -> Vec<Option<SwapOutcome>> {
    controls
        .iter()
        .map(|c| c.swap.wait(BOUNDARY_WAIT))
        .collect()
}

/// Connector `name`'s entry if it is still the one whose swap to `class` was ordered to
/// `controls`: not deleted, and running those very tasks (a restart or another config
/// would have started new ones).
fn still_swapped<'a>(
    entries: &'a mut BTreeMap<String, Entry>,
    name: &str,
    controls: &[Arc<TaskControl>],
    class: &str,
) -> Result<&'a mut Entry, ConnectError> {
    let abandoned = |reason: &str| ConnectError::SwapAbandoned {
        name: name.to_string(),
        class: class.to_string(),
        reason: reason.to_string(),
    };
    let Some(e) = entries.get_mut(name) else {
        return Err(abandoned("the connector was deleted while it was pending"));
    };
    let same = match &e.run {
        Run::Started { tasks, .. } => {
            tasks.len() == controls.len()
                && tasks
                    .iter()
                    .zip(controls)
                    .all(|(t, c)| Arc::ptr_eq(&t.control, c))
        }
        Run::Failed { .. } => false,
    };
    if !same || e.swap != SwapPhase::Pending {
        // Whatever ended this swap, it is over: a later config change must not find it
        // pending forever.
        e.swap = SwapPhase::Settled;
        return Err(abandoned(
            "the connector was restarted, stopped or reconfigured while it was pending; it runs its stored config",
        ));
    }
    Ok(e)
}
