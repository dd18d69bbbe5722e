"""A source connector in Python: `count` greetings ("hello 0", "hello 1", ...) into `topic`,
`greeting` set by config. Its source offset is the next number, so a restart goes on where
the committed records end."""
from weir import connect

DEFS = [
    connect.define("topic", required=True, doc="The topic the greetings go to."),
    connect.define("count", "LONG", default="1000", doc="How many greetings."),
    connect.define("greeting", default="hello", doc="The word before each number."),
]

PARTITION = {"greetings": "all"}


def check(cfg):
    issues = {}
    if not cfg.get("topic", "").strip():
        issues["topic"] = 'Missing required configuration "topic" which has no default value.'
    count = cfg.get("count", "1000")
    if not count.isdigit():
        issues["count"] = f"count must be a non-negative integer, not {count!r}"
    return issues


@connect.source(defs=DEFS, validate=check)
class Greetings:
    def __init__(self, config, offsets):
        if check(config):
            raise connect.InvalidConfig("; ".join(check(config).values()))
        self.topic = config["topic"]
        self.end = int(config.get("count", "1000"))
        self.word = config.get("greeting", "hello")
        self.next = next((o["next"] for p, o in offsets if p == PARTITION), 0)

    def poll(self, max_records):
        stop = min(self.end, self.next + max_records, self.next + 500)
        out = [
            connect.record(self.topic, f"{self.word} {n}", PARTITION, {"next": n + 1})
            for n in range(self.next, stop)
        ]
        self.next = stop
        return out


# componentize-py instantiates the classes named after the exports.
SourceTask = Greetings
Connector = Greetings.connector
