"""kafka-python scenario driven by tests/kafka_python.rs: produce (also with
every codec), consume in a group, commit, and resume from the commit."""
import json
import sys
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

DEADLINE_S = 60


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def produce(bootstrap, topic, values, **conf):
    p = KafkaProducer(bootstrap_servers=bootstrap, acks=1, **conf)
    futures = [p.send(topic, key=b"k", value=v.encode(), headers=[("h", b"v")]) for v in values]
    p.flush(DEADLINE_S)
    offsets = [f.get(timeout=DEADLINE_S).offset for f in futures]
    p.close()
    return offsets


def consume(bootstrap, topic, group, count):
    c = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group,
                      auto_offset_reset="earliest", enable_auto_commit=False,
                      consumer_timeout_ms=1000)
    got = []
    deadline = time.time() + DEADLINE_S
    while len(got) < count and time.time() < deadline:
        for m in c:
            got.append(m)
            if len(got) >= count:
                break
    if got:
        c.commit()
    committed = {p: c.committed(TopicPartition(topic, p)) for p in (c.partitions_for_topic(topic) or [])}
    c.close()
    return got, committed


def main(bootstrap, topic, group):
    values = [f"kp-{i}" for i in range(20)]
    offsets = produce(bootstrap, topic, values)
    if offsets != list(range(20)):
        fail(f"offsets {offsets}")
    got, committed = consume(bootstrap, topic, group, 20)
    if [m.value.decode() for m in got] != values:
        fail(f"consumed {[m.value for m in got]}")
    if got[0].key != b"k" or list(got[0].headers) != [("h", b"v")]:
        fail(f"key/headers {got[0].key} {got[0].headers}")
    if committed.get(0) != 20:
        fail(f"committed {committed}")
    more = [f"kp-more-{i}" for i in range(3)]
    produce(bootstrap, topic, more)
    resumed, _ = consume(bootstrap, topic, group, 3)
    if [m.value.decode() for m in resumed] != more:
        fail(f"resumed with {[m.value for m in resumed]}")
    for codec in ["gzip", "snappy", "lz4", "zstd"]:
        produce(bootstrap, f"{topic}-{codec}", [f"{codec}-{i}" for i in range(10)],
                compression_type=codec, linger_ms=20)
    print(json.dumps({"ok": True, "committed": committed.get(0)}))


def discover(bootstrap, prefix, group, count):
    """All-topics metadata, a regex subscription read to the end and committed,
    then the group and its offsets through the admin client."""
    from kafka import KafkaAdminClient
    count = int(count)
    names = [f"{prefix}-a", f"{prefix}-b", f"other-{prefix}"]
    for name in names:
        produce(bootstrap, name, [f"{name}-{i}" for i in range(count)])
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest",
                      enable_auto_commit=False, consumer_timeout_ms=1000, metadata_max_age_ms=500)
    listed = sorted(c.topics())
    c.subscribe(pattern=f"^{prefix}-.*")
    got = []
    deadline = time.time() + DEADLINE_S
    while len(got) < 2 * count and time.time() < deadline:
        for m in c:
            got.append(m)
    c.commit()
    c.close()
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    # kafka-python 3 lists groups as dicts of the ListGroups response fields.
    groups = sorted(g["group_id"] for g in admin.list_groups())
    offsets = {f"{tp.topic}:{tp.partition}": om.offset
               for tp, om in admin.list_group_offsets(group)[group].items()}
    admin.close()
    print(json.dumps({"topics": listed, "consumed": len(got),
                      "from_topics": sorted({m.topic for m in got}),
                      "groups": groups, "offsets": offsets}))


def sessions(bootstrap, topic, group):
    """Incremental fetch sessions (KIP-227), which kafka-python uses by default:
    records produced in rounds to three partitions are each read once, in
    order per partition, over one session whose epoch advances."""
    from kafka.admin import KafkaAdminClient, NewTopic
    KafkaAdminClient(bootstrap_servers=bootstrap).create_topics([NewTopic(topic, 3, 1)])
    c = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group,
                      auto_offset_reset="earliest", enable_auto_commit=False)
    p = KafkaProducer(bootstrap_servers=bootstrap, acks=1)
    got = []
    rounds, per_round = 5, 6
    for r in range(rounds):
        for i in range(per_round):
            p.send(topic, value=f"{r}-{i}".encode(), partition=i % 3)
        p.flush(DEADLINE_S)
        deadline = time.time() + DEADLINE_S
        while len(got) < per_round * (r + 1) and time.time() < deadline:
            for _, records in c.poll(200).items():
                got.extend(records)
    handlers = getattr(c._fetcher, "_session_handlers", {})
    sessions = [[h.next_metadata.session_id, h.next_metadata.epoch] for h in handlers.values()]
    c.close()
    by_partition = {}
    for m in got:
        by_partition.setdefault(m.partition, []).append(m.offset)
    in_order = all(offs == sorted(offs) for offs in by_partition.values())
    values = [m.value.decode() for m in got]
    print(json.dumps({"consumed": len(values), "distinct": len(set(values)),
                      "in_order": in_order, "sessions": sessions}))


