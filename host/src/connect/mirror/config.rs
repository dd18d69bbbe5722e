//! The mirror connectors' config: MM2's keys (`source.cluster.alias`, `topics`,
//! `offset.lag.max`, ...), checked once into [`MirrorConfig`]; every problem names its key.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::cluster::ClientProps;
use crate::runtime::connector::ConfigDef;

use super::filter::NameFilter;
use super::policy::{ReplicationPolicy, offset_syncs_topic};

/// Where the offset-syncs topic lives (`offset-syncs.topic.location`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncsLocation {
    /// On the source cluster (MM2's default).
    Source,
    /// On the target cluster.
    Target,
}

/// A mirror connector's checked config.
#[derive(Debug, Clone)]
pub struct MirrorConfig {
    /// `source.cluster.alias`.
    pub source_alias: String,
    /// `target.cluster.alias`.
    pub target_alias: String,
    /// `source.cluster.*` client properties.
    pub source: ClientProps,
    /// `target.cluster.*` client properties.
    pub target: ClientProps,
    /// `topics` / `topics.exclude`.
    pub topics: NameFilter,
    /// `groups` / `groups.exclude`.
    pub groups: NameFilter,
    /// `replication.policy.class` and `replication.policy.separator`.
    pub policy: ReplicationPolicy,
    /// `offset.lag.max`: how far the downstream offset may drift before a new sync.
    pub offset_lag_max: i64,
    /// `offset-syncs.topic.location`.
    pub syncs_location: SyncsLocation,
    /// `refresh.topics.interval.seconds` (new topics and partitions), when
    /// `refresh.topics.enabled`.
    pub refresh_topics: Option<Duration>,
    /// `sync.topic.configs.interval.seconds`, when `sync.topic.configs.enabled`.
    pub sync_configs: Option<Duration>,
    /// `emit.checkpoints.interval.seconds`, when `emit.checkpoints.enabled`.
    pub checkpoints: Option<Duration>,
    /// `sync.group.offsets.interval.seconds`, when `sync.group.offsets.enabled`.
    pub sync_group_offsets: Option<Duration>,
    /// `emit.heartbeats.interval.seconds`, when `emit.heartbeats.enabled`.
    pub heartbeats: Option<Duration>,
    /// `consumer.poll.timeout.ms`.
    pub poll_timeout: Duration,
    /// `weir.mirror.max.in.flight.bytes`: bytes read and not yet delivered, per task.
    pub max_in_flight_bytes: usize,
}

/// MM2's default `topics.exclude`.
pub const TOPICS_EXCLUDE: &str = ".*[\\-\\.]internal, .*\\.replica, __.*";
/// MM2's default `groups.exclude`.
pub const GROUPS_EXCLUDE: &str = "console-consumer-.*, connect-.*, __.*";
/// The default of `weir.mirror.max.in.flight.bytes`: 64 MiB.
pub const MAX_IN_FLIGHT_BYTES: usize = 64 << 20;

