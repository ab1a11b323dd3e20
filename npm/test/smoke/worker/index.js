// Packaging smoke test, workerd: a Worker importing the installed tarball
// (wrangler picks its `workerd` entry and bundles the .wasm as a module).
// POST /quote quotes the body against book.txt; GET /error shows that a
// bad request throws a RatingError.
import { PriceBook, RatingError } from "rating-engine";
import bookText from "./book.txt";

const book = PriceBook.parse(bookText);

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/quote" && request.method === "POST") {
      return new Response(book.quoteJson(await request.text()), { headers: { "content-type": "application/json" } });
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
