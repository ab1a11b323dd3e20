// What the browser entries (web.js, quote.js) give wasm-bindgen's init()
// when it is called without arguments: the .wasm fetched from next to the
// glue, as bundlers that understand `new URL("…", import.meta.url)` (Vite,
// webpack, Rollup, Parcel) emit it; or, when that URL does not answer
// with WebAssembly, the copy inlined as base64 in a module of its own.
// That happens after esbuild, which leaves the URL pointing next to the
// bundle, and under Vite 5's dev server, whose dependency optimizer moves
// the glue away from the .wasm and answers the URL with index.html.
// docs/package.md "Bundlers" says why and what each path costs.

const MAGIC = [0x00, 0x61, 0x73, 0x6d]; // "\0asm"

/**
 * @param {URL} url where the bundler put the .wasm
 * @param {() => Promise<{ default: string }>} inlined the base64 copy, imported only if needed
 * @returns {Promise<Response | Uint8Array>} what wasm-bindgen's init takes as `module_or_path`
 */
export async function wasmSource(url, inlined) {
  let response;
  try {
    response = await fetch(url);
  } catch {
    // No fetch for this URL (file: in some runtimes, a CSP, offline): the inlined copy.
  }
  if (response?.ok) {
    // Served as WebAssembly: compiled while it streams.
    if (/^application\/wasm\b/.test(response.headers.get("content-type") ?? "")) return response;
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (MAGIC.every((b, i) => bytes[i] === b)) return bytes;
  }
  const { default: base64 } = await inlined();
  return decodeBase64(base64);
}

function decodeBase64(text) {
  if (typeof Uint8Array.fromBase64 === "function") return Uint8Array.fromBase64(text);
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * The `init` of a browser entry: instantiates the glue once (again after a
 * failure); without an argument with `source()`, what `wasmSource` finds;
 * with one (`{ module_or_path }`: a URL, a Response, bytes or a compiled
 * `WebAssembly.Module`), with that.
 * @param {(input: unknown) => Promise<unknown>} initGlue wasm-bindgen's init
 * @param {() => Promise<Response | Uint8Array>} source the package's own .wasm
 */
export function initOnce(initGlue, source) {
  let loading;
  return function init(input) {
    if (input !== undefined) return initGlue(input);
    loading ??= initGlue({ module_or_path: source() }).catch((e) => {
      loading = undefined;
      throw e;
    });
    return loading;
  };
}
