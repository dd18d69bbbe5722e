//! Built-in plugins: the Wasm components that ship with weir (`plugins/` in the repository,
//! built by `scripts/build-plugins` into a directory installed beside the binary). Each is a
//! `NAME.wasm` with a `NAME.toml` manifest; the catalog loads every one at start-up (which
//! validates it and tells its world) and lists them for `GET /v1/plugins`.
//!
//! A step names one as `builtin:NAME`: NAME is a plugin's name, or one of the `types` a
//! plugin's manifest lists (one plugin may answer to many: `connect-transforms` to
//! `InsertField$Value` and the other Connect transformations), which the plugin then gets
//! as its config key `type`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::runtime::{Plugin, Runtime};

/// The header a built-in transform sets to route a record to another topic (Connect's
/// RegexRouter and TimestampRouter): the transform world has no topic per record, so the
/// host takes the topic from this header and removes it.
pub const ROUTE_HEADER: &str = "weir.route.topic";

/// Removes every [`ROUTE_HEADER`] from `record`, answering the last one's topic (`None`
/// when it has none, or its value is null or not UTF-8).
pub fn take_route(record: &mut crate::record::Record) -> Option<String> {
    let mut topic = None;
    record.headers.retain(|(k, v)| {
        if k != ROUTE_HEADER {
            return true;
        }
        topic = v
            .as_ref()
            .and_then(|v| std::str::from_utf8(v).ok())
            .map(str::to_owned);
        false
    });
    topic
}

/// A built-in plugin's manifest (`NAME.toml` beside `NAME.wasm`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginManifest {
    /// The plugin's name (the file's stem too).
    pub name: String,
    /// Its version (semver), kept with the WIT package it was built against.
    pub version: String,
    /// One line on what it does.
    pub description: String,
    /// Further names the plugin answers to, each passed to it as the config key `type`.
    #[serde(default)]
    pub types: Vec<String>,
}

/// A built-in plugin, loaded and checked.
#[derive(Debug, Clone, Serialize)]
pub struct BuiltinPlugin {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// What it does.
    pub description: String,
    /// The weir world it exports (`transform` or `processor`).
    pub world: &'static str,
    /// SHA-256 of the component, hex.
    pub digest: String,
    /// Size of the component, bytes.
    pub size: usize,
    /// Where it was loaded from.
    pub path: PathBuf,
    /// The names it answers to besides its own (see the module's doc).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<String>,
    /// The loaded component.
    #[serde(skip)]
    pub plugin: Arc<Plugin>,
}

/// What a built-in name resolves to.
#[derive(Debug, Clone, Copy)]
pub struct Resolved<'a> {
    /// The plugin.
    pub plugin: &'a BuiltinPlugin,
    /// The type it is to run (the config key `type`), when the name was a type's.
    pub type_name: Option<&'a str>,
}

/// Why a built-in plugin was left out of the catalog.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// A file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The manifest is not valid.
    #[error("manifest {path}: {source}")]
    Manifest {
        /// The manifest.
        path: PathBuf,
        /// The TOML error.
        #[source]
        source: toml::de::Error,
    },
    /// The manifest names another plugin than its file.
    #[error("manifest {path} names {name:?}, not its file's stem")]
    NameMismatch {
        /// The manifest.
        path: PathBuf,
        /// The name it gives.
        name: String,
    },
    /// The component does not load as a weir plugin.
    #[error("{path} is not a usable weir plugin: {source}")]
    Unusable {
        /// The component.
        path: PathBuf,
        /// The runtime's error.
        #[source]
        source: crate::runtime::RuntimeError,
    },
}

/// The built-in plugins found in a directory.
#[derive(Debug, Default, Clone)]
pub struct PluginCatalog {
    plugins: Vec<BuiltinPlugin>,
}

impl PluginCatalog {
    /// Loads every `NAME.wasm` with a `NAME.toml` in `dir`, sorted by name. A missing
    /// directory is an empty catalog; a plugin that fails to load is left out with a
    /// warning, so one broken file never keeps the server from starting.
    pub fn load(dir: &Path, runtime: &Runtime) -> PluginCatalog {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return PluginCatalog::default();
        };
        let mut wasm: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
            .collect();
        wasm.sort();
        let mut plugins = Vec::new();
        for path in wasm {
            match load_one(&path, runtime) {
                Ok(p) => plugins.push(p),
                Err(e) => tracing::warn!("built-in plugin left out: {e}"),
            }
        }
        PluginCatalog { plugins }
    }

    /// Every plugin, by name.
    pub fn list(&self) -> &[BuiltinPlugin] {
        &self.plugins
    }

    /// One plugin by name.
    pub fn get(&self, name: &str) -> Option<&BuiltinPlugin> {
        self.plugins.iter().find(|p| p.name == name)
    }

    /// The plugin a built-in name means: a plugin's own name, or a type one lists, by
    /// itself or as the last part of a Java class name (Connect's
    /// `org.apache.kafka.connect.transforms.InsertField$Value` is `InsertField$Value`).
    pub fn resolve(&self, name: &str) -> Option<Resolved<'_>> {
        if let Some(plugin) = self.get(name) {
            return Some(Resolved {
                plugin,
                type_name: None,
            });
        }
        let short = name.rsplit('.').next().unwrap_or(name);
        self.plugins.iter().find_map(|plugin| {
            let t = plugin.types.iter().find(|t| *t == name || *t == short)?;
            Some(Resolved {
                plugin,
                type_name: Some(t),
            })
        })
    }
}

fn load_one(path: &Path, runtime: &Runtime) -> Result<BuiltinPlugin, PluginError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| PluginError::Read {
            path: path.to_path_buf(),
            source,
        })
    };
    let manifest_path = path.with_extension("toml");
    let text = String::from_utf8_lossy(&read(&manifest_path)?).into_owned();
    let manifest: PluginManifest =
        toml::from_str(&text).map_err(|source| PluginError::Manifest {
            path: manifest_path.clone(),
            source,
        })?;
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    if manifest.name != stem {
        return Err(PluginError::NameMismatch {
            path: manifest_path,
            name: manifest.name,
        });
    }
    let bytes = read(path)?;
    let plugin = runtime
        .load(&manifest.name, &bytes)
        .map_err(|source| PluginError::Unusable {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(BuiltinPlugin {
        name: manifest.name,
        version: manifest.version,
        description: manifest.description,
        world: plugin.world().name(),
        digest: plugin.digest().to_string(),
        size: bytes.len(),
        path: path.to_path_buf(),
        types: manifest.types,
        plugin,
    })
}
