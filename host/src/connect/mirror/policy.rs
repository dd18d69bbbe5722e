//! MM2's replication policies: how a topic is named on the target, and which cluster a
//! remote topic came from (what cycle detection asks).

/// `replication.policy.class`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicationPolicy {
    /// `DefaultReplicationPolicy`: `<source-alias><separator><topic>`.
    Default {
        /// `replication.policy.separator` (`.`).
        separator: String,
    },
    /// `IdentityReplicationPolicy`: names kept, so no cycle detection (one-way flows only);
    /// heartbeats are still named as the default policy names them, with its separator.
    Identity {
        /// `replication.policy.separator` (`.`).
        separator: String,
    },
}

/// MM2's heartbeats topic.
pub const HEARTBEATS_TOPIC: &str = "heartbeats";

impl ReplicationPolicy {
    /// The policy a `replication.policy.class` names (MM2's class names, or their simple
    /// names), with `separator`.
    pub fn parse(class: &str, separator: &str) -> Result<ReplicationPolicy, String> {
        match class.rsplit('.').next().unwrap_or(class) {
            "DefaultReplicationPolicy" => Ok(ReplicationPolicy::Default {
                separator: separator.to_string(),
            }),
            "IdentityReplicationPolicy" => Ok(ReplicationPolicy::Identity {
                separator: separator.to_string(),
            }),
            _ => Err(format!(
                "{class:?} is not a replication policy weir has (org.apache.kafka.connect.mirror.DefaultReplicationPolicy or IdentityReplicationPolicy)"
            )),
        }
    }

    /// The name `topic` of cluster `source` gets on the target.
    pub fn remote_topic(&self, source: &str, topic: &str) -> String {
        match self {
            ReplicationPolicy::Default { separator } => format!("{source}{separator}{topic}"),
            // MM2's identity policy defers heartbeats (any topic ending in `heartbeats`) to
            // the default policy, separator included, so they can be told apart.
            ReplicationPolicy::Identity { separator } if topic.ends_with(HEARTBEATS_TOPIC) => {
                format!("{source}{separator}{topic}")
            }
            ReplicationPolicy::Identity { .. } => topic.to_string(),
        }
    }

    /// The cluster a remote topic came from (`None`: a local topic, or unknown).
    pub fn topic_source<'a>(&self, topic: &'a str) -> Option<&'a str> {
        match self {
            ReplicationPolicy::Default { separator } => topic
                .split_once(separator.as_str())
                .map(|(source, _)| source),
            ReplicationPolicy::Identity { .. } => None,
        }
    }

    /// The topic's name on the cluster it came from.
    pub fn upstream_topic<'a>(&self, topic: &'a str) -> Option<&'a str> {
        match self {
            ReplicationPolicy::Default { separator } => {
                topic.split_once(separator.as_str()).map(|(_, t)| t)
            }
            ReplicationPolicy::Identity { .. } => None,
        }
    }

    /// Whether mirroring `topic` to cluster `target` would send it back where it came
    /// from, at any depth (MM2's `isCycle`).
    pub fn is_cycle(&self, topic: &str, target: &str) -> bool {
        let mut topic = topic;
        while let Some(source) = self.topic_source(topic) {
            if source == target {
                return true;
            }
            match self.upstream_topic(topic) {
                Some(up) if up != topic => topic = up,
                _ => return false,
            }
        }
        false
    }

    /// Whether `topic` is `heartbeats` or a mirrored copy of it.
    pub fn is_heartbeats(&self, topic: &str) -> bool {
        let mut topic = topic;
        loop {
            if topic == HEARTBEATS_TOPIC {
                return true;
            }
            match self.upstream_topic(topic) {
                Some(up) if up != topic => topic = up,
                _ => return false,
            }
        }
    }
}

/// Whether `topic` is internal (MM2's `isInternalTopic`): an MM2 or Connect topic, or one
/// of Kafka's own.
pub fn is_internal(topic: &str) -> bool {
    topic.ends_with(".internal")
        || topic.ends_with("-internal")
        || topic.starts_with("__")
        || topic.starts_with('.')
        || topic.starts_with("mm2-")
}

/// `mm2-offset-syncs.<alias>.internal`: named after the cluster the topic does not live on
/// (see `MirrorConfig::syncs_topic`).
pub fn offset_syncs_topic(target: &str) -> String {
    format!("mm2-offset-syncs.{target}.internal")
}

/// `<alias>.checkpoints.internal`: on the target, named after the source alias.
pub fn checkpoints_topic(source: &str) -> String {
    format!("{source}.checkpoints.internal")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default() -> ReplicationPolicy {
        ReplicationPolicy::parse(
            "org.apache.kafka.connect.mirror.DefaultReplicationPolicy",
            ".",
        )
        .unwrap()
    }

    #[test]
    fn default_policy_prefixes_and_detects_cycles_at_any_depth() {
        let p = default();
        assert_eq!(p.remote_topic("a", "orders"), "a.orders");
        assert_eq!(p.topic_source("a.orders"), Some("a"));
        assert_eq!(p.upstream_topic("a.orders"), Some("orders"));
        // a->b: b's copy of a's topic must not come back to a.
        assert!(p.is_cycle("a.orders", "a"));
        assert!(p.is_cycle("c.a.orders", "a"));
        assert!(!p.is_cycle("orders", "a"));
        assert!(!p.is_cycle("c.orders", "a"));
        assert!(p.is_heartbeats("heartbeats") && p.is_heartbeats("b.heartbeats"));
        assert!(!p.is_heartbeats("beats"));
    }

    #[test]
    fn separator_and_identity_policy() {
        let p = ReplicationPolicy::parse("DefaultReplicationPolicy", "_").unwrap();
        assert_eq!(p.remote_topic("east", "t.x"), "east_t.x");
        assert_eq!(p.topic_source("east_t.x"), Some("east"));
        let id = ReplicationPolicy::parse(
            "org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
            ".",
        )
        .unwrap();
        assert_eq!(id.remote_topic("a", "orders"), "orders");
        assert!(!id.is_cycle("a.orders", "a"));
        assert!(ReplicationPolicy::parse("Nope", ".").is_err());
        let id = ReplicationPolicy::parse("IdentityReplicationPolicy", "_").unwrap();
        assert_eq!(id.remote_topic("a", "heartbeats"), "a_heartbeats");
        assert_eq!(id.remote_topic("a", "c_heartbeats"), "a_c_heartbeats");
        assert_eq!(id.remote_topic("a", "t.x"), "t.x");
    }

    #[test]
    fn internal_topic_names() {
        assert_eq!(offset_syncs_topic("b"), "mm2-offset-syncs.b.internal");
        assert_eq!(checkpoints_topic("a"), "a.checkpoints.internal");
        assert!(is_internal("a.checkpoints.internal") && is_internal("__consumer_offsets"));
        assert!(!is_internal("orders"));
    }
}
