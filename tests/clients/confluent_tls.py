"""confluent-kafka (librdkafka) over TLS, driven by tests/tls.rs.

`scram BOOTSTRAP CA MECHANISM USER PASSWORD TOPIC COUNT`: SASL_SSL with SCRAM.
`cert BOOTSTRAP CA CERT KEY TOPIC COUNT`: SSL, authenticated by a client certificate.
Each runs an idempotent producer and a consumer in a group that produce and read
COUNT records, and prints one JSON line.
"""
import json
import sys
import time

from confluent_kafka import Consumer, Producer

DEADLINE_S = 60


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def roundtrip(conf, topic, count):
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


def scram(bootstrap, ca, mechanism, user, password, topic, count):
    roundtrip({
        "bootstrap.servers": bootstrap,
        "security.protocol": "SASL_SSL",
        "ssl.ca.location": ca,
        "sasl.mechanisms": mechanism,
        "sasl.username": user,
        "sasl.password": password,
    }, topic, count)


def cert(bootstrap, ca, cert_path, key_path, topic, count):
    roundtrip({
        "bootstrap.servers": bootstrap,
        "security.protocol": "SSL",
        "ssl.ca.location": ca,
        "ssl.certificate.location": cert_path,
        "ssl.key.location": key_path,
    }, topic, count)


if __name__ == "__main__":
    {"scram": scram, "cert": cert}[sys.argv[1]](*sys.argv[2:])