/// The keys with a default, as `config` definitions answer them: name, type, default, doc.
const KEYS: &[(&str, &str, Option<&str>, &str)] = &[
    (
        "source.cluster.alias",
        "STRING",
        None,
        "Alias of the source cluster.",
    ),
    (
        "target.cluster.alias",
        "STRING",
        None,
        "Alias of the target cluster.",
    ),
    (
        "source.cluster.bootstrap.servers",
        "LIST",
        None,
        "The source cluster's bootstrap servers (other source.cluster.* client properties pass through).",
    ),
    (
        "target.cluster.bootstrap.servers",
        "LIST",
        None,
        "The target cluster's bootstrap servers (other target.cluster.* client properties pass through).",
    ),
    (
        "topics",
        "LIST",
        Some(".*"),
        "Topics to replicate: comma-separated regexes.",
    ),
    (
        "topics.exclude",
        "LIST",
        Some(TOPICS_EXCLUDE),
        "Topics not to replicate.",
    ),
    (
        "groups",
        "LIST",
        Some(".*"),
        "Consumer groups to checkpoint.",
    ),
    (
        "groups.exclude",
        "LIST",
        Some(GROUPS_EXCLUDE),
        "Consumer groups not to checkpoint.",
    ),
    (
        "replication.policy.class",
        "CLASS",
        Some("org.apache.kafka.connect.mirror.DefaultReplicationPolicy"),
        "How remote topics are named.",
    ),
    (
        "replication.policy.separator",
        "STRING",
        Some("."),
        "Separator of DefaultReplicationPolicy.",
    ),
    (
        "offset.lag.max",
        "LONG",
        Some("100"),
        "How far the downstream offset may drift before an offset sync is written.",
    ),
    (
        "offset-syncs.topic.location",
        "STRING",
        Some("source"),
        "Where mm2-offset-syncs.<target>.internal lives: source or target.",
    ),
    (
        "refresh.topics.enabled",
        "BOOLEAN",
        Some("true"),
        "Whether new topics and partitions are picked up.",
    ),
    (
        "refresh.topics.interval.seconds",
        "LONG",
        Some("600"),
        "How often topics are listed again.",
    ),
    (
        "sync.topic.configs.enabled",
        "BOOLEAN",
        Some("true"),
        "Whether topic configs are copied.",
    ),
    (
        "sync.topic.configs.interval.seconds",
        "LONG",
        Some("600"),
        "How often topic configs are copied.",
    ),
    (
        "emit.checkpoints.enabled",
        "BOOLEAN",
        Some("true"),
        "Whether checkpoints are written.",
    ),
    (
        "emit.checkpoints.interval.seconds",
        "LONG",
        Some("60"),
        "How often checkpoints are written.",
    ),
    (
        "sync.group.offsets.enabled",
        "BOOLEAN",
        Some("false"),
        "Whether translated offsets are committed to the target for groups with no active members there.",
    ),
    (
        "sync.group.offsets.interval.seconds",
        "LONG",
        Some("60"),
        "How often group offsets are synced.",
    ),
    (
        "emit.heartbeats.enabled",
        "BOOLEAN",
        Some("true"),
        "Whether heartbeats are written.",
    ),
    (
        "emit.heartbeats.interval.seconds",
        "LONG",
        Some("1"),
        "How often heartbeats are written.",
    ),
    (
        "consumer.poll.timeout.ms",
        "LONG",
        Some("1000"),
        "How long a poll of the source waits.",
    ),
    (
        "weir.mirror.max.in.flight.bytes",
        "LONG",
        Some("67108864"),
        "Bytes read from the source and not yet delivered to the target, per task; a larger record fails the task.",
    ),
];

/// The keys as `config` definitions.
pub fn defs() -> Vec<ConfigDef> {
    KEYS.iter()
        .map(|(name, kind, default, doc)| ConfigDef {
            name: name.to_string(),
            kind: kind.to_string(),
            required: default.is_none(),
            default_value: default.map(str::to_string),
            importance: if default.is_none() { "HIGH" } else { "MEDIUM" }.to_string(),
            documentation: doc.to_string(),
        })
        .collect()
}

