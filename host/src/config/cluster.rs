//! `[cluster]`: attached mode. With `bootstrap.servers` set (or `weir serve --cluster`),
//! the server runs no broker of its own: pipelines read and write that cluster, sharing
//! their tasks with the other nodes of the same `group`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::ConfigError;
use crate::cluster::ClientProps;
use crate::cluster::attached::{AttachedConfig, DEFAULT_SESSION_TIMEOUT_MS};

/// `[cluster]` of `weir.toml`: weir's keys (`group`, `session_timeout_ms`) and the
/// cluster's client properties (`bootstrap.servers`, `security.protocol`, `sasl.*`,
/// `ssl.*`), written as dotted keys as Kafka's properties files have them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct ClusterSection(toml::Table);

/// weir's own keys in `[cluster]`; every other key is a client property.
const GROUP: &str = "group";
const SESSION_TIMEOUT_MS: &str = "session_timeout_ms";

/// Dotted keys (`bootstrap.servers = ...` is a table `bootstrap` in TOML) joined back.
fn flatten(prefix: &str, table: &toml::Table, out: &mut BTreeMap<String, toml::Value>) {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(t) => flatten(&key, t, out),
            v => {
                out.insert(key, v.clone());
            }
        }
    }
}

impl ClusterSection {
    /// Sets a key (`weir serve --cluster` / `--group`).
    pub fn set(&mut self, key: &str, value: &str) {
        let mut parts = key.split('.').peekable();
        let mut table = &mut self.0;
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                table.insert(part.to_string(), toml::Value::String(value.to_string()));
                return;
            }
            let entry = table
                .entry(part.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if !entry.is_table() {
                *entry = toml::Value::Table(toml::Table::new());
            }
            let toml::Value::Table(t) = entry else { return };
            table = t;
        }
    }

    /// Attached mode's settings, or `None` (embedded) when no cluster is named.
    pub fn build(&self, data_dir: &Path) -> Result<Option<AttachedConfig>, ConfigError> {
        let mut keys = BTreeMap::new();
        flatten("", &self.0, &mut keys);
        if keys.is_empty() {
            return Ok(None);
        }
        let invalid = |m: String| ConfigError::Invalid(format!("[cluster] {m}"));
        let group = match keys.remove(GROUP) {
            Some(toml::Value::String(g)) if !g.trim().is_empty() => g.trim().to_string(),
            Some(_) => return Err(invalid("group must be a non-empty string".into())),
            None => {
                return Err(invalid(
                    "group is required with bootstrap.servers (weir serve --group G): nodes \
                     with the same group share the pipelines' tasks"
                        .into(),
                ));
            }
        };
        crate::pipeline::spec::check_name("group", &group).map_err(invalid)?;
        let session_timeout_ms = match keys.remove(SESSION_TIMEOUT_MS) {
            None => DEFAULT_SESSION_TIMEOUT_MS,
            Some(toml::Value::Integer(ms)) if (1_000..=300_000).contains(&ms) => ms as u64,
            Some(v) => {
                return Err(invalid(format!(
                    "session_timeout_ms must be 1000..=300000, not {v}"
                )));
            }
        };
        let mut props = BTreeMap::new();
        for (k, v) in keys {
            let v = match v {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                other => return Err(invalid(format!("{k}: {other} is not a string"))),
            };
            props.insert(k, v);
        }
        let props = ClientProps::new(props).map_err(|e| invalid(e.to_string()))?;
        Ok(Some(AttachedConfig {
            props,
            group,
            session_timeout_ms,
            dir: data_dir.join("attached"),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(text: &str) -> ClusterSection {
        let t: toml::Table = text.parse().unwrap();
        ClusterSection(t)
    }

    #[test]
    fn dotted_keys_are_client_properties_and_group_is_required() {
        let dir = Path::new("/data");
        assert!(section("").build(dir).unwrap().is_none());
        let c = section(
            "bootstrap.servers = \"127.0.0.1:9092\"\ngroup = \"g\"\nsecurity.protocol = \"SASL_SSL\"\nsasl.mechanism = \"PLAIN\"\n",
        )
        .build(dir)
        .unwrap()
        .unwrap();
        assert_eq!(c.group, "g");
        assert_eq!(c.props.bootstrap(), "127.0.0.1:9092");
        assert_eq!(c.props.iter().count(), 3);
        assert_eq!(c.session_timeout_ms, DEFAULT_SESSION_TIMEOUT_MS);
        let e = section("bootstrap.servers = \"h:1\"")
            .build(dir)
            .unwrap_err();
        assert!(e.to_string().contains("group is required"), "{e}");
        let e = section("bootstrap.servers = \"h:1\"\ngroup = \"g\"\nssl.engine.location = \"x\"")
            .build(dir)
            .unwrap_err();
        assert!(e.to_string().contains("ssl.engine.location"), "{e}");
    }

    #[test]
    fn flags_set_the_same_keys() {
        let mut s = ClusterSection::default();
        s.set("bootstrap.servers", "127.0.0.1:1");
        s.set("group", "g");
        let c = s.build(Path::new("/d")).unwrap().unwrap();
        assert_eq!(c.props.bootstrap(), "127.0.0.1:1");
        assert_eq!(c.dir, Path::new("/d/attached"));
    }
}
