"""A processor's window and session stores (Kafka Streams' WindowStore and SessionStore), kept by
the host beside `ctx.state` and committed with it; see `weir.processor`."""
from weir import _bytes, _state_call

try:
    from wit_world.imports import session_state as _sessions
    from wit_world.imports import window_state as _windows
except ImportError:  # a build for another world
    _windows = None
    _sessions = None


def _time(what, value):
    if not isinstance(value, int) or not -(2**63) <= value < 2**63:
        raise TypeError(f"{what} must be an int of 64 bits, not {value!r}")
    return value


def _limit(limit):
    if not isinstance(limit, int) or not 0 <= limit < 2**32:
        raise ValueError(f"a fetch limit must be an int from 0 to 2**32 - 1, not {limit!r}")
    return limit


class Window:
    """One stored window: key, start (ms since the epoch) and value."""

    def __init__(self, key, start, value):
        self.key, self.start, self.value = key, start, value

    def __repr__(self):
        return f"Window({self.key!r}, {self.start}, {self.value!r})"


class Session:
    """One stored session: key, start and end (both inclusive, ms) and value."""

    def __init__(self, key, start, end, value):
        self.key, self.start, self.end, self.value = key, start, end, value

    def __repr__(self):
        return f"Session({self.key!r}, {self.start}, {self.end}, {self.value!r})"


class WindowStore:
    """The processor's window store (Kafka's WindowStore): a value per (key, window start),
    committed with the batch; with a retention it expires, as Kafka's does, windows starting at or
    before its observed stream time (the latest start put) minus the retention."""

    def put(self, key, start, value):
        """Stores value for key in the window starting at start."""
        _state_call(_windows.put, _bytes("a window key", key), _time("a window start", start),
                    _bytes("a window value", value))

    def get(self, key, start):
        """The value of key in the window starting at start, or None."""
        return _state_call(_windows.get, _bytes("a window key", key), _time("a window start", start))

    def fetch(self, key, time_from, time_to, limit=1000):
        """Up to limit windows of key starting within time_from..=time_to, by start."""
        found = _state_call(_windows.fetch, _bytes("a window key", key), _time("time_from", time_from),
                            _time("time_to", time_to), _limit(limit))
        return [Window(w.key, w.start, w.value) for w in found]

    def fetch_all(self, time_from, time_to, limit=1000):
        """Up to limit windows of any key starting within time_from..=time_to, by start."""
        found = _state_call(_windows.fetch_all, _time("time_from", time_from),
                            _time("time_to", time_to), _limit(limit))
        return [Window(w.key, w.start, w.value) for w in found]

    def remove(self, key, start):
        """Removes the window of key starting at start (absent is fine)."""
        _state_call(_windows.remove, _bytes("a window key", key), _time("a window start", start))


class SessionStore:
    """The processor's session store (Kafka's SessionStore): a value per (key, start, end)."""

    def put(self, key, start, end, value):
        """Stores value for the session of key from start to end."""
        _state_call(_sessions.put, _bytes("a session key", key), _time("a session start", start),
                    _time("a session end", end), _bytes("a session value", value))

    def fetch_session(self, key, start, end):
        """The value of the session of key from start to end exactly, or None."""
        return _state_call(_sessions.fetch_session, _bytes("a session key", key),
                           _time("a session start", start), _time("a session end", end))

    def find_sessions(self, key, earliest_end, latest_start, limit=1000):
        """Up to limit sessions of key with end >= earliest_end and start <= latest_start."""
        found = _state_call(_sessions.find_sessions, _bytes("a session key", key),
                            _time("earliest_end", earliest_end), _time("latest_start", latest_start),
                            _limit(limit))
        return [Session(s.key, s.start, s.end, s.value) for s in found]

    def find_all_sessions(self, earliest_end, latest_end, limit=1000):
        """Up to limit sessions of any key ending within earliest_end..=latest_end, by end."""
        found = _state_call(_sessions.find_all_sessions, _time("earliest_end", earliest_end),
                            _time("latest_end", latest_end), _limit(limit))
        return [Session(s.key, s.start, s.end, s.value) for s in found]

    def remove(self, key, start, end):
        """Removes the session of key from start to end (absent is fine)."""
        _state_call(_sessions.remove, _bytes("a session key", key), _time("a session start", start),
                    _time("a session end", end))
