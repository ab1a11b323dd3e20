// <rating-calculator>: a pricing-page calculator for any price book, as a
// custom element (docs/calculator.md). No framework and no build step:
// import this module and write the tag.
//
// Every price it shows is the engine's own decimal string (the quote-only
// WebAssembly build), formatted with Intl.NumberFormat from that string;
// money never goes through JS Number arithmetic. Numbers are used only to
// place things on the chart (pixels) and to lay out slider ranges.
//
// The engine build is imported here, in one place: the quote-only browser
// build of this package, relative to this file.
import initEngine, { PriceBook, RatingError } from "./quote.js";

// ------------------------------------------------------------------ engine

let engineReady = null;
/** Loads the WebAssembly once for every calculator on the page. */
function loadEngine() {
  engineReady ??= initEngine().then(() => ({ PriceBook, RatingError }));
  return engineReady;
}

/** The one place a plan is priced (docs/calculator.md "Quoting"). Returns
 * the engine's quote, or throws its RatingError. */
function quote(book, request) {
  return book.quote(request);
}

// ---------------------------------------------------- exact decimal strings

const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;

/** "12.50" → { sign: 1n, digits: 1250n, scale: 2 }, or null when it is not a plain decimal. */
function parseDecimal(text) {
  const m = DECIMAL.exec(String(text).trim());
  if (!m) return null;
  const frac = m[3] ?? "";
  return { negative: m[1] === "-", units: BigInt(m[2] + frac) * (m[1] === "-" ? -1n : 1n), scale: frac.length };
}

/** Compares two decimal strings exactly: -1, 0 or 1. */
export function compareDecimals(a, b) {
  const x = parseDecimal(a);
  const y = parseDecimal(b);
  const scale = Math.max(x.scale, y.scale);
  const xu = x.units * 10n ** BigInt(scale - x.scale);
  const yu = y.units * 10n ** BigInt(scale - y.scale);
  return xu < yu ? -1 : xu > yu ? 1 : 0;
}

/** decimal × whole number, exactly, as a decimal string. */
function multiplyDecimal(decimal, whole) {
  const d = parseDecimal(decimal);
  const product = d.units * BigInt(whole);
  const negative = product < 0n;
  let digits = (negative ? -product : product).toString().padStart(d.scale + 1, "0");
  if (d.scale) digits = `${digits.slice(0, -d.scale)}.${digits.slice(-d.scale)}`;
  return `${negative ? "-" : ""}${digits}`;
}

const isZero = (decimal) => {
  const d = parseDecimal(decimal);
  return d !== null && d.units === 0n;
};
const maxDecimal = (a, b) => (compareDecimals(a, b) >= 0 ? a : b);

// --------------------------------------------------------------- formatting

// Intl.NumberFormat.prototype.format reads a decimal string exactly (ECMA-402
// "Intl.NumberFormat v3", V8 since Chrome 106 / Node 19). Checked once; where
// it is missing, the integer part goes through BigInt and the fraction is
// appended as written.
const exactStrings = (() => {
  try {
    return new Intl.NumberFormat("en", { maximumFractionDigits: 1, useGrouping: false }).format("12345678901234567.5") === "12345678901234567.5";
  } catch {
    return false;
  }
})();

const formatters = new Map();
function formatter(locale, options) {
  const key = `${locale}|${JSON.stringify(options)}`;
  let f = formatters.get(key);
  if (!f) {
    try {
      f = new Intl.NumberFormat(locale, options);
    } catch {
      f = new Intl.NumberFormat("en", options);
    }
    formatters.set(key, f);
  }
  return f;
}

/** Formats a decimal string in `locale`, with exactly the fraction digits it has. */
function formatDecimalString(text, locale, options = {}) {
  const d = parseDecimal(text);
  if (!d) return String(text);
  const digits = Math.min(d.scale, 100);
  const f = formatter(locale, { ...options, minimumFractionDigits: digits, maximumFractionDigits: digits });
  if (exactStrings) return f.format(String(text).trim());
  // Fallback: BigInt integer part, the fraction appended after the last integer part.
  const [, sign, int, frac] = DECIMAL.exec(String(text).trim());
  const parts = formatter(locale, { ...options, maximumFractionDigits: 0 }).formatToParts(BigInt(int));
  const decimalSep = formatter(locale, { minimumFractionDigits: 1 }).formatToParts(1.5).find((p) => p.type === "decimal")?.value ?? ".";
  let last = -1;
  parts.forEach((p, i) => {
    if (p.type === "integer" || p.type === "group") last = i;
  });
  const out = parts.map((p) => p.value);
  if (frac) out[last] += decimalSep + frac;
  return (sign ? "-" : "") + out.join("");
}

/** A formatter of money and quantities for one locale and currency. */
function moneyFormat(locale, currency, units) {
  const custom = new Map((units ?? []).map((u) => [u.code, u]));
  const money = (amount, code = currency) => {
    if (amount === undefined || amount === null) return "";
    const unit = custom.get(code);
    if (!unit && /^[A-Z]{3}$/.test(code)) return formatDecimalString(amount, locale, { style: "currency", currency: code });
    return `${formatDecimalString(amount, locale)} ${unit?.name?.toLowerCase() ?? code}`;
  };
  const number = (q) => formatDecimalString(q, locale);
  return { money, number };
}

// ------------------------------------------------------------------- words

/** "call" → "calls"; "GB" and "credits" stay as they are. */
const plural = (unit) => (/s$|^[A-Z]+$/.test(unit) ? unit : `${unit}s`);
const acronyms = new Set(["api", "sla", "sso", "ip", "sms", "pdf", "gb", "tb"]);
const humanize = (id) =>
  String(id)
    .split(/[-_]/)
    .map((w, i) => (acronyms.has(w) ? w.toUpperCase() : i === 0 ? w.replace(/^./, (c) => c.toUpperCase()) : w))
    .join(" ");
const periodText = ({ unit, length }) => (Number(length) === 1 ? unit : `${length} ${unit}s`);
const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const decimalText = (v) => (v === undefined || v === null ? undefined : String(v));

/** A round number at or above x (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10^k): slider ranges and chart axes. */
function niceCeil(x) {
  if (!(x > 0)) return 10;
  const p = 10 ** Math.floor(Math.log10(x));
  return [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10].map((m) => m * p).find((v) => v >= x * (1 - 1e-12));
}

// ------------------------------------------------------------ the book's shape

/** The price of an item in a currency, or undefined (docs/quote.md: no silent FX). */
function priceIn(price, currency, bookCurrency) {
  if (!price) return undefined;
  if (price.currency && price.currency !== bookCurrency) return price; // a custom unit
  if (currency === bookCurrency) return price;
  const option = price.currency_options?.[currency];
  return option ? { ...price, ...option } : undefined;
}

