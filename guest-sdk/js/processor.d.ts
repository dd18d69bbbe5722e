// Types of weir-guest/processor (guest-sdk/js/processor.js and stores.js): processors with
// durable state, window and session stores, timers and stream-time punctuation.
import type { Bytes, Config, Exported, OutRecord, Record } from "./weir.js";

/** A time as the stores take it: whole ms since the epoch (a BigInt for the 64-bit extremes). */
export type Millis = number | bigint;

/** A state operation failed: the whole batch (or call) is refused as `state`; the host retries. */
export class StateFailed extends Error {
  constructor(message: string);
}

/** The processor's durable key-value state, committed with the batch. */
export class State {
  get(key: Bytes): Uint8Array | null;
  put(key: Bytes, value: Bytes): void;
  delete(key: Bytes): void;
  /** Up to limit (default 1000) [key, value] pairs whose key starts with prefix. */
  scanPrefix(prefix: Bytes, limit?: number): Array<[Uint8Array, Uint8Array]>;
  /** Up to limit pairs with start <= key < end (end null: to the last key). */
  scanRange(start: Bytes, end?: Bytes | null, limit?: number): Array<[Uint8Array, Uint8Array]>;
}

/** One stored window. */
export interface Window {
  key: Uint8Array;
  /** The window's start, ms since the epoch. */
  start: number;
  value: Uint8Array;
}

/** One stored session; both ends inclusive. */
export interface Session {
  key: Uint8Array;
  start: number;
  end: number;
  value: Uint8Array;
}

/** Kafka Streams' WindowStore: a value per (key, window start), committed with the batch;
 *  with `retentionMs` windows starting at or before its observed stream time minus the
 *  retention expire. */
export class WindowStore {
  put(key: Bytes, start: Millis, value: Bytes): void;
  get(key: Bytes, start: Millis): Uint8Array | null;
  /** Up to limit (default 1000) windows of key starting within timeFrom..=timeTo, by start. */
  fetch(key: Bytes, timeFrom: Millis, timeTo: Millis, limit?: number): Window[];
  /** Up to limit windows of any key starting within timeFrom..=timeTo, by start then key. */
  fetchAll(timeFrom: Millis, timeTo: Millis, limit?: number): Window[];
  remove(key: Bytes, start: Millis): void;
}

/** Kafka Streams' SessionStore: a value per (key, start, end). */
export class SessionStore {
  put(key: Bytes, start: Millis, end: Millis, value: Bytes): void;
  fetchSession(key: Bytes, start: Millis, end: Millis): Uint8Array | null;
  /** Up to limit sessions of key with end >= earliestEnd and start <= latestStart, by end. */
  findSessions(key: Bytes, earliestEnd: Millis, latestStart: Millis, limit?: number): Session[];
  /** Up to limit sessions of any key ending within earliestEnd..=latestEnd, by end. */
  findAllSessions(earliestEnd: Millis, latestEnd: Millis, limit?: number): Session[];
  remove(key: Bytes, start: Millis, end: Millis): void;
}

/** Where a record you emit goes: its key, headers and timestamp, and a topic other than the
 *  main output (one of the pipeline's `outputs`). */
export interface EmitOptions {
  key?: Bytes | null;
  headers?: OutRecord["headers"];
  timestamp?: number;
  topic?: string | null;
}

/** What a processor's functions get: the stores, config, and where output goes. */
export class Context {
  readonly state: State;
  readonly windows: WindowStore;
  readonly sessions: SessionStore;
  readonly config: Config;
  emit(value: Bytes | null, options?: EmitOptions): void;
}

/** The options of `processor`: a wall-clock timer, and (world `stream-processor`) a
 *  punctuation on stream time and the stores' retention, all in ms. */
export interface ProcessorOptions {
  timerMs?: number | null;
  onTimer?: ((nowMs: number, ctx: Context) => void) | null;
  streamTimeMs?: number | null;
  onStreamTime?: ((streamTimeMs: number, ctx: Context) => void) | null;
  retentionMs?: number | null;
}

/** The `processing` export; built for `stream-processor`, also export its `streamTime`. */
export interface Processing extends Exported {
  readonly streamTime: Exported;
}

/** World `processor` or `stream-processor` (export `processing`, and `streamTime`). */
export function processor(
  fn: (record: Record, ctx: Context) => void,
  options?: ProcessorOptions,
): Processing;
