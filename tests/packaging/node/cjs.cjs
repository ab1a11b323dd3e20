// Node, CommonJS: every entry of the installed tarball requires (the
// ES-module-only ones through require(esm), Node 20.19+), `init` exists
// and resolves, and both entries quote. Prints a JSON report.
const { readFileSync } = require("node:fs");
const engine = require("rating-engine");
const quote = require("rating-engine/quote");
const ingest = require("rating-engine/ingest");
const webhooks = require("rating-engine/webhooks");
require("rating-engine/calculator");

const [book, request] = process.argv.slice(2).map((f) => readFileSync(f, "utf8"));
const pending = engine.init();
Promise.all([pending, quote.init(), engine.default()]).then(() => {
  console.log(JSON.stringify({
    quote: engine.PriceBook.parse(book).quoteJson(request),
    quoteEntry: quote.PriceBook.parse(book).quoteJson(request),
    initIsPromise: pending instanceof Promise,
    oneRatingError: engine.RatingError === quote.RatingError,
    ingest: typeof ingest.createIngestClient,
    webhooks: typeof webhooks.verifyWebhook,
  }));
});