/** Every metered or seat input the shown plans need, in product order. */
function dimensionsOf(doc, plans, addons) {
  const all = [...plans, ...addons];
  const dims = [];
  for (const product of doc.products) {
    const items = all.map((p) => p.items.find((i) => i.product === product.id)).filter(Boolean);
    if (!items.length) continue;
    const everywhere = plans.every((p) => p.items.some((i) => i.product === product.id));
    if (product.type === "seat") {
      const mins = items.map((i) => decimalText(i.min_quantity)).filter(Boolean);
      const floor = mins.reduce((a, b) => maxDecimal(a, b), "1");
      const start = compareDecimals(floor, "5") > 0 ? floor : "5";
      dims.push(dim(product, "seats", null, items, plans, addons, start));
    } else if (product.type === "metered" && product.aggregation === "amount") {
      dims.push({ ...dim(product, "amount", null, items, plans, addons, everywhere ? "100" : "0"), average: "50" });
    } else if (product.type === "metered" && product.price_key_label) {
      const keys = [...new Set(items.flatMap((i) => Object.keys(i.prices ?? {})))];
      const first = product.default_price_key && keys.includes(product.default_price_key) ? product.default_price_key : keys[0];
      for (const key of keys) dims.push(dim(product, "usage", key, items, plans, addons, null, key === first && everywhere));
    } else if (product.type === "metered") {
      dims.push(dim(product, "usage", null, items, plans, addons, null, everywhere));
    }
  }
  return dims;
}

function dim(product, kind, key, items, plans, addons, start, withDefault = true) {
  const prices = items.flatMap((i) => (key === null ? [i.price] : [i.prices?.[key]])).filter(Boolean);
  const marks = [];
  for (const i of items) {
    for (const f of ["included_quantity", "limit", "max_quantity", "min_quantity"]) if (i[f] !== undefined) marks.push(Number(i[f]));
  }
  for (const p of prices) {
    for (const t of p.tiers ?? []) if (t.up_to !== null && t.up_to !== undefined) marks.push(Number(t.up_to));
    if (p.package_size) marks.push(Number(p.package_size) * 4);
  }
  // Hard caps: an item's `limit`/`max_quantity`, or its plan's named limit of
  // the product, unless an add-on unlocks more (docs/contract.md §3).
  const caps = plans.map((p) => {
    const item = p.items.find((i) => i.product === product.id);
    const caps = [item?.limit, item?.max_quantity, p.limits?.[product.id]].filter((c) => c !== undefined).map(Number);
    return Math.min(Infinity, ...caps);
  });
  const unlocked = addons.some((a) => a.unlocks?.[product.id] !== undefined);
  const limits = unlocked || caps.includes(Infinity) ? [] : caps;
  let max = niceCeil(Math.max(1000, ...marks.filter(Number.isFinite).map((m) => m * 1.5)));
  if (kind === "amount") max = 1000;
  if (kind === "seats") max = niceCeil(Math.max(50, ...marks.filter(Number.isFinite)) * 2);
  if (limits.length) max = Math.min(max, Math.max(...limits));
  const included = items.map((i) => Number(i.included_quantity ?? 0)).filter((v) => v > 0);
  if (start === null) start = withDefault ? String(included.length ? Math.round(Math.min(...included) * 1.5) : Math.round(max / 10)) : "0";
  // Defaults every plan can serve: within the smallest cap.
  const smallest = Math.min(...caps);
  if (Number.isFinite(smallest) && Number(start) > smallest) start = String(Math.floor(smallest));
  const id = key === null ? product.id : `${product.id}.${key}`;
  return { id, product, kind, key, max, cap: smallest, step: max > 5000 ? Math.max(1, Math.round(max / 1000)) : 1, value: start };
}

// --------------------------------------------------------------- styles

