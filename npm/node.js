// Node's `import` entry: the CommonJS build (pkg-node) re-exported, so that
// `import` and `require` share one instance (one RatingError class, one
// WebAssembly memory) in a process that uses both.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const bindings = require("./pkg-node/rating_wasm.js");

export const { PriceBook, Meter, RatingError, validateEvent } = bindings;

/** Nothing to do in Node: the module is ready when imported. Kept so that
 * code written for browsers (`await init()`) runs unchanged. */
export default async function init() {
  return bindings;
}

/** Nothing to do in Node (see `init`). */
export function initSync() {
  return bindings;
}
