"""aiokafka scenario driven by tests/kafka_aiokafka.rs: produce (plain and
gzip), consume in a group, commit, resume from the commit; then list every
topic, subscribe by regex, and list the groups and the group's offsets."""
import asyncio
import json
import sys
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

DEADLINE_S = 60


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


async def produce(bootstrap, topic, values, **conf):
    p = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", **conf)
    await p.start()
    try:
        offsets = []
        for v in values:
            md = await p.send_and_wait(topic, v.encode(), key=b"k", headers=[("h", b"v")])
            offsets.append(md.offset)
        return offsets
    finally:
        await p.stop()


async def consume(consumer, count):
    got = []
    deadline = time.time() + DEADLINE_S
    while len(got) < count and time.time() < deadline:
        batches = await consumer.getmany(timeout_ms=500)
        for records in batches.values():
            got.extend(records)
    return got


def group_consumer(bootstrap, group, *topics):
    return AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, group_id=group,
                            auto_offset_reset="earliest", enable_auto_commit=False,
                            metadata_max_age_ms=500, session_timeout_ms=10000,
                            heartbeat_interval_ms=500)


async def main(bootstrap, topic, group):
    values = [f"aio-{i}" for i in range(20)]
    if await produce(bootstrap, topic, values) != list(range(20)):
        fail("offsets of the first batch")
    gz = [f"gzip-{i}" for i in range(10)]
    await produce(bootstrap, f"{topic}-gzip", gz, compression_type="gzip")

    c = group_consumer(bootstrap, group, topic)
    await c.start()
    got = await consume(c, 20)
    if [m.value.decode() for m in got] != values:
        fail(f"consumed {[m.value for m in got]}")
    if got[0].key != b"k" or list(got[0].headers) != [("h", b"v")]:
        fail(f"key/headers {got[0].key} {got[0].headers}")
    await c.commit()
    committed = await c.committed(TopicPartition(topic, 0))
    await c.stop()

    more = [f"aio-more-{i}" for i in range(3)]
    await produce(bootstrap, topic, more)
    c = group_consumer(bootstrap, group, topic)
    await c.start()
    resumed = [m.value.decode() for m in await consume(c, 3)]
    await c.stop()

    c = group_consumer(bootstrap, f"{group}-gzip", f"{topic}-gzip")
    await c.start()
    unzipped = [m.value.decode() for m in await consume(c, 10)]
    await c.stop()

    # Discovery: all topics, a regex subscription, the admin view of groups.
    prefix = f"{topic}-re"
    for name in (f"{prefix}-a", f"{prefix}-b"):
        await produce(bootstrap, name, [f"{name}-{i}" for i in range(5)])
    c = group_consumer(bootstrap, f"{group}-re")
    await c.start()
    listed = sorted(await c.topics())
    c.subscribe(pattern=f"^{prefix}-.*")
    by_regex = await consume(c, 10)
    await c.commit()
    await c.stop()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        groups = sorted(g[0] for g in await admin.list_consumer_groups())
        offsets = {f"{tp.topic}:{tp.partition}": om.offset
                   for tp, om in (await admin.list_consumer_group_offsets(f"{group}-re")).items()}
    finally:
        await admin.close()

    print(json.dumps({
        "committed": committed, "resumed": resumed, "gzip": unzipped, "topics": listed,
        "by_regex": len(by_regex), "from_topics": sorted({m.topic for m in by_regex}),
        "groups": groups, "offsets": offsets,
    }))


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
