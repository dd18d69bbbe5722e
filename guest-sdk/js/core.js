// The parts every world shares (guest-sdk/js): configuration, logging, bytes, input records,
// the flat-form writer and the per-record loop. Only `config` and `log` are imported here,
// because every weir world imports them; world-specific imports live in their own modules
// (processor.js imports `state`), so a build for one world never names another's imports.
// The host imports name the WIT package version, which is this package's version
// (guest-sdk/tests/versions.rs).
import hostConfig from "weir:plugin/config@0.1.0";
import hostLog from "weir:plugin/log@0.1.0";

/** Thrown for an unusable configuration: the whole batch (or call) is refused. */
export class InvalidConfig extends Error {
  constructor(message) {
    super(message);
    this.name = "InvalidConfig";
  }
}

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

const LEVELS = ["trace", "debug", "info", "warn", "error"];

/** Writes a line to the host's log: level is "trace", "debug", "info", "warn" or "error". */
export function log(message, level = "info") {
  if (!LEVELS.includes(level)) throw new TypeError(`a log level must be one of ${LEVELS.join(", ")}, not ${level}`);
  hostLog.write(level, clean(String(message)));
}

/** UTF-8 bytes of a string (QuickJS has no TextEncoder). Lone surrogates become U+FFFD. */
export function utf8(s) {
  const out = [];
  for (const ch of s) {
    let c = ch.codePointAt(0);
    if (c >= 0xd800 && c < 0xe000) c = 0xfffd;
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return new Uint8Array(out);
}

/** The text of UTF-8 bytes, or null for null (QuickJS has no TextDecoder); a malformed
 *  sequence reads as U+FFFD. */
export function text(bytes) {
  if (bytes === null || bytes === undefined) return null;
  let s = "";
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    // Continuation bytes a lead byte needs, and the smallest code point it may encode
    // (anything smaller is an overlong form).
    const [need, min, bits] =
      b < 0x80 ? [0, 0, b] : b >= 0xc2 && b < 0xe0 ? [1, 0x80, b & 31]
        : b >= 0xe0 && b < 0xf0 ? [2, 0x800, b & 15] : b >= 0xf0 && b < 0xf5 ? [3, 0x10000, b & 7]
          : [-1, 0, 0];
    let c = bits;
    let ok = need >= 0 && i + need < bytes.length;
    for (let j = 1; ok && j <= need; j++) {
      const t = bytes[i + j];
      if ((t & 0xc0) !== 0x80) ok = false;
      else c = (c << 6) | (t & 63);
    }
    if (!ok || c < min || c > 0x10ffff || (c >= 0xd800 && c < 0xe000)) {
      s += "\ufffd";
      i += 1;
    } else {
      s += String.fromCodePoint(c);
      i += need + 1;
    }
  }
  return s;
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

/** A string the host can take as UTF-8 (lone surrogates replaced). */
export function clean(s) {
  return s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd");
}

function typeName(v) {
  if (v === null) return "null";
  if (Array.isArray(v)) return "Array";
  if (typeof v === "object") return v.constructor ? v.constructor.name : "object";
  return typeof v;
}

/** `v` as bytes: a Uint8Array as is, a string as its UTF-8; anything else is a TypeError naming
 *  `what` (a wrong type crossing into the host would trap the whole instance; here it is the
 *  record's failure). */
export function bytes(what, v, nullable = false) {
  if ((v === null || v === undefined) && nullable) return null;
  if (v instanceof Uint8Array) return v;
  if (typeof v === "string") return utf8(v);
  throw new TypeError(`${what} must be a Uint8Array or a string${nullable ? " or null" : ""}, not ${typeName(v)}`);
}

/** The message of a failure: the error's name and message, as the host shows it. */
export function message(e) {
  if (e instanceof Error) return clean(`${e.name}: ${e.message}`);
  return clean(String(e));
}

// A null key, value or header value has length 0xffffffff in the flat form. componentize-qjs
// hands `u32` lists over as 32-bit signed numbers, so it arrives as -1 (and `>>> 0` reads
// either spelling).
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
    return len >>> 0 === NULL ? null : this._data.subarray(offset, offset + len);
  }
  /** The key bytes, or null. */
  get key() { const r = this._batch.records; return this._slice(r[this._at], r[this._at + 1]); }
  /** The value bytes, or null for a tombstone. */
  get value() { const r = this._batch.records; return this._slice(r[this._at + 2], r[this._at + 3]); }
  /** Create time in ms since the epoch. */
  get timestamp() { return this._batch.timestamps[this.index]; }
  /** Headers as an array of [string, Uint8Array or null]. */
  get headers() {
    const r = this._batch.records, h = this._batch.headers, out = [];
    for (let j = r[this._at + 4]; j < r[this._at + 4] + r[this._at + 5]; j++) {
      out.push([text(this._slice(h[4 * j], h[4 * j + 1])) ?? "", this._slice(h[4 * j + 2], h[4 * j + 3])]);
    }
    return out;
  }
  /** The value of the first header named `name`, or null (absent or null-valued). */
  header(name) {
    for (const [k, v] of this.headers) if (k === name) return v;
    return null;
  }
}

/** Calls each(i, record, config) for every record of the batch; an exception fails that record
 *  alone, except InvalidConfig (and what `refuse` claims), which refuse the whole batch: the
 *  thrown value is then `{tag, val}`, the WIT error variant `refuse` answers. */
export function run(origin, batch, each, refuse) {
  const cfg = config();
  const failures = [];
  const data = batch.data instanceof Uint8Array ? batch.data : new Uint8Array(batch.data);
  const n = Math.floor(batch.records.length / 6);
  for (let i = 0; i < n; i++) {
    const rec = new Record(data, batch, i, origin.offsets[i] ?? -1);
    try {
      each(i, rec, cfg);
    } catch (e) {
      const refusal = refuse(e);
      if (refusal) throw refusal;
      failures.push({ index: i, message: message(e) });
    }
  }
  return failures;
}

/** The `invalid-config` refusal for an InvalidConfig, else null (a per-record failure). */
export function refuseInvalidConfig(e) {
  return e instanceof InvalidConfig ? { tag: "invalid-config", val: clean(e.message) } : null;
}
