// The `transform` world's helpers: filter (keep or drop), map (one record or none per input),
// flatMap (any number) and transform (whichever the function answers).
import { refuseInvalidConfig, run } from "./core.js";
import { Writer } from "./writer.js";

/** Turns fn(record, config) -> boolean into a transform keeping the records it accepts
 *  (nothing is copied back: the host keeps its own copies). */
export function filter(fn) {
  return {
    process(origin, batch) {
      const keep = [];
      const failures = run(origin, batch, (i, rec, cfg) => {
        if (fn(rec, cfg)) keep.push(i);
      }, refuseInvalidConfig);
      return { emit: { tag: "keep", val: keep }, failures };
    },
  };
}

function emitter(fn, many) {
  return {
    process(origin, batch) {
      const out = new Writer();
      const failures = run(origin, batch, (i, rec, cfg) => {
        const got = fn(rec, cfg);
        let list;
        if (got === null || got === undefined) list = [];
        else if (Array.isArray(got)) list = got;
        else if (many === true) throw new TypeError("flatMap's function must answer an array of records");
        else list = [got];
        if (many === false && Array.isArray(got)) throw new TypeError("map's function must answer one record or null");
        const mark = out.mark();
        try {
          for (const r of list) out.push(r, i);
        } catch (e) {
          out.reset(mark); // a failed record emits nothing, not half its records
          throw e;
        }
      }, refuseInvalidConfig);
      return { emit: out.emitted(), failures };
    },
  };
}

/** Turns fn(record, config) -> record or null into a map: each record is an object with
 *  `key`, `value` (Uint8Array, string or null), `headers` ([[name, value]]) and `timestamp`
 *  (ms; default 0). */
export function map(fn) {
  return emitter(fn, false);
}

/** Turns fn(record, config) -> array of records into a flat-map (records as for `map`). */
export function flatMap(fn) {
  return emitter(fn, true);
}

/** Turns fn(record, config) into a transform emitting what it answers: a record, an array
 *  of records, or null for none (records as for `map`). */
export function transform(fn) {
  return emitter(fn, null);
}
