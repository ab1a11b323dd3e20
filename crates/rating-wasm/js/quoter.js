/**
 * A prepared quote, made by `book.quoter(request)` (docs/quote.md
 * "Prepared quotes"). A thin layer over the engine's `QuoterCore`: every
 * value is read and priced by the engine; this class only keeps the
 * strings of the last pricing, fetched in one call after a change, so that
 * reading the total and each line does not cross into WebAssembly and
 * decode a string every time.
 */
export class Quoter {
  #core;
  #plan;
  #currency;
  #dirty = true;
  // [layout version, total, amount of line 0, amount of line 1, ...]
  #amounts = null;
  #layoutVersion = -1;
  // [[product, kind, currency or null], ...]
  #layout = null;

  constructor(core, plan, currency) {
    this.#core = core;
    this.#plan = plan;
    this.#currency = currency;
  }

  #sync() {
    if (!this.#dirty) return;
    // Throws the quote's RatingError when the request cannot be priced.
    const a = this.#core.refresh().split(" ");
    const v = Number(a[0]);
    if (v !== this.#layoutVersion) {
      this.#layout = JSON.parse(this.#core.layout());
      this.#layoutVersion = v;
    }
    this.#amounts = a;
    this.#dirty = false;
  }

  /** Checks that line `i` exists (else the engine throws `out_of_range`). */
  #line(i) {
    this.#sync();
    if (!(Number.isInteger(i) && i >= 0 && i < this.#layout.length)) this.#core.checkLine(typeof i === "number" ? i : NaN);
    return i;
  }

  set(product, usage) {
    if (typeof usage === "string") this.#core.setText(product, usage);
    else this.#core.set(product, usage);
    this.#dirty = true;
  }

  unset(product) {
    this.#core.unset(product);
    this.#dirty = true;
  }

  setQuantity(product, quantity) {
    this.#core.setQuantity(product, quantity);
    this.#dirty = true;
  }

  unsetQuantity(product) {
    this.#core.unsetQuantity(product);
    this.#dirty = true;
  }

  setAddon(addon, on) {
    this.#core.setAddon(addon, on);
    this.#dirty = true;
  }

  get currency() {
    return this.#currency;
  }

  get plan() {
    return this.#plan;
  }

  get total() {
    this.#sync();
    return this.#amounts[1];
  }

  get lineCount() {
    this.#sync();
    return this.#layout.length;
  }

  lineAmount(i) {
    return this.#amounts[this.#line(i) + 2];
  }

  lineProduct(i) {
    return this.#layout[this.#line(i)][0];
  }

  lineKind(i) {
    return this.#layout[this.#line(i)][1];
  }

  lineCurrency(i) {
    return this.#layout[this.#line(i)][2] ?? undefined;
  }

  lines() {
    return this.quote().lines;
  }

  quote() {
    return JSON.parse(this.#core.quoteJson());
  }

  quoteJson() {
    return this.#core.quoteJson();
  }

  free() {
    this.#core.free();
  }
}
if (Symbol.dispose) Quoter.prototype[Symbol.dispose] = Quoter.prototype.free;
