//! `connector.class` resolved to a loaded plugin (built-ins by name or Connect's class name,
//! uploads as `module:NAME@VERSION`), the installed plugins, and instances for config calls.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::pipeline::logs::PipelineLogs;
use crate::runtime::connector::ConfigDef;
use crate::runtime::net::NetState;
use crate::runtime::{ConnectorInstance, Limits, Plugin};

use super::super::config::ConnectorSettings;
use super::super::error::ConnectError;
use super::super::state::ConnectorType;
use super::super::store::StoredConnector;
use super::validate::common_defs;

use super::{CONNECT_CLASSES, Connectors, PluginInfo, kind_of};

impl Connectors {
    /// Loads the plugin `class` names: a built-in (by plugin name, or Connect's class name or
    /// its short alias) or `module:NAME@VERSION` (`module:NAME`: the newest version).
    pub fn resolve(&self, class: &str) -> Result<(Arc<Plugin>, PluginInfo), ConnectError> {
        let runtime = self.pipelines.runtime();
        let (key, plugin, shown, version) = if let Some(m) = class.strip_prefix("module:") {
            let (name, version) = match m.split_once('@') {
                Some((n, v)) => match v.parse::<u32>() {
                    Ok(v) => (n, Some(v)),
                    Err(_) => {
                        return Err(ConnectError::BadRequest(format!(
                            "connector.class {class:?}: the version after '@' must be a number"
                        )));
                    }
                },
                None => (m, None),
            };
            let (module, bytes) = self.pipelines.module_bytes(name, version)?;
            let key = format!("module:{}@{}", module.name, module.version);
            let cached = self.loaded.lock().get(&key).cloned();
            let plugin = match cached {
                Some(p) => p,
                None => runtime.load(&key, &bytes)?,
            };
            (key.clone(), plugin, key, module.version.to_string())
        } else {
            let simple = class.rsplit('.').next().unwrap_or(class);
            let name = simple.strip_suffix("Connector").unwrap_or(simple);
            // A class whose simple name is not the plugin's (Confluent's JDBC sink).
            let name = CONNECT_CLASSES
                .iter()
                .find(|(_, c)| *c == class)
                .map_or(name, |(n, _)| *n);
            let builtin = self
                .pipelines
                .plugins()
                .get(name)
                .filter(|p| p.world.ends_with("-connector"))
                .cloned()
                .ok_or_else(|| ConnectError::UnknownClass {
                    class: class.to_string(),
                    available: self
                        .plugins()
                        .iter()
                        .map(|p| p.class.clone())
                        .collect::<Vec<_>>()
                        .join(", "),
                })?;
            let key = format!("builtin:{}", builtin.name);
            let cached = self.loaded.lock().get(&key).cloned();
            let plugin = match cached {
                Some(p) => p,
                None => runtime.load_file(&builtin.path)?,
            };
            let shown = CONNECT_CLASSES
                .iter()
                .find(|(n, _)| *n == builtin.name)
                .map_or(builtin.name.clone(), |(_, c)| c.to_string());
            (key, plugin, shown, builtin.version.clone())
        };
        let kind = kind_of(plugin.world()).ok_or_else(|| {
            ConnectError::Runtime(crate::runtime::RuntimeError::NotAConnector {
                plugin: class.to_string(),
                world: plugin.world().name(),
            })
        })?;
        self.loaded.lock().insert(key, plugin.clone());
        Ok((
            plugin,
            PluginInfo {
                class: shown,
                kind,
                version,
            },
        ))
    }

    /// The installed connector plugins (built-ins; uploaded modules are named by
    /// `module:NAME@VERSION`).
    pub fn plugins(&self) -> Vec<PluginInfo> {
        self.pipelines
            .plugins()
            .list()
            .iter()
            .filter_map(|p| {
                let kind = match p.world {
                    "source-connector" => ConnectorType::Source,
                    "sink-connector" => ConnectorType::Sink,
                    _ => return None,
                };
                let class = CONNECT_CLASSES
                    .iter()
                    .find(|(n, _)| *n == p.name)
                    .map_or(p.name.clone(), |(_, c)| c.to_string());
                Some(PluginInfo {
                    class,
                    kind,
                    version: p.version.clone(),
                })
            })
            .chain(
                super::super::mirror::CLASSES
                    .iter()
                    .map(|(k, _)| super::mirror::info(*k)),
            )
            .collect()
    }

    pub(super) fn instance(
        &self,
        plugin: &Arc<Plugin>,
        config: &BTreeMap<String, String>,
        logs: Arc<PipelineLogs>,
    ) -> Result<ConnectorInstance, ConnectError> {
        Ok(ConnectorInstance::new(
            plugin.clone(),
            config.clone(),
            &[],
            &Default::default(),
            NetState::default(),
            Limits::default(),
            logs,
        )?)
    }

    /// The config keys of plugin `class`: the common ones, then the plugin's.
    pub fn plugin_config(&self, class: &str) -> Result<Vec<ConfigDef>, ConnectError> {
        if super::super::mirror::MirrorKind::of(class).is_some() {
            return Ok(Self::mirror_defs());
        }
        let (plugin, info) = self.resolve(class)?;
        let mut inst = self.instance(&plugin, &BTreeMap::new(), Arc::default())?;
        let mut defs = common_defs(info.kind);
        defs.extend(inst.config_defs()?);
        Ok(defs)
    }

    /// A stored connector's plugin (by its `connector.class`) and its settings, checked.
    pub(super) fn resolve_stored(
        &self,
        stored: &StoredConnector,
    ) -> Result<(Arc<Plugin>, PluginInfo, ConnectorSettings), ConnectError> {
        self.resolve_config(&stored.config)
    }

    /// The plugin a config's `connector.class` names, and its settings, checked.
    pub(super) fn resolve_config(
        &self,
        config: &BTreeMap<String, String>,
    ) -> Result<(Arc<Plugin>, PluginInfo, ConnectorSettings), ConnectError> {
        let class = config.get("connector.class").map_or("", |c| c.trim());
        let (plugin, info) = self.resolve(class)?;
        let settings = ConnectorSettings::parse(config, Some(info.kind)).map_err(|issues| {
            ConnectError::InvalidConfig {
                errors: issues
                    .into_iter()
                    .map(|(k, m)| format!("{k}: {m}"))
                    .collect(),
            }
        })?;
        Ok((plugin, info, settings))
    }
}
