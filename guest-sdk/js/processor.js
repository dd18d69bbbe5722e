// The `processor` world's helper (import it from "weir-guest/processor"): a stateful
// processor with durable state, routing to other outputs and a wall-clock timer. Apart from
// weir.js because it imports the `state` interface, which only the processor world has.
import hostState from "weir:plugin/state@0.1.0";
import { InvalidConfig, bytes, clean, config, message, run } from "./core.js";
import { Writer } from "./writer.js";

/** A state operation failed: the whole batch is refused (answered `state`; the host retries). */
export class StateFailed extends Error {
  constructor(message) {
    super(message);
    this.name = "StateFailed";
  }
}

const MAX_LIMIT = 2 ** 32;

// Runs a state import. The host's `too-large` means this record would fail the same way on
// every retry: its own failure. `unavailable` (or anything else) refuses the batch.
function stateCall(op, ...args) {
  try {
    return op(...args);
  } catch (e) {
    const err = e && e.payload !== undefined ? e.payload : e;
    if (err && err.tag === "too-large") throw new RangeError(`state: ${err.val}`);
    throw new StateFailed(`state unavailable: ${err && err.val !== undefined ? err.val : message(e)}`);
  }
}

function checkLimit(limit) {
  if (!Number.isInteger(limit) || limit < 0 || limit >= MAX_LIMIT) {
    throw new RangeError(`a scan limit must be a whole number from 0 to 2**32 - 1, not ${limit}`);
  }
}

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

/** What a processor function gets with each record: state, config, and where output goes. */
export class Context {
  constructor(outputs, source, cfg) {
    this._outputs = outputs;
    this._source = source;
    this.state = STATE;
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

/**
 * Turns fn(record, ctx) into a stateful processor (export it as `processing`). With
 * `timerMs` and `onTimer(nowMs, ctx)`, the host also calls onTimer that often (ctx.emit then
 * has no input record behind it). An exception fails its record alone, which then emits
 * nothing (its state writes stay); InvalidConfig answers `invalid-config`, a state failure
 * `state`, an exception in onTimer `failed`.
 * @param {(record: import("./core.js").Record, ctx: Context) => void} fn
 * @param {{timerMs?: number, onTimer?: (nowMs: number, ctx: Context) => void}} [options]
 */
export function processor(fn, { timerMs = null, onTimer = null } = {}) {
  if (typeof fn !== "function") throw new TypeError("processor() needs a function");
  if (timerMs !== null && (!Number.isSafeInteger(timerMs) || timerMs <= 0)) {
    throw new RangeError(`timerMs must be a positive whole number, not ${timerMs}`);
  }
  if ((timerMs === null) !== (onTimer === null)) throw new TypeError("a timer needs both timerMs and onTimer");
  return {
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
      const outputs = new Map();
      if (onTimer !== null) {
        try {
          onTimer(nowMs, new Context(outputs, 0, config()));
        } catch (e) {
          throw refusal(e) ?? { tag: "failed", val: message(e) };
        }
      }
      const main = (outputs.get(null) ?? new Writer()).batch();
      outputs.delete(null);
      return { main, routes: [...outputs].map(([topic, w]) => [topic, w.batch()]) };
    },
  };
}
