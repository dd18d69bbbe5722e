"""confluent-kafka AdminClient scenarios driven by tests/kafka_confluent.rs.

Each subcommand takes the broker's Kafka address (and, where it checks the
HTTP face too, its base URL), runs one scenario with assertions, and prints
one JSON line for the Rust test to check.
"""
import json
import sys
import time
import urllib.error
import urllib.request

from confluent_kafka import (Consumer, ConsumerGroupTopicPartitions, KafkaError,
                             KafkaException, Producer, TopicPartition)
from confluent_kafka.admin import AdminClient

DEADLINE_S = 60


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def error_code(fut):
    """The Kafka error code a future fails with, or None if it succeeds."""
    try:
        fut.result(timeout=DEADLINE_S)
        return None
    except KafkaException as e:
        return e.args[0].code()


def http_delete(url):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="DELETE")) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def produce_values(bootstrap, topic, n):
    """Writes values v0..v{n-1} to partition 0 of `topic`; fails unless all are delivered."""
    p = Producer({"bootstrap.servers": bootstrap})
    for i in range(n):
        p.produce(topic, f"v{i}".encode(), partition=0)
    if p.flush(DEADLINE_S):
        fail("undelivered records")


def delete_groups(bootstrap, http_base, topic, group):
    """A consumer commits; its group cannot be deleted while it is a member
    (over Kafka or HTTP); once it leaves, the group and its offsets go."""
    produce_values(bootstrap, topic, 5)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    got, deadline = 0, time.time() + DEADLINE_S
    while got < 5 and time.time() < deadline:
        m = c.poll(0.2)
        if m is not None and not m.error():
            got += 1
    if got < 5:
        fail(f"read {got} of 5 records")
    c.commit(asynchronous=False)
    with_member = error_code(admin.delete_consumer_groups([group])[group])
    http_with_member = http_delete(f"{http_base}/v1/groups/{group}")
    c.close()
    unknown = error_code(admin.delete_consumer_groups(["no-such-group"])["no-such-group"])
    deleted = error_code(admin.delete_consumer_groups([group])[group])
    res = admin.list_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(group, [TopicPartition(topic, 0)])])
    after = [tp.offset for tp in res[group].result(timeout=DEADLINE_S).topic_partitions]
    print(json.dumps({
        "with_member": with_member, "http_with_member": http_with_member,
        "unknown": unknown, "deleted": deleted, "offsets_after": after,
        "codes": {"non_empty": KafkaError.NON_EMPTY_GROUP,
                  "not_found": KafkaError.GROUP_ID_NOT_FOUND},
    }))


def delete_records(bootstrap, topic):
    """10 records; delete before 4; a reader from the beginning starts at 4;
    past the high watermark is OFFSET_OUT_OF_RANGE."""
    produce_values(bootstrap, topic, 10)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    res = admin.delete_records([TopicPartition(topic, 0, 4)])
    low = next(iter(res.values())).result(timeout=DEADLINE_S).low_watermark
    beyond = error_code(next(iter(admin.delete_records([TopicPartition(topic, 0, 11)]).values())))
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"after-delete-{time.time_ns()}",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    first, deadline = None, time.time() + DEADLINE_S
    while first is None and time.time() < deadline:
        m = c.poll(0.2)
        if m is not None and not m.error():
            first = [m.offset(), m.value().decode()]
    watermarks = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    c.close()
    print(json.dumps({"low_watermark": low, "beyond": beyond, "first": first,
                      "watermarks": list(watermarks),
                      "codes": {"out_of_range": KafkaError.OFFSET_OUT_OF_RANGE}}))


def alter_configs(bootstrap, topic):
    """IncrementalAlterConfigs SET, validate_only, DELETE and an unknown key;
    then the legacy AlterConfigs, which replaces every override."""
    from confluent_kafka.admin import (AlterConfigOpType, ConfigEntry, ConfigResource,
                                       ResourceType)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    keys = ("retention.ms", "segment.bytes")

    def described():
        res = admin.describe_configs([ConfigResource(ResourceType.TOPIC, topic)])
        entries = next(iter(res.values())).result(timeout=DEADLINE_S)
        return {k: entries[k].value for k in keys}

    def incremental(entries, **kwargs):
        conf = [ConfigEntry(k, v, incremental_operation=getattr(AlterConfigOpType, op))
                for k, v, op in entries]
        r = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=conf)
        return error_code(admin.incremental_alter_configs([r], **kwargs)[r])

    out = {"initial": described()}
    out["set"] = incremental([("retention.ms", "3600000", "SET")])
    out["after_set"] = described()
    out["validate_only"] = incremental([("segment.bytes", "2000000", "SET")], validate_only=True)
    out["after_validate_only"] = described()
    out["unknown_key"] = incremental([("no.such.config", "1", "SET")])
    out["invalid_value"] = incremental([("segment.bytes", "lots", "SET")], validate_only=True)
    out["delete"] = incremental([("retention.ms", None, "DELETE")])
    out["after_delete"] = described()
    incremental([("retention.ms", "7200000", "SET")])
    r = ConfigResource(ResourceType.TOPIC, topic, set_config={"segment.bytes": "2000000"})
    out["alter"] = error_code(admin.alter_configs([r])[r])
    out["after_alter"] = described()
    missing = ConfigResource(ResourceType.TOPIC, "no-such-topic", set_config={"retention.ms": "1"})
    out["unknown_topic"] = error_code(admin.alter_configs([missing])[missing])
    out["codes"] = {"invalid_config": KafkaError.INVALID_CONFIG,
                    "unknown_topic": KafkaError.UNKNOWN_TOPIC_OR_PART}
    print(json.dumps(out))


