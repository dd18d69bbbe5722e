// Types of weir-guest (guest-sdk/js/weir.js): the helpers every world shares. The plugin's
// exports are the host's WIT interfaces; their shapes are the host's business, so they are
// typed here as opaque objects a helper returns.

/** Bytes as the helpers take them: a Uint8Array, or a string stored as its UTF-8. */
export type Bytes = Uint8Array | string;

/** A record a plugin emits: key and value (null: a null key or a tombstone), headers as
 *  [name, value] pairs, timestamp in ms since the epoch (default 0). */
export interface OutRecord {
  key?: Bytes | null;
  value: Bytes | null;
  headers?: Array<[string, Bytes | null]>;
  timestamp?: number;
}

/** The plugin's configuration: the step's `config` as strings. */
export type Config = { [key: string]: string };

/** What a helper returns: the object to export under the world's export name. */
export interface Exported { readonly __weirExport?: never }

/** Thrown for an unusable configuration: the whole batch (or call) is refused. */
export class InvalidConfig extends Error {
  constructor(message: string);
}

/** One input record; its fields are views into the batch's buffer. */
export class Record {
  /** The key bytes, or null. */
  readonly key: Uint8Array | null;
  /** The value bytes, or null for a tombstone. */
  readonly value: Uint8Array | null;
  /** Create time in ms since the epoch. */
  readonly timestamp: number;
  /** Headers as [name, value] pairs. */
  readonly headers: Array<[string, Uint8Array | null]>;
  /** The record's offset in its input (-1 where it has none). */
  readonly offset: number;
  /** Its position in the batch. */
  readonly index: number;
  /** The value of the first header named `name`, or null (absent or null-valued). */
  header(name: string): Uint8Array | null;
}

/** The plugin's configuration as a plain object (read once). */
export function config(): Config;
/** cfg[key], or InvalidConfig naming the missing key. */
export function require(cfg: Config, key: string): string;
/** Writes a line to the host's log. */
export function log(message: unknown, level?: "trace" | "debug" | "info" | "warn" | "error"): void;
/** UTF-8 bytes of a string (QuickJS has no TextEncoder). */
export function utf8(s: string): Uint8Array;
/** The text of UTF-8 bytes (null for null); a malformed sequence reads as U+FFFD. */
export function text(bytes: Uint8Array | null | undefined): string | null;
/** Whether `hay` contains `needle`. */
export function contains(hay: Uint8Array, needle: Uint8Array): boolean;

/** World `transform` (export `transformer`): keep the records fn answers true for. */
export function filter(fn: (record: Record, config: Config) => boolean): Exported;
/** A record (or null: none) for each record. */
export function map(fn: (record: Record, config: Config) => OutRecord | null): Exported;
/** Any number of records for each record. */
export function flatMap(fn: (record: Record, config: Config) => OutRecord[]): Exported;
/** A boolean, a record, an array of records or null for each record. */
export function transform(
  fn: (record: Record, config: Config) => boolean | OutRecord | OutRecord[] | null,
): Exported;

/** What an aggregator's add and subtract get for a record. */
export interface Item {
  key: Uint8Array;
  value: Uint8Array;
  timestamp: number;
}

/** World `aggregator` (export `aggregating`): the functions of a `reduce` or `aggregate` step. */
export function aggregator(
  add: (item: Item, aggregate: Uint8Array) => Bytes,
  more?: {
    initial?: () => Bytes;
    merge?: (key: Uint8Array, left: Uint8Array, right: Uint8Array) => Bytes;
    subtract?: (item: Item, aggregate: Uint8Array) => Bytes;
  },
): Exported;

/** World `joiner` (export `joining`): a join's value (null: a null value); a side without a
 *  match is null. */
export function joiner(
  fn: (key: Uint8Array | null, left: Uint8Array | null, right: Uint8Array | null) => Bytes | null,
): Exported;

/** World `key-selector` (export `keySelecting`): a record's new key, or null (dropped unless
 *  a left join with a table reads the `group_by`: KIP-962). */
export function keySelector(fn: (record: Record, config: Config) => Bytes | null): Exported;
