// Packaging smoke test, workerd: a Worker importing the installed tarball
// (wrangler picks its `workerd` entry and bundles the .wasm as a module).
// POST /quote quotes the body against book.txt, POST /quote-only does the
// same with `rating-engine/quote` (its own workerd entry, the quote build's
// .wasm as a module); GET /error shows that a
// bad request throws a RatingError. POST /webhook verifies a webhook with
// `rating-engine/webhooks` (WebCrypto under workerd).
import { PriceBook, RatingError } from "rating-engine";
import { PriceBook as QuoteBook } from "rating-engine/quote";
import { verifyWebhook, WebhookVerificationError } from "rating-engine/webhooks";
import bookText from "./book.txt";

const book = PriceBook.parse(bookText);
const quoteBook = QuoteBook.parse(bookText);
// The secret test/smoke/webhooks.mjs signs with: "whsec_" + base64 of 32 test bytes.
const WEBHOOK_SECRET = "whsec_cmF0aW5nLWVuZ2luZSBwYWNrYWdlIHNtb2tlIHRlc3Q=";

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/quote" && request.method === "POST") {
      return new Response(book.quoteJson(await request.text()), { headers: { "content-type": "application/json" } });
    }
    if (url.pathname === "/quote-only" && request.method === "POST") {
      return new Response(quoteBook.quoteJson(await request.text()), { headers: { "content-type": "application/json" } });
    }
    if (url.pathname === "/webhook" && request.method === "POST") {
      try {
        return Response.json({ event: await verifyWebhook(WEBHOOK_SECRET, request.headers, await request.text()) });
      } catch (e) {
        return Response.json({ instanceof: e instanceof WebhookVerificationError, code: e.code }, { status: 400 });
      }
    }
    if (url.pathname === "/error") {
      try {
        book.quote({ plan: "nope" });
      } catch (e) {
        return Response.json({ instanceof: e instanceof RatingError, code: e.code, path: e.path });
      }
    }
    return new Response("not found", { status: 404 });
  },
};
