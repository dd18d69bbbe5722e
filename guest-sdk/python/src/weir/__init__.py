"""weir: write weir plugins in Python (the `weir-guest` package, guest-sdk/python).

The host sends a batch in flat form (one bytes buffer plus small views); this module turns it
into Record objects and turns your function's answers back into the flat form, so a filter is
a decorated function:

    import weir

    @weir.filter
    def keep(record, config):
        return b"error" in (record.value or b"")

    Transformer = keep   # componentize-py looks for the class named after the export

A stateful processor (built with `-w processor`) is a decorated function too:

    @weir.processor(timer_ms=1000, on_timer=report)
    def count(record, ctx):
        n = int(ctx.state.get(record.key) or b"0") + 1
        ctx.state.put(record.key, str(n).encode())
        ctx.emit(value=f"{record.key.decode()}={n}".encode(), key=record.key)

    Processing = count

Built with `-w stream-processor`, a processor also has Kafka Streams' window and session stores
(`ctx.windows`, `ctx.sessions`) and a punctuator on stream time (the largest record timestamp
seen), called each time stream time reaches the next multiple of `stream_time_ms`:

    @weir.processor(stream_time_ms=60000, on_stream_time=close, retention_ms=3600000)
    def count(record, ctx):
        start = record.timestamp // 60000 * 60000
        n = int(ctx.windows.get(record.key, start) or b"0") + 1
        ctx.windows.put(record.key, start, str(n).encode())

    Processing = count
    StreamTime = count.stream_time

The functions of a `reduce` or `aggregate` step (built with `-w aggregator`): `add` decorated,
the others named (each answers bytes; without `initial` a key starts from b""):

    @weir.aggregator(initial=lambda: b"0", merge=lambda key, a, b: str(int(a) + int(b)).encode())
    def add(item, aggregate):
        return str(int(aggregate) + int(item.value)).encode()

    Aggregating = add

The value joiner of a `join` step (built with `-w joiner`): key, left and right are bytes or
None (a side without a match); answer bytes, or None for a null value:

    @weir.joiner
    def join(key, left, right):
        return left + b"+" + (right or b"-")

    Joining = join

The key selector of a `group_by` step (built with `-w key-selector`): the record's new key as
bytes, or None for a null key (the record is dropped, as Kafka's groupBy drops it, unless a left
join with a table reads the group_by, which joins it with no row: KIP-962):

    @weir.key_selector
    def by_user(record, config):
        user, sep, _ = (record.value or b"").partition(b",")
        return user if sep else None

    KeySelecting = by_user
"""
from componentize_py_types import Err
from wit_world.imports import config as _config
from wit_world.imports import log as _log
from wit_world.imports import types

# One module serves every world: each build has the bindings of its own world only.
try:
    from wit_world.exports import transformer
except ImportError:
    transformer = None
try:
    from wit_world.exports import processing
    from wit_world.imports import state as _state
except ImportError:
    processing = None
    _state = None
try:
    from wit_world.exports import stream_time as _stream_time
except ImportError:
    _stream_time = None
try:
    from wit_world.exports import aggregating
except ImportError:
    aggregating = None
try:
    from wit_world.exports import joining
except ImportError:
    joining = None
try:
    from wit_world.exports import key_selecting
except ImportError:
    key_selecting = None


class InvalidConfig(Exception):
    """The deployed configuration is unusable: the whole batch is refused."""


_NULL = 0xFFFFFFFF


