"""A stateful Python processor: counts records per key in durable state, emits `key=n` for
each record (to the topic in header `route`, if any), and reports the number of keys on a timer."""
import weir


def report(now_ms, ctx):
    keys = ctx.state.scan_prefix(b"", 1000)
    ctx.emit(value=f"keys={len(keys)}".encode(), key=b"report", timestamp=now_ms)


@weir.processor(timer_ms=50, on_timer=report)
def count(record, ctx):
    if record.value == b"boom":
        ctx.emit(value=b"never seen")  # a failed record emits nothing
        raise ValueError("boom")
    n = int(ctx.state.get(record.key) or b"0") + 1
    ctx.state.put(record.key, str(n).encode())
    topic = dict(record.headers).get("route")
    ctx.emit(value=f"{record.key.decode()}={n}".encode(), key=record.key,
             timestamp=record.timestamp, topic=topic.decode() if topic else None)


# componentize-py instantiates the class named after the exported interface.
Processing = count
