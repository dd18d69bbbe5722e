// weir-guest (guest-sdk/js): write weir plugins in JavaScript. Hides the flat batch form: wrap a
// plain function with filter() and export the result as `transformer`. The host imports below
// name the WIT package version, which is this package's version (guest-sdk/tests/versions.rs).
import hostConfig from "weir:plugin/config@0.1.0";
import hostLog from "weir:plugin/log@0.1.0";

/** Thrown for an unusable configuration: the whole batch is refused. */
export class InvalidConfig extends Error {}

let cachedConfig = null;

/** The plugin's configuration as a plain object (read once). */
export function config() {
  if (cachedConfig === null) {
    cachedConfig = {};
    for (const [k, v] of hostConfig.entries()) cachedConfig[k] = v;
  }
  return cachedConfig;
}

/** cfg[key], or InvalidConfig naming the missing key. */
export function require(cfg, key) {
  const v = cfg[key];
  if (v === undefined) throw new InvalidConfig(`missing config key \`${key}\``);
  return v;
}

/** Writes a line to the host's log ("info", "warn", ...). */
export function log(message, level = "info") {
  hostLog.write(level, message);
}

/** UTF-8 bytes of a string (QuickJS has no TextEncoder). */
export function utf8(s) {
  const out = [];
  for (const ch of s) {
    let c = ch.codePointAt(0);
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return new Uint8Array(out);
}

/** Whether byte array `hay` contains `needle`. */
export function contains(hay, needle) {
  const n = needle.length;
  outer: for (let i = 0; i + n <= hay.length; i++) {
    for (let j = 0; j < n; j++) if (hay[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

const NULL = 0xffffffff;

/** One input record; fields are views into the batch buffer. */
export class Record {
  constructor(data, batch, index, offset) {
    this._data = data;
    this._batch = batch;
    this._at = index * 6;
    this.index = index;
    this.offset = offset;
  }
  _slice(offset, len) {
    return len === NULL ? null : this._data.subarray(offset, offset + len);
  }
  /** The key bytes, or null. */
  get key() { const r = this._batch.records; return this._slice(r[this._at], r[this._at + 1]); }
  /** The value bytes, or null for a tombstone. */
  get value() { const r = this._batch.records; return this._slice(r[this._at + 2], r[this._at + 3]); }
  /** Create time in ms since the epoch. */
  get timestamp() { return this._batch.timestamps[this.index]; }
}

function run(origin, batch, each) {
  const cfg = config();
  const failures = [];
  const data = batch.data instanceof Uint8Array ? batch.data : new Uint8Array(batch.data);
  const n = Math.floor(batch.records.length / 6);
  for (let i = 0; i < n; i++) {
    const rec = new Record(data, batch, i, origin.offsets[i] ?? -1);
    try {
      each(i, rec, cfg);
    } catch (e) {
      if (e instanceof InvalidConfig) throw { tag: "invalid-config", val: e.message };
      failures.push({ index: i, message: String(e && e.message ? e.message : e) });
    }
  }
  return failures;
}

/** Turns fn(record, config) -> boolean into a transform keeping the records it accepts. */
export function filter(fn) {
  return {
    process(origin, batch) {
      const keep = [];
      const failures = run(origin, batch, (i, rec, cfg) => {
        if (fn(rec, cfg)) keep.push(i);
      });
      return { emit: { tag: "keep", val: keep }, failures };
    },
  };
}
