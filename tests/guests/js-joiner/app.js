// A JS value joiner (guest-sdk/js): `left+right`, `-` for a side without a match; a left
// value `boom` fails its record, a left value `null` answers a null value.
import { joiner, text } from "weir-guest";

export const joining = joiner((key, left, right) => {
  if (text(left) === "boom") throw new Error("boom cannot be joined");
  if (text(left) === "null") return null;
  return `${text(left) ?? "-"}+${text(right) ?? "-"}`;
});