const css = `
:host {
  --rating-accent: #0b6e4f; --rating-accent-ink: #ffffff; --rating-bg: #ffffff; --rating-fg: #17202a;
  --rating-muted: #4a5563; --rating-line: #d5dbe1; --rating-panel: #f4f6f8; --rating-error: #b42318;
  --rating-radius: 12px; --rating-font: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  --rating-series-1: #2563eb; --rating-series-2: #7c3aed; --rating-series-3: #b45309;
  --rating-series-4: #0f766e; --rating-series-5: #be185d; --rating-series-6: #475569;
  display: block; container-type: inline-size; font-family: var(--rating-font); color: var(--rating-fg);
  background: var(--rating-bg); line-height: 1.45; min-width: 0;
}
@media (prefers-color-scheme: dark) {
  :host { --rating-accent: #5fd3a9; --rating-accent-ink: #06281c; --rating-bg: #111418; --rating-fg: #e8ecf0;
    --rating-muted: #b3bcc6; --rating-line: #39424c; --rating-panel: #1b2026; --rating-error: #ff8f84;
    --rating-series-1: #7aa7ff; --rating-series-2: #b99cff; --rating-series-3: #f3b153;
    --rating-series-4: #4fd1c5; --rating-series-5: #f58fbf; --rating-series-6: #a3b1c2; }
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
h2, h3 { margin: 0; line-height: 1.25; }
h2 { font-size: 1.15rem; margin-bottom: .6rem; }
section { margin: 0 0 1.5rem; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
.controls { display: flex; flex-wrap: wrap; gap: .75rem 1.25rem; align-items: end; margin-bottom: 1rem; }
.controls label { display: flex; flex-direction: column; font-size: .85rem; color: var(--rating-muted); gap: .2rem; }
select, input[type=number] { font: inherit; color: var(--rating-fg); background: var(--rating-bg); border: 1px solid var(--rating-muted);
  border-radius: 6px; padding: .35rem .5rem; min-height: 2.5rem; }
.usage { background: var(--rating-panel); border-radius: var(--rating-radius); padding: 1rem; }
.dimension { display: grid; grid-template-columns: minmax(0, 12rem) minmax(0, 1fr) 8.5rem; gap: .4rem 1rem; align-items: center; padding: .35rem 0; }
.dimension > span.name { font-weight: 600; }
.dimension small { display: block; font-weight: 400; color: var(--rating-muted); }
.dimension input[type=range] { width: 100%; min-height: 2.5rem; accent-color: var(--rating-accent); margin: 0; }
.dimension input[type=number] { width: 100%; text-align: right; }
.dimension .extra { grid-column: 2 / 4; display: flex; gap: .5rem; align-items: center; justify-content: end; font-size: .9rem; }
.dimension .extra input { width: 8.5rem; }
@container (max-width: 34rem) {
  .dimension { grid-template-columns: minmax(0, 1fr) 7.5rem; }
  .dimension > span.name { grid-column: 1 / 3; }
  .dimension .extra { grid-column: 1 / 3; }
}
input[aria-invalid=true] { border-color: var(--rating-error); outline: 2px solid var(--rating-error); }
.error { color: var(--rating-error); min-height: 1.45em; margin: .4rem 0 0; font-size: .9rem; }
.addons { display: flex; flex-wrap: wrap; gap: .5rem 1.25rem; border: 0; padding: 0; margin: .75rem 0 0; }
.addons legend { font-weight: 600; padding: 0; margin-bottom: .25rem; }
.addons label { display: inline-flex; gap: .4rem; align-items: center; min-height: 2.5rem; }
.addons input { width: 1.2rem; height: 1.2rem; accent-color: var(--rating-accent); }
.plans { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 15rem), 1fr)); gap: 1rem; list-style: none; padding: 0; margin: 0; }
.card { border: 1px solid var(--rating-line); border-radius: var(--rating-radius); padding: 1rem; display: flex; flex-direction: column; gap: .4rem; position: relative; }
.card.cheapest { border: 2px solid var(--rating-accent); padding: calc(1rem - 1px); }
.card[aria-current=true] { box-shadow: 0 0 0 3px color-mix(in srgb, var(--rating-accent) 35%, transparent); }
.badge { align-self: flex-start; font-size: .75rem; font-weight: 700; border-radius: 999px; padding: .1rem .6rem; height: 1.4rem;
  background: var(--rating-accent); color: var(--rating-accent-ink); visibility: hidden; }
.card.cheapest .badge { visibility: visible; }
.card h3 { font-size: 1.05rem; display: flex; gap: .5rem; align-items: center; }
.swatch { width: .8rem; height: .8rem; border-radius: 3px; flex: none; }
.price { font-size: 1.7rem; font-weight: 700; height: 2.3rem; line-height: 2.3rem; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; font-variant-numeric: tabular-nums; }
.per { font-size: .9rem; font-weight: 400; color: var(--rating-muted); }
.note { font-size: .85rem; color: var(--rating-muted); min-height: 2.5em; margin: 0; }
.note.unavailable { color: var(--rating-error); }
.card ul { margin: 0; padding-left: 1.1rem; font-size: .9rem; }
.card button { margin-top: auto; }
button { font: inherit; min-height: 2.5rem; border-radius: 6px; border: 1px solid var(--rating-accent); background: transparent;
  color: var(--rating-fg); padding: .3rem .8rem; cursor: pointer; }
button[aria-pressed=true] { background: var(--rating-accent); color: var(--rating-accent-ink); }
:focus-visible { outline: 3px solid var(--rating-accent); outline-offset: 2px; }
.chart svg { width: 100%; height: auto; aspect-ratio: 720 / 320; display: block; }
.chart text { fill: var(--rating-fg); font-size: 12px; }
.chart .grid { stroke: var(--rating-line); }
.chart .axis { stroke: var(--rating-muted); }
.chart .marker { stroke: var(--rating-muted); stroke-dasharray: 4 4; }
.chart polyline { fill: none; stroke-width: 2.5; }
.chart circle { stroke: var(--rating-bg); stroke-width: 2; }
.chart ul { font-size: .9rem; min-height: 1.45em; }
.chart .pick { display: flex; gap: .5rem; align-items: center; flex-wrap: wrap; margin-bottom: .4rem; }
.table { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: .4rem .5rem; border-bottom: 1px solid var(--rating-line); vertical-align: top; }
.num { text-align: right; white-space: nowrap; }
tfoot th, tfoot td { font-weight: 700; border-bottom: 0; }
.tiers { display: block; color: var(--rating-muted); font-size: .8rem; }
@container (max-width: 30rem) { .opt { display: none; } .chart text { font-size: 22px; } }
.problems { border: 2px solid var(--rating-error); border-radius: var(--rating-radius); padding: 1rem; }
.problems code { font-size: .85em; word-break: break-all; }
@media (prefers-reduced-motion: no-preference) { .card, button { transition: border-color .15s, background-color .15s; } }
`;

// ----------------------------------------------------------------- element

const Base = typeof HTMLElement === "undefined" ? class {} : HTMLElement;

/** `<rating-calculator>`: see calculator.d.ts and docs/calculator.md. */
export class RatingCalculator extends Base {
  static observedAttributes = ["book", "plans", "currency", "locale", "period"];

  #root;
  #loading = 0; // generation of the book being loaded
  #doc = null; // the book as JSON
  #book = null; // the engine's PriceBook
  #plans = [];
  #addons = [];
  #dims = [];
  #checked = new Set();
  #selected = null;
  #chartDim = null;
  #chartRun = 0;
  #bookData = null;
  #result = null;
  #renders = 0;
  #html = null;
  #currency = null;
  #period = "1";
  #ready;
  #resolveReady;

  constructor() {
    super();
    this.#root = this.attachShadow({ mode: "open" });
    this.#wire();
    this.#ready = new Promise((r) => (this.#resolveReady = r));
  }

  /** Resolves once the first prices are shown (or the book's problems). */
  get ready() {
    return this.#ready;
  }
  /** The quotes last shown: the `quote-change` detail. */
  get quotes() {
    return this.#result;
  }
  /** How many times the prices were recomputed (tests wait on it). */
  get renders() {
    return this.#renders;
  }
  /** The price book as JSON text or an object, instead of `book`. */
  get bookData() {
    return this.#bookData;
  }
  set bookData(value) {
    this.#bookData = value;
    if (this.isConnected) this.#load();
  }
  get book() {
    return this.getAttribute("book");
  }
  set book(v) {
    v === null ? this.removeAttribute("book") : this.setAttribute("book", v);
  }
  get plans() {
    return this.getAttribute("plans");
  }
  set plans(v) {
    v === null ? this.removeAttribute("plans") : this.setAttribute("plans", v);
  }
  get currency() {
    return this.#currency ?? this.getAttribute("currency");
  }
  set currency(v) {
    v === null ? this.removeAttribute("currency") : this.setAttribute("currency", v);
  }
  get locale() {
    return this.getAttribute("locale");
  }
  set locale(v) {
    v === null ? this.removeAttribute("locale") : this.setAttribute("locale", v);
  }
  get period() {
    return this.#period;
  }
  set period(v) {
    this.setAttribute("period", String(v));
  }

