"""A Python window-store processor, the twin of tests/guests/windowcount: counts records per key
per one-second tumbling window in the window store, and on each stream-time punctuation emits
`tick@T` and `key@start=count` for every window that has closed, then removes it."""
import weir

SIZE = 1000


def close(stream_time, ctx):
    ctx.emit(value=f"tick@{stream_time}".encode(), timestamp=stream_time)
    for w in ctx.windows.fetch_all(-(2**63), stream_time - SIZE, 10000):
        ctx.emit(value=f"{w.key.decode()}@{w.start}={int(w.value)}".encode(), key=w.key,
                 timestamp=w.start)
        ctx.windows.remove(w.key, w.start)


@weir.processor(stream_time_ms=SIZE, on_stream_time=close, retention_ms=60000)
def count(record, ctx):
    start = record.timestamp // SIZE * SIZE
    n = int(ctx.windows.get(record.key, start) or b"0") + 1
    ctx.windows.put(record.key, start, str(n).encode())


# componentize-py instantiates the classes named after the exported interfaces.
Processing = count
StreamTime = count.stream_time
