"""confluent-kafka (librdkafka) over SASL, driven by tests/auth.rs.

`roundtrip BOOTSTRAP MECHANISM USER PASSWORD TOPIC COUNT`: an idempotent producer
and a consumer in a group, both authenticated, produce and read COUNT records.
`refused BOOTSTRAP MECHANISM USER PASSWORD`: metadata with these credentials must
fail; prints the error librdkafka reported. One JSON line on stdout each.
"""
import json
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient

DEADLINE_S = 60


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def sasl(bootstrap, mechanism, user, password):
    return {
        "bootstrap.servers": bootstrap,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanisms": mechanism,
        "sasl.username": user,
        "sasl.password": password,
    }


def roundtrip(bootstrap, mechanism, user, password, topic, count):
    roundtrip_with(sasl(bootstrap, mechanism, user, password), topic, count)


def roundtrip_with(conf, topic, count):
    """An idempotent producer and a consumer in a group, both configured with
    `conf`, produce and read `count` records; prints one JSON line. Also used by
    confluent_tls.py."""
    count = int(count)
    p = Producer({**conf, "enable.idempotence": True, "acks": "all", "linger.ms": 5})
    errors = []
    for i in range(count):
        p.produce(topic, value=f"v{i}".encode(),
                  on_delivery=lambda err, _m: errors.append(str(err)) if err else None)
        p.poll(0)
    left = p.flush(DEADLINE_S)
    if left or errors:
        fail(f"{left} undelivered, errors: {errors[:5]}")
    c = Consumer({**conf, "group.id": f"{topic}-group", "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    seen = set()
    deadline = time.time() + DEADLINE_S
    while len(seen) < count and time.time() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            fail(f"consume: {m.error()}")
        seen.add(m.value().decode())
    c.close()
    print(json.dumps({"delivered": count, "consumed": len(seen)}))


def refused(bootstrap, mechanism, user, password):
    errors = []
    conf = sasl(bootstrap, mechanism, user, password)
    admin = AdminClient({**conf, "error_cb": lambda e: errors.append(str(e))})
    try:
        admin.list_topics(timeout=10)
    except KafkaException as e:
        errors.append(str(e))
        # The authentication error itself arrives through error_cb.
        deadline = time.time() + 10
        while not any("uthenticat" in e for e in errors) and time.time() < deadline:
            admin.poll(0.2)
    else:
        fail("metadata succeeded with wrong credentials")
    print(json.dumps({"errors": errors}))


if __name__ == "__main__":
    {"roundtrip": roundtrip, "refused": refused}[sys.argv[1]](*sys.argv[2:])
