// Types of `require("rating-engine")` (node.cjs): the CommonJS build's,
// with the `init` and `initSync` every entry has.
import * as bindings from "./pkg-node/rating_wasm.js";

export * from "./pkg-node/rating_wasm.js";

/** Nothing to do in Node: the module is ready when required. Resolves at
 * once, so that code written for browsers (`await init()`) runs unchanged. */
export declare function init(module_or_path?: unknown): Promise<typeof bindings>;
/** Nothing to do in Node (see `init`). */
export declare function initSync(module?: unknown): typeof bindings;
export default init;