  connectedCallback() {
    if (!this.#doc) this.#load();
  }

  attributeChangedCallback(name, before, after) {
    if (before === after || !this.isConnected || !this.#doc) return;
    if (name === "book") this.#load();
    else {
      if (name === "currency") this.#currency = after;
      if (name === "period") this.#period = after ?? "1";
      this.#layout();
    }
  }

  // ----------------------------------------------------------- loading

  /** Reads the book (bookData, the `book` URL or the child script), lays the
   * page out from its JSON at once (so nothing moves when prices arrive),
   * then prices it when the engine is ready. */
  async #load() {
    const generation = ++this.#loading;
    let text;
    try {
      if (this.#bookData !== null) text = typeof this.#bookData === "string" ? this.#bookData : JSON.stringify(this.#bookData);
      else if (this.getAttribute("book")) {
        const url = new URL(this.getAttribute("book"), document.baseURI);
        const engine = loadEngine(); // in parallel with the book
        const response = await fetch(url);
        if (!response.ok) throw new Error(`cannot load the price book ${url}: HTTP ${response.status}`);
        text = await response.text();
        void engine;
      } else {
        text = this.querySelector('script[type="application/json"]')?.textContent;
        // No book yet: wait for one (the `book` attribute or `bookData`).
        if (!text) return;
      }
    } catch (e) {
      if (generation === this.#loading) this.#showProblems([{ code: "book_unavailable", message: e.message }]);
      return;
    }
    let doc;
    try {
      doc = JSON.parse(text);
    } catch {
      doc = null;
    }
    if (generation !== this.#loading) return;
    this.#book?.free?.();
    this.#book = null;
    this.#currency = this.getAttribute("currency");
    this.#period = this.getAttribute("period") ?? "1";
    if (doc?.id !== this.#doc?.id) {
      // Another book: its own defaults.
      this.#dims = [];
      this.#checked.clear();
      this.#selected = null;
      this.#chartDim = null;
    }
    if (doc && Array.isArray(doc.plans) && Array.isArray(doc.products)) {
      this.#doc = doc;
      this.#layout();
    }
    await loadEngine();
    if (generation !== this.#loading) return;
    try {
      this.#book = PriceBook.parse(text);
    } catch (e) {
      if (!(e instanceof RatingError)) throw e;
      this.#doc = null;
      this.#showProblems(e.errors?.length ? e.errors : [{ code: e.code, message: e.message, path: e.path }]);
      return;
    }
    // The engine's reading of the book: every decimal as a string.
    this.#doc = this.#book.toJSON();
    this.#layout();
  }

  #showProblems(problems) {
    this.#html = null;
    this.#root.innerHTML = `<style>${css}</style>
      <div class="problems" part="error" role="alert">
        <h2>This price book cannot be priced</h2>
        <ul>${problems.map((p) => `<li>${p.path ? `<code>${escapeHtml(p.path)}</code>: ` : ""}${escapeHtml(p.message)}</li>`).join("")}</ul>
      </div>`;
    this.#result = { problems };
    this.#resolveReady();
    this.dispatchEvent(new CustomEvent("quote-change", { detail: { quotes: {}, errors: {}, cheapest: null, problems }, bubbles: true, composed: true }));
  }

  // ------------------------------------------------------------ layout

  #layout() {
    const doc = this.#doc;
    const wanted = (this.getAttribute("plans") ?? "").split(/[\s,]+/).filter(Boolean);
    const base = doc.plans.filter((p) => !p.addon);
    const unknown = wanted.filter((id) => !base.some((p) => p.id === id));
    if (unknown.length) {
      this.#showProblems(unknown.map((id) => ({ code: "unknown_plan", message: `no base plan "${id}" in the price book`, path: "plans" })));
      return;
    }
    this.#plans = wanted.length ? wanted.map((id) => base.find((p) => p.id === id)) : base;
    this.#addons = doc.plans.filter((p) => p.addon);
    const old = new Map(this.#dims.map((d) => [d.id, d]));
    this.#dims = dimensionsOf(doc, this.#plans, this.#addons);
    for (const d of this.#dims) {
      const before = old.get(d.id);
      // Inputs survive a re-layout (currency, period, the same book edited)
      // unless the new book caps them lower.
      if (before && !(Number(before.value) > d.cap)) Object.assign(d, { value: before.value, average: before.average });
    }
    this.#checked = new Set([...this.#checked].filter((id) => this.#addons.some((a) => a.id === id)));
    if (!this.#plans.some((p) => p.id === this.#selected)) this.#selected = null;
    if (!this.#dims.some((d) => d.id === this.#chartDim)) this.#chartDim = this.#defaultChartDim();
    const currencies = this.#currencies();
    if (!currencies.includes(this.#currency)) this.#currency = doc.currency;
    const periods = this.#periodChoices();
    if (!periods.some((p) => p.periods === this.#period)) this.#period = "1";
    this.#render(currencies, periods);
    if (this.#book) this.#update();
  }

  /** The first usage every shown plan prices and some plan includes an allowance or tiers of: where plans differ. */
  #defaultChartDim() {
    const usage = this.#dims.filter((d) => d.kind === "usage" && d.key === null && this.#plans.every((p) => p.items.some((i) => i.product === d.product.id)));
    const pick = usage.find((d) => this.#plans.some((p) => p.items.some((i) => i.product === d.product.id && (i.included_quantity !== undefined || i.price?.tiers))))
      ?? usage[0] ?? this.#dims.find((d) => d.kind !== "seats") ?? this.#dims[0];
    return pick?.id ?? null;
  }

  #currencies() {
    const doc = this.#doc;
    const set = new Set([doc.currency]);
    const visit = (price) => {
      for (const c of Object.keys(price?.currency_options ?? {})) set.add(c);
    };
    for (const plan of [...this.#plans, ...this.#addons]) {
      for (const item of plan.items) {
        visit(item.price);
        for (const p of Object.values(item.prices ?? {})) visit(p);
      }
    }
    for (const c of Object.keys(doc.fx?.rates ?? {})) set.add(c);
    return [...set];
  }

  #periodChoices() {
    const choices = [{ periods: "1", label: "Pay each period" }];
    const seen = new Set();
    for (const plan of this.#plans) {
      for (const a of plan.advance_discounts ?? []) {
        const n = String(a.periods);
        if (seen.has(n)) continue;
        seen.add(n);
        const names = this.#plans.filter((p) => (p.advance_discounts ?? []).some((x) => String(x.periods) === n));
        const percents = [...new Set(names.map((p) => String(p.advance_discounts.find((x) => String(x.periods) === n).percent)))];
        const what = `${n} ${plural(this.#plans[0].period.unit)}`;
        choices.push({ periods: n, label: `Pay ${what} ahead (${percents.map((p) => `${p}%`).join(" or ")} off${names.length < this.#plans.length ? ` ${names.map((p) => p.name).join(", ")}` : ""})` });
      }
    }
    return choices;
  }

  #fmt() {
    const locale = this.getAttribute("locale") || document.documentElement.lang || navigator.language || "en";
    return moneyFormat(locale, this.#currency, this.#doc.units);
  }

  /** What a plan includes, in words, from the book (exact strings). */
  #includes(plan) {
    const { money, number } = this.#fmt();
    const doc = this.#doc;
    const cur = this.#currency;
    const out = [];
    const productOf = (id) => doc.products.find((p) => p.id === id);
    for (const item of plan.items) {
      const product = productOf(item.product);
      if (!product) continue;
      const unit = product.unit_conversion?.display_unit ?? product.unit ?? null;
      const unitWord = unit ? unit : "unit";
      const price = priceIn(item.price, cur, doc.currency);
      const inCur = (p) => money(p.amount ?? p.unit_amount ?? p.package_amount, p.currency && p.currency !== doc.currency ? p.currency : cur);
      if (item.included_quantity !== undefined && !isZero(String(item.included_quantity))) {
        out.push(`${number(String(item.included_quantity))} ${unit ? plural(unit) : product.name.toLowerCase()} included`);
      }
      if (item.prices) {
        const keys = Object.keys(item.prices);
        out.push(`${product.name} priced by ${product.price_key_label ?? "key"} (${keys.slice(0, 4).join(", ")}${keys.length > 4 ? ", …" : ""})`);
        continue;
      }
      if (!price) {
        out.push(`${product.name}: not priced in ${cur}`);
        continue;
      }
      const at = (p) => p.currency && p.currency !== doc.currency ? p.currency : cur;
      switch (price.model) {
        case "flat":
          if (!isZero(String(price.amount))) out.push(`${product.name}: ${inCur(price)}`);
          break;
        case "per_unit":
          out.push(`${product.name}: ${money(String(price.unit_amount), at(price))} per ${product.type === "seat" ? "seat" : unitWord}${item.min_quantity ? ` (at least ${number(String(item.min_quantity))})` : ""}`);
          break;
        case "package":
          out.push(`${product.name}: ${money(String(price.package_amount), at(price))} per ${number(String(price.package_size))} ${plural(unitWord)}`);
          break;
        case "percentage":
          out.push(`${product.name}: ${price.percent}%${price.fixed_amount ? ` + ${money(String(price.fixed_amount), at(price))}` : ""} per transaction`);
          break;
        case "graduated":
        case "staircase":
        case "volume": {
          const first = price.tiers?.[0];
          if (first?.unit_amount !== undefined) out.push(`${product.name}: from ${money(String(first.unit_amount), at(price))} per ${unitWord}${price.tiers.length > 1 ? `, less in volume` : ""}`);
          else out.push(`${product.name}: tiered`);
          break;
        }
        default:
          break;
      }
    }
    if (plan.included_credits) out.push(`${number(String(plan.included_credits))} credits included`);
    if (plan.setup_fee && !isZero(String(plan.setup_fee))) out.push(`Setup fee ${money(String(plan.setup_fee))}`);
    if (plan.trial_days) out.push(`${plan.trial_days}-day free trial`);
    for (const f of plan.features ?? []) out.push(humanize(f));
    return out;
  }

  #render(currencies, periods) {
    const doc = this.#doc;
    const fmt = this.#fmt();
    const dims = this.#dims;
    const period = this.#plans[0] ? periodText(this.#plans[0].period) : "period";
    const dimRow = (d) => {
      const unit = d.product.unit_conversion?.display_unit ? null : d.product.unit;
      const name = d.key === null ? d.product.name : `${d.product.name} (${d.key})`;
      const seatPlans = d.kind === "seats" ? this.#plans.filter((p) => p.items.some((i) => i.product === d.product.id)) : [];
      const hint =
        d.kind === "seats"
          ? `for ${seatPlans.map((p) => p.name).join(", ") || "add-ons"}`
          : d.kind === "amount"
            ? `transactions per ${period}`
            : `${unit ? `${plural(unit)} ` : ""}per ${period}`;
      const extra =
        d.kind === "amount"
          ? `<div class="extra"><label for="avg-${d.id}">Average transaction (${escapeHtml(doc.currency)})</label>
             <input type="number" id="avg-${d.id}" data-avg="${escapeHtml(d.id)}" min="0" step="any" inputmode="decimal" value="${escapeHtml(d.average)}" part="input"></div>`
          : "";
      return `<div class="dimension" data-dim="${escapeHtml(d.id)}">
        <span class="name" id="label-${escapeHtml(d.id)}">${escapeHtml(name)}<small>${escapeHtml(hint)}</small></span>
        <input type="range" min="0" max="${d.max}" step="${d.step}" value="${escapeHtml(d.value)}" aria-labelledby="label-${escapeHtml(d.id)}" data-range="${escapeHtml(d.id)}" part="slider">
        <input type="number" min="0" step="any" inputmode="decimal" value="${escapeHtml(d.value)}" aria-labelledby="label-${escapeHtml(d.id)}" data-num="${escapeHtml(d.id)}" part="input">
        ${extra}</div>`;
    };
    const addonRow = (a) =>
      `<label><input type="checkbox" data-addon="${escapeHtml(a.id)}"${this.#checked.has(a.id) ? " checked" : ""} part="addon">${escapeHtml(a.name)}</label>`;
    const card = (plan, i) => `<li class="card" data-plan="${escapeHtml(plan.id)}" part="card">
        <span class="badge" part="badge">Cheapest for you</span>
        <h3 id="plan-${escapeHtml(plan.id)}"><span class="swatch" style="background:var(--rating-series-${(i % 6) + 1})"></span>${escapeHtml(plan.name)}</h3>
        <div><span class="price" data-role="total" part="price">…</span> <span class="per" data-role="per">/ ${escapeHtml(this.#perText(plan))}</span></div>
        <p class="note" data-role="note">Pricing…</p>
        <ul part="features">${this.#includes(plan).map((t) => `<li>${escapeHtml(t)}</li>`).join("")}</ul>
        <button type="button" data-select="${escapeHtml(plan.id)}" aria-pressed="false" aria-describedby="plan-${escapeHtml(plan.id)}">Show the breakdown</button>
      </li>`;
    const currencySelect =
      currencies.length > 1
        ? `<label>Currency<select data-control="currency" part="currency">${currencies.map((c) => `<option${c === this.#currency ? " selected" : ""}>${escapeHtml(c)}</option>`).join("")}</select></label>`
        : "";
    const periodSelect =
      periods.length > 1
        ? `<label>Billing<select data-control="period" part="period">${periods.map((p) => `<option value="${p.periods}"${p.periods === this.#period ? " selected" : ""}>${escapeHtml(p.label)}</option>`).join("")}</select></label>`
        : "";
    const chartPick = dims.length > 1
      ? `<label for="chart-dim">Cost as usage of</label><select id="chart-dim" data-control="chart">${dims.map((d) => `<option value="${escapeHtml(d.id)}"${d.id === this.#chartDim ? " selected" : ""}>${escapeHtml(d.key === null ? d.product.name : `${d.product.name} (${d.key})`)}</option>`).join("")}</select><span>grows</span>`
      : `<span>Cost as usage of ${escapeHtml(dims[0] ? dims[0].product.name : "")} grows</span>`;
    const html = `<style>${css}</style>
      <div part="calculator">
      ${currencySelect || periodSelect ? `<div class="controls">${currencySelect}${periodSelect}</div>` : ""}
      ${dims.length || this.#addons.length ? `<section class="usage" part="inputs" aria-labelledby="usage-h">
        <h2 id="usage-h">Your usage per ${escapeHtml(period)}</h2>
        ${dims.map(dimRow).join("")}
        ${this.#addons.length ? `<fieldset class="addons" part="addons"><legend>Add-ons</legend>${this.#addons.map(addonRow).join("")}</fieldset>` : ""}
        <p class="error" data-role="input-error" role="status" part="error"></p>
      </section>` : ""}
      <section aria-labelledby="plans-h">
        <h2 id="plans-h" class="sr">Plans</h2>
        <ul class="plans" data-role="plans" aria-busy="true">${this.#plans.map(card).join("")}</ul>
      </section>
      ${dims.length ? `<section class="chart" part="chart" aria-labelledby="chart-h">
        <h2 id="chart-h" class="sr">Cost against usage</h2>
        <div class="pick">${chartPick}</div>
        <svg viewBox="0 0 720 320" role="img" aria-label="Cost against usage" data-role="chart"></svg>
        <ul data-role="crossovers"></ul>
      </section>` : ""}
      <section class="breakdown" part="breakdown" aria-labelledby="lines-h">
        <h2 id="lines-h">What <span data-role="breakdown-plan">the plan</span> costs</h2>
        <div class="table" tabindex="0" role="region" aria-label="The quote's lines (scrolls sideways on small screens)">
        <table data-role="lines">
          <thead><tr><th scope="col">Item</th><th scope="col" class="num">Quantity</th><th scope="col" class="num opt">Included</th><th scope="col" class="num opt">Billable</th><th scope="col" class="num">Amount</th></tr></thead>
          <tbody></tbody>
          <tfoot><tr><th scope="row" colspan="2" data-role="total-label">Total</th><td class="opt"></td><td class="opt"></td><td class="num" data-role="total">…</td></tr></tfoot>
        </table></div>
      </section>
      </div>`;
    void fmt;
    // The engine's reading of a book usually lays out as its raw JSON did:
    // then the page stays as it is (no work, nothing moves).
    if (html === this.#html) return;
    this.#html = html;
    this.#root.innerHTML = html;
  }

  #perText(plan) {
    if (this.#period !== "1") return `${Number(this.#period) * Number(plan.period.length)} ${plural(plan.period.unit)}`;
    return periodText(plan.period);
  }

  /** One listener per event type on the shadow root, reading the inputs
   * by their data attributes: the markup can be replaced (or kept) freely. */
  #wire() {
    const root = this.#root;
    const dimOf = (id) => this.#dims.find((d) => d.id === id);
    root.addEventListener("input", (e) => {
      const t = e.target;
      const d = dimOf(t.dataset.range ?? t.dataset.num ?? t.dataset.avg);
      if (!d) return;
      if (t.dataset.avg !== undefined) {
        d.average = t.value.trim();
      } else if (t.dataset.range !== undefined) {
        d.value = t.value;
        const num = root.querySelector(`[data-num="${CSS.escape(d.id)}"]`);
        if (num) num.value = t.value;
      } else {
        d.value = t.value.trim();
        const range = root.querySelector(`[data-range="${CSS.escape(d.id)}"]`);
        if (range && d.value !== "" && Number(d.value) <= d.max && Number(d.value) >= 0) range.value = d.value;
      }
      this.#update();
    });
    root.addEventListener("change", (e) => {
      const t = e.target;
      if (t.dataset.addon !== undefined) {
        t.checked ? this.#checked.add(t.dataset.addon) : this.#checked.delete(t.dataset.addon);
        this.#update();
      } else if (t.dataset.control === "currency") {
        this.#currency = t.value;
        this.#layout();
      } else if (t.dataset.control === "period") {
        this.#period = t.value;
        this.#layout();
      } else if (t.dataset.control === "chart") {
        this.#chartDim = t.value;
        this.#drawChart();
      }
    });
    root.addEventListener("click", (e) => {
      const b = e.target.closest?.("[data-select]");
      if (!b) return;
      this.#selected = b.dataset.select;
      this.#update();
    });
  }

  // ------------------------------------------------------------ pricing

  /** The request for one plan, or why the plan cannot serve this usage.
   * Seats go only to plans with a seat item, at least its min_quantity;
   * usage of a product the plan lacks makes it unavailable (zero is left out). */
  #requestFor(plan, values = {}) {
    const doc = this.#doc;
    const addons = this.#addons.filter((a) => this.#checked.has(a.id));
    const req = { plan: plan.id };
    if (addons.length) req.addons = addons.map((a) => a.id);
    if (this.#currency && this.#currency !== doc.currency) req.currency = this.#currency;
    if (this.#period !== "1") req.periods = Number(this.#period);
    const usage = {};
    const quantities = {};
    for (const d of this.#dims) {
      const value = values[d.id] ?? d.value;
      const item = [plan, ...addons].map((p) => p.items.find((i) => i.product === d.product.id)).find(Boolean);
      const zero = isZero(value);
      if (d.kind === "seats") {
        if (!item) continue;
        const min = decimalText(item.min_quantity);
        quantities[d.product.id] = min && parseDecimal(value) && compareDecimals(value, min) < 0 ? min : value;
        continue;
      }
      if (!item || (d.key !== null && !(item.prices && d.key in item.prices) && d.product.unmatched_price_key_policy !== "use_default" && d.product.unmatched_price_key_policy !== "drop")) {
        if (zero) continue;
        return { unavailable: `No ${d.key === null ? d.product.name : `${d.product.name} (${d.key})`} in this plan` };
      }
      if (d.kind === "amount") {
        const price = priceIn(item.price, this.#currency, doc.currency) ?? item.price ?? {};
        const needsList = price.min_amount !== undefined || price.max_amount !== undefined;
        const count = /^\d+$/.test(value) ? value : null;
        if (count === null || !parseDecimal(d.average)) {
          usage[d.product.id] = { count: value, total: d.average }; // the engine names what is wrong
        } else if (needsList) {
          usage[d.product.id] = { amounts: Array.from({ length: Math.min(Number(count), 100000) }, () => d.average) };
        } else {
          usage[d.product.id] = { count, total: multiplyDecimal(d.average, count) };
        }
      } else if (d.key !== null) {
        (usage[d.product.id] ??= {})[d.key] = value;
      } else {
        usage[d.product.id] = value;
      }
    }
    if (Object.keys(usage).length) req.usage = usage;
    if (Object.keys(quantities).length) req.quantities = quantities;
    return { request: req };
  }

  /** Every shown plan priced for the inputs (with `values` overriding some). */
  #priceAll(values) {
    const quotes = {};
    const errors = {};
    const requests = {};
    for (const plan of this.#plans) {
      const { request, unavailable } = this.#requestFor(plan, values);
      if (request) requests[plan.id] = request;
      if (unavailable) {
        errors[plan.id] = { code: "product_not_in_plan", message: unavailable };
        continue;
      }
      try {
        quotes[plan.id] = quote(this.#book, request);
      } catch (e) {
        if (!(e instanceof RatingError)) throw e;
        errors[plan.id] = { code: e.code, message: e.message, path: e.path };
      }
    }
    let cheapest = null;
    for (const plan of this.#plans) {
      const q = quotes[plan.id];
      if (q && (cheapest === null || compareDecimals(q.total, quotes[cheapest].total) < 0)) cheapest = plan.id;
    }
    return { quotes, errors, cheapest, requests };
  }

  /** An input the engine refused (a negative or non-numeric quantity). */
  #inputError(errors) {
    const inputCodes = new Set(["invalid_decimal", "negative_value", "out_of_range", "invalid_type", "invalid_value", "invalid_usage", "missing_field"]);
    for (const e of Object.values(errors)) {
      if (!inputCodes.has(e.code) || !e.path) continue;
      const d = this.#dims.find((x) => e.path === `usage.${x.product.id}${x.key === null ? "" : `.${x.key}`}` || e.path.startsWith(`usage.${x.product.id}.`) || e.path === `quantities.${x.product.id}`);
      if (d) return { dim: d, message: e.message, avg: d.kind === "amount" && /total|amounts/.test(e.path) };
    }
    return null;
  }

  #update() {
    if (!this.#book) return;
    const root = this.#root;
    const fmt = this.#fmt();
    const errorBox = root.querySelector('[data-role="input-error"]');
    for (const input of root.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
    const empty = this.#dims.find((d) => d.value === "" || (d.kind === "amount" && d.average === ""));
    const fractional = this.#dims.find((d) => d.kind === "amount" && d.value !== "" && !/^\d+$/.test(d.value));
    const result = empty || fractional ? null : this.#priceAll();
    const bad = empty
      ? { dim: empty, message: "enter a number", avg: empty.value !== "" }
      : fractional
        ? { dim: fractional, message: "enter a whole number of transactions", avg: false }
        : this.#inputError(result.errors);
    if (bad) {
      const field = root.querySelector(bad.avg ? `[data-avg="${CSS.escape(bad.dim.id)}"]` : `[data-num="${CSS.escape(bad.dim.id)}"]`);
      field?.setAttribute("aria-invalid", "true");
      if (errorBox) errorBox.textContent = `${bad.dim.product.name}: ${bad.message}`;
      this.#renders++;
      return;
    }
    if (errorBox) errorBox.textContent = "";
    const { quotes, errors, cheapest, requests } = result;
    root.querySelector('[data-role="plans"]')?.removeAttribute("aria-busy");
    const selected = this.#selected ?? cheapest ?? this.#plans[0]?.id;
    for (const card of root.querySelectorAll(".card")) {
      const id = card.dataset.plan;
      const q = quotes[id];
      const total = card.querySelector('[data-role="total"]');
      const note = card.querySelector('[data-role="note"]');
      if (q) {
        total.textContent = fmt.money(q.total, q.currency);
        card.dataset.total = q.total;
        const credits = Object.entries(q.credits ?? {}).map(([u, v]) => fmt.money(v, u));
        note.textContent = `for the usage above${credits.length ? `, plus ${credits.join(", ")}` : ""}`;
        note.classList.remove("unavailable");
      } else {
        total.textContent = "–";
        delete card.dataset.total;
        note.textContent = errors[id].message;
        note.classList.add("unavailable");
      }
      const isCheapest = id === cheapest;
      card.classList.toggle("cheapest", isCheapest);
      card.part = isCheapest ? "card cheapest" : "card";
      card.setAttribute("aria-current", String(id === selected));
      card.querySelector("[data-select]").setAttribute("aria-pressed", String(id === selected));
    }
    this.#showLines(selected, quotes[selected], errors[selected], fmt);
    this.#result = { quotes, errors, cheapest, selected, currency: this.#currency, periods: Number(this.#period), requests };
    this.#renders++;
    this.dispatchEvent(new CustomEvent("quote-change", { detail: this.#result, bubbles: true, composed: true }));
    this.#resolveReady();
    this.#drawChart();
  }

  #showLines(planId, q, error, fmt) {
    const root = this.#root;
    const plan = this.#plans.find((p) => p.id === planId);
    const table = root.querySelector('[data-role="lines"]');
    root.querySelector('[data-role="breakdown-plan"]').textContent = plan?.name ?? "the plan";
    table.dataset.plan = planId ?? "";
    const body = table.tBodies[0];
    const totalCell = root.querySelector('[data-role="total"]:not(.price)');
    const label = root.querySelector('[data-role="total-label"]');
    if (!q) {
      body.innerHTML = `<tr><td colspan="5">${escapeHtml(error?.message ?? "")}</td></tr>`;
      totalCell.textContent = "–";
      delete totalCell.dataset.total;
      return;
    }
    const dash = "–";
    body.innerHTML = q.lines
      .map((line) => {
        const tiers = (line.tiers ?? []).length > 1
          ? `<span class="tiers">${line.tiers.map((t) => `${fmt.number(t.quantity)} × ${t.percent !== undefined ? `${t.percent}%` : fmt.money(t.unit_amount ?? "0", line.currency ?? q.currency)}`).join(" + ")}</span>`
          : "";
        return `<tr data-product="${escapeHtml(line.product)}" data-kind="${escapeHtml(line.kind)}">
          <td>${escapeHtml(line.description)}${line.price_key && !line.description.includes(line.price_key) ? ` (${escapeHtml(line.price_key)})` : ""}${tiers}</td>
          <td class="num">${fmt.number(line.quantity)}</td>
          <td class="num opt">${line.included === undefined ? dash : fmt.number(line.included)}</td>
          <td class="num opt">${line.billable === undefined ? dash : fmt.number(line.billable)}</td>
          <td class="num" data-amount="${escapeHtml(line.amount)}">${escapeHtml(fmt.money(line.amount, line.currency ?? q.currency))}</td></tr>`;
      })
      .join("");
    label.textContent = q.periods && q.periods > 1 ? `Total for ${q.periods} ${plural(q.period.unit)} paid ahead` : `Total per ${periodText(q.period)}`;
    totalCell.textContent = fmt.money(q.total, q.currency);
    totalCell.dataset.total = q.total;
  }

  // -------------------------------------------------------------- chart

  /** The cost of each plan as one input grows, sampled in slices so the
   * page stays responsive, with the points where the cheapest plan
   * changes found to the whole unit by bisection. */
  async #drawChart() {
    const run = ++this.#chartRun;
    const svg = this.#root.querySelector('[data-role="chart"]');
    const d = this.#dims.find((x) => x.id === this.#chartDim);
    if (!svg || !d) return;
    const fmt = this.#fmt();
    const n = 40;
    const samples = [];
    let sliceStart = performance.now();
    const slice = async () => {
      if (performance.now() - sliceStart > 6) {
        await (globalThis.scheduler?.yield?.() ?? new Promise((r) => setTimeout(r, 0)));
        sliceStart = performance.now();
      }
      return run === this.#chartRun;
    };
    const at = (x) => this.#priceAll({ [d.id]: String(x) });
    for (let i = 0; i <= n; i++) {
      if (!(await slice())) return;
      const x = Math.round((d.max * i) / n);
      samples.push({ x, ...at(x) });
    }
    const crossings = [];
    for (let i = 1; i < samples.length; i++) {
      const [a, b] = [samples[i - 1], samples[i]];
      if (a.cheapest === b.cheapest || a.cheapest === null || b.cheapest === null) continue;
      let lo = a.x;
      let hi = b.x;
      while (hi - lo > 1) {
        if (!(await slice())) return;
        const mid = Math.floor((lo + hi) / 2);
        if (at(mid).cheapest === a.cheapest) lo = mid;
        else hi = mid;
      }
      const there = at(hi);
      if (there.cheapest !== a.cheapest && there.cheapest) crossings.push({ x: hi, from: at(lo).cheapest, to: there.cheapest, total: there.quotes[there.cheapest].total });
    }
    if (run !== this.#chartRun) return;
    this.#paintChart(svg, d, samples, crossings, fmt);
    svg.dataset.samples = String(samples.length);
  }

  #paintChart(svg, d, samples, crossings, fmt) {
    const W = 720, H = 320, L = 72, R = 110, T = 14, B = 46;
    const ns = "http://www.w3.org/2000/svg";
    const el = (name, attrs, text) => {
      const node = document.createElementNS(ns, name);
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
      if (text !== undefined) node.textContent = text;
      return node;
    };
    // Pixels only: totals become floats here to be placed, never to be shown.
    const totals = samples.flatMap((s) => Object.values(s.quotes).map((q) => Number(q.total)));
    const yMax = niceCeil(Math.max(1, ...totals) * 1.05);
    const px = (x) => L + ((W - L - R) * x) / d.max;
    const py = (y) => H - B - ((H - T - B) * y) / yMax;
    const nodes = [];
    for (let i = 0; i <= 4; i++) {
      const y = (yMax * i) / 4;
      nodes.push(el("line", { class: "grid", x1: L, x2: W - R, y1: py(y), y2: py(y) }));
      nodes.push(el("text", { x: L - 6, y: py(y) + 4, "text-anchor": "end" }, fmt.money(String(Number(y.toPrecision(6))))));
    }
    for (let i = 0; i <= 4; i++) {
      const x = (d.max * i) / 4;
      nodes.push(el("text", { x: px(x), y: H - B + 18, "text-anchor": "middle" }, fmt.number(String(Math.round(x)))));
    }
    nodes.push(el("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }));
    nodes.push(el("line", { class: "axis", x1: L, x2: L, y1: T, y2: H - B }));
    const unit = d.kind === "amount" ? "transactions" : d.kind === "seats" ? "seats" : d.product.unit ? plural(d.product.unit) : d.product.name.toLowerCase();
    nodes.push(el("text", { x: (L + W - R) / 2, y: H - 8, "text-anchor": "middle" }, `${d.key === null ? d.product.name : `${d.product.name} (${d.key})`}: ${unit}`));
    this.#plans.forEach((plan, i) => {
      const colour = `var(--rating-series-${(i % 6) + 1})`;
      const points = samples.filter((s) => s.quotes[plan.id]).map((s) => `${px(s.x).toFixed(1)},${py(Number(s.quotes[plan.id].total)).toFixed(1)}`);
      if (!points.length) return;
      nodes.push(el("polyline", { "data-plan": plan.id, points: points.join(" "), style: `stroke:${colour}` }));
      const last = samples.at(-1).quotes[plan.id];
      if (last) nodes.push(el("text", { x: W - R + 6, y: py(Number(last.total)) + 4 }, plan.name.length > 14 ? `${plan.name.slice(0, 13)}…` : plan.name));
    });
    const current = Number(d.value);
    if (Number.isFinite(current) && current >= 0 && current <= d.max) {
      nodes.push(el("line", { class: "marker", x1: px(current), x2: px(current), y1: T, y2: H - B }));
      nodes.push(el("text", { x: px(current) + 4, y: T + 10 }, "you"));
    }
    const items = [];
    for (const c of crossings) {
      const i = this.#plans.findIndex((p) => p.id === c.to);
      nodes.push(el("circle", { class: "crossover", cx: px(c.x), cy: py(Number(c.total)), r: 5.5, "data-x": c.x, style: `fill:var(--rating-series-${(i % 6) + 1})` }));
      const name = (id) => this.#plans.find((p) => p.id === id)?.name ?? id;
      items.push(`From ${fmt.number(String(c.x))} ${unit}, ${name(c.to)} is cheaper than ${name(c.from)} (${fmt.money(c.total)}).`);
    }
    svg.replaceChildren(...nodes);
    const names = this.#plans.map((p) => p.name).join(", ");
    svg.setAttribute("aria-label", `Cost of ${names} as ${unit} grow from 0 to ${fmt.number(String(d.max))}${crossings.length ? `; ${items.join(" ")}` : ""}`);
    const list = this.#root.querySelector('[data-role="crossovers"]');
    list.innerHTML = items.length ? items.map((t, i) => `<li data-x="${crossings[i].x}">${escapeHtml(t)}</li>`).join("") : `<li>The same plan is the cheapest over this range.</li>`;
  }
}

if (typeof customElements !== "undefined" && !customElements.get("rating-calculator")) {
  customElements.define("rating-calculator", RatingCalculator);
}
