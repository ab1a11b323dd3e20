// The pricing-page calculator: every number on the page comes from the
// rating engine (the `rating-engine` package's quote-only browser build,
// WebAssembly), so what a
// visitor sees is exactly what they would be quoted and billed. Money stays
// a decimal string from the engine to the screen; JS numbers are used only
// to place things on the chart.
import init, { PriceBook, RatingError } from "rating-engine/quote";

const $ = (id) => document.getElementById(id);
const svgNs = "http://www.w3.org/2000/svg";
const palette = ["#2563eb", "#7c3aed", "#d97706", "#0f7b5f", "#db2777", "#475569"];

// ------------------------------------------------------------ formatting

/** "1234567.5" → "1,234,567.5", on the string (no rounding through doubles). */
function group(decimal) {
  const negative = decimal.startsWith("-");
  const [int, frac] = (negative ? decimal.slice(1) : decimal).split(".");
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${negative ? "-" : ""}${grouped}${frac === undefined ? "" : `.${frac}`}`;
}

let currencySymbol = (amount) => amount;
function setCurrency(code) {
  let symbol = `${code} `;
  try {
    const part = new Intl.NumberFormat("en", { style: "currency", currency: code }).formatToParts(0).find((p) => p.type === "currency");
    if (part) symbol = part.value;
  } catch {
    // a custom unit: keep the code
  }
  currencySymbol = (amount) => (amount.startsWith("-") ? `-${symbol}${group(amount.slice(1))}` : `${symbol}${group(amount)}`);
}
const money = (amount) => currencySymbol(amount);

const periodText = ({ unit, length }) => (length === 1 ? unit : `${length} ${unit}s`);
const plural = (unit) => (unit.endsWith("s") ? unit : `${unit}s`);
const acronyms = new Set(["api", "sla", "sso", "ip", "sms"]);
const humanize = (id) =>
  id
    .split(/[-_]/)
    .map((w, i) => (acronyms.has(w) ? w.toUpperCase() : i === 0 ? w.replace(/^./, (c) => c.toUpperCase()) : w))
    .join(" ");
/** "messages", or "users (seats)": how a dimension's quantity is named. */
const unitName = (product) => {
  const name = product.name.toLowerCase();
  return product.unit && plural(product.unit) !== name ? `${name} (${plural(product.unit)})` : name;
};

/** A round number at or above x (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10^k). */
function niceCeil(x) {
  if (x <= 0) return 10;
  const p = 10 ** Math.floor(Math.log10(x));
  return [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10].map((m) => m * p).find((v) => v >= x);
}

// ---------------------------------------------------------------- setup

await init();
const params = new URLSearchParams(location.search);
const bookUrl = params.get("book") ?? document.body.dataset.book;
const response = await fetch(bookUrl);
if (!response.ok) throw new Error(`cannot load the price book ${bookUrl}: ${response.status}`);
const book = PriceBook.parse(await response.text());
const doc = book.toJSON();
setCurrency(doc.currency);

const plans = doc.plans.filter((p) => !p.addon);
const colour = new Map(plans.map((p, i) => [p.id, palette[i % palette.length]]));
const itemOf = (plan, product) => plan.items.find((i) => i.product === product);

// One input per metered product (usage) and per seat product (quantities),
// except keyed and amount-aggregated products, which need more than a slider.
const dimensions = doc.products
  .filter((p) => (p.type === "metered" || p.type === "seat") && !p.price_key_label && p.aggregation !== "amount")
  .filter((p) => plans.some((plan) => itemOf(plan, p.id)))
  .map((p) => {
    const included = plans.map((plan) => Number(itemOf(plan, p.id)?.included_quantity ?? 0));
    const max = niceCeil(Math.max(...included, 10) * 2);
    const start = params.get(p.id) ?? String(Math.round(niceCeil(Math.max(included[0], 1)) * 1.5));
    return { product: p, field: p.type === "seat" ? "quantities" : "usage", max, step: Math.max(1, max / 1000), value: start };
  });

document.title = `${doc.name ?? doc.id}: pricing calculator`;
$("title").textContent = doc.name ?? "Pricing";
$("book-hash").textContent = book.hash;

// ------------------------------------------------------------- requests

function request(overrides = {}) {
  const req = { usage: {}, quantities: {} };
  for (const d of dimensions) req[d.field][d.product.id] = overrides[d.product.id] ?? d.value;
  if (!Object.keys(req.quantities).length) delete req.quantities;
  return req;
}

/** Totals per plan and the cheapest, or the RatingError. */
function compare(overrides) {
  return book.compare(request(overrides));
}

// --------------------------------------------------------------- inputs

function buildInputs() {
  const box = $("inputs");
  for (const d of dimensions) {
    const id = d.product.id;
    const row = document.createElement("div");
    row.className = "dimension";
    row.innerHTML = `
      <label for="num-${id}">${d.product.name}<small>${d.product.unit ? `${plural(d.product.unit)} ` : ""}per ${periodText(plans[0].period)}</small></label>
      <input type="range" id="range-${id}" min="0" max="${d.max}" step="${d.step}" aria-label="${d.product.name} (slider)">
      <input type="number" id="num-${id}" min="0" step="any" inputmode="decimal">`;
    if (d.product.description) row.title = d.product.description;
    box.append(row);
    const range = row.querySelector("input[type=range]");
    const num = row.querySelector("input[type=number]");
    range.value = d.value;
    num.value = d.value;
    range.addEventListener("input", () => {
      d.value = range.value;
      num.value = range.value;
      update();
    });
    num.addEventListener("input", () => {
      d.value = num.value.trim() === "" ? "" : num.value;
      if (num.value.trim() !== "" && Number(num.value) <= d.max) range.value = num.value;
      update();
    });
    d.inputs = { range, num };
  }
  const select = $("chart-dimension");
  for (const d of dimensions) select.append(new Option(d.product.name.toLowerCase(), d.product.id));
  select.addEventListener("change", () => drawChart());
}

// ------------------------------------------------------------- plan cards

let selected = null; // plan id whose lines are shown; null: the cheapest

function buildPlans() {
  const box = $("plans");
  for (const plan of plans) {
    const card = document.createElement("button");
    card.type = "button";
    card.className = "plan";
    card.dataset.plan = plan.id;
    const allowances = dimensions
      .map((d) => {
        const item = itemOf(plan, d.product.id);
        if (!item?.included_quantity) return null;
        const unit = d.product.unit ? plural(d.product.unit) : d.product.name.toLowerCase();
        const rate = item.price?.model === "per_unit" ? `, then ${money(String(item.price.unit_amount))} each` : "";
        return `<li>${group(String(item.included_quantity))} ${unit} included${rate}</li>`;
      })
      .filter(Boolean)
      .join("");
    const features = (plan.features ?? []).map((f) => `<li>${humanize(f)}</li>`).join("");
    card.innerHTML = `
      <span class="badge">Cheapest for your usage</span>
      <h3><span class="swatch" style="background:${colour.get(plan.id)}"></span>${plan.name}</h3>
      <div><span class="price" data-role="total"></span> <span class="per">/ ${periodText(plan.period)}</span></div>
      <div class="base" data-role="note"></div>
      <ul>${allowances}${features}</ul>`;
    card.addEventListener("click", () => {
      selected = plan.id;
      update();
    });
    box.append(card);
  }
}

function showPlans(comparison) {
  for (const card of $("plans").children) {
    const entry = comparison.plans.find((p) => p.plan === card.dataset.plan);
    const total = card.querySelector("[data-role=total]");
    const note = card.querySelector("[data-role=note]");
    if (entry.total !== undefined) {
      total.textContent = money(entry.total);
      card.dataset.total = entry.total;
      note.textContent = "for the usage above";
      note.classList.remove("unavailable");
    } else {
      total.textContent = "–";
      delete card.dataset.total;
      note.textContent = entry.error.message;
      note.classList.add("unavailable");
    }
    card.classList.toggle("cheapest", comparison.cheapest === card.dataset.plan);
    card.setAttribute("aria-pressed", String(card.dataset.plan === (selected ?? comparison.cheapest)));
  }
}

// -------------------------------------------------------------- breakdown

function showLines(quote) {
  const plan = plans.find((p) => p.id === quote.plan);
  $("breakdown-plan").textContent = plan.name;
  $("period").textContent = periodText(quote.period);
  const body = $("lines").tBodies[0];
  body.replaceChildren(
    ...quote.lines.map((line) => {
      const tr = document.createElement("tr");
      tr.dataset.product = line.product;
      const tiers = (line.tiers ?? []).length > 1
        ? `<span class="tiers">${line.tiers.map((t) => `${group(t.quantity)} × ${money(t.unit_amount ?? "0")}`).join(" + ")}</span>`
        : "";
      tr.innerHTML = `
        <td>${line.description}${tiers}</td>
        <td class="num">${group(line.quantity)}</td>
        <td class="num">${line.included === undefined ? "–" : group(line.included)}</td>
        <td class="num">${line.billable === undefined ? "–" : group(line.billable)}</td>
        <td class="num" data-amount="${line.amount}">${money(line.amount)}</td>`;
      return tr;
    }),
  );
  $("total").textContent = money(quote.total);
  $("total").dataset.total = quote.total;
  $("lines").dataset.plan = quote.plan;
}

// ------------------------------------------------------------------ chart

function el(name, attrs, text) {
  const node = document.createElementNS(svgNs, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Where the cheapest plan changes along one dimension: sampled, then
 * each change narrowed down to the exact whole unit by bisection. */
function crossovers(id, max, samples) {
  const cheapestAt = (x) => compare({ [id]: String(x) }).cheapest;
  const out = [];
  for (let i = 1; i < samples.length; i++) {
    const [a, b] = [samples[i - 1], samples[i]];
    if (a.cheapest === b.cheapest || a.cheapest === null || b.cheapest === null) continue;
    let lo = Math.floor(a.x);
    let hi = Math.ceil(b.x);
    const from = cheapestAt(lo);
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (cheapestAt(mid) === from) lo = mid;
      else hi = mid;
    }
    const at = compare({ [id]: String(hi) });
    out.push({ x: hi, from, to: at.cheapest, total: at.plans.find((p) => p.plan === at.cheapest).total });
  }
  return out.filter((c) => c.x <= max);
}

function drawChart() {
  const id = $("chart-dimension").value;
  const d = dimensions.find((x) => x.product.id === id);
  const svg = $("chart");
  svg.replaceChildren();
  const W = 760, H = 340, L = 64, R = 130, T = 16, B = 44;
  const n = 80;
  const samples = [];
  for (let i = 0; i <= n; i++) {
    const x = Math.round((d.max * i) / n);
    const c = compare({ [id]: String(x) });
    samples.push({ x, cheapest: c.cheapest, totals: new Map(c.plans.filter((p) => p.total !== undefined).map((p) => [p.plan, p.total])) });
  }
  const yMax = niceCeil(Math.max(...samples.flatMap((s) => [...s.totals.values()].map(Number))) * 1.05);
  const px = (x) => L + ((W - L - R) * x) / d.max;
  const py = (y) => H - B - ((H - T - B) * y) / yMax;

  for (let i = 0; i <= 5; i++) {
    const y = (yMax * i) / 5;
    svg.append(el("line", { class: "grid", x1: L, x2: W - R, y1: py(y), y2: py(y) }));
    svg.append(el("text", { x: L - 8, y: py(y) + 4, "text-anchor": "end" }, money(String(Math.round(y)))));
  }
  for (let i = 0; i <= 5; i++) {
    const x = (d.max * i) / 5;
    svg.append(el("line", { class: "axis", x1: px(x), x2: px(x), y1: H - B, y2: H - B + 5 }));
    svg.append(el("text", { x: px(x), y: H - B + 18, "text-anchor": "middle" }, group(String(Math.round(x)))));
  }
  svg.append(el("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }));
  svg.append(el("line", { class: "axis", x1: L, x2: L, y1: T, y2: H - B }));
  svg.append(el("text", { x: (L + W - R) / 2, y: H - 6, "text-anchor": "middle" },
    `${unitName(d.product)} per ${periodText(plans[0].period)}`));

  for (const plan of plans) {
    const points = samples.filter((s) => s.totals.has(plan.id)).map((s) => `${px(s.x).toFixed(1)},${py(Number(s.totals.get(plan.id))).toFixed(1)}`);
    if (!points.length) continue;
    svg.append(el("polyline", { class: "plan-line", "data-plan": plan.id, stroke: colour.get(plan.id), points: points.join(" ") }));
    const last = samples.at(-1).totals.get(plan.id);
    if (last !== undefined) {
      svg.append(el("text", { x: W - R + 8, y: py(Number(last)) + 4, fill: colour.get(plan.id), style: `fill:${colour.get(plan.id)};font-weight:600` }, plan.name));
    }
  }

  // The usage entered above.
  const current = Number(d.value);
  if (Number.isFinite(current) && current >= 0 && current <= d.max) {
    svg.append(el("line", { class: "marker", x1: px(current), x2: px(current), y1: T, y2: H - B }));
    svg.append(el("text", { x: px(current) + 4, y: T + 10 }, "you"));
  }

  const found = crossovers(id, d.max, samples);
  const list = $("crossovers");
  list.replaceChildren();
  for (const c of found) {
    svg.append(el("circle", { class: "crossover", cx: px(c.x), cy: py(Number(c.total)), r: 5.5, fill: colour.get(c.to), "data-x": c.x }));
    const li = document.createElement("li");
    const name = (pid) => plans.find((p) => p.id === pid).name;
    li.textContent = `From ${group(String(c.x))} ${d.product.unit ? plural(d.product.unit) : d.product.name.toLowerCase()}, ${name(c.to)} is cheaper than ${name(c.from)} (${money(c.total)}).`;
    list.append(li);
  }
}

// ----------------------------------------------------------------- update

let chartQueued = false;

function update() {
  let comparison;
  const error = $("input-error");
  for (const d of dimensions) d.inputs.num.removeAttribute("aria-invalid");
  try {
    for (const d of dimensions) {
      if (d.value === "") throw new RatingError("invalid_decimal", "enter a number", `${d.field}.${d.product.id}`);
    }
    comparison = compare();
  } catch (e) {
    if (!(e instanceof RatingError)) throw e;
    const d = dimensions.find((x) => e.path === `${x.field}.${x.product.id}`);
    if (d) d.inputs.num.setAttribute("aria-invalid", "true");
    error.textContent = `${d ? d.product.name : "Usage"}: ${e.message}`;
    error.hidden = false;
    return;
  }
  error.hidden = true;
  showPlans(comparison);
  const plan = selected ?? comparison.cheapest ?? plans[0].id;
  try {
    showLines(book.quote({ plan, ...request() }));
  } catch (e) {
    if (!(e instanceof RatingError)) throw e;
    $("lines").tBodies[0].replaceChildren();
    $("total").textContent = e.message;
  }
  document.body.dataset.renders = String(Number(document.body.dataset.renders ?? 0) + 1);
  // The chart follows at the next frame, once however many inputs came.
  if (!chartQueued) {
    chartQueued = true;
    requestAnimationFrame(() => {
      chartQueued = false;
      drawChart();
      document.body.dataset.chart = String(Number(document.body.dataset.chart ?? 0) + 1);
    });
  }
}

buildInputs();
buildPlans();
update();
document.body.dataset.ready = "true";

// For the browser test and the bench: the page's engine and book.
window.pricing = { PriceBook, book, request, dimensions };
