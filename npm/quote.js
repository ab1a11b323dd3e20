// `rating-engine/quote` in browsers and bundlers: the quote-only build
// (pkg-quote: PriceBook with parse, quote and compare, no meter) with an
// init() that finds its .wasm under every bundler (load-wasm.js).
import initGlue from "./pkg-quote/rating_quote.js";
import { initOnce, wasmSource } from "./load-wasm.js";

export * from "./pkg-quote/rating_quote.js";

/**
 * Instantiates the engine; resolves once it is ready (at once after the
 * first time). Without an argument it loads the package's own .wasm;
 * `init({ module_or_path })` takes a URL, a Response, bytes or a
 * compiled `WebAssembly.Module` instead.
 */
const init = initOnce(initGlue, () =>
  // Literal paths, so that bundlers emit the .wasm and the inlined copy.
  wasmSource(new URL("./pkg-quote/rating_quote_bg.wasm", import.meta.url), () => import("./pkg-quote/rating_quote_inline.js")),
);

export default init;
export { init };