class Record:
    """One input record; fields are sliced out of the batch buffer on access."""

    __slots__ = ("_batch", "_at", "index", "offset")

    def __init__(self, batch, index, offset):
        self._batch = batch
        self._at = index * 6
        self.index = index
        self.offset = offset

    def _slice(self, offset, length):
        return None if length == _NULL else self._batch.data[offset : offset + length]

    @property
    def key(self):
        """The key (bytes), or None."""
        r, at = self._batch.records, self._at
        return self._slice(r[at], r[at + 1])

    @property
    def value(self):
        """The value (bytes), or None for a tombstone."""
        r, at = self._batch.records, self._at
        return self._slice(r[at + 2], r[at + 3])

    @property
    def timestamp(self):
        """Create time, milliseconds since the Unix epoch."""
        return self._batch.timestamps[self.index]

    @property
    def headers(self):
        """Headers as a list of (str, bytes or None)."""
        r, at, h = self._batch.records, self._at, self._batch.headers
        out = []
        for j in range(r[at + 4], r[at + 4] + r[at + 5]):
            k = self._slice(h[4 * j], h[4 * j + 1]) or b""
            out.append((k.decode("utf-8", "replace"), self._slice(h[4 * j + 2], h[4 * j + 3])))
        return out


def config():
    """The plugin's configuration as a dict (read once)."""
    global _CONFIG
    if _CONFIG is None:
        _CONFIG = dict(_config.entries())
    return _CONFIG


_CONFIG = None


def require(cfg, key):
    """cfg[key], or InvalidConfig naming the missing key."""
    value = cfg.get(key)
    if value is None:
        raise InvalidConfig(f"missing config key `{key}`")
    return value


def log(message, level=_log.Level.INFO):
    """Writes a line to the host's log, tagged with the plugin's name."""
    _log.write(level, message)


