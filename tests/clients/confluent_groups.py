"""confluent-kafka (librdkafka) group and fetch scenarios driven by
tests/kafka_confluent_groups.rs: static membership (KIP-345), cooperative
rebalancing (KIP-429) and a small fetch.max.bytes against large batches.

Each subcommand takes the broker's Kafka address, runs one scenario with
assertions, and prints one JSON line for the Rust test to check.
"""
import json
import sys
import time

from confluent_kafka import Consumer, Producer

DEADLINE_S = 60


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def member(bootstrap, group, **extra):
    return Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "session.timeout.ms": 10000,
        "heartbeat.interval.ms": 500,
        **extra,
    })


def owned(c):
    return sorted(p.partition for p in c.assignment())


def poll_until(consumers, cond, what, sink=None):
    deadline = time.time() + DEADLINE_S
    while time.time() < deadline:
        for c in consumers:
            m = c.poll(0.1)
            if m is not None and not m.error() and sink is not None:
                sink.append(m)
        if cond():
            return
    fail(f"timed out waiting for {what}: {[owned(c) for c in consumers]}")


class Watch:
    """Counts a member's rebalance callbacks."""

    def __init__(self):
        self.assigned, self.revoked = [], []

    def on_assign(self, _c, parts):
        self.assigned.append(sorted(p.partition for p in parts))

    def on_revoke(self, _c, parts):
        self.revoked.append(sorted(p.partition for p in parts))


def static(bootstrap, topic, partitions):
    """Two static members split the partitions; one restarts (closes without
    leaving, as static members do, and comes back with the same instance id
    within the session timeout): it gets the same partitions, and the other
    member sees no revocation."""
    everything = list(range(int(partitions)))
    wa, wb = Watch(), Watch()
    a = member(bootstrap, "statics", **{"group.instance.id": "member-a"})
    a.subscribe([topic], on_assign=wa.on_assign, on_revoke=wa.on_revoke)
    b = member(bootstrap, "statics", **{"group.instance.id": "member-b"})
    b.subscribe([topic], on_assign=wb.on_assign, on_revoke=wb.on_revoke)

    def split(x, y):
        return lambda: owned(x) and owned(y) and sorted(owned(x) + owned(y)) == everything

    poll_until([a, b], split(a, b), "two static members with disjoint partitions")
    before = {"a": owned(a), "b": owned(b)}
    a_callbacks = (len(wa.assigned), len(wa.revoked))
    b.close()
    wb2 = Watch()
    b2 = member(bootstrap, "statics", **{"group.instance.id": "member-b"})
    b2.subscribe([topic], on_assign=wb2.on_assign, on_revoke=wb2.on_revoke)
    poll_until([a, b2], lambda: owned(b2) != [], "the restarted member's partitions")
    # Give a rebalance, were one started, time to reach the other member.
    end = time.time() + 3
    while time.time() < end:
        for c in (a, b2):
            c.poll(0.1)
    result = json.dumps({"before": before, "after": {"a": owned(a), "b": owned(b2)},
                         "a_callbacks_before": a_callbacks,
                         "a_callbacks_after": (len(wa.assigned), len(wa.revoked)),
                         "b2_assigned": wb2.assigned})
    a.close()
    b2.close()
    print(result)


def cooperative(bootstrap, topic, partitions):
    """cooperative-sticky members: a second member joining takes half of the
    partitions; the first keeps consuming the rest and only gives up those."""
    everything = list(range(int(partitions)))
    conf = {"partition.assignment.strategy": "cooperative-sticky"}
    wa, wb = Watch(), Watch()
    a = member(bootstrap, "coop", **conf)
    a.subscribe([topic], on_assign=wa.on_assign, on_revoke=wa.on_revoke)
    poll_until([a], lambda: owned(a) == everything, "the first member to own every partition")
    b = member(bootstrap, "coop", **conf)
    b.subscribe([topic], on_assign=wb.on_assign, on_revoke=wb.on_revoke)

    def split():
        return owned(a) and owned(b) and sorted(owned(a) + owned(b)) == everything

    poll_until([a, b], split, "two cooperative members with disjoint partitions")
    # Before closing, which revokes everything.
    result = json.dumps({"a": owned(a), "b": owned(b), "a_assigned": wa.assigned, "a_revoked": wa.revoked,
                         "b_assigned": wb.assigned, "b_revoked": wb.revoked})
    a.close()
    b.close()
    print(result)


def small_fetch(bootstrap, topic, count, size):
    """Large records read by a consumer whose fetch limits are far smaller:
    each fetch still brings one batch, so it reads them all. The response
    must hold one batch only: librdkafka refuses a response larger than
    receive.message.max.bytes (here room for one batch, not three), which is
    how a consumer stalls when a broker sends a batch per partition."""
    count, size = int(count), int(size)
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0, "message.max.bytes": 2 * size})
    for i in range(count):
        p.produce(topic, value=(f"{i:06}" + "x" * size).encode(), partition=i % 3)
        p.poll(0)
    if p.flush(DEADLINE_S):
        fail("undelivered records")
    c = member(bootstrap, "small-fetch", **{"fetch.max.bytes": 1024,
                                             "message.max.bytes": 1000,
                                             "max.partition.fetch.bytes": 1024,
                                             "receive.message.max.bytes": 2 * size})
    c.subscribe([topic])
    got = []
    poll_until([c], lambda: len(got) >= count, f"{count} large records", got)
    c.close()
    ids = sorted(int(m.value()[:6]) for m in got)
    print(json.dumps({"consumed": len(ids), "distinct": len(set(ids))}))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {
        "static": static,
        "cooperative": cooperative,
        "small-fetch": small_fetch,
    }[cmd](*args)
