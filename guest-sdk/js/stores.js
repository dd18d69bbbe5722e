// A processor's window and session stores (Kafka Streams' WindowStore and SessionStore), kept
// by the host beside `ctx.state` and committed with it and the batch's offsets; the JS twin of
// the Python package's `weir.stores`. Imported by processor.js: both interfaces belong to the
// processor world (and to `stream-processor`, which includes it), so no other world's build
// names them.
import hostWindows from "weir:plugin/window-state@0.1.0";
import hostSessions from "weir:plugin/session-state@0.1.0";
import { bytes } from "./core.js";
import { checkLimit, stateCall } from "./state-call.js";

const MIN = -(2n ** 63n);
const MAX = 2n ** 63n;
const MAX_NUMBER = 2n ** 63n - 512n;

// A time as the host's `s64`: a whole Number (any, so `-(2 ** 63)` and `Number.MIN_SAFE_INTEGER`
// both work as "from the beginning") or a BigInt, inside the 64-bit range. componentize-qjs
// lowers an `s64` from a Number (a BigInt traps the instance), so the answer is a Number; a
// wrong type is a TypeError naming `what`, the record's failure.
function time(what, v) {
  const big = typeof v === "bigint" ? v : Number.isInteger(v) ? BigInt(v) : null;
  if (big === null || big < MIN || big >= MAX) {
    throw new TypeError(`${what} must be a whole number of ms within 64 bits, not ${v}`);
  }
  // 2 ** 63 - 1 has no Number: the largest below it stands for it (both mean "to the end").
  return big >= MAX_NUMBER ? Number(MAX_NUMBER - 1024n) : Number(big);
}

// A time the host answered, as a Number (exact for every millisecond since 1970 and long after).
const ms = (v) => Number(v);

/** The processor's window store (Kafka's WindowStore): a value per (key, window start), committed
 *  with the batch; with a retention it expires, as Kafka's does, windows starting at or before its
 *  observed stream time (the latest start put) minus the retention. Keys and values are
 *  Uint8Arrays or strings (stored as UTF-8); answers are Uint8Arrays. */
export class WindowStore {
  /** Stores value for key in the window starting at start. */
  put(key, start, value) {
    stateCall(hostWindows.put, bytes("a window key", key), time("a window start", start),
      bytes("a window value", value));
  }
  /** The value of key in the window starting at start, or null. */
  get(key, start) {
    return stateCall(hostWindows.get, bytes("a window key", key), time("a window start", start)) ?? null;
  }
  /** Up to limit windows {key, start, value} of key starting within timeFrom..=timeTo, by start. */
  fetch(key, timeFrom, timeTo, limit = 1000) {
    checkLimit(limit);
    return stateCall(hostWindows.fetch, bytes("a window key", key), time("timeFrom", timeFrom),
      time("timeTo", timeTo), limit).map(window);
  }
  /** Up to limit windows {key, start, value} of any key starting within timeFrom..=timeTo, by
   *  start then key. */
  fetchAll(timeFrom, timeTo, limit = 1000) {
    checkLimit(limit);
    return stateCall(hostWindows.fetchAll, time("timeFrom", timeFrom), time("timeTo", timeTo), limit)
      .map(window);
  }
  /** Removes the window of key starting at start (absent is fine). */
  remove(key, start) {
    stateCall(hostWindows.remove, bytes("a window key", key), time("a window start", start));
  }
}

function window(w) {
  return { key: w.key, start: ms(w.start), value: w.value };
}

/** The processor's session store (Kafka's SessionStore): a value per (key, start, end), both ends
 *  inclusive; with a retention it expires sessions ending at or before its observed stream time
 *  (the latest end put) minus the retention. */
export class SessionStore {
  /** Stores value for the session of key from start to end. */
  put(key, start, end, value) {
    stateCall(hostSessions.put, bytes("a session key", key), time("a session start", start),
      time("a session end", end), bytes("a session value", value));
  }
  /** The value of the session of key from start to end exactly, or null. */
  fetchSession(key, start, end) {
    return stateCall(hostSessions.fetchSession, bytes("a session key", key),
      time("a session start", start), time("a session end", end)) ?? null;
  }
  /** Up to limit sessions {key, start, end, value} of key with end >= earliestEnd and
   *  start <= latestStart (the ones a record could merge with), by end. */
  findSessions(key, earliestEnd, latestStart, limit = 1000) {
    checkLimit(limit);
    return stateCall(hostSessions.findSessions, bytes("a session key", key),
      time("earliestEnd", earliestEnd), time("latestStart", latestStart), limit).map(session);
  }
  /** Up to limit sessions {key, start, end, value} of any key ending within
   *  earliestEnd..=latestEnd, by end then start then key. */
  findAllSessions(earliestEnd, latestEnd, limit = 1000) {
    checkLimit(limit);
    return stateCall(hostSessions.findAllSessions, time("earliestEnd", earliestEnd),
      time("latestEnd", latestEnd), limit).map(session);
  }
  /** Removes the session of key from start to end (absent is fine). */
  remove(key, start, end) {
    stateCall(hostSessions.remove, bytes("a session key", key), time("a session start", start),
      time("a session end", end));
  }
}

function session(s) {
  return { key: s.key, start: ms(s.start), end: ms(s.end), value: s.value };
}
