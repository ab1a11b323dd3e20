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
// A <rating-calculator> on BOOK (its documented `bookData`, `ready` and
// `quotes`, docs/calculator.md): the plans it priced, and whether each is
// an engine quote (a decimal total; where the detail has the request it
// quoted, the page's own quote of that request has the same total).
window.ratingCalculator = (book) => {
  const el = document.createElement("rating-calculator");
  el.bookData = book;
  document.body.append(el);
  const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error("no prices after 20 s")), 20000));
  return Promise.race([Promise.resolve(el.ready), timeout]).then(() => {
    const { quotes = {}, requests = {}, problems = [] } = el.quotes ?? {};
    const parsed = PriceBook.parse(book);
    const plans = Object.keys(quotes);
    const agree = plans.every((p) =>
      /^-?\d+(\.\d+)?$/.test(quotes[p].total) && (requests[p] === undefined || parsed.quote(requests[p]).total === quotes[p].total));
    return { plans, problems, agree };
  });
};
