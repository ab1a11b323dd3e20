// Node's `require` entry, for `rating-engine` and `rating-engine/quote`:
// the CommonJS build (pkg-node), ready when required. In Node the
// download size does not matter, so `/quote` is the whole engine too (a
// superset of the quote build, with the same results) and every entry
// shares one instance: one RatingError class, one WebAssembly memory.
"use strict";
const bindings = require("./pkg-node/rating_wasm.js");

/** Nothing to do in Node: the module is ready when required. Kept so that
 * code written for browsers (`await init()`) runs unchanged. */
function init() {
  return Promise.resolve(bindings);
}

/** Nothing to do in Node (see `init`). */
function initSync() {
  return bindings;
}

// Named one by one so that Node's static analysis of CommonJS (what ESM
// `import { PriceBook }` of this file relies on) sees every export.
exports.PriceBook = bindings.PriceBook;
exports.Meter = bindings.Meter;
exports.RatingError = bindings.RatingError;
exports.validateEvent = bindings.validateEvent;
exports.init = init;
exports.initSync = initSync;
exports.default = init;
