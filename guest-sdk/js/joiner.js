// The `joiner` world's helper: the value joiner of a `join` step.
import { InvalidConfig, bytes, clean, message } from "./core.js";

/**
 * Turns join(key, left, right) into the value joiner of a `join` step (export it as
 * `joining`). key, left and right are Uint8Arrays or null (left/right: a side without a match,
 * in left and outer joins). Answer a Uint8Array, a string (stored as UTF-8), or null for a
 * null value. An exception fails the record that made the pair (`join-failed`);
 * InvalidConfig answers `invalid-config`.
 * @param {(key: Uint8Array|null, left: Uint8Array|null, right: Uint8Array|null) => Uint8Array|string|null} fn
 */
export function joiner(fn) {
  return {
    join(key, left, right) {
      let out;
      try {
        out = fn(key, left, right);
      } catch (e) {
        if (e instanceof InvalidConfig) throw { tag: "invalid-config", val: clean(e.message) };
        throw { tag: "join-failed", val: message(e) };
      }
      if (out === null || out === undefined) return null;
      if (!(out instanceof Uint8Array) && typeof out !== "string") {
        const kind = Array.isArray(out) ? "Array" : typeof out;
        throw { tag: "join-failed", val: `answered ${kind}, not a Uint8Array, a string or null` };
      }
      return bytes("a joined value", out);
    },
  };
}
