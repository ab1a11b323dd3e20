// `rating-engine/quote` under workerd (Cloudflare Workers): the quote-only
// build instantiated when this module loads, as workerd.js does for the
// whole engine (Workers cannot compile WebAssembly from fetched bytes).
import { initSync } from "./pkg-quote/rating_quote.js";
import wasmModule from "./pkg-quote/rating_quote_bg.wasm";

initSync({ module: wasmModule });

export * from "./pkg-quote/rating_quote.js";
// Already initialised: `await init()` resolves at once.
export { default, default as init } from "./pkg-quote/rating_quote.js";
