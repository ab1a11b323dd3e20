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
