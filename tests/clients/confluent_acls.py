"""confluent-kafka's AdminClient managing weir's ACLs over SASL, driven by tests/acl.rs.

`roundtrip BOOTSTRAP ADMIN ADMIN_PW USER USER_PW TOPIC`: as the administrator,
create_acls (WRITE on TOPIC for USER, and a PREFIXED READ), describe_acls (all, and
filtered by principal), then the user's producer delivers to TOPIC; delete_acls
removes the user's ACLs and the user's next delivery fails with
TOPIC_AUTHORIZATION_FAILED; the user's own create_acls is refused with
CLUSTER_AUTHORIZATION_FAILED. One JSON line on stdout.
"""
import json
import sys

from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

TIMEOUT_S = 30


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def conf(bootstrap, user, password):
    return {
        "bootstrap.servers": bootstrap,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanisms": "SCRAM-SHA-256",
        "sasl.username": user,
        "sasl.password": password,
    }


def deliver(bootstrap, user, password, topic):
    """The error of one delivery (None when it was acknowledged)."""
    p = Producer({**conf(bootstrap, user, password), "acks": "all",
                  "message.timeout.ms": 10000, "retries": 0})
    result = []
    p.produce(topic, value=b"v", on_delivery=lambda err, _m: result.append(err))
    p.flush(TIMEOUT_S)
    if not result:
        fail("no delivery report")
    return result[0]


def roundtrip(bootstrap, admin, admin_pw, user, user_pw, topic):
    a = AdminClient(conf(bootstrap, admin, admin_pw))
    principal = f"User:{user}"
    bindings = [
        AclBinding(ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, principal, "*",
                   AclOperation.WRITE, AclPermissionType.ALLOW),
        AclBinding(ResourceType.TOPIC, "logs-", ResourcePatternType.PREFIXED, principal, "*",
                   AclOperation.READ, AclPermissionType.ALLOW),
    ]
    for f in a.create_acls(bindings, request_timeout=TIMEOUT_S).values():
        f.result()
    any_filter = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, None, None,
                                  AclOperation.ANY, AclPermissionType.ANY)
    everything = a.describe_acls(any_filter, request_timeout=TIMEOUT_S).result()
    users = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, principal, None,
                             AclOperation.ANY, AclPermissionType.ANY)
    mine = a.describe_acls(users, request_timeout=TIMEOUT_S).result()
    described = sorted(
        [b.restype.name, b.name, b.resource_pattern_type.name, b.operation.name,
         b.permission_type.name] for b in mine)
    before = deliver(bootstrap, user, user_pw, topic)
    deleted = []
    for f in a.delete_acls([users], request_timeout=TIMEOUT_S).values():
        deleted.extend(f.result())
    after = deliver(bootstrap, user, user_pw, topic)
    u = AdminClient(conf(bootstrap, user, user_pw))
    refused = None
    try:
        for f in u.create_acls(bindings[:1], request_timeout=TIMEOUT_S).values():
            f.result()
    except KafkaException as e:
        refused = e.args[0].name()
    print(json.dumps({
        "total": len(everything),
        "described": described,
        "before": None if before is None else before.name(),
        "deleted": len(deleted),
        "after": None if after is None else after.name(),
        "refused": refused,
    }))


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    {"roundtrip": roundtrip}[cmd](*args)
