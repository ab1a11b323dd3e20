// Server-side rendering through Vite's ssrLoadModule: a render function
// that imports every entry, as a framework's server build would.
import init, { PriceBook } from "rating-engine";
import initQuote, { PriceBook as QuoteBook } from "rating-engine/quote";
import { createIngestClient } from "rating-engine/ingest";
import { verifyWebhook } from "rating-engine/webhooks";
import "rating-engine/calculator";

export async function render(book, request) {
  await init();
  await initQuote();
  return JSON.stringify({
    quote: PriceBook.parse(book).quoteJson(request),
    quoteEntry: QuoteBook.parse(book).quoteJson(request),
    ingest: typeof createIngestClient,
    webhooks: typeof verifyWebhook,
  });
}
