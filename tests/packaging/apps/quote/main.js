// A new user's pricing page: `rating-engine/quote` and the
// `<rating-calculator>` element, no bundler configuration and no
// top-level await (scripts/packaging builds it with each bundler).
import init, { PriceBook } from "rating-engine/quote";
import "rating-engine/calculator";

window.ratingQuote = (book, request) => init().then(() => PriceBook.parse(book).quoteJson(request));
window.ratingChecks = () => ({
  calculator: customElements.get("rating-calculator") !== undefined,
  meter: typeof PriceBook.prototype.meter === "function",
});
