// Keeps the records whose value contains the configured `pattern`.
import { filter, require, utf8, contains } from "weir-guest";

export const transformer = filter((record, config) => {
  const pattern = utf8(require(config, "pattern"));
  return record.value !== null && contains(record.value, pattern);
});