def create_configs(bootstrap, topic, configs):
    """CreateTopics with every config in `configs` (JSON), then DescribeConfigs
    of the topic; and two refused creations: an invalid value, an unknown name."""
    from confluent_kafka.admin import ConfigResource, ConfigSource, NewTopic, ResourceType
    admin = AdminClient({"bootstrap.servers": bootstrap})
    configs = json.loads(configs)

    def create(name, conf):
        fut = admin.create_topics([NewTopic(name, 1, 1, config=conf)])[name]
        try:
            fut.result(timeout=DEADLINE_S)
            return None
        except KafkaException as e:
            return [e.args[0].code(), e.args[0].str()]

    out = {"created": create(topic, configs)}
    res = admin.describe_configs([ConfigResource(ResourceType.TOPIC, topic)])
    entries = next(iter(res.values())).result(timeout=DEADLINE_S)
    out["described"] = {name: e.value for name, e in entries.items()}
    out["overridden"] = sorted(name for name, e in entries.items()
                               if e.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value)
    out["invalid"] = create(f"{topic}-invalid", {"min.insync.replicas": "0"})
    out["unknown"] = create(f"{topic}-unknown", {"no.such.config": "1"})
    out["invalid_config"] = KafkaError.INVALID_CONFIG
    print(json.dumps(out))


def cluster(bootstrap):
    """DescribeCluster, and DescribeConfigs of the broker (node 0)."""
    from confluent_kafka.admin import ConfigResource, ConfigSource, ResourceType
    admin = AdminClient({"bootstrap.servers": bootstrap})
    desc = admin.describe_cluster().result(timeout=DEADLINE_S)
    res = admin.describe_configs([ConfigResource(ResourceType.BROKER, "0")])
    entries = next(iter(res.values())).result(timeout=DEADLINE_S)
    print(json.dumps({
        "cluster_id": desc.cluster_id,
        "controller": desc.controller.id,
        "nodes": [[n.id, n.host, n.port] for n in desc.nodes],
        "configs": {name: e.value for name, e in entries.items()},
        "sources": sorted({ConfigSource(e.source).name for e in entries.values()}),
        "read_only": all(e.is_read_only for e in entries.values()),
    }))


def compaction_configs(bootstrap, topic):
    """CreateTopics with cleanup.policy=compact, then IncrementalAlterConfigs SET,
    APPEND and SUBTRACT on the list-valued cleanup.policy and SET on the other
    compaction configs; DescribeConfigs after each step."""
    from confluent_kafka.admin import (AlterConfigOpType, ConfigEntry, ConfigResource,
                                       NewTopic, ResourceType)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    keys = ("cleanup.policy", "delete.retention.ms", "min.cleanable.dirty.ratio",
            "min.compaction.lag.ms", "max.compaction.lag.ms")
    new = NewTopic(topic, num_partitions=1, replication_factor=1,
                   config={"cleanup.policy": "compact", "min.compaction.lag.ms": "1000"})
    admin.create_topics([new])[topic].result(timeout=DEADLINE_S)

    def described():
        res = admin.describe_configs([ConfigResource(ResourceType.TOPIC, topic)])
        entries = next(iter(res.values())).result(timeout=DEADLINE_S)
        return {k: entries[k].value for k in keys}

    def incremental(entries):
        conf = [ConfigEntry(k, v, incremental_operation=getattr(AlterConfigOpType, op))
                for k, v, op in entries]
        r = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=conf)
        return error_code(admin.incremental_alter_configs([r])[r])

    out = {"created": described()}
    out["append"] = incremental([("cleanup.policy", "delete", "APPEND")])
    out["after_append"] = described()
    out["subtract"] = incremental([("cleanup.policy", "compact", "SUBTRACT")])
    out["after_subtract"] = described()
    out["set"] = incremental([("cleanup.policy", "compact", "SET"),
                              ("delete.retention.ms", "60000", "SET"),
                              ("min.cleanable.dirty.ratio", "0.2", "SET"),
                              ("max.compaction.lag.ms", "3600000", "SET")])
    out["after_set"] = described()
    out["bad_ratio"] = incremental([("min.cleanable.dirty.ratio", "2", "SET")])
    out["codes"] = {"invalid_config": KafkaError.INVALID_CONFIG}
    print(json.dumps(out))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {
        "delete-groups": delete_groups,
        "cluster": cluster,
        "alter-configs": alter_configs,
        "compaction-configs": compaction_configs,
        "create-configs": create_configs,
        "delete-records": delete_records,
    }[cmd](*args)
