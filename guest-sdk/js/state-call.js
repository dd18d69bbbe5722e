// How a processor's store calls (processor.js's State, stores.js's WindowStore and SessionStore)
// answer the host's `state-error`: apart from both so neither imports the other.
import { message } from "./core.js";

/** A state operation failed: the whole batch is refused (answered `state`; the host retries). */
export class StateFailed extends Error {
  constructor(message) {
    super(message);
    this.name = "StateFailed";
  }
}

const MAX_LIMIT = 2 ** 32;

/** Runs a store import. The host's `too-large` means this record would fail the same way on
 *  every retry: its own failure (a RangeError). `unavailable` (or anything else) refuses the
 *  batch (StateFailed). */
export function stateCall(op, ...args) {
  try {
    return op(...args);
  } catch (e) {
    const err = e && e.payload !== undefined ? e.payload : e;
    if (err && err.tag === "too-large") throw new RangeError(`state: ${err.val}`);
    throw new StateFailed(`state unavailable: ${err && err.val !== undefined ? err.val : message(e)}`);
  }
}

/** Refuses a scan or fetch limit the host's `u32` cannot carry. */
export function checkLimit(limit) {
  if (!Number.isInteger(limit) || limit < 0 || limit >= MAX_LIMIT) {
    throw new RangeError(`a scan limit must be a whole number from 0 to 2**32 - 1, not ${limit}`);
  }
}
