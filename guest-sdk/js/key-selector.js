// The `key-selector` world's helper: the key selector of a `group_by` step.
import { InvalidConfig, bytes, clean, run } from "./core.js";

/**
 * Turns fn(record, config) into the key selector of a `group_by` step (export it as
 * `keySelecting`): each record's new key as a Uint8Array or a string (UTF-8), or null for a
 * null one (the host drops the record, as Kafka's groupBy does, unless a left join with a
 * table reads the step: it then joins with no row, KIP-962). An exception (or an
 * answer of another type) fails that record alone; InvalidConfig refuses the batch.
 * @param {(record: import("./core.js").Record, config: Object<string, string>) => Uint8Array|string|null} fn
 */
export function keySelector(fn) {
  return {
    select(origin, batch) {
      const keys = new Array(Math.floor(batch.records.length / 6)).fill(null);
      const failures = run(origin, batch, (i, rec, cfg) => {
        keys[i] = bytes("a key", fn(rec, cfg), true);
      }, (e) => (e instanceof InvalidConfig ? { tag: "invalid-config", val: clean(e.message) } : null));
      // A failed record's entry is ignored by the host; null keeps the list whole.
      return { keys, failures };
    },
  };
}
