"""confluent-kafka (librdkafka) scenarios driven by tests/kafka_confluent.rs.

Each subcommand takes the broker's Kafka address, runs one scenario with
assertions, and prints one JSON line with what the Rust test checks over HTTP.
"""
import json
import sys
import time

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

DEADLINE_S = 60


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def produce(bootstrap, topic, records, **conf):
    """Produces (key, value, headers, timestamp, partition) tuples; returns delivery offsets."""
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, **conf})
    delivered, errors = [], []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(str(err))
        else:
            delivered.append((msg.partition(), msg.offset()))

    for key, value, headers, ts, part in records:
        kwargs = {"key": key, "value": value, "headers": headers, "on_delivery": on_delivery}
        if ts is not None:
            kwargs["timestamp"] = ts
        if part is not None:
            kwargs["partition"] = part
        p.produce(topic, **kwargs)
        p.poll(0)
    left = p.flush(DEADLINE_S)
    if left or errors:
        fail(f"{left} undelivered, errors: {errors[:5]}")
    return delivered


def idempotent(bootstrap, topic, count):
    """acks=all idempotent producer; returns the delivered offsets."""
    count = int(count)
    records = [(f"k{i}".encode(), f"v{i}".encode(), None, None, None) for i in range(count)]
    offsets = produce(bootstrap, topic, records, **{"enable.idempotence": True, "acks": "all"})
    if len(offsets) != count or len(set(offsets)) != count:
        fail(f"{len(offsets)} deliveries, {len(set(offsets))} distinct, want {count}")
    print(json.dumps({"delivered": len(offsets)}))


def produce_rich(bootstrap, topic):
    """Keys, headers (a repeated key included) and explicit timestamps."""
    records = [
        (b"key-0", b"value-0", [("h1", b"a"), ("h1", b"b"), ("h2", None)], 1700000000000, 0),
        (None, b"value-1", [], 1700000000001, 0),
        # 30 days after the batch's first record: the timestamp delta needs a
        # varlong (a 32-bit varint decoder, as in kafka-protocol 0.17, breaks).
        (b"key-2", None, [("only", b"x")], 1702592000000, 0),
    ]
    produce(bootstrap, topic, records)
    print(json.dumps({"produced": len(records)}))


def consume_all(bootstrap, topic, count, group=None):
    """Reads `count` records from the beginning and prints them as JSON."""
    count = int(count)
    c = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group or f"reader-{time.time_ns()}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    c.subscribe([topic])
    out = []
    deadline = time.time() + DEADLINE_S
    while len(out) < count and time.time() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                continue
            fail(f"consume error: {m.error()}")
        out.append({
            "partition": m.partition(),
            "offset": m.offset(),
            "key": m.key().decode() if m.key() is not None else None,
            "value": m.value().decode() if m.value() is not None else None,
            "headers": [[k, v.decode() if v is not None else None] for k, v in (m.headers() or [])],
            "timestamp": m.timestamp()[1],
        })
    c.close()
    if len(out) != count:
        fail(f"read {len(out)} of {count} records")
    print(json.dumps({"records": out}))


def compressed(bootstrap, topic_prefix):
    """One topic per codec, 50 records each, compressed by librdkafka."""
    for codec in ["gzip", "snappy", "lz4", "zstd"]:
        records = [(None, f"{codec}-{i}-{'x' * 100}".encode(), None, None, 0) for i in range(50)]
        produce(bootstrap, f"{topic_prefix}-{codec}", records,
                **{"compression.type": codec, "linger.ms": 50})
    print(json.dumps({"ok": True}))


def times(bootstrap, topic):
    """ListOffsets by timestamp, earliest, latest and max timestamp."""
    from confluent_kafka.admin import AdminClient, OffsetSpec
    produce(bootstrap, topic, [(None, f"t{ts}".encode(), None, ts, 0) for ts in (1000, 5000, 3000)])
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "times"})
    # One lookup per call: a partition appears once per request.
    by_time = [c.offsets_for_times([TopicPartition(topic, 0, ts)], timeout=10)[0].offset
               for ts in (0, 2000, 4000, 6000)]
    c.close()
    admin = AdminClient({"bootstrap.servers": bootstrap})
    specs = {"earliest": OffsetSpec.earliest(), "latest": OffsetSpec.latest(),
             "max_timestamp": OffsetSpec.max_timestamp()}
    listed = {}
    for name, spec in specs.items():
        fut = admin.list_offsets({TopicPartition(topic, 0): spec})
        listed[name] = next(iter(fut.values())).result().offset
    print(json.dumps({"by_time": by_time, "listed": listed}))


def group_consumer(bootstrap, group, topic, **extra):
    return Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
        **extra,
    })


def poll_until(consumers, cond, what, sink=None):
    deadline = time.time() + DEADLINE_S
    while time.time() < deadline:
        for c in consumers:
            m = c.poll(0.1)
            if m is not None and not m.error() and sink is not None:
                sink.append((c, m))
        if cond():
            return
    fail(f"timed out waiting for {what}: {[sorted(p.partition for p in c.assignment()) for c in consumers]}")


