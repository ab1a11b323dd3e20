// Node, ES modules: every entry of the installed tarball imports, and
// both engines quote after `await init()`. Prints a JSON report.
import { readFileSync } from "node:fs";
import init, { PriceBook, RatingError } from "rating-engine";
import initQuote, { PriceBook as QuoteBook, RatingError as QuoteError } from "rating-engine/quote";
import * as ingest from "rating-engine/ingest";
import * as webhooks from "rating-engine/webhooks";
import "rating-engine/calculator";

const [book, request] = process.argv.slice(2).map((f) => readFileSync(f, "utf8"));
await init();
await initQuote();
console.log(JSON.stringify({
  quote: PriceBook.parse(book).quoteJson(request),
  quoteEntry: QuoteBook.parse(book).quoteJson(request),
  oneRatingError: RatingError === QuoteError,
  ingest: typeof ingest.createIngestClient,
  webhooks: typeof webhooks.verifyWebhook,
}));