impl MirrorConfig {
    /// Checks `config`: every problem as `(key, message)`.
    pub fn parse(config: &BTreeMap<String, String>) -> Result<MirrorConfig, Vec<(String, String)>> {
        let mut issues: Vec<(String, String)> = Vec::new();
        let get = |key: &str| -> String {
            config
                .get(key)
                .map(|v| v.trim().to_string())
                .unwrap_or_else(|| {
                    KEYS.iter()
                        .find(|k| k.0 == key)
                        .and_then(|k| k.2)
                        .unwrap_or("")
                        .to_string()
                })
        };
        let mut alias = |key: &str| {
            let v = get(key);
            if v.is_empty() {
                issues.push((key.into(), "Missing required configuration".into()));
            } else if v.contains("->") || v.chars().any(char::is_whitespace) {
                issues.push((key.into(), format!("{v:?} is not a cluster alias")));
            }
            v
        };
        let source_alias = alias("source.cluster.alias");
        let target_alias = alias("target.cluster.alias");
        if !source_alias.is_empty() && source_alias == target_alias {
            issues.push((
                "target.cluster.alias".into(),
                format!("the target is the source ({source_alias})"),
            ));
        }
        let mut props = |prefix: &str| match ClientProps::from_prefixed(config, prefix) {
            Ok(p) => Some(p),
            Err(crate::cluster::ClusterError::Property { key, message }) => {
                issues.push((key, message));
                None
            }
            Err(e) => {
                issues.push((format!("{prefix}bootstrap.servers"), e.to_string()));
                None
            }
        };
        let source = props("source.cluster.");
        let target = props("target.cluster.");
        let filter = |inc: &str, exc: &str, issues: &mut Vec<(String, String)>| {
            NameFilter::new((inc, exc), &get(inc), &get(exc))
                .map_err(|e| {
                    let key = e.split(':').next().unwrap_or(inc).to_string();
                    issues.push((key, e));
                })
                .ok()
        };
        let topics = filter("topics", "topics.exclude", &mut issues);
        let groups = filter("groups", "groups.exclude", &mut issues);
        let policy = ReplicationPolicy::parse(
            &get("replication.policy.class"),
            &get("replication.policy.separator"),
        )
        .map_err(|e| issues.push(("replication.policy.class".into(), e)))
        .ok();
        if get("replication.policy.separator").is_empty() {
            issues.push((
                "replication.policy.separator".into(),
                "must not be empty".into(),
            ));
        }
        let mut number = |key: &str, min: i64, max: i64| -> i64 {
            match get(key).parse::<i64>() {
                Ok(n) if (min..=max).contains(&n) => n,
                _ => {
                    issues.push((
                        key.into(),
                        format!("{:?} is not a whole number from {min} to {max}", get(key)),
                    ));
                    min
                }
            }
        };
        let offset_lag_max = number("offset.lag.max", 0, i64::MAX);
        let secs = |n: i64| Duration::from_secs(n as u64);
        let refresh = secs(number("refresh.topics.interval.seconds", 1, 86_400));
        let configs = secs(number("sync.topic.configs.interval.seconds", 1, 86_400));
        let checkpoints = secs(number("emit.checkpoints.interval.seconds", 1, 86_400));
        let group_sync = secs(number("sync.group.offsets.interval.seconds", 1, 86_400));
        let heartbeats = secs(number("emit.heartbeats.interval.seconds", 1, 86_400));
        let poll_timeout =
            Duration::from_millis(number("consumer.poll.timeout.ms", 1, 60_000) as u64);
        let max_in_flight_bytes = number("weir.mirror.max.in.flight.bytes", 1024, 1 << 30) as usize;
        let mut flag = |key: &str| match get(key).to_ascii_lowercase().as_str() {
            "true" => true,
            "false" => false,
            other => {
                issues.push((key.into(), format!("{other:?} is not true or false")));
                false
            }
        };
        let on = |enabled: bool, d: Duration| enabled.then_some(d);
        let refresh_topics = on(flag("refresh.topics.enabled"), refresh);
        let sync_configs = on(flag("sync.topic.configs.enabled"), configs);
        let checkpoints = on(flag("emit.checkpoints.enabled"), checkpoints);
        let sync_group_offsets = on(flag("sync.group.offsets.enabled"), group_sync);
        let heartbeats = on(flag("emit.heartbeats.enabled"), heartbeats);
        let syncs_location = match get("offset-syncs.topic.location").as_str() {
            "source" => SyncsLocation::Source,
            "target" => SyncsLocation::Target,
            other => {
                issues.push((
                    "offset-syncs.topic.location".into(),
                    format!("{other:?} is not source or target"),
                ));
                SyncsLocation::Source
            }
        };
        match (source, target, topics, groups, policy) {
            (Some(source), Some(target), Some(topics), Some(groups), Some(policy))
                if issues.is_empty() =>
            {
                Ok(MirrorConfig {
                    source_alias,
                    target_alias,
                    source,
                    target,
                    topics,
                    groups,
                    policy,
                    offset_lag_max,
                    syncs_location,
                    refresh_topics,
                    sync_configs,
                    checkpoints,
                    sync_group_offsets,
                    heartbeats,
                    poll_timeout,
                    max_in_flight_bytes,
                })
            }
            _ => Err(issues),
        }
    }

