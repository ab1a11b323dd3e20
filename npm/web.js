// `rating-engine` in browsers and bundlers: the whole engine
// (pkg-web: PriceBook and Meter) with an init() that finds its .wasm
// under every bundler (load-wasm.js).
import initGlue from "./pkg-web/rating_wasm.js";
import { wasmSource } from "./load-wasm.js";

export * from "./pkg-web/rating_wasm.js";

let loading;

/**
 * Instantiates the engine; resolves once it is ready (at once after the
 * first time). Without an argument it loads the package's own .wasm;
 * `init({ module_or_path })` takes a URL, a Response, bytes or a
 * compiled `WebAssembly.Module` instead.
 */
export default function init(input) {
  if (input !== undefined) return initGlue(input);
  if (loading) return loading;
  loading = initGlue({
    module_or_path: wasmSource(new URL("./pkg-web/rating_wasm_bg.wasm", import.meta.url), () =>
      import("./pkg-web/rating_wasm_inline.js"),
    ),
  }).catch((e) => {
    loading = undefined;
    throw e;
  });
  return loading;
}

export { init };
