// Node's `import` entry, for `rating-engine` and `rating-engine/quote`:
// the CommonJS entry (node.cjs) re-exported, so that `import` and
// `require` share one instance (one RatingError class, one WebAssembly
// memory) in a process that uses both. Ready when imported; `init()`
// resolves at once.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const bindings = require("./node.cjs");

export const { PriceBook, Meter, RatingError, validateEvent, init, initSync } = bindings;
export default init;
