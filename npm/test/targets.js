// The builds the JS tests run against: the package as Node imports it
// (`rating-engine`, i.e. the nodejs build through node.js) and the
// browser/workerd build (pkg-web), instantiated here from its .wasm file.
import { readFileSync } from "node:fs";
import * as node from "rating-engine";
import * as web from "../pkg-web/rating_wasm.js";

web.initSync({ module: readFileSync(new URL("../pkg-web/rating_wasm_bg.wasm", import.meta.url)) });

export const targets = { node, web };