    /// The offset-syncs topic's client properties (where it lives).
    pub fn syncs_cluster(&self) -> &ClientProps {
        match self.syncs_location {
            SyncsLocation::Source => &self.source,
            SyncsLocation::Target => &self.target,
        }
    }

    /// The offset-syncs topic's name: MM2 names it after the cluster it does *not* live on
    /// (the target's alias on the source, the source's on the target), so two mirrors
    /// sharing a cluster do not share the topic.
    pub fn syncs_topic(&self) -> String {
        offset_syncs_topic(match self.syncs_location {
            SyncsLocation::Source => &self.target_alias,
            SyncsLocation::Target => &self.source_alias,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn mm2_defaults_apply() {
        let c = MirrorConfig::parse(&config(&[
            ("source.cluster.alias", "a"),
            ("target.cluster.alias", "b"),
            ("source.cluster.bootstrap.servers", "127.0.0.1:1"),
            ("target.cluster.bootstrap.servers", "127.0.0.1:2"),
        ]))
        .unwrap();
        assert_eq!(c.offset_lag_max, 100);
        assert_eq!(c.syncs_location, SyncsLocation::Source);
        assert_eq!(c.checkpoints, Some(Duration::from_secs(60)));
        assert_eq!(c.sync_group_offsets, None);
        assert_eq!(c.heartbeats, Some(Duration::from_secs(1)));
        assert!(c.topics.accepts("orders") && !c.topics.accepts("__x"));
        assert!(!c.groups.accepts("console-consumer-1"));
        assert_eq!(c.policy.remote_topic("a", "t"), "a.t");
    }

    #[test]
    fn every_problem_names_its_key() {
        let issues = MirrorConfig::parse(&config(&[
            ("source.cluster.alias", "a"),
            ("target.cluster.alias", "a"),
            ("source.cluster.bootstrap.servers", "nohost"),
            ("topics", "("),
            ("offset.lag.max", "-1"),
            ("sync.group.offsets.enabled", "yes"),
            ("replication.policy.class", "Mine"),
            ("weir.mirror.max.in.flight.bytes", "10"),
        ]))
        .unwrap_err();
        let keys: Vec<&str> = issues.iter().map(|(k, _)| k.as_str()).collect();
        for k in [
            "target.cluster.alias",
            "source.cluster.bootstrap.servers",
            "target.cluster.bootstrap.servers",
            "topics",
            "offset.lag.max",
            "sync.group.offsets.enabled",
            "replication.policy.class",
            "weir.mirror.max.in.flight.bytes",
        ] {
            assert!(keys.contains(&k), "{k} not in {issues:?}");
        }
    }

    #[test]
    fn the_offset_syncs_topic_is_named_after_the_other_cluster() {
        let mut pairs = vec![
            ("source.cluster.alias", "a"),
            ("target.cluster.alias", "b"),
            ("source.cluster.bootstrap.servers", "127.0.0.1:1"),
            ("target.cluster.bootstrap.servers", "127.0.0.1:2"),
        ];
        let c = MirrorConfig::parse(&config(&pairs)).unwrap();
        assert_eq!(c.syncs_topic(), "mm2-offset-syncs.b.internal");
        pairs.push(("offset-syncs.topic.location", "target"));
        let c = MirrorConfig::parse(&config(&pairs)).unwrap();
        assert_eq!(c.syncs_topic(), "mm2-offset-syncs.a.internal");
    }

    #[test]
    fn dangerous_client_keys_are_refused_by_name() {
        for key in [
            "source.cluster.ssl.engine.location",
            "target.cluster.ssl.providers",
            "source.cluster.sasl.kerberos.kinit.cmd",
            "target.cluster.sasl.oauthbearer.token.endpoint.url",
        ] {
            let issues = MirrorConfig::parse(&config(&[
                ("source.cluster.alias", "a"),
                ("target.cluster.alias", "b"),
                ("source.cluster.bootstrap.servers", "127.0.0.1:1"),
                ("target.cluster.bootstrap.servers", "127.0.0.1:2"),
                (key, "/tmp/x"),
            ]))
            .unwrap_err();
            assert!(
                issues
                    .iter()
                    .any(|(k, m)| k == key && m.contains("not an allowed")),
                "{key}: {issues:?}"
            );
        }
    }
}
