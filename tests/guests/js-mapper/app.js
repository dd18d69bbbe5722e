// A JS transform (guest-sdk/js `transform()`): upper-cases each value and tags it with header
// `by: js`; a value `twice` becomes two records, `drop` none, `bad` answers a number as its
// value (a per-record failure, not a trap) and `boom` throws.
import { text, transform } from "weir-guest";

export const transformer = transform((record) => {
  const value = text(record.value);
  if (value === "boom") throw new Error("boom");
  if (value === "drop") return null;
  if (value === "bad") return { key: record.key, value: 42 };
  const out = { key: record.key, value: value.toUpperCase(), headers: [["by", "js"]], timestamp: record.timestamp + 1 };
  return value === "twice" ? [out, { ...out, key: null, headers: [] }] : out;
});
