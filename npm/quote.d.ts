// Types of `rating-engine/quote` (quote.js): the quote-only build's.
export * from "./pkg-quote/rating_quote.js";
export { default, default as init } from "./pkg-quote/rating_quote.js";
