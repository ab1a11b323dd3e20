// Types of `rating-engine` as ES module (web.js, node.js, workerd.js).
export * from "./pkg-web/rating_wasm.js";
export { default, default as init } from "./pkg-web/rating_wasm.js";
