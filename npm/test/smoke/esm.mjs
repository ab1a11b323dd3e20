// Packaging smoke test, ESM: the installed tarball, imported by name.
import { readFileSync } from "node:fs";
import init, { PriceBook, RatingError } from "rating-engine";

await init();
const book = PriceBook.parse(readFileSync(process.argv[2], "utf8"));
process.stdout.write(book.quoteJson(readFileSync(process.argv[3], "utf8")));
try {
  book.quote({ plan: "nope" });
  process.exit(3);
} catch (e) {
  if (!(e instanceof RatingError) || e.code !== "unknown_plan") process.exit(4);
}
// The prepared quoter (its JS face is a snippet the package must ship):
// the request without usage, then set(), gives the same bytes.
const { usage = {}, ...rest } = JSON.parse(readFileSync(process.argv[3], "utf8"));
const quoter = book.quoter(rest);
for (const [product, value] of Object.entries(usage)) quoter.set(product, value);
if (quoter.quoteJson() !== book.quoteJson(readFileSync(process.argv[3], "utf8"))) process.exit(5);
