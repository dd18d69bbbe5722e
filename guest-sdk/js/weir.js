// weir-guest (guest-sdk/js): write weir plugins in JavaScript. Hides the flat batch form
// behind Record objects and plain answers. Map of modules:
//   core.js          configuration, logging, bytes (utf8/text), Record, the per-record loop
//   writer.js        outgoing batches in flat form
//   transform.js     filter, map, flatMap, transform       (world `transform`, export `transformer`)
//   aggregator.js    aggregator                            (world `aggregator`, export `aggregating`)
//   joiner.js        joiner                                (world `joiner`, export `joining`)
//   key-selector.js  keySelector                           (world `key-selector`, export `keySelecting`)
//   processor.js     processor, State, Context             (world `processor`, export `processing`;
//                    world `stream-processor` also exports `streamTime`; imported as
//                    "weir-guest/processor": it imports `state`, which only those worlds
//                    have, so this module must not import it)
//   stores.js        WindowStore, SessionStore             (processor.js's ctx.windows, ctx.sessions)
//   state-call.js    how the stores' calls answer the host's state errors
//   weir.d.ts, processor.d.ts   the package's types
export { InvalidConfig, Record, config, contains, log, require, text, utf8 } from "./core.js";
export { filter, flatMap, map, transform } from "./transform.js";
export { aggregator } from "./aggregator.js";
export { joiner } from "./joiner.js";
export { keySelector } from "./key-selector.js";
