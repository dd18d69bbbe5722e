//! Kafka's type of each topic config (DescribeConfigs v3+'s `config_type`), which the
//! Java AdminClient exposes as `ConfigEntry.type()` and tools use to render and
//! validate values; without it every entry read as UNKNOWN.

/// Kafka's `ConfigType` codes (`DescribeConfigsResponse.ConfigType`).
const BOOLEAN: i8 = 1;
const STRING: i8 = 2;
const INT: i8 = 3;
const LONG: i8 = 5;
const DOUBLE: i8 = 6;
const LIST: i8 = 7;
/// Kafka's code for a config whose type it does not say.
pub const UNKNOWN: i8 = 0;

/// The type Kafka's `LogConfig` declares for topic config `name`; [`UNKNOWN`] for a
/// name it does not define (weir describes none such).
pub fn of_topic_config(name: &str) -> i8 {
    match name {
        "cleanup.policy"
        | "follower.replication.throttled.replicas"
        | "leader.replication.throttled.replicas" => LIST,
        "compression.type" | "message.format.version" | "message.timestamp.type" => STRING,
        "compression.gzip.level"
        | "compression.lz4.level"
        | "compression.zstd.level"
        | "index.interval.bytes"
        | "max.message.bytes"
        | "min.insync.replicas"
        | "segment.bytes"
        | "segment.index.bytes" => INT,
        "delete.retention.ms"
        | "file.delete.delay.ms"
        | "flush.messages"
        | "flush.ms"
        | "local.retention.bytes"
        | "local.retention.ms"
        | "max.compaction.lag.ms"
        | "message.timestamp.after.max.ms"
        | "message.timestamp.before.max.ms"
        | "message.timestamp.difference.max.ms"
        | "min.compaction.lag.ms"
        | "retention.bytes"
        | "retention.ms"
        | "segment.jitter.ms"
        | "segment.ms" => LONG,
        "min.cleanable.dirty.ratio" => DOUBLE,
        "message.downconversion.enable"
        | "preallocate"
        | "remote.log.copy.disable"
        | "remote.log.delete.on.disable"
        | "remote.storage.enable"
        | "unclean.leader.election.enable" => BOOLEAN,
        _ => UNKNOWN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::topic_config::TopicConfig;

    /// Every topic config weir describes has the type Kafka gives it, so a config added
    /// to the broker without a type here fails.
    #[test]
    fn every_described_topic_config_has_a_type() {
        for (name, _) in TopicConfig::default().entries() {
            assert_ne!(of_topic_config(name), UNKNOWN, "{name}");
        }
        assert_eq!(of_topic_config("retention.ms"), LONG);
        assert_eq!(of_topic_config("cleanup.policy"), LIST);
    }
}
