"""weir: write weir plugins in Python.

The host sends a batch in flat form (one bytes buffer plus small views); this module turns it
into Record objects and turns your function's answers back into the flat form, so a filter is
a decorated function:

    import weir

    @weir.filter
    def keep(record, config):
        return b"error" in (record.value or b"")

    Transformer = keep   # componentize-py looks for the class named after the export
"""
from componentize_py_types import Err
from wit_world.exports import transformer
from wit_world.imports import config as _config
from wit_world.imports import log as _log
from wit_world.imports import types


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


def _run(origin, batch, each):
    cfg = config()
    failures = []
    for i, rec in _records(origin, batch):
        try:
            each(i, rec, cfg)
        except InvalidConfig as e:
            raise Err(transformer.TransformError_InvalidConfig(str(e)))
        except Exception as e:  # one bad record must not fail the batch
            failures.append(types.RecordFailure(i, f"{type(e).__name__}: {e}"))
    return failures


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


def _emitter(fn, many):
    class Emitter:
        def process(self, origin, batch):
            data, records, stamps, headers, sources = bytearray(), [], [], [], []

            def span(b):
                start = len(data)
                if b is None:
                    return [start, _NULL]
                data.extend(b)
                return [start, len(b)]

            def each(i, rec, cfg):
                out = fn(rec, cfg)
                for r in (out if many else ([] if out is None else [out])):
                    fields = span(r.get("key")) + span(r.get("value"))
                    first = len(headers) // 4
                    hs = r.get("headers", [])
                    for hk, hv in hs:
                        headers.extend(span(hk.encode()) + span(hv))
                    records.extend(fields + [first, len(hs)])
                    stamps.append(r.get("timestamp", 0))
                    sources.append(i)

            failures = _run(origin, batch, each)
            out = types.Batch(bytes(data), records, stamps, headers)
            return transformer.TransformOutput(types.Emit_Records(types.Emitted(out, sources)), failures)

    return Emitter


def map(fn):
    """Decorates fn(record, config) -> dict or None (keys: key, value, headers, timestamp)."""
    return _emitter(fn, many=False)


def flat_map(fn):
    """Decorates fn(record, config) -> list of dicts (keys: key, value, headers, timestamp)."""
    return _emitter(fn, many=True)
