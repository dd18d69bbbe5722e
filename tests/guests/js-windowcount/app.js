// A JS window-store processor (guest-sdk/js, world `stream-processor`), the twin of
// tests/guests/windowcount (Rust), with the same stored values (counts as 8-byte little-endian
// numbers), so either can take over the other's stores: counts records per key per one-second
// tumbling window in the window store and keeps sessions per key (records at most GAP apart,
// merged as Kafka's session windows are) in the session store; on each stream-time punctuation
// (every second of stream time) emits `tick@T`, then `key@start=count` for every window that
// has closed and `session:key@start-end=count` for every session no later record can extend,
// removing each. A record whose key starts with `big` tries to store a window under a key past
// the host's cap.
import { text } from "weir-guest";
import { processor } from "weir-guest/processor";

const SIZE = 1000;
const GAP = 500;

function countOf(bytes) {
  if (bytes === null || bytes.length !== 8) return 0;
  let n = 0;
  for (let i = 7; i >= 0; i--) n = n * 256 + bytes[i];
  return n;
}

function countBytes(n) {
  const out = new Uint8Array(8);
  for (let i = 0; i < 8; i++) {
    out[i] = n % 256;
    n = Math.floor(n / 256);
  }
  return out;
}

function count(record, ctx) {
  let key = record.key ?? new Uint8Array(0);
  if (text(key).startsWith("big")) key = "k".repeat(5000);
  const ts = record.timestamp;
  const start = Math.floor(ts / SIZE) * SIZE;
  ctx.windows.put(key, start, countBytes(countOf(ctx.windows.get(key, start)) + 1));
  // The session this record belongs to: itself merged with every session it bridges.
  let [from, to, total] = [ts, ts, 1];
  for (const s of ctx.sessions.findSessions(key, ts - GAP, ts + GAP, 100)) {
    from = Math.min(from, s.start);
    to = Math.max(to, s.end);
    total += countOf(s.value);
    ctx.sessions.remove(key, s.start, s.end);
  }
  ctx.sessions.put(key, from, to, countBytes(total));
}

function close(streamTime, ctx) {
  ctx.emit(`tick@${streamTime}`, { timestamp: streamTime });
  for (const w of ctx.windows.fetchAll(-(2 ** 63), streamTime - SIZE, 10000)) {
    ctx.emit(`${text(w.key)}@${w.start}=${countOf(w.value)}`, { key: w.key, timestamp: w.start });
    ctx.windows.remove(w.key, w.start);
  }
  // Sessions ending more than a gap before stream time: a later record (in order) can no
  // longer reach them.
  for (const s of ctx.sessions.findAllSessions(-(2 ** 63), streamTime - GAP - 1, 10000)) {
    ctx.emit(`session:${text(s.key)}@${s.start}-${s.end}=${countOf(s.value)}`);
    ctx.sessions.remove(s.key, s.start, s.end);
  }
}

export const processing = processor(count, {
  streamTimeMs: SIZE,
  onStreamTime: close,
  retentionMs: 60000,
});
// componentize-qjs binds the `stream-time` export to this name.
export const streamTime = processing.streamTime;
