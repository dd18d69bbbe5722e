// A JS aggregator (guest-sdk/js): sums whole-number values per key (and window), the aggregate
// being the sum as decimal text, like examples/rust-aggregator, so either can take over the
// other's state; a value `boom` fails its record.
import { aggregator, text } from "weir-guest";

function number(bytes) {
  const s = text(bytes).trim();
  if (!/^-?\d+$/.test(s)) throw new Error(`${JSON.stringify(s)} is not a whole number`);
  return Number(s);
}

export const aggregating = aggregator(
  (item, aggregate) => String(number(aggregate) + number(item.value)),
  {
    initial: () => "0",
    merge: (_key, left, right) => String(number(left) + number(right)),
    subtract: (item, aggregate) => String(number(aggregate) - number(item.value)),
  },
);
