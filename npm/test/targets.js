// The builds the JS tests run against: the package as Node imports it
// (`rating-engine`, i.e. the nodejs build through node.js), the
// browser/workerd build (pkg-web) and the quote-only browser build
// (`rating-engine/quote` in browsers, pkg-quote; in Node that name is the
// nodejs build too), the last two instantiated here from their .wasm files.
import { readFileSync } from "node:fs";
import * as node from "rating-engine";
import * as web from "../pkg-web/rating_wasm.js";
import * as quote from "../pkg-quote/rating_quote.js";

web.initSync({ module: readFileSync(new URL("../pkg-web/rating_wasm_bg.wasm", import.meta.url)) });
quote.initSync({ module: readFileSync(new URL("../pkg-quote/rating_quote_bg.wasm", import.meta.url)) });

export const targets = { node, web, quote };
