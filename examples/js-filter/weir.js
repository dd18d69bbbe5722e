// weir: write weir plugins in JavaScript. Hides the flat batch form: decorate a plain
// function with filter(), map() or flatMap() and export the result as `transformer`.
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

/** One input record; fields are views into the batch buffer. */
export class Record {
  constructor(data, view, headers, offset) {
    this._data = data;
    this._view = view;
    this._headers = headers;
    this.offset = offset;
  }
  _slice(span) {
    return span == null ? null : this._data.subarray(span.offset, span.offset + span.len);
  }
  /** The key bytes, or null. */
  get key() { return this._slice(this._view.key); }
  /** The value bytes, or null for a tombstone. */
  get value() { return this._slice(this._view.value); }
  /** Create time in ms since the epoch. */
  get timestamp() { return this._view.timestamp; }
}

function run(origin, batch, each) {
  const cfg = config();
  const failures = [];
  const data = batch.data instanceof Uint8Array ? batch.data : new Uint8Array(batch.data);
  const records = batch.records;
  for (let i = 0; i < records.length; i++) {
    const rec = new Record(data, records[i], batch.headers, origin.offsets[i] ?? -1);
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