def _records(origin, batch):
    offsets = origin.offsets
    for i in range(len(batch.records) // 6):
        yield i, Record(batch, i, offsets[i] if i < len(offsets) else -1)


class StateFailed(Exception):
    """A state operation failed: the whole batch is refused (and retried by the host)."""


def _run(origin, batch, each, invalid_config=None):
    cfg = config()
    failures = []
    for i, rec in _records(origin, batch):
        try:
            each(i, rec, cfg)
        except InvalidConfig as e:
            raise _refusal(e, invalid_config or transformer.TransformError_InvalidConfig)
        except StateFailed as e:
            if processing is None:  # raised by hand in a transform: the record's failure
                failures.append(types.RecordFailure(i, _message(e)))
            else:
                raise _refusal(e, invalid_config)
        except Exception as e:  # one bad record must not fail the batch
            failures.append(types.RecordFailure(i, _message(e)))
    return failures


def _text(s):
    """s with anything UTF-8 cannot carry (lone surrogates) replaced: the host takes UTF-8 only."""
    return s.encode("utf-8", "replace").decode("utf-8")


def _message(e):
    return _text(f"{type(e).__name__}: {e}")


def _refusal(e, invalid_config):
    """The Err refusing a whole batch or timer call for an InvalidConfig or a StateFailed."""
    if isinstance(e, InvalidConfig):
        return Err(invalid_config(_text(str(e))))
    return Err(processing.ProcessorError_State(_text(str(e))))


def filter(fn):
    """Decorates fn(record, config) -> bool into a transform that keeps records it accepts."""

    class Filter:
        def process(self, origin, batch):
            keep = []

            def each(i, rec, cfg):
                if fn(rec, cfg):
                    keep.append(i)

            failures = _run(origin, batch, each)
            return transformer.TransformOutput(types.Emit_Keep(keep), failures)

    return Filter


class _Writer:
    """Builds an outgoing batch in flat form, remembering each record's input index."""

    def __init__(self):
        self.data, self.records, self.stamps, self.headers, self.sources = bytearray(), [], [], [], []

    def _span(self, b):
        start = len(self.data)
        if b is None:
            return [start, _NULL]
        self.data.extend(b)
        return [start, len(b)]

    def mark(self):
        """Where the batch ends now, to cut back to with `reset`."""
        return len(self.data), len(self.records), len(self.stamps), len(self.headers), len(self.sources)

    def reset(self, mark):
        d, r, t, h, s = mark
        del self.data[d:], self.records[r:], self.stamps[t:], self.headers[h:], self.sources[s:]

    def push(self, r, source=0):
        """Appends r, a dict with keys key, value, headers ([(str, bytes or None)]), timestamp.
        Every field is checked first (a wrong type or an out-of-range number crossing into the
        host would trap the whole instance; here it is this record's failure)."""
        key = _bytes("a key", r.get("key"), nullable=True)
        value = _bytes("a value", r.get("value"), nullable=True)
        hs = []
        for hk, hv in r.get("headers", []):
            if not isinstance(hk, str):
                raise TypeError(f"a header key must be str, not {type(hk).__name__}")
            hs.append((hk.encode("utf-8"), _bytes("a header value", hv, nullable=True)))
        timestamp = r.get("timestamp", 0)
        if not isinstance(timestamp, int) or not -(2**63) <= timestamp < 2**63:
            raise ValueError(f"a timestamp must be an int of 64 bits, not {timestamp!r}")
        fields = self._span(key) + self._span(value)
        first = len(self.headers) // 4
        for hk, hv in hs:
            self.headers.extend(self._span(hk) + self._span(hv))
        self.records.extend(fields + [first, len(hs)])
        self.stamps.append(timestamp)
        self.sources.append(source)

    def batch(self):
        return types.Batch(bytes(self.data), self.records, self.stamps, self.headers)

    def emitted(self):
        return types.Emit_Records(types.Emitted(self.batch(), self.sources))


def _emitter(fn, many):
    class Emitter:
        def process(self, origin, batch):
            out = _Writer()

            def each(i, rec, cfg):
                got = fn(rec, cfg)
                mark = out.mark()
                try:
                    for r in (got if many else ([] if got is None else [got])):
                        out.push(r, i)
                except Exception:
                    out.reset(mark)  # a failed record emits nothing, not half its records
                    raise

            failures = _run(origin, batch, each)
            return transformer.TransformOutput(out.emitted(), failures)

    return Emitter


def map(fn):
    """Decorates fn(record, config) -> dict or None (keys: key, value, headers, timestamp)."""
    return _emitter(fn, many=False)


def flat_map(fn):
    """Decorates fn(record, config) -> list of dicts (keys: key, value, headers, timestamp)."""
    return _emitter(fn, many=True)


def _bytes(what, value, nullable=False):
    # A wrong type crossing into the host would trap the whole instance; here it is a per-record
    # failure that names the mistake.
    if value is None and nullable:
        return None
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    raise TypeError(f"{what} must be bytes{' or None' if nullable else ''}, not {type(value).__name__}")


def _state_call(op, *args):
    try:
        return op(*args)
    except Err as e:
        if isinstance(e.value, _state.StateError_TooLarge):
            # The same record would fail the same way on every retry: its own failure.
            raise ValueError(f"state: {e.value.value}") from None
        raise StateFailed(f"state unavailable: {e.value.value}") from None


class State:
    """The processor's durable key-value state (bytes to bytes), committed with the batch."""

    def get(self, key):
        """The value stored under key, or None."""
        return _state_call(_state.get, _bytes("a state key", key))

    def put(self, key, value):
        """Stores value under key."""
        _state_call(_state.put, _bytes("a state key", key), _bytes("a state value", value))

    def delete(self, key):
        """Removes key (absent is fine)."""
        _state_call(_state.delete, _bytes("a state key", key))

    def scan_prefix(self, prefix, limit=1000):
        """Up to limit (key, value) pairs whose key starts with prefix, in key order."""
        if not isinstance(limit, int) or not 0 <= limit < 2**32:
            raise ValueError(f"a scan limit must be an int from 0 to 2**32 - 1, not {limit!r}")
        entries = _state_call(_state.scan_prefix, _bytes("a state prefix", prefix), limit)
        return [(e.key, e.value) for e in entries]


# After _bytes and _state_call, which the stores use.
from weir.stores import Session, SessionStore, Window, WindowStore  # noqa: E402


class Context:
    """What a processor function gets with each record: state, the window and session stores,
    config, and where output goes."""

    def __init__(self, outputs, source, cfg):
        self._outputs, self._source = outputs, source
        self.state = State()
        self.windows = WindowStore()
        self.sessions = SessionStore()
        self.config = cfg

    def emit(self, value, key=None, headers=(), timestamp=0, topic=None):
        """Sends a record to the main output, or to `topic` (one of the pipeline's outputs)."""
        if topic is not None:
            if not isinstance(topic, str):
                raise TypeError(f"a topic must be str, not {type(topic).__name__}")
            topic.encode("utf-8")  # refuses what the host could not take
        record = {"key": key, "value": value, "headers": list(headers), "timestamp": timestamp}
        writer = self._outputs.get(topic)
        if writer is None:
            writer = self._outputs[topic] = _Writer()
        writer.push(record, self._source)


def _interval(name, ms):
    if ms is not None and (not isinstance(ms, int) or not 0 < ms < 2**64):
        raise ValueError(f"{name} must be a positive int, not {ms!r}")


def processor(fn=None, *, timer_ms=None, on_timer=None, stream_time_ms=None, on_stream_time=None,
              retention_ms=None):
    """Decorates fn(record, ctx) into a stateful processor; with timer_ms and on_timer(now_ms, ctx),
    the host also calls on_timer that often (ctx.emit with no input record behind it). Built with
    `-w stream-processor`, stream_time_ms and on_stream_time(stream_time_ms, ctx) punctuate on
    stream time and retention_ms bounds the window and session stores; export the decorated
    class's `stream_time` as `StreamTime`."""

    _interval("timer_ms", timer_ms)
    _interval("stream_time_ms", stream_time_ms)
    _interval("retention_ms", retention_ms)
    if (timer_ms is None) != (on_timer is None):
        raise ValueError("a timer needs both timer_ms and on_timer")
    if (stream_time_ms is None) != (on_stream_time is None):
        raise ValueError("a stream-time timer needs both stream_time_ms and on_stream_time")

    def wrap(fn):
        class Processor:
            def init(self, _config_entries):
                return processing.Settings(timer_ms)

            def process(self, origin, batch):
                outputs = {}

                def each(i, rec, cfg):
                    marks = {t: w.mark() for t, w in outputs.items()}
                    try:
                        fn(rec, Context(outputs, i, cfg))
                    except Exception:
                        # A failed record emits nothing (its state writes stay: see README).
                        for t in [t for t in outputs if t not in marks]:
                            del outputs[t]
                        for t, m in marks.items():
                            outputs[t].reset(m)
                        raise

                failures = _run(origin, batch, each, processing.ProcessorError_InvalidConfig)
                main = outputs.pop(None, _Writer()).emitted()
                routes = [processing.Route(t, w.emitted()) for t, w in outputs.items()]
                return processing.ProcessorOutput(main, routes, failures)

            def on_timer(self, now_ms):
                outputs = {}
                if on_timer is not None:
                    try:
                        on_timer(now_ms, Context(outputs, 0, config()))
                    except (InvalidConfig, StateFailed) as e:
                        raise _refusal(e, processing.ProcessorError_InvalidConfig)
                    except Exception as e:
                        raise Err(processing.ProcessorError_Failed(_message(e)))
                main = outputs.pop(None, _Writer()).batch()
                return processing.TimerOutput(main, [(t, w.batch()) for t, w in outputs.items()])

        class StreamTime:
            def settings(self):
                return _stream_time.StreamSettings(stream_time_ms, retention_ms)

            def on_stream_time(self, stream_time_ms):
                outputs = {}
                if on_stream_time is not None:
                    try:
                        on_stream_time(stream_time_ms, Context(outputs, 0, config()))
                    except StateFailed as e:
                        raise Err(_stream_time.PunctuationError_State(_text(str(e))))
                    except Exception as e:
                        raise Err(_stream_time.PunctuationError_Failed(_message(e)))
                main = outputs.pop(None, _Writer()).batch()
                return _stream_time.PunctuationOutput(
                    main, [(t, w.batch()) for t, w in outputs.items()])

        Processor.stream_time = StreamTime
        return Processor

    return wrap(fn) if fn is not None else wrap


def aggregator(add=None, *, initial=None, merge=None, subtract=None):
    """Decorates add(item, aggregate) -> bytes into the aggregator of a `reduce` or `aggregate`
    step; initial() -> bytes, merge(key, left, right) -> bytes (sessions, sliding windows) and
    subtract(item, aggregate) -> bytes are optional. `item` has `key`, `value` (bytes) and
    `timestamp` (ms). An exception fails the record, naming the function; InvalidConfig refuses
    the call as such."""

    def call(fn, variant, *args):
        try:
            out = fn(*args)
        except InvalidConfig as e:
            raise Err(aggregating.AggregatorError_InvalidConfig(_text(str(e))))
        except Exception as e:
            raise Err(variant(_message(e)))
        if not isinstance(out, (bytes, bytearray)):
            raise Err(variant(f"answered {type(out).__name__}, not bytes"))
        return bytes(out)

    def missing(variant, name):
        raise Err(variant(f"this aggregator has no {name}: give {name}= to weir.aggregator"))

    def wrap(add):
        class Aggregator:
            def initial(self):
                if initial is None:
                    return b""
                return call(initial, aggregating.AggregatorError_InitialFailed)

            def add(self, item, aggregate):
                return call(add, aggregating.AggregatorError_AddFailed, item, aggregate)

            def merge(self, key, left, right):
                if merge is None:
                    missing(aggregating.AggregatorError_MergeFailed, "merge")
                return call(merge, aggregating.AggregatorError_MergeFailed, key, left, right)

            def subtract(self, item, aggregate):
                if subtract is None:
                    missing(aggregating.AggregatorError_SubtractFailed, "subtract")
                return call(subtract, aggregating.AggregatorError_SubtractFailed, item, aggregate)

        return Aggregator

    return wrap(add) if add is not None else wrap


def joiner(fn):
    """Decorates join(key, left, right) -> bytes | None into the value joiner of a `join` step.
    key, left and right are bytes or None (left/right: a side without a match, in left and
    outer joins); None answers a null value. An exception fails the record that made the
    pair; InvalidConfig refuses the call as such."""

    class Joiner:
        def join(self, key, left, right):
            try:
                out = fn(key, left, right)
            except InvalidConfig as e:
                raise Err(joining.JoinerError_InvalidConfig(_text(str(e))))
            except Exception as e:
                raise Err(joining.JoinerError_JoinFailed(_message(e)))
            if out is None:
                return None
            if not isinstance(out, (bytes, bytearray)):
                raise Err(joining.JoinerError_JoinFailed(
                    f"answered {type(out).__name__}, not bytes or None"))
            return bytes(out)

    return Joiner


def key_selector(fn):
    """Decorates fn(record, config) -> bytes | None into the key selector of a `group_by` step:
    each record's new key, or None for a null one (dropped but for KIP-962's left joins, see the
    module's doc). An exception (or an answer that is not
    bytes) fails that record alone; InvalidConfig refuses the batch."""

    class KeySelector:
        def select(self, origin, batch):
            keys = [None] * (len(batch.records) // 6)

            def each(i, rec, cfg):
                keys[i] = _bytes("a key", fn(rec, cfg), nullable=True)

            failures = _run(origin, batch, each, key_selecting.KeySelectorError_InvalidConfig)
            # A failed record's entry is ignored by the host; None keeps the list whole.
            return key_selecting.SelectedKeys(keys, failures)

    return KeySelector
