// A JS key selector (guest-sdk/js): the text of the value before its first `separator`
// (config, default ","), as examples/rust-key-selector; a value without it has no new key
// (dropped); a value `boom` fails its record.
import { keySelector, text } from "weir-guest";

export const keySelecting = keySelector((record, config) => {
  const value = text(record.value) ?? "";
  if (value === "boom") throw new Error("boom has no key");
  const at = value.indexOf(config.separator ?? ",");
  return at < 0 ? null : value.slice(0, at);
});
