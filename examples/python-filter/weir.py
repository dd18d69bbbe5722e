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


class Record:
    """One input record; fields are sliced out of the batch buffer on access."""

    __slots__ = ("_data", "_view", "_headers", "offset")

    def __init__(self, data, view, headers, offset):
        self._data = data
        self._view = view
        self._headers = headers
        self.offset = offset

    def _slice(self, span):
        return None if span is None else self._data[span.offset : span.offset + span.len]

    @property
    def key(self):
        """The key (bytes), or None."""
        return self._slice(self._view.key)

    @property
    def value(self):
        """The value (bytes), or None for a tombstone."""
        return self._slice(self._view.value)

    @property
    def timestamp(self):
        """Create time, milliseconds since the Unix epoch."""
        return self._view.timestamp

    @property
    def headers(self):
        """Headers as a list of (str, bytes or None)."""
        v = self._view
        out = []
        for h in self._headers[v.headers_start : v.headers_start + v.headers_len]:
            out.append((self._slice(h.key).decode("utf-8", "replace"), self._slice(h.value)))
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
    for i, view in enumerate(batch.records):
        yield i, Record(batch.data, view, batch.headers, offsets[i] if i < len(offsets) else -1)


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
            data, views, headers, sources = bytearray(), [], [], []

            def span(b):
                s = types.Span(len(data), len(b))
                data.extend(b)
                return s

            def each(i, rec, cfg):
                out = fn(rec, cfg)
                for r in (out if many else ([] if out is None else [out])):
                    key = None if r.get("key") is None else span(r["key"])
                    value = None if r.get("value") is None else span(r["value"])
                    start = len(headers)
                    for hk, hv in r.get("headers", []):
                        headers.append(types.HeaderView(span(hk.encode()), None if hv is None else span(hv)))
                    views.append(types.RecordView(key, value, start, len(headers) - start, r.get("timestamp", 0)))
                    sources.append(i)

            failures = _run(origin, batch, each)
            out = types.Batch(bytes(data), views, headers)
            return transformer.TransformOutput(types.Emit_Records(types.Emitted(out, sources)), failures)

    return Emitter


def map(fn):
    """Decorates fn(record, config) -> dict or None (keys: key, value, headers, timestamp)."""
    return _emitter(fn, many=False)


def flat_map(fn):
    """Decorates fn(record, config) -> list of dicts (keys: key, value, headers, timestamp)."""
    return _emitter(fn, many=True)
