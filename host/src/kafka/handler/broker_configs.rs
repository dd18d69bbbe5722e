//! The broker's configs by Kafka name, as DescribeConfigs reports them for a
//! broker resource: what `weir.toml` and the command line set, read-only.

use std::collections::BTreeMap;

use crate::kafka::KafkaContext;

use super::metadata::{NODE_ID, advertised};

/// Kafka's broker name of each topic-level default (the topic name → the
/// `log.`/`message.` name a broker sets it under).
const TOPIC_DEFAULTS: &[(&str, &str)] = &[
    ("cleanup.policy", "log.cleanup.policy"),
    ("delete.retention.ms", "log.cleaner.delete.retention.ms"),
    ("max.compaction.lag.ms", "log.cleaner.max.compaction.lag.ms"),
    ("max.message.bytes", "message.max.bytes"),
    (
        "message.timestamp.after.max.ms",
        "log.message.timestamp.after.max.ms",
    ),
    ("message.timestamp.type", "log.message.timestamp.type"),
    (
        "min.cleanable.dirty.ratio",
        "log.cleaner.min.cleanable.ratio",
    ),
    ("min.compaction.lag.ms", "log.cleaner.min.compaction.lag.ms"),
    ("retention.bytes", "log.retention.bytes"),
    ("retention.ms", "log.retention.ms"),
    ("segment.bytes", "log.segment.bytes"),
    ("segment.ms", "log.roll.ms"),
];

/// Every broker config weir can state truthfully, by Kafka name.
pub fn entries(ctx: &KafkaContext) -> BTreeMap<&'static str, String> {
    let settings = &ctx.settings;
    let broker = ctx.broker.config();
    let (host, port) = advertised(ctx);
    let mut out = BTreeMap::from([
        ("broker.id", NODE_ID.to_string()),
        ("node.id", NODE_ID.to_string()),
        ("listeners", format!("PLAINTEXT://{}", settings.addr)),
        ("advertised.listeners", format!("PLAINTEXT://{host}:{port}")),
        (
            "log.dirs",
            broker.data_dir.join("log").display().to_string(),
        ),
        (
            "auto.create.topics.enable",
            settings.auto_create_topics.to_string(),
        ),
        ("num.partitions", settings.default_partitions.to_string()),
        // One node: every replication factor is 1.
        ("default.replication.factor", "1".into()),
        ("offsets.topic.replication.factor", "1".into()),
        ("min.insync.replicas", "1".into()),
        (
            "socket.request.max.bytes",
            settings.max_frame_bytes.to_string(),
        ),
        ("fetch.max.bytes", settings.fetch_max_bytes.to_string()),
        (
            "group.min.session.timeout.ms",
            settings.group.min_session_timeout.as_millis().to_string(),
        ),
        (
            "group.max.session.timeout.ms",
            settings.group.max_session_timeout.as_millis().to_string(),
        ),
        (
            "group.initial.rebalance.delay.ms",
            settings
                .group
                .initial_rebalance_delay
                .as_millis()
                .to_string(),
        ),
    ]);
    let defaults = broker.topic_defaults.entries();
    for (topic_name, broker_name) in TOPIC_DEFAULTS {
        if let Some(v) = defaults.get(topic_name) {
            out.insert(broker_name, v.clone());
        }
    }
    out
}
