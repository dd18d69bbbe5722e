"""Connectors in Python (the `source-connector` and `sink-connector` worlds): a task class,
decorated, is both exports.

    from weir import connect

    @connect.source(defs=[connect.define("topic", required=True, doc="Where to write")],
                    validate=lambda cfg: {} if cfg.get("topic") else {"topic": "required"})
    class Ticks:
        def __init__(self, config, offsets):      # start: offsets as [(partition, offset)] dicts
            self.n = next((o["n"] for _, o in offsets), 0)
        def poll(self, max_records):              # records made by connect.record(...)
            ...

    SourceTask = Ticks            # componentize-py instantiates the classes named after
    Connector = Ticks.connector   # the exports

A sink task class has `__init__(self, config, committed)`, `put(self, records)` and
`flush(self, offsets) -> str` (see wit/connector.wit); `connect.plain(value)` turns a record's
key or value into str, bytes, None or parsed JSON. Both may define `stop(self)`.

Exceptions become the call's error: `connect.InvalidConfig`, `connect.Retriable` (the host
calls again later) and `PermissionError` (denied) keep their kind; anything else fails the
task with its message.
"""
import json

from componentize_py_types import Err
from wit_world.imports import connect_types as _t

try:
    from wit_world.exports import source_task as _source
except ImportError:
    _source = None
try:
    from wit_world.exports import sink_task as _sink
except ImportError:
    _sink = None


class InvalidConfig(Exception):
    """The configuration is unusable: a missing or malformed key."""


class Retriable(Exception):
    """A transient failure: the host calls again later."""


def define(name, kind="STRING", required=False, default=None, doc="", importance=None):
    """One config key the connector takes (an entry of Connect's ConfigDef)."""
    return _t.ConfigDef(
        name, kind, required, default, importance or ("HIGH" if required else "LOW"), doc
    )


def _value(v):
    if v is None:
        return _t.Value_Null()
    if isinstance(v, str):
        return _t.Value_Text(v)
    if isinstance(v, (bytes, bytearray)):
        return _t.Value_Bytes(bytes(v))
    return _t.Value_Json(json.dumps(v))


def plain(value):
    """A record's key, value or header value as str, bytes, None, or parsed JSON."""
    if isinstance(value, _t.Value_Null):
        return None
    if isinstance(value, _t.Value_Json):
        return json.loads(value.value)
    return value.value


def _map(d):
    # Canonical JSON (sorted keys, no spaces), as the host compares source partitions.
    return json.dumps(d, sort_keys=True, separators=(",", ":"))


def record(topic, value, partition, offset, key=None, headers=(), timestamp=None,
           kafka_partition=None):
    """A source record of `topic`: `partition` and `offset` are dicts (Connect's source
    partition and offset maps); values may be str, bytes, None or anything JSON."""
    return _source.SourceRecord(
        _map(partition), _map(offset), topic, kafka_partition, _value(key), _value(value),
        [_t.Header(k, _value(v)) for k, v in headers], timestamp,
    )


def _error(e):
    if isinstance(e, InvalidConfig):
        return Err(_t.ConnectorError_InvalidConfig(str(e)))
    if isinstance(e, Retriable):
        return Err(_t.ConnectorError_Retriable(str(e)))
    if isinstance(e, PermissionError):
        return Err(_t.ConnectorError_Denied(str(e)))
    return Err(_t.ConnectorError_Failed(f"{type(e).__name__}: {e}"))


def _call(fn, *args):
    try:
        return fn(*args)
    except Err:
        raise
    except Exception as e:  # a plugin's exception is its call's error, never a trap
        raise _error(e)


def _connector(defs, validate, task_configs):
    class Connector:
        def config_defs(self):
            return list(defs)

        def validate(self, config):
            issues = validate(dict(config)) if validate else {}
            items = issues.items() if isinstance(issues, dict) else issues
            return [_t.ConfigIssue(k, str(m)) for k, m in items]

        def task_configs(self, config, max_tasks):
            cfg = dict(config)
            split = _call(task_configs, cfg, max_tasks) if task_configs else [cfg]
            return [sorted(c.items()) for c in split]

    return Connector


class _Slot:
    """The task of this instance: one per instance, as the host makes one instance a task."""

    task = None

    @classmethod
    def get(cls):
        if cls.task is None:
            raise Err(_t.ConnectorError_Failed("the task was not started"))
        return cls.task


def _stop():
    task, _Slot.task = _Slot.task, None
    if task is not None and hasattr(task, "stop"):
        try:
            task.stop()
        except Exception:  # stop answers nothing: the task ends anyway
            pass


def source(defs=(), validate=None, task_configs=None):
    """Makes a source task class the `source-task` export; its `.connector` is the
    `connector` export. `validate(cfg)` answers {key: message} (empty when valid);
    `task_configs(cfg, max_tasks)` a list of dicts (default: one task with `cfg`)."""

    def wrap(cls):
        class SourceTask:
            def start(self, config, offsets):
                pairs = [(json.loads(o.source_partition), json.loads(o.source_offset))
                         for o in offsets]
                _Slot.task = _call(cls, dict(config), pairs)

            def poll(self, max_records):
                return _call(_Slot.get().poll, max_records)

            def committed(self, offsets):
                task = _Slot.task
                if task is not None and hasattr(task, "committed"):
                    pairs = [(json.loads(o.source_partition), json.loads(o.source_offset))
                             for o in offsets]
                    try:
                        task.committed(pairs)
                    except Exception:  # committed answers nothing
                        pass

            def stop(self):
                _stop()

        SourceTask.connector = _connector(defs, validate, task_configs)
        return SourceTask

    return wrap


def sink(defs=(), validate=None, task_configs=None):
    """Makes a sink task class the `sink-task` export; its `.connector` is the `connector`
    export (see `source` for `validate` and `task_configs`)."""

    def wrap(cls):
        class SinkTask:
            def start(self, config, committed):
                _Slot.task = _call(cls, dict(config), committed)

            def put(self, records):
                _call(_Slot.get().put, records)

            def flush(self, offsets):
                return str(_call(_Slot.get().flush, offsets) or "")

            def stop(self):
                _stop()

        SinkTask.connector = _connector(defs, validate, task_configs)
        return SinkTask

    return wrap
