// Packaging smoke test, CommonJS: the installed tarball, required by name.
const { readFileSync } = require("node:fs");
const { PriceBook, RatingError } = require("rating-engine");

const book = PriceBook.parse(readFileSync(process.argv[2], "utf8"));
process.stdout.write(book.quoteJson(readFileSync(process.argv[3], "utf8")));
try {
  book.quote({ plan: "nope" });
  process.exit(3);
} catch (e) {
  if (!(e instanceof RatingError) || e.code !== "unknown_plan") process.exit(4);
}