def static_member(bootstrap, topic, group, instance, updates, stop):
    """One static member in its own process: reports (instance, owned
    partitions, rebalance callbacks so far) whenever they change."""
    from kafka import ConsumerRebalanceListener

    class Count(ConsumerRebalanceListener):
        calls = 0

        def on_partitions_revoked(self, revoked):
            Count.calls += 1

        def on_partitions_assigned(self, assigned):
            Count.calls += 1

    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, group_instance_id=instance,
                      auto_offset_reset="earliest", enable_auto_commit=False,
                      session_timeout_ms=10000, heartbeat_interval_ms=500)
    c.subscribe([topic], listener=Count())
    last = None
    while not stop.is_set():
        c.poll(100)
        now = (sorted(tp.partition for tp in c.assignment()), Count.calls)
        if now != last:
            updates.put((instance, *now))
            last = now
    c.close()


def static(bootstrap, topic, group):
    """Static membership (KIP-345): two members with group_instance_id split
    four partitions; one restarts (static members close without leaving) and
    gets the same partitions back; the other is never revoked again. Each
    member runs in its own process, as applications do.

    "a" starts first and leads, so the member that restarts is a follower.
    A leader's JoinGroup rebalances a stable group (Kafka's rule: leaders
    rejoin to signal metadata changes), and kafka-python 3.0.12 sometimes
    sends one for nothing: when a poll's timer runs out between its JoinGroup
    and SyncGroup answers and the join finishes before the next poll, it
    drops that finished join and joins again. A restarted leader would then
    rebalance the group on Kafka as on weir."""
    import multiprocessing
    import queue
    from kafka.admin import KafkaAdminClient, NewTopic
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, 4, 1)])
    admin.close()
    mp = multiprocessing.get_context("spawn")
    updates = mp.Queue()
    state = {}

    def member(instance):
        stop = mp.Event()
        # Daemons: a failed wait exits without waiting for members to stop.
        proc = mp.Process(target=static_member, daemon=True,
                          args=(bootstrap, topic, group, instance, updates, stop))
        proc.start()
        return proc, stop

    def owned(instance):
        return state.get(instance, ([], 0))[0]

    def wait_until(cond, what):
        deadline = time.time() + DEADLINE_S
        while not cond():
            if time.time() > deadline:
                fail(f"timed out waiting for {what}: {state}")
            try:
                instance, parts, calls = updates.get(timeout=0.1)
                state[instance] = (parts, calls)
            except queue.Empty:
                pass

    def stop(m):
        m[1].set()
        m[0].join(DEADLINE_S)

    a = member("a")
    wait_until(lambda: owned("a") == [0, 1, 2, 3], "the first member's partitions")
    b = member("b")
    wait_until(lambda: owned("a") and owned("b") and sorted(owned("a") + owned("b")) == [0, 1, 2, 3],
               "two static members with disjoint partitions")
    before = {"a": owned("a"), "b": owned("b")}
    calls = state["a"][1]
    stop(b)
    state.pop("b")
    b2 = member("b")
    wait_until(lambda: owned("b") != [], "the restarted member's partitions")
    # Give a rebalance, were one started, time to reach the other member.
    end = time.time() + 3
    wait_until(lambda: time.time() > end, "a quiet while")
    result = {"before": before, "after": {"a": owned("a"), "b": owned("b")},
              "a_calls_before": calls, "a_calls_after": state["a"][1]}
    stop(a)
    stop(b2)
    print(json.dumps(result))


if __name__ == "__main__":
    if sys.argv[1] in ("sessions", "static"):
        {"sessions": sessions, "static": static}[sys.argv[1]](*sys.argv[2:])
        sys.exit(0)
    if sys.argv[1] == "discover":
        discover(*sys.argv[2:])
    else:
        main(*sys.argv[1:])
