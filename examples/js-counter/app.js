// A stateful JS processor (guest-sdk/js): counts records per key in durable state, emits
// `key=n` for each record (to the topic in header `route`, if any), and reports the number of
// keys on a timer; a value `boom` fails its record, which then emits nothing.
import { text } from "weir-guest";
import { processor } from "weir-guest/processor";

function report(nowMs, ctx) {
  const keys = ctx.state.scanPrefix("", 1000);
  ctx.emit(`keys=${keys.length}`, { key: "report", timestamp: nowMs });
}

export const processing = processor((record, ctx) => {
  if (text(record.value) === "boom") {
    ctx.emit("never seen");
    throw new Error("boom");
  }
  const n = Number(text(ctx.state.get(record.key)) ?? "0") + 1;
  ctx.state.put(record.key, String(n));
  const route = record.header("route");
  ctx.emit(`${text(record.key)}=${n}`, {
    key: record.key,
    timestamp: record.timestamp,
    topic: route === null ? null : text(route),
  });
}, { timerMs: 50, onTimer: report });
