// A new user's app on the whole engine (`rating-engine`: quotes and
// metering), no bundler configuration and no top-level await
// (scripts/packaging builds it with each bundler).
import init, { PriceBook } from "rating-engine";

window.ratingQuote = (book, request) => init().then(() => PriceBook.parse(book).quoteJson(request));
window.ratingChecks = () => ({ meter: typeof PriceBook.prototype.meter === "function" });
