"""confluent-kafka (librdkafka) over TLS, driven by tests/tls.rs.

`scram BOOTSTRAP CA MECHANISM USER PASSWORD TOPIC COUNT`: SASL_SSL with SCRAM.
`cert BOOTSTRAP CA CERT KEY TOPIC COUNT`: SSL, authenticated by a client certificate.
Each runs an idempotent producer and a consumer in a group that produce and read
COUNT records, and prints one JSON line.
"""
import sys

from confluent_sasl import roundtrip_with as roundtrip


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
