//! `weir mirror create -f FILE`: a MirrorMaker 2 properties file (`clusters = a, b`,
//! `a.bootstrap.servers = ...`, `a->b.enabled = true`, `a->b.topics = ...`) turned into the
//! MirrorSource, MirrorCheckpoint and MirrorHeartbeat connectors of each enabled flow, created
//! through the Connect REST API (the HTTP API only, as every command).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::client::Client;
use super::connector::parse_properties;

/// `weir mirror ...`.
#[derive(Debug, clap::Subcommand)]
pub enum MirrorCommand {
    /// Create the connectors of every enabled flow (`a->b.enabled = true`) of an MM2
    /// properties file.
    Create {
        /// The MM2 properties file.
        #[arg(short = 'f', long = "file", value_name = "FILE")]
        file: PathBuf,
    },
}

/// MM2's connectors, with the suffix of the names weir gives them.
const CONNECTORS: [(&str, &str); 3] = [
    (
        "org.apache.kafka.connect.mirror.MirrorSourceConnector",
        "source",
    ),
    (
        "org.apache.kafka.connect.mirror.MirrorCheckpointConnector",
        "checkpoint",
    ),
    (
        "org.apache.kafka.connect.mirror.MirrorHeartbeatConnector",
        "heartbeat",
    ),
];

/// Whether a top-level key is a client connection setting both clusters inherit (MM2's
/// `MirrorClientConfig` client keys: security protocol, SSL and SASL).
fn client_key(k: &str) -> bool {
    k == "security.protocol" || k.starts_with("ssl.") || k.starts_with("sasl.")
}