def group(bootstrap, topic, partitions, group_id):
    """Two members split the partitions; when one leaves the other takes all.
    Then the survivor consumes everything, commits, and a new member resumes
    from the committed offsets."""
    partitions = int(partitions)
    all_parts = set(range(partitions))
    # Everything either member reads, across every phase: records of a
    # partition that moves are read again from the last commit (none here).
    got = []
    a = group_consumer(bootstrap, group_id, topic)
    a.subscribe([topic])
    poll_until([a], lambda: {p.partition for p in a.assignment()} == all_parts, "first member to own every partition", got)
    b = group_consumer(bootstrap, group_id, topic)
    b.subscribe([topic])

    def split():
        pa = {p.partition for p in a.assignment()}
        pb = {p.partition for p in b.assignment()}
        return pa and pb and not (pa & pb) and (pa | pb) == all_parts

    poll_until([a, b], split, "two members with disjoint partitions", got)
    split_view = [sorted(p.partition for p in c.assignment()) for c in (a, b)]
    b.close()
    poll_until([a], lambda: {p.partition for p in a.assignment()} == all_parts, "survivor to take every partition", got)
    # The survivor reads everything in the topic, then commits.
    total = int(sys.argv[6])

    def survivor_values():
        return {m.value() for c, m in got if c is a}

    poll_until([a], lambda: len(survivor_values()) >= total, f"{total} records", got)
    # Commit only once the survivor's position is at the end of every
    # partition: a partition it took over may not have been fetched yet.
    tps = [TopicPartition(topic, p) for p in all_parts]
    ends = [a.get_watermark_offsets(tp, timeout=10)[1] for tp in tps]
    poll_until([a], lambda: [tp.offset for tp in a.position(tps)] == ends, "positions at the end", got)
    a.commit(asynchronous=False)
    committed = {tp.partition: tp.offset for tp in a.committed([TopicPartition(topic, p) for p in all_parts], timeout=10)}
    a.close()
    print(json.dumps({"split": split_view, "consumed": len(survivor_values()), "committed": committed}))


def resume(bootstrap, topic, group_id, expect_values):
    """A new member of a group that committed: reads only what came after."""
    want = set(json.loads(expect_values))
    c = group_consumer(bootstrap, group_id, topic)
    c.subscribe([topic])
    got = []
    poll_until([c], lambda: len(got) >= len(want), "records after the committed offsets", got)
    # Give a stray older record a chance to show up before judging.
    end = time.time() + 1
    while time.time() < end:
        m = c.poll(0.1)
        if m is not None and not m.error():
            got.append((c, m))
    values = [m.value().decode() for _, m in got]
    c.close()
    if set(values) != want or len(values) != len(want):
        fail(f"resumed with {values}, want {sorted(want)}")
    print(json.dumps({"resumed": values}))


def discover(bootstrap, prefix, group_id, count):
    """What admin tools and pattern subscribers do: list every topic (Metadata
    with no topic list), subscribe by regex and read two topics that way,
    commit, then list the groups and the group's committed offsets."""
    from confluent_kafka.admin import AdminClient
    from confluent_kafka import ConsumerGroupTopicPartitions
    count = int(count)
    names = [f"{prefix}-a", f"{prefix}-b", f"other-{prefix}"]
    for name in names:
        produce(bootstrap, name, [(None, f"{name}-{i}".encode(), None, None, 0) for i in range(count)])
    admin = AdminClient({"bootstrap.servers": bootstrap})
    listed = sorted(admin.list_topics(timeout=10).topics)
    producer_listed = sorted(Producer({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics)
    c = group_consumer(bootstrap, group_id, None, **{"topic.metadata.refresh.interval.ms": 500})
    c.subscribe([f"^{prefix}-.*"])
    got = []
    poll_until([c], lambda: len(got) >= 2 * count, f"{2 * count} records by regex", got)
    c.commit(asynchronous=False)
    from_topics = sorted({m.topic() for _, m in got})
    consumed = len(got)
    c.close()
    groups = admin.list_consumer_groups().result(timeout=10)
    group_ids = sorted(g.group_id for g in groups.valid)
    res = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group_id)])
    offsets = {}
    for fut in res.values():
        for tp in fut.result(timeout=10).topic_partitions:
            if tp.error is not None:
                fail(f"group offset error {tp}")
            offsets[f"{tp.topic}:{tp.partition}"] = tp.offset
    print(json.dumps({"topics": listed, "producer_topics": producer_listed, "consumed": consumed,
                      "from_topics": from_topics, "groups": group_ids, "offsets": offsets}))


def keyless(bootstrap, topic):
    """One record without a key; a compacted topic must refuse it (INVALID_RECORD)."""
    p = Producer({"bootstrap.servers": bootstrap, "retries": 0})
    errors = []
    p.produce(topic, value=b"no key", on_delivery=lambda err, msg: errors.append(err))
    if p.flush(DEADLINE_S):
        fail("the record was neither delivered nor refused")
    err = errors[0] if errors else None
    print(json.dumps({"error": err.name() if err is not None else None}))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {
        "idempotent": idempotent,
        "produce-rich": produce_rich,
        "consume": consume_all,
        "compressed": compressed,
        "group": lambda b, t, p, g, _total: group(b, t, p, g),
        "resume": resume,
        "times": times,
        "discover": discover,
        "keyless": keyless,
    }[cmd](*args)
