// The `processor` world's helper (import it from "weir-guest/processor"): a stateful
// processor with durable state, window and session stores (stores.js), routing to other
// outputs, a wall-clock timer and, built for world `stream-processor`, a punctuator on stream
// time. Apart from weir.js because it imports the `state` interface, which only the processor
// worlds have.
import hostState from "weir:plugin/state@0.1.0";
import { InvalidConfig, bytes, clean, config, message, run } from "./core.js";
import { StateFailed, checkLimit, stateCall } from "./state-call.js";
import { SessionStore, WindowStore } from "./stores.js";
import { Writer } from "./writer.js";

export { SessionStore, StateFailed, WindowStore };

/** The processor's durable key-value state (bytes to bytes), committed with the batch.
 *  Keys and values are Uint8Arrays or strings (stored as UTF-8); answers are Uint8Arrays. */
export class State {
  /** The value stored under key, or null. */
  get(key) {
    return stateCall(hostState.get, bytes("a state key", key)) ?? null;
  }
  /** Stores value under key. */
  put(key, value) {
    stateCall(hostState.put, bytes("a state key", key), bytes("a state value", value));
  }
  /** Removes key (absent is fine). */
  delete(key) {
    stateCall(hostState.delete, bytes("a state key", key));
  }
  /** Up to limit [key, value] pairs whose key starts with prefix, in key order. */
  scanPrefix(prefix, limit = 1000) {
    checkLimit(limit);
    const entries = stateCall(hostState.scanPrefix, bytes("a state prefix", prefix), limit);
    return entries.map((e) => [e.key, e.value]);
  }
  /** Up to limit [key, value] pairs with start <= key < end (end null: to the last key). */
  scanRange(start, end = null, limit = 1000) {
    checkLimit(limit);
    const from = bytes("a state range start", start);
    const to = bytes("a state range end", end, true);
    return stateCall(hostState.scanRange, from, to, limit).map((e) => [e.key, e.value]);
  }
}

const STATE = new State();
const WINDOWS = new WindowStore();
const SESSIONS = new SessionStore();

/** What a processor function gets with each record: state, the window and session stores,
 *  config, and where output goes. */
export class Context {
  constructor(outputs, source, cfg) {
    this._outputs = outputs;
    this._source = source;
    this.state = STATE;
    this.windows = WINDOWS;
    this.sessions = SESSIONS;
    this.config = cfg;
  }

  /** Sends a record to the main output, or to `topic` (one of the pipeline's outputs).
   *  value and key are Uint8Arrays, strings or null; headers [[name, value]]; timestamp ms. */
  emit(value, { key = null, headers = [], timestamp = 0, topic = null } = {}) {
    if (topic !== null && typeof topic !== "string") throw new TypeError(`a topic must be a string, not ${typeof topic}`);
    const name = topic === null ? null : clean(topic);
    let writer = this._outputs.get(name);
    if (writer === undefined) {
      writer = new Writer();
      this._outputs.set(name, writer);
    }
    writer.push({ key, value, headers, timestamp }, this._source);
  }
}

// The processor-error for an exception that refuses a whole call, or null.
function refusal(e) {
  if (e instanceof InvalidConfig) return { tag: "invalid-config", val: clean(e.message) };
  if (e instanceof StateFailed) return { tag: "state", val: clean(e.message) };
  return null;
}

// A positive whole number of ms the host's `u64` can carry, or null.
function interval(name, ms) {
  if (ms !== null && (!Number.isSafeInteger(ms) || ms <= 0)) {
    throw new RangeError(`${name} must be a positive whole number, not ${ms}`);
  }
  return ms;
}

// Runs a timer or punctuation function with a context of its own (no input record behind what
// it emits) and answers the batches it emitted, main first, or throws `fail(e)`.
function fire(fn, at, fail) {
  const outputs = new Map();
  if (fn !== null) {
    try {
      fn(at, new Context(outputs, 0, config()));
    } catch (e) {
      throw fail(e);
    }
  }
  const main = (outputs.get(null) ?? new Writer()).batch();
  outputs.delete(null);
  return { main, routes: [...outputs].map(([topic, w]) => [topic, w.batch()]) };
}

/**
 * Turns fn(record, ctx) into a stateful processor (export it as `processing`). With
 * `timerMs` and `onTimer(nowMs, ctx)`, the host also calls onTimer that often (ctx.emit then
 * has no input record behind it). Built with `-n stream-processor` and exported with
 * `export const streamTime = processing.streamTime`, `streamTimeMs` and
 * `onStreamTime(streamTimeMs, ctx)` punctuate on stream time (Kafka's STREAM_TIME: first when
 * stream time reaches 0, then each time it reaches the next multiple of streamTimeMs) and
 * `retentionMs` bounds the window and session stores. An exception fails its record alone,
 * which then emits nothing (its state writes stay); InvalidConfig answers `invalid-config`, a
 * state failure `state`, an exception in onTimer or onStreamTime `failed`.
 * @param {(record: import("./core.js").Record, ctx: Context) => void} fn
 * @param {{timerMs?: number, onTimer?: (nowMs: number, ctx: Context) => void,
 *   streamTimeMs?: number, onStreamTime?: (streamTimeMs: number, ctx: Context) => void,
 *   retentionMs?: number}} [options]
 */
export function processor(fn, {
  timerMs = null, onTimer = null, streamTimeMs = null, onStreamTime = null, retentionMs = null,
} = {}) {
  if (typeof fn !== "function") throw new TypeError("processor() needs a function");
  interval("timerMs", timerMs);
  interval("streamTimeMs", streamTimeMs);
  interval("retentionMs", retentionMs);
  if ((timerMs === null) !== (onTimer === null)) throw new TypeError("a timer needs both timerMs and onTimer");
  if ((streamTimeMs === null) !== (onStreamTime === null)) {
    throw new TypeError("a stream-time punctuation needs both streamTimeMs and onStreamTime");
  }
  const streamTime = {
    settings() {
      return { intervalMs: streamTimeMs, retentionMs };
    },
    onStreamTime(streamTimeMs) {
      return fire(onStreamTime, Number(streamTimeMs), (e) => e instanceof StateFailed
        ? { tag: "state", val: clean(e.message) }
        : { tag: "failed", val: message(e) });
    },
  };
  return {
    streamTime,
    init(_entries) {
      return { timerIntervalMs: timerMs };
    },
    process(origin, batch) {
      const outputs = new Map();
      const failures = run(origin, batch, (i, rec, cfg) => {
        const marks = new Map([...outputs].map(([t, w]) => [t, w.mark()]));
        try {
          fn(rec, new Context(outputs, i, cfg));
        } catch (e) {
          // A failed record emits nothing (its state writes stay: see README).
          for (const t of [...outputs.keys()]) if (!marks.has(t)) outputs.delete(t);
          for (const [t, m] of marks) outputs.get(t).reset(m);
          throw e;
        }
      }, refusal);
      const main = (outputs.get(null) ?? new Writer()).emitted();
      outputs.delete(null);
      const routes = [...outputs].map(([topic, w]) => ({ topic, emit: w.emitted() }));
      return { main, routes, failures };
    },
    onTimer(nowMs) {
      return fire(onTimer, Number(nowMs), (e) => refusal(e) ?? { tag: "failed", val: message(e) });
    },
  };
}
