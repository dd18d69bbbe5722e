"""confluent-kafka (librdkafka) transaction scenarios driven by tests/kafka_transactions.rs.

Each subcommand takes the broker's Kafka address, runs one scenario with
assertions, and prints one JSON line.
"""
import json
import sys
import time

from confluent_kafka import (
    OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition,
)

DEADLINE_S = 60


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def txn_producer(bootstrap, txn_id, **conf):
    p = Producer({
        "bootstrap.servers": bootstrap,
        "transactional.id": txn_id,
        "linger.ms": 5,
        **conf,
    })
    p.init_transactions(DEADLINE_S)
    return p


def read_all(bootstrap, topic, isolation, group=None, idle_s=3.0):
    """Every record of `topic` as (partition, offset, key, value), read from the
    start until nothing new arrives for idle_s after the end offsets are reached."""
    c = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group or f"reader-{time.time()}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "isolation.level": isolation,
    })
    # The idle clock starts at the assignment: a broker holds a new group's first
    # join for group.initial.rebalance.delay.ms (3 s by default, in Kafka as in weir).
    last = {}
    c.subscribe([topic], on_assign=lambda _c, _parts: last.setdefault("t", time.time()))
    out = []
    deadline = time.time() + DEADLINE_S
    while time.time() < deadline and ("t" not in last or time.time() - last["t"] < idle_s):
        m = c.poll(0.2)
        if m is None:
            continue
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                continue
            fail(f"consume error: {m.error()}")
        out.append((m.partition(), m.offset(), m.key(), m.value()))
        last["t"] = time.time()
    c.close()
    return out


def basic(bootstrap, topic):
    """Commit, abort, commit; read_committed sees the committed records only and
    read_uncommitted all; a second instance fences the first."""
    p = txn_producer(bootstrap, "basic-txn")
    for batch, commit in (("a", True), ("b", False), ("c", True)):
        p.begin_transaction()
        for i in range(10):
            p.produce(topic, key=f"{batch}{i}".encode(), value=f"{batch}-{i}".encode())
        if commit:
            p.commit_transaction(DEADLINE_S)
        else:
            p.flush(DEADLINE_S)
            p.abort_transaction(DEADLINE_S)
    committed = [r[3].decode() for r in read_all(bootstrap, topic, "read_committed")]
    want = [f"a-{i}" for i in range(10)] + [f"c-{i}" for i in range(10)]
    if sorted(committed) != sorted(want):
        fail(f"read_committed saw {committed}")
    everything = read_all(bootstrap, topic, "read_uncommitted")
    if len(everything) != 30:
        fail(f"read_uncommitted saw {len(everything)} records, want 30")
    # A second instance with the same transactional id fences the first.
    p.begin_transaction()
    p.produce(topic, value=b"zombie")
    p.flush(DEADLINE_S)
    p2 = txn_producer(bootstrap, "basic-txn")
    fenced = False
    try:
        p.commit_transaction(DEADLINE_S)
    except KafkaException as e:
        fenced = e.args[0].fatal() or e.args[0].code() in (
            KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH)
    if not fenced:
        fail("the zombie's commit succeeded")
    p2.begin_transaction()
    p2.produce(topic, value=b"after-fence")
    p2.commit_transaction(DEADLINE_S)
    committed = [r[3] for r in read_all(bootstrap, topic, "read_committed")]
    if b"zombie" in committed or b"after-fence" not in committed or len(committed) != 21:
        fail(f"after fencing read_committed saw {len(committed)}: {committed[-3:]}")
    print(json.dumps({"committed": len(committed), "all": len(everything)}))


def fill(bootstrap, topic, count):
    """Plain produce of inputs 0..count-1 (value = the number)."""
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for i in range(int(count)):
        p.produce(topic, key=str(i).encode(), value=str(i).encode())
    if p.flush(DEADLINE_S):
        fail("inputs undelivered")
    print(json.dumps({"filled": int(count)}))


def transform(bootstrap, src, dst, group, txn_id, per_txn, max_rounds, abort_every,
              timeout_ms="10000", idle_s="4"):
    """Consume-transform-produce: each input i becomes output "out-i", its
    offset committed with send_offsets_to_transaction. Every abort_every-th
    transaction is aborted (its outputs must never be seen; its inputs are
    redone). Partitions are assigned, not subscribed, so a restarted instance
    starts at once from the group's committed offsets. Stops after max_rounds
    transactions or once nothing new arrives for idle_s."""
    per_txn, max_rounds, abort_every = int(per_txn), int(max_rounds), int(abort_every)
    p = txn_producer(bootstrap, txn_id, **{"transaction.timeout.ms": int(timeout_ms)})
    c = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
    })
    md = c.list_topics(src, timeout=DEADLINE_S)
    parts = [TopicPartition(src, i) for i in sorted(md.topics[src].partitions)]

    def rewind():
        at = c.committed(parts, DEADLINE_S)
        c.assign([TopicPartition(src, tp.partition, tp.offset if tp.offset >= 0 else OFFSET_BEGINNING)
                  for tp in at])

    rewind()
    done = committed = 0
    idle_since = time.time()
    while done < max_rounds and time.time() - idle_since < float(idle_s):
        msgs = [m for m in c.consume(per_txn, 0.5) if not m.error()]
        if not msgs:
            continue
        idle_since = time.time()
        p.begin_transaction()
        for m in msgs:
            p.produce(dst, key=m.key(), value=b"out-" + m.value())
        positions = [tp for tp in c.position(c.assignment()) if tp.offset >= 0]
        p.send_offsets_to_transaction(positions, c.consumer_group_metadata(), DEADLINE_S)
        done += 1
        if abort_every and done % abort_every == 0:
            p.abort_transaction(DEADLINE_S)
            rewind()
        else:
            p.commit_transaction(DEADLINE_S)
            committed += 1
        print(json.dumps({"rounds": done, "committed": committed}), flush=True)
    c.close()
    print(json.dumps({"rounds": done, "committed": committed}))


def hang(bootstrap, topic, txn_id, timeout_ms):
    """Opens a transaction, writes one record, says so, and waits to be killed."""
    p = txn_producer(bootstrap, txn_id, **{"transaction.timeout.ms": int(timeout_ms)})
    p.begin_transaction()
    p.produce(topic, partition=0, value=b"hung")
    if p.flush(DEADLINE_S):
        fail("the hung record was not delivered")
    print(json.dumps({"open": True}), flush=True)
    time.sleep(3600)


def committed_then_aborted(bootstrap, topic, count):
    """Keys k0..k{count-1}: a committed transaction writes "committed-i", then an
    aborted one writes "aborted-i" over them."""
    p = txn_producer(bootstrap, "compacted-writer")
    for outcome in ("committed", "aborted"):
        p.begin_transaction()
        for i in range(int(count)):
            p.produce(topic, partition=0, key=f"k{i}".encode(), value=f"{outcome}-{i}".encode())
        if p.flush(DEADLINE_S):
            fail(f"{outcome} records undelivered")
        if outcome == "committed":
            p.commit_transaction(DEADLINE_S)
        else:
            p.abort_transaction(DEADLINE_S)
    print(json.dumps({"keys": int(count)}))


def outputs(bootstrap, topic):
    """The values a read_committed consumer sees, in order per partition."""
    got = read_all(bootstrap, topic, "read_committed")
    print(json.dumps({"values": [r[3].decode() for r in got]}))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"basic": basic, "fill": fill, "transform": transform, "hang": hang, "outputs": outputs,
     "committed_then_aborted": committed_then_aborted}[cmd](*args)
