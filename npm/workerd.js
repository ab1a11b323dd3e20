// The workerd (Cloudflare Workers) entry: Workers import a .wasm file as a
// compiled WebAssembly.Module (wrangler's CompiledWasm rule), so the
// browser build is instantiated synchronously when this module loads.
import { initSync } from "./pkg-web/rating_wasm.js";
import wasmModule from "./pkg-web/rating_wasm_bg.wasm";

initSync({ module: wasmModule });

export * from "./pkg-web/rating_wasm.js";
// Already initialised: `await init()` resolves at once.
export { default, default as init } from "./pkg-web/rating_wasm.js";