/// The connectors an MM2 properties file asks for: `(name, config)`, per enabled flow in
/// the order of `clusters`. Settings apply as MM2 layers them: top-level keys, then the
/// flow's `{source}->{target}.*` keys; each cluster's `{alias}.*` keys become the connector's
/// `source.cluster.*` / `target.cluster.*`.
pub fn connectors_of(
    props: &BTreeMap<String, String>,
) -> anyhow::Result<Vec<(String, BTreeMap<String, String>)>> {
    let clusters: Vec<String> = props
        .get("clusters")
        .context("the file names no clusters (clusters = a, b)")?
        .split(',')
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .collect();
    if clusters.len() < 2 {
        bail!(
            "clusters names {} cluster(s): a flow needs two",
            clusters.len()
        );
    }
    let flow_key = |k: &str| k.split_once("->").is_some_and(|(a, _)| !a.contains('.'));
    let cluster_key = |k: &str| {
        k.split_once('.')
            .is_some_and(|(a, _)| clusters.iter().any(|c| c == a))
    };
    for (k, _) in props.iter().filter(|(k, _)| flow_key(k)) {
        let (a, rest) = k.split_once("->").unwrap_or_default();
        let b = rest.split_once('.').map_or(rest, |(b, _)| b);
        for alias in [a, b] {
            if !clusters.iter().any(|c| c == alias) {
                bail!("{k}: cluster {alias:?} is not in clusters");
            }
        }
    }
    let base: BTreeMap<String, String> = props
        .iter()
        .filter(|(k, _)| k.as_str() != "clusters" && !flow_key(k) && !cluster_key(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut out = Vec::new();
    for src in &clusters {
        for tgt in &clusters {
            let flow = format!("{src}->{tgt}.");
            let enabled = props
                .get(&format!("{flow}enabled"))
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
            if src == tgt || !enabled {
                continue;
            }
            for alias in [src, tgt] {
                if !props.contains_key(&format!("{alias}.bootstrap.servers")) {
                    bail!("{src}->{tgt} is enabled but {alias}.bootstrap.servers is not set");
                }
            }
            let mut config = base.clone();
            for (k, v) in props {
                if let Some(key) = k.strip_prefix(&flow)
                    && key != "enabled"
                {
                    config.insert(key.to_string(), v.clone());
                }
                for (alias, side) in [(src, "source"), (tgt, "target")] {
                    if let Some(key) = k.strip_prefix(&format!("{alias}."))
                        && !k.contains("->")
                    {
                        config.insert(format!("{side}.cluster.{key}"), v.clone());
                    }
                }
            }
            // MM2 (`MirrorMakerConfig.clusterProps`): each cluster inherits a top-level client
            // setting key by key, unless it sets that key itself.
            for (k, v) in &base {
                if client_key(k) {
                    for side in ["source", "target"] {
                        config
                            .entry(format!("{side}.cluster.{k}"))
                            .or_insert_with(|| v.clone());
                    }
                }
            }
            config.insert("source.cluster.alias".into(), src.clone());
            config.insert("target.cluster.alias".into(), tgt.clone());
            for (class, suffix) in CONNECTORS {
                let name = format!("mirror-{src}-{tgt}-{suffix}");
                let mut c = config.clone();
                c.insert("connector.class".into(), class.into());
                c.insert("name".into(), name.clone());
                out.push((name, c));
            }
        }
    }
    if out.is_empty() {
        bail!(
            "no flow is enabled: add e.g. {}->{}.enabled = true",
            clusters[0],
            clusters[1]
        );
    }
    Ok(out)
}

/// Runs one `weir mirror` command.
pub fn run(client: &Client, cmd: MirrorCommand) -> anyhow::Result<()> {
    match cmd {
        MirrorCommand::Create { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let props = parse_properties(&text)?;
            for (name, config) in connectors_of(&props)? {
                let _: Value = client
                    .post(&["connectors"], &json!({"name": name, "config": config}))
                    .with_context(|| format!("creating {name}"))?;
                println!("{name}");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(text: &str) -> BTreeMap<String, String> {
        parse_properties(text).unwrap()
    }

    #[test]
    fn flows_layer_top_level_then_flow_keys() {
        let p = props(
            "clusters = a, b\na.bootstrap.servers = h1:1\nb.bootstrap.servers = h2:2\n\
             b.security.protocol = SSL\na->b.enabled = true\na->b.topics = orders.*\n\
             b->a.enabled = false\noffset.lag.max = 10\ntopics = .*\n",
        );
        let c = connectors_of(&p).unwrap();
        let names: Vec<&str> = c.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "mirror-a-b-source",
                "mirror-a-b-checkpoint",
                "mirror-a-b-heartbeat"
            ]
        );
        let s = &c[0].1;
        assert_eq!(
            s["connector.class"],
            "org.apache.kafka.connect.mirror.MirrorSourceConnector"
        );
        assert_eq!(s["source.cluster.alias"], "a");
        assert_eq!(s["target.cluster.alias"], "b");
        assert_eq!(s["source.cluster.bootstrap.servers"], "h1:1");
        assert_eq!(s["target.cluster.bootstrap.servers"], "h2:2");
        assert_eq!(s["target.cluster.security.protocol"], "SSL");
        assert_eq!(s["topics"], "orders.*", "the flow's key wins");
        assert_eq!(s["offset.lag.max"], "10");
        assert!(!s.contains_key("enabled") && !s.contains_key("clusters"));
    }

    #[test]
    fn top_level_client_settings_reach_both_clusters_unless_set_per_cluster() {
        let p = props(
            "clusters = a, b\na.bootstrap.servers = h1:1\nb.bootstrap.servers = h2:2\n\
             security.protocol = SASL_SSL\nsasl.mechanism = PLAIN\nsasl.username = u\n\
             b.sasl.username = v\nssl.ca.location = /ca.pem\nconsumer.x = 1\n\
             a->b.enabled = true\n",
        );
        let c = connectors_of(&p).unwrap();
        let s = &c[0].1;
        for side in ["source", "target"] {
            assert_eq!(s[&format!("{side}.cluster.security.protocol")], "SASL_SSL");
            assert_eq!(s[&format!("{side}.cluster.sasl.mechanism")], "PLAIN");
            assert_eq!(s[&format!("{side}.cluster.ssl.ca.location")], "/ca.pem");
            assert!(!s.contains_key(&format!("{side}.cluster.consumer.x")));
        }
        assert_eq!(s["source.cluster.sasl.username"], "u");
        assert_eq!(
            s["target.cluster.sasl.username"], "v",
            "the cluster's own key wins"
        );
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let e = |t: &str| connectors_of(&props(t)).unwrap_err().to_string();
        assert!(e("topics = x\n").contains("no clusters"));
        assert!(
            e("clusters = a, b\na.bootstrap.servers = h:1\nb.bootstrap.servers = h:2\n")
                .contains("no flow is enabled")
        );
        assert!(e("clusters = a, b\na->c.enabled = true\n").contains("\"c\" is not in clusters"));
        assert!(
            e("clusters = a, b\na.bootstrap.servers = h:1\na->b.enabled = true\n")
                .contains("b.bootstrap.servers is not set")
        );
    }
}
