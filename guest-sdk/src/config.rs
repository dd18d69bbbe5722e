//! Typed access to the plugin's configuration.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::OnceLock;

use crate::Error;

/// The configuration the plugin was deployed with; read once per instance, then cached.
#[derive(Debug, Clone, Default)]
pub struct Config {
    entries: BTreeMap<String, String>,
}

static CONFIG: OnceLock<Config> = OnceLock::new();

impl Config {
    /// The instance's configuration (fetched from the host on first use).
    pub fn get_global() -> &'static Config {
        CONFIG.get_or_init(|| Config {
            entries: crate::bindings::weir::plugin::config::entries()
                .into_iter()
                .collect(),
        })
    }

    /// A configuration from explicit entries (for unit tests of plugin logic).
    pub fn from_entries<K: Into<String>, V: Into<String>>(
        entries: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Config {
            entries: entries
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(String::as_str)
    }

    /// The value of `key`, or an error naming the missing key.
    pub fn require(&self, key: &str) -> Result<&str, Error> {
        self.get(key)
            .ok_or_else(|| Error::invalid_config(format!("missing config key `{key}`")))
    }

    /// The value of `key` parsed as `T`; `None` when unset, an error when unparsable.
    pub fn parse<T: FromStr>(&self, key: &str) -> Result<Option<T>, Error>
    where
        T::Err: std::fmt::Display,
    {
        self.get(key)
            .map(|v| {
                v.parse::<T>()
                    .map_err(|e| Error::invalid_config(format!("config key `{key}` = `{v}`: {e}")))
            })
            .transpose()
    }

    /// Every entry, sorted by key.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}
