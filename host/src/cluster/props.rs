//! [`ClientProps`]: Kafka client properties, passed through to the client as given.

use std::collections::BTreeMap;

use super::error::ClusterError;

/// Connection settings of one cluster as Kafka's client properties (`bootstrap.servers`,
/// `security.protocol`, `sasl.*`, `ssl.*`, `client.id`), checked to name a bootstrap list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientProps {
    props: BTreeMap<String, String>,
}

/// The property prefixes passed through: connection and security settings only, so a
/// Java-only consumer or producer key in a copied MM2 file does not fail the client.
const PASSED: &[&str] = &["security.protocol", "sasl.", "ssl.", "client.id"];

impl ClientProps {
    /// The properties in `config` under `prefix` (e.g. `source.cluster.`), prefix removed:
    /// `bootstrap.servers` (required) and the connection and security keys.
    pub fn from_prefixed(
        config: &BTreeMap<String, String>,
        prefix: &str,
    ) -> Result<ClientProps, ClusterError> {
        let mut props = BTreeMap::new();
        for (k, v) in config {
            let Some(key) = k.strip_prefix(prefix) else {
                continue;
            };
            if key == "bootstrap.servers" || PASSED.iter().any(|p| key.starts_with(p)) {
                props.insert(key.to_string(), v.trim().to_string());
            }
        }
        ClientProps::new(props).map_err(|e| match e {
            ClusterError::Property { key, message } => ClusterError::Property {
                key: format!("{prefix}{key}"),
                message,
            },
            other => other,
        })
    }

    /// `props` as given; `bootstrap.servers` must name at least one `host:port`.
    pub fn new(props: BTreeMap<String, String>) -> Result<ClientProps, ClusterError> {
        let servers = props.get("bootstrap.servers").map_or("", |s| s.trim());
        if servers.is_empty() {
            return Err(ClusterError::Property {
                key: "bootstrap.servers".into(),
                message: "missing: name at least one host:port".into(),
            });
        }
        for s in servers.split(',') {
            let s = s.trim();
            let ok = s
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
            if !ok {
                return Err(ClusterError::Property {
                    key: "bootstrap.servers".into(),
                    message: format!("{s:?} is not host:port"),
                });
            }
        }
        Ok(ClientProps { props })
    }

    /// The bootstrap list.
    pub fn bootstrap(&self) -> &str {
        self.props
            .get("bootstrap.servers")
            .map_or("", |s| s.as_str())
    }

    /// Every property.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.props.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixed_keys_pass_through_and_others_stay_out() {
        let config: BTreeMap<String, String> = [
            ("source.cluster.bootstrap.servers", "127.0.0.1:9092"),
            ("source.cluster.security.protocol", "SASL_PLAINTEXT"),
            ("source.cluster.sasl.mechanism", "SCRAM-SHA-256"),
            ("source.cluster.key.deserializer", "x"),
            ("target.cluster.bootstrap.servers", "127.0.0.1:9093"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let p = ClientProps::from_prefixed(&config, "source.cluster.").unwrap();
        let keys: Vec<&String> = p.iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            ["bootstrap.servers", "sasl.mechanism", "security.protocol"]
        );
        assert_eq!(p.bootstrap(), "127.0.0.1:9092");
    }

    #[test]
    fn a_missing_or_bad_bootstrap_list_names_the_key() {
        let e = ClientProps::from_prefixed(&BTreeMap::new(), "target.cluster.").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("client property target.cluster.bootstrap.servers: missing"),
            "{e}"
        );
        let bad = BTreeMap::from([("bootstrap.servers".to_string(), "nohost".to_string())]);
        assert!(
            ClientProps::new(bad)
                .unwrap_err()
                .to_string()
                .contains("\"nohost\"")
        );
    }
}
