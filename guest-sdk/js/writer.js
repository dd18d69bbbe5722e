// Builds outgoing batches in the host's flat form (wit/types.wit): one growing byte buffer
// plus six numbers per record and four per header, remembering each record's input index.
import { bytes } from "./core.js";

// The length of a null key, value or header value: 0xffffffff in the flat form, written as
// -1 because componentize-qjs lowers `u32` list items through a 32-bit signed conversion that
// would saturate 0xffffffff to 0x7fffffff (and -1 lowers to 0xffffffff).
const NULL = -1;
const MAX_TS = 2 ** 63;

/** An outgoing batch under construction. */
export class Writer {
  constructor() {
    this.data = new Uint8Array(256);
    this.len = 0;
    this.records = [];
    this.timestamps = [];
    this.headers = [];
    this.sources = [];
  }

  _span(b) {
    const start = this.len;
    if (b === null) return [start, NULL];
    if (this.len + b.length > this.data.length) {
      let size = this.data.length * 2;
      while (size < this.len + b.length) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.data.subarray(0, this.len));
      this.data = grown;
    }
    this.data.set(b, this.len);
    this.len += b.length;
    return [start, b.length];
  }

  /** Where the batch ends now, to cut back to with `reset`. */
  mark() {
    return [this.len, this.records.length, this.timestamps.length, this.headers.length, this.sources.length];
  }

  /** Cuts the batch back to `mark` (a failed record emits nothing, not half its records). */
  reset([d, r, t, h, s]) {
    this.len = d;
    this.records.length = r;
    this.timestamps.length = t;
    this.headers.length = h;
    this.sources.length = s;
  }

  /** Appends `r` ({key, value, headers: [[string, bytes]], timestamp}), from input `source`.
   *  Every field is checked before anything is written, so a bad one fails only its record. */
  push(r, source = 0) {
    if (r === null || typeof r !== "object") throw new TypeError(`a record must be an object, not ${r === null ? "null" : typeof r}`);
    const key = bytes("a key", r.key, true);
    const value = bytes("a value", r.value, true);
    const hs = [];
    for (const h of r.headers ?? []) {
      if (!Array.isArray(h) || h.length !== 2) throw new TypeError("a header must be a [name, value] pair");
      if (typeof h[0] !== "string") throw new TypeError(`a header name must be a string, not ${typeof h[0]}`);
      hs.push([bytes("a header name", h[0]), bytes("a header value", h[1], true)]);
    }
    const ts = r.timestamp ?? 0;
    if (!Number.isSafeInteger(ts) || ts < -MAX_TS || ts >= MAX_TS) {
      throw new RangeError(`a timestamp must be a whole number of ms, not ${ts}`);
    }
    const fields = this._span(key).concat(this._span(value));
    const first = this.headers.length / 4;
    for (const [hk, hv] of hs) this.headers.push(...this._span(hk), ...this._span(hv));
    this.records.push(...fields, first, hs.length);
    this.timestamps.push(ts);
    this.sources.push(source);
  }

  /** The WIT `batch`. */
  batch() {
    return {
      data: this.data.slice(0, this.len),
      records: this.records,
      timestamps: this.timestamps,
      headers: this.headers,
    };
  }

  /** The WIT `emit` of new records. */
  emitted() {
    return { tag: "records", val: { batch: this.batch(), sources: this.sources } };
  }
}
