// weir-guest (guest-sdk/js): write weir plugins in JavaScript. Hides the flat batch form
// behind Record objects and plain answers. Map of modules:
//   core.js          configuration, logging, bytes (utf8/text), Record, the per-record loop
//   writer.js        outgoing batches in flat form
//   transform.js     filter, map, flatMap, transform       (world `transform`, export `transformer`)
//   aggregator.js    aggregator                            (world `aggregator`, export `aggregating`)
//   joiner.js        joiner                                (world `joiner`, export `joining`)
//   key-selector.js  keySelector                           (world `key-selector`, export `keySelecting`)
//   processor.js     processor, State, Context             (world `processor`, export `processing`;
//                    imported as "weir-guest/processor": it imports `state`, which only that
//                    world has, so this module must not import it)
export { InvalidConfig, Record, config, contains, log, require, text, utf8 } from "./core.js";
export { filter, flatMap, map, transform } from "./transform.js";
export { aggregator } from "./aggregator.js";
export { joiner } from "./joiner.js";
export { keySelector } from "./key-selector.js";
