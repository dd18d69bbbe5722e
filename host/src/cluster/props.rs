//! [`ClientProps`]: Kafka client properties, checked against an allowlist before they reach
//! the client library.

use std::collections::BTreeMap;

use super::error::ClusterError;

/// Connection settings of one cluster as Kafka's client properties (`bootstrap.servers`,
/// `security.protocol`, `sasl.*`, `ssl.*`, `client.id`), checked to name a bootstrap list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientProps {
    props: BTreeMap<String, String>,
}

/// The client keys weir passes to librdkafka. An allowlist, not prefixes: whoever creates a
/// connector is not the server's admin, and librdkafka keys such as `ssl.engine.location`
/// (dlopen a path), `sasl.kerberos.kinit.cmd` (run a command) or `sasl.oauthbearer.*`
/// (outbound requests) would let them act as the server process.
pub const ALLOWED: &[&str] = &[
    "bootstrap.servers",
    "client.id",
    "security.protocol",
    "sasl.mechanism",
    "sasl.mechanisms",
    "sasl.username",
    "sasl.password",
    "ssl.ca.location",
    "ssl.ca.pem",
    "ssl.certificate.location",
    "ssl.certificate.pem",
    "ssl.key.location",
    "ssl.key.pem",
    "ssl.key.password",
    "ssl.endpoint.identification.algorithm",
];

/// Prefixes of connection and security keys: such a key that is not in [`ALLOWED`] is
/// refused, where any other key (a Java consumer or producer setting in a copied MM2 file)
/// is ignored, as it never reaches the client.
const CLIENT_PREFIXES: &[&str] = &["security.", "sasl.", "ssl.", "client."];

/// Why `key` (a connection or security key not in [`ALLOWED`]) is refused: Java-only keys
/// name the librdkafka key to use instead.
fn refusal(key: &str) -> String {
    let instead = match key {
        "ssl.truststore.location" | "ssl.truststore.certificates" => {
            "use ssl.ca.location (a PEM file) or ssl.ca.pem instead"
        }
        "ssl.truststore.password" | "ssl.truststore.type" => {
            "not needed: give the CA as PEM with ssl.ca.location or ssl.ca.pem"
        }
        "ssl.keystore.location" | "ssl.keystore.certificate.chain" | "ssl.keystore.key" => {
            "use ssl.certificate.location and ssl.key.location (PEM files) instead"
        }
        "ssl.keystore.password" => "use ssl.key.password (for the PEM key) instead",
        "ssl.keystore.type" => "not needed: give the certificate and key as PEM",
        "sasl.jaas.config" => "use sasl.username and sasl.password instead",
        _ => "",
    };
    if instead.is_empty() {
        format!(
            "not an allowed client property (allowed: {})",
            ALLOWED.join(", ")
        )
    } else {
        format!("a Java client key librdkafka does not read: {instead}")
    }
}

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
            if ALLOWED.contains(&key) || CLIENT_PREFIXES.iter().any(|p| key.starts_with(p)) {
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

    /// `props` as given; every key must be in [`ALLOWED`] and `bootstrap.servers` must name
    /// at least one `host:port`.
    pub fn new(props: BTreeMap<String, String>) -> Result<ClientProps, ClusterError> {
        if let Some(key) = props.keys().find(|k| !ALLOWED.contains(&k.as_str())) {
            return Err(ClusterError::Property {
                key: key.clone(),
                message: refusal(key),
            });
        }
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

    /// These properties with `key` set to `value`: a client setting weir itself chooses
    /// for one use (a consumer's `session.timeout.ms`, a producer's
    /// `transaction.timeout.ms`), never one a user sent, so outside the allowlist.
    pub fn tuned(mut self, key: &str, value: &str) -> ClientProps {
        self.props.insert(key.to_string(), value.to_string());
        self
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
    fn keys_outside_the_allowlist_are_refused_by_name() {
        for key in [
            "ssl.engine.location",
            "ssl.providers",
            "sasl.kerberos.kinit.cmd",
            "sasl.oauthbearer.method",
            "sasl.oauthbearer.token.endpoint.url",
            "client.dns.lookup",
        ] {
            let config = BTreeMap::from([
                (
                    "source.cluster.bootstrap.servers".to_string(),
                    "127.0.0.1:9092".to_string(),
                ),
                (format!("source.cluster.{key}"), "x".to_string()),
            ]);
            let e = ClientProps::from_prefixed(&config, "source.cluster.").unwrap_err();
            assert!(
                e.to_string().starts_with(&format!(
                    "client property source.cluster.{key}: not an allowed"
                )),
                "{key}: {e}"
            );
        }
    }

    #[test]
    fn java_only_keys_name_the_librdkafka_key_to_use() {
        for (key, hint) in [
            ("ssl.truststore.location", "ssl.ca.location"),
            ("ssl.truststore.password", "ssl.ca.location"),
            ("ssl.keystore.location", "ssl.certificate.location"),
            ("ssl.keystore.password", "ssl.key.password"),
            ("ssl.keystore.type", "PEM"),
        ] {
            let props = BTreeMap::from([
                (
                    "bootstrap.servers".to_string(),
                    "127.0.0.1:9092".to_string(),
                ),
                (key.to_string(), "x".to_string()),
            ]);
            let e = ClientProps::new(props).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("client property {key}: a Java")),
                "{e}"
            );
            assert!(e.contains(hint), "{key}: {e}");
        }
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
