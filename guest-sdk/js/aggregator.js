// The `aggregator` world's helper: the functions of a `reduce` or `aggregate` step.
import { InvalidConfig, bytes, clean, message } from "./core.js";

function call(fn, variant, args) {
  let out;
  try {
    out = fn(...args);
  } catch (e) {
    if (e instanceof InvalidConfig) throw { tag: "invalid-config", val: clean(e.message) };
    throw { tag: variant, val: message(e) };
  }
  if (!(out instanceof Uint8Array) && typeof out !== "string") {
    const kind = out === null ? "null" : Array.isArray(out) ? "Array" : typeof out;
    throw { tag: variant, val: `answered ${kind}, not a Uint8Array or a string` };
  }
  return bytes("an aggregate", out);
}

function missing(variant, name) {
  throw { tag: variant, val: `this aggregator has no ${name}: give ${name} to aggregator()` };
}

/**
 * Turns add(item, aggregate) into the aggregator of a `reduce` or `aggregate` step (export it
 * as `aggregating`). `item` has `key`, `value` (Uint8Array) and `timestamp` (ms); `aggregate`
 * is a Uint8Array. Each function answers a Uint8Array or a string (stored as UTF-8).
 * Optional: initial() (default: empty), merge(key, left, right) (sessions, sliding windows)
 * and subtract(item, aggregate) (table aggregations). An exception fails the record, naming
 * the function (`add-failed`, ...); InvalidConfig answers `invalid-config`.
 * @param {(item: {key: Uint8Array, value: Uint8Array, timestamp: number}, aggregate: Uint8Array) => Uint8Array|string} add
 * @param {{initial?: () => Uint8Array|string, merge?: Function, subtract?: Function}} [more]
 */
export function aggregator(add, { initial, merge, subtract } = {}) {
  if (typeof add !== "function") throw new TypeError("aggregator() needs an add function");
  return {
    initial() {
      return initial === undefined ? new Uint8Array(0) : call(initial, "initial-failed", []);
    },
    add(item, aggregate) {
      return call(add, "add-failed", [item, aggregate]);
    },
    merge(key, left, right) {
      if (merge === undefined) missing("merge-failed", "merge");
      return call(merge, "merge-failed", [key, left, right]);
    },
    subtract(item, aggregate) {
      if (subtract === undefined) missing("subtract-failed", "subtract");
      return call(subtract, "subtract-failed", [item, aggregate]);
    },
  };
}
