// <rating-calculator> (npm/calculator.js), its example page and the
// playground, in headless Chromium (Debian's, driven by playwright-core):
// every total and line it shows must be what `rating quote` prints for the
// same inputs, it must render every example and seed price book, be usable
// from the keyboard, pass axe-core, and the Worker's `/` (scripts/build-worker
// --assets) must price every plan of the Worker's book. Saves screenshots
// under tests/artifacts/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync, rmSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { serve } from "../../npm/examples/serve.js";

const require = createRequire(new URL("../../npm/package.json", import.meta.url));
const { chromium } = require("playwright-core");
const axePath = require.resolve("axe-core/axe.min.js");

const root = fileURLToPath(new URL("../../", import.meta.url));
const artifacts = join(root, "tests/artifacts");
const cli =
  process.env.RATING_CLI ??
  ["target/debug/rating", "target/release/rating"].map((p) => join(root, p)).find((p) => existsSync(p));
const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
// TOOLCHAIN.md: Chromium on this network needs its background traffic off.
const chromiumArgs = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
];

const scratch = mkdtempSync(join(tmpdir(), "rating-calculator-"));
/** `rating COMMAND BOOK REQUEST` → parsed JSON, or `{ error }`. */
function rating(command, bookPath, request) {
  const file = join(scratch, "request.json");
  writeFileSync(file, JSON.stringify(request));
  const r = spawnSync(cli, [command, bookPath, file], { encoding: "utf8" });
  if (r.status !== 0) return JSON.parse(r.stderr);
  return JSON.parse(r.stdout);
}

// ------------------------------------------------------------ the books

const exampleBooks = readdirSync(join(root, "examples"))
  .filter((f) => f.endsWith(".json"))
  .map((f) => join("examples", f))
  .concat(["examples/worker/price-book.json"])
  .filter((f) => "products" in JSON.parse(readFileSync(join(root, f), "utf8")));
/** The books of the quote and compare vectors written inline (the others name example books). */
const seedBooks = [];
{
  const seen = new Set();
  for (const f of readdirSync(join(root, "tests/vectors")).filter((f) => f.endsWith(".json"))) {
    for (const c of JSON.parse(readFileSync(join(root, "tests/vectors", f), "utf8")).cases) {
      if (typeof c.book !== "object" || c.op === "check") continue;
      const text = JSON.stringify(c.book);
      if (seen.has(text)) continue;
      seen.add(text);
      seedBooks.push({ name: `${f}: ${c.name}`, text });
    }
  }
}

// --------------------------------------------------- exact expectations

/** Intl's rendering of a decimal string, with the digits it has (Node 20 reads strings exactly). */
function money(amount, currency = "USD") {
  const digits = (amount.split(".")[1] ?? "").length;
  return new Intl.NumberFormat("en", { style: "currency", currency, minimumFractionDigits: digits, maximumFractionDigits: digits }).format(amount);
}
/** Exact comparison of two decimal strings. */
function cmp(a, b) {
  const [ai, af = ""] = a.split(".");
  const [bi, bf = ""] = b.split(".");
  const n = Math.max(af.length, bf.length);
  const x = BigInt(ai + af.padEnd(n, "0"));
  const y = BigInt(bi + bf.padEnd(n, "0"));
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The request a plan must be quoted with for what the page shows: seats
 * only for plans with a seat item (at least its minimum), usage only of
 * products the plan has (a plan without one, for non-zero usage: null). */
function requestFor(book, planId, s) {
  const plan = book.plans.find((p) => p.id === planId);
  const req = { plan: planId };
  if (s.addons.length) req.addons = s.addons;
  const items = [plan, ...s.addons.map((id) => book.plans.find((p) => p.id === id))].flatMap((p) => p.items);
  for (const [id, value] of Object.entries(s.inputs)) {
    const dot = id.indexOf(".");
    const [pid, key] = dot < 0 ? [id, null] : [id.slice(0, dot), id.slice(dot + 1)];
    const product = book.products.find((p) => p.id === pid);
    const item = items.find((i) => i.product === pid);
    if (product.type === "seat") {
      if (item) (req.quantities ??= {})[pid] = item.min_quantity && cmp(value, String(item.min_quantity)) < 0 ? String(item.min_quantity) : value;
      continue;
    }
    const priced = item && (key === null || key in (item.prices ?? {}));
    if (!priced) {
      if (cmp(value, "0") === 0) continue;
      return null;
    }
    const usage = (req.usage ??= {});
    if (product.aggregation === "amount") {
      const avg = s.avg[id];
      const list = item.price.min_amount !== undefined || item.price.max_amount !== undefined;
      usage[pid] = list ? { amounts: Array(Number(value)).fill(avg) } : { count: value, total: String(BigInt(avg) * BigInt(value)) };
    } else if (key !== null) (usage[pid] ??= {})[key] = value;
    else usage[pid] = value;
  }
  return req;
}

// --------------------------------------------------------------- page

let server, browser, page;
const problems = [];

async function newPage(viewport = { width: 1100, height: 900 }) {
  const p = await browser.newPage({ viewport });
  p.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  p.on("console", (m) => m.type() === "error" && problems.push(`console: ${m.text()}`));
  p.on("requestfailed", (r) => problems.push(`request failed: ${r.url()}`));
  return p;
}

before(async () => {
  assert.ok(cli, "no rating CLI built (set RATING_CLI)");
  const built = spawnSync(join(root, "scripts/build-worker"), ["--assets"], { encoding: "utf8" });
  assert.equal(built.status, 0, built.stderr);
  server = await serve({ port: 0 });
  browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: chromiumArgs });
  page = await newPage();
  await page.goto(server.url);
  await page.waitForFunction(() => document.querySelector("rating-calculator")?.quotes?.quotes, null, { timeout: 20000 });
  mkdirSync(artifacts, { recursive: true });
});

after(async () => {
  await browser?.close();
  await server?.close();
  rmSync(scratch, { recursive: true, force: true });
});

/** What the element shows: its inputs, each card, the breakdown. */
function shown(p = page, selector = "rating-calculator") {
  return p.evaluate((selector) => {
    const el = document.querySelector(selector);
    const r = el.shadowRoot;
    const inputs = {};
    for (const i of r.querySelectorAll("[data-num]")) inputs[i.dataset.num] = i.value;
    const avg = {};
    for (const i of r.querySelectorAll("[data-avg]")) avg[i.dataset.avg] = i.value;
    const addons = [...r.querySelectorAll("[data-addon]")].filter((b) => b.checked).map((b) => b.dataset.addon);
    const cards = [...r.querySelectorAll(".card")].map((c) => ({
      plan: c.dataset.plan,
      total: c.dataset.total,
      text: c.querySelector(".price").textContent,
      cheapest: c.classList.contains("cheapest"),
      note: c.querySelector(".note").textContent,
      unavailable: c.querySelector(".note").classList.contains("unavailable"),
    }));
    const table = r.querySelector("[data-role=lines]");
    const lines = table
      ? [...table.tBodies[0].rows].filter((tr) => tr.dataset.product).map((tr) => ({
          product: tr.dataset.product,
          amount: tr.querySelector("[data-amount]").dataset.amount,
          text: tr.querySelector("[data-amount]").textContent,
        }))
      : [];
    const total = r.querySelector("td[data-role=total]");
    return {
      inputs, avg, addons, cards, lines,
      plan: table?.dataset.plan, total: total?.dataset.total, totalText: total?.textContent,
      problems: r.querySelector(".problems")?.textContent ?? null,
      inputError: r.querySelector("[data-role=input-error]")?.textContent ?? "",
      renders: el.renders,
    };
  }, selector);
}

/** Loads a book into the page's element and waits for its first prices. */
async function loadBook(p, text) {
  return p.evaluate(
    (text) =>
      new Promise((resolve, reject) => {
        const el = document.querySelector("rating-calculator");
        const t = setTimeout(() => reject(new Error("no quote-change")), 10000);
        el.addEventListener("quote-change", () => { clearTimeout(t); resolve(); }, { once: true });
        el.bookData = text;
      }),
    text,
  );
}

/** Every card and the breakdown against the CLI for what the page shows. */
async function assertMatchesCli(bookPath, p = page, selector) {
  const book = JSON.parse(readFileSync(join(root, bookPath), "utf8"));
  const s = await shown(p, selector);
  assert.equal(s.inputError, "", `input error: ${s.inputError}`);
  let cheapest = null;
  const totals = {};
  for (const card of s.cards) {
    const request = requestFor(book, card.plan, s);
    if (request === null) {
      assert.equal(card.total, undefined, `${card.plan} cannot serve ${JSON.stringify(s.inputs)}`);
      assert.ok(card.unavailable);
      continue;
    }
    const quote = rating("quote", bookPath, request);
    if (quote.error) {
      // A plan that cannot serve this usage (a limit): the card says what the CLI says.
      assert.equal(card.total, undefined, `${card.plan}: the CLI says ${quote.error.message}`);
      assert.equal(card.note, quote.error.message);
      continue;
    }
    assert.equal(card.total, quote.total, `${card.plan} total for ${JSON.stringify(request)}`);
    assert.equal(card.text, money(quote.total, quote.currency));
    totals[card.plan] = quote;
    if (cheapest === null || cmp(quote.total, totals[cheapest].total) < 0) cheapest = card.plan;
  }
  for (const card of s.cards) assert.equal(card.cheapest, card.plan === cheapest, `${card.plan} badge`);
  const quote = totals[s.plan];
  if (!quote) {
    assert.deepEqual([s.lines, s.total], [[], undefined], `no breakdown for ${s.plan}, which cannot be quoted`);
    return s;
  }
  assert.deepEqual(s.lines.map((l) => [l.product, l.amount]), quote.lines.map((l) => [l.product, l.amount]));
  for (const l of s.lines) assert.equal(l.text, money(l.amount, quote.currency));
  assert.equal(s.total, quote.total);
  assert.equal(s.totalText, money(quote.total, quote.currency));
  return s;
}

/** Types values into number fields (through the shadow root), waits for the prices. */
async function setInputs(p, values, selector = "rating-calculator") {
  for (const [id, v] of Object.entries(values)) {
    const before = (await shown(p, selector)).renders;
    await p.locator(`${selector} [data-num="${id}"]`).fill(v);
    await p.waitForFunction(([sel, b]) => document.querySelector(sel).renders !== b, [selector, before]);
  }
}

/** A small deterministic generator (mulberry32): the same "random" inputs every run. */
function random(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------- tests

test("the example page prices the Worker's book and matches the CLI", async () => {
  const s = await assertMatchesCli("examples/worker/price-book.json");
  assert.deepEqual(s.cards.map((c) => c.plan), ["starter", "pro"]);
  for (const c of s.cards) assert.ok(!c.unavailable, `${c.plan}: ${c.note}`);
});

test("the Worker's `/` prices every plan for its default inputs, and with 0 seats", async () => {
  const p = await newPage();
  await p.goto(`${server.origin}/target/worker-assets/`);
  await p.waitForFunction(() => document.querySelector("rating-calculator")?.quotes?.quotes, null, { timeout: 20000 });
  const s = await shown(p);
  // The seats field is there (Pro has seats) but Starter, without a seat product, is priced too.
  assert.ok("seats" in s.inputs);
  assert.deepEqual(s.cards.map((c) => [c.plan, c.unavailable, c.note]), [["starter", false, "for the usage above"], ["pro", false, "for the usage above"]]);
  await assertMatchesCli("examples/worker/price-book.json", p);
  await setInputs(p, { seats: "0" });
  const zero = await assertMatchesCli("examples/worker/price-book.json", p);
  for (const c of zero.cards) assert.ok(c.total, `${c.plan} priced with 0 seats: ${c.note}`);
  await p.close();
});

test("random inputs: every total, the cheapest badge and the lines equal rating quote", async () => {
  for (const [bookPath, seed, rounds] of [["examples/hybrid.json", 7, 6], ["examples/worker/price-book.json", 11, 6], ["examples/team.json", 13, 4]]) {
    await loadBook(page, readFileSync(join(root, bookPath), "utf8"));
    const next = random(seed);
    const ids = Object.keys((await shown()).inputs).filter((id) => !id.startsWith("sales"));
    for (let round = 0; round < rounds; round++) {
      const values = {};
      for (const id of ids) {
        const r = next();
        const whole = Math.floor(next() * (id === "seats" ? 60 : 400000));
        values[id] = r < 0.15 ? "0" : r < 0.7 || id === "seats" ? String(whole) : `${whole}.${Math.floor(next() * 1000)}`;
      }
      await setInputs(page, values);
      const s = await assertMatchesCli(bookPath);
      assert.deepEqual(Object.fromEntries(ids.map((id) => [id, s.inputs[id]])), values);
    }
  }
});

test("choosing a plan shows its lines; bad input shows the engine's error and keeps the prices", async () => {
  await loadBook(page, readFileSync(join(root, "examples/hybrid.json"), "utf8"));
  await page.locator('rating-calculator [data-select="enterprise"]').click();
  await page.waitForFunction(() => document.querySelector("rating-calculator").shadowRoot.querySelector("[data-role=lines]").dataset.plan === "enterprise");
  await assertMatchesCli("examples/hybrid.json");
  const before = await shown();
  await page.locator('rating-calculator [data-num="users"]').fill("-3");
  await page.waitForFunction(() => document.querySelector("rating-calculator").shadowRoot.querySelector("[data-role=input-error]").textContent !== "");
  const s = await shown();
  assert.match(s.inputError, /^Users: .*negative/);
  assert.equal(await page.locator('rating-calculator [data-num="users"]').getAttribute("aria-invalid"), "true");
  assert.deepEqual(s.cards, before.cards);
  await setInputs(page, { users: before.inputs.users });
  assert.equal((await shown()).inputError, "");
});

test("keyboard only: a slider and an add-on change the quote", async () => {
  const bookPath = "examples/freemium.json";
  await loadBook(page, readFileSync(join(root, bookPath), "utf8"));
  await page.evaluate(() => document.activeElement?.blur());
  /** Tabs until the focused element (inside the shadow root) matches. */
  async function tabTo(test) {
    for (let i = 0; i < 60; i++) {
      await page.keyboard.press("Tab");
      const hit = await page.evaluate((test) => {
        const a = document.querySelector("rating-calculator").shadowRoot.activeElement;
        return a ? new Function("a", `return ${test}`)(a) : false;
      }, test);
      if (hit) return;
    }
    assert.fail(`no focusable element where ${test}`);
  }
  const before = await shown();
  await tabTo('a.type === "range"');
  // Within the free plan's limit (3 projects), which the first add-on lifts.
  for (let i = 0; i < 2; i++) await page.keyboard.press("ArrowLeft");
  await page.waitForFunction((b) => document.querySelector("rating-calculator").renders > b, before.renders);
  const moved = await shown();
  assert.notDeepEqual(moved.inputs, before.inputs, "the arrow keys moved the slider and its number field");
  await tabTo('a.type === "checkbox"');
  await page.keyboard.press("Space");
  await page.waitForFunction(() => document.querySelector("rating-calculator").shadowRoot.querySelector("[data-addon]:checked"));
  const s = await assertMatchesCli(bookPath);
  assert.equal(s.addons.length, 1);
  assert.ok(cmp(s.cards[0].total, moved.cards[0].total) > 0, `the add-on costs something: ${moved.cards[0].total} → ${s.cards[0].total}`);
  assert.ok(s.lines.some((l) => l.product === s.addons[0]), "the add-on's line is in the breakdown");
});

test("renders every example book and every seed book of the vectors, without an error", async () => {
  const books = [
    ...exampleBooks.map((f) => ({ name: f, text: readFileSync(join(root, f), "utf8") })),
    ...seedBooks,
  ];
  assert.ok(books.length >= 40, `${books.length} books`);
  for (const { name, text } of books) {
    await loadBook(page, text);
    const s = await shown();
    const base = JSON.parse(text).plans.filter((p) => !p.addon).map((p) => p.id);
    assert.equal(s.problems, null, `${name}: ${s.problems}`);
    assert.equal(s.inputError, "", `${name}: ${s.inputError}`);
    assert.deepEqual(s.cards.map((c) => c.plan), base, name);
    for (const c of s.cards) assert.ok(c.total !== undefined, `${name}: ${c.plan} not priced at the default inputs: ${c.note}`);
    assert.ok(s.total !== undefined && s.lines.length > 0, `${name}: no breakdown`);
  }
});

test("money is formatted from the engine's strings, never through a double", async () => {
  const book = {
    format: "price-book/v1", id: "big", currency: "USD",
    products: [{ id: "platform", name: "Platform", type: "recurring" }, { id: "calls", name: "Calls", type: "metered", unit: "call" }],
    plans: [{ id: "huge", name: "Huge", period: { unit: "month", length: 1 }, items: [
      { product: "platform", price: { model: "flat", amount: "123456789012345678.91", currency_options: { EUR: { amount: "98765432109876543.21" } } } },
      { product: "calls", price: { model: "per_unit", unit_amount: "0.000000000001", currency_options: { EUR: { unit_amount: "0.000000000002" } } } }] }],
  };
  await loadBook(page, JSON.stringify(book));
  await setInputs(page, { calls: "0" });
  let s = await shown();
  assert.equal(s.cards[0].total, "123456789012345678.91");
  assert.equal(s.cards[0].text, "$123,456,789,012,345,678.91");
  const features = await page.locator('rating-calculator .card[data-plan="huge"] ul').textContent();
  assert.match(features, /\$0\.000000000001 per call/);
  // The currency switch (currency_options) quotes in euros.
  await page.locator('rating-calculator [data-control="currency"]').selectOption("EUR");
  await page.waitForFunction(() => document.querySelector("rating-calculator").quotes.currency === "EUR");
  s = await shown();
  assert.equal(s.cards[0].text, "€98,765,432,109,876,543.21");
  // The locale attribute: German grouping and decimal comma, still exact.
  const before = s.renders;
  await page.evaluate(() => document.querySelector("rating-calculator").setAttribute("locale", "de-DE"));
  await page.waitForFunction((b) => document.querySelector("rating-calculator").renders > b, before);
  s = await shown();
  assert.equal(s.cards[0].text.replace(/\s/g, " "), "98.765.432.109.876.543,21 €");
  await page.evaluate(() => document.querySelector("rating-calculator").removeAttribute("locale"));
});

test("the pay-ahead switch quotes the advance discount's periods", async () => {
  const bookPath = "examples/saas.json";
  await loadBook(page, readFileSync(join(root, bookPath), "utf8"));
  await page.locator('rating-calculator [data-control="period"]').selectOption("12");
  await page.waitForFunction(() => document.querySelector("rating-calculator").quotes.periods === 12);
  const s = await shown();
  const indie = s.cards.find((c) => c.plan === "indie");
  const quote = rating("quote", bookPath, { ...requestFor(JSON.parse(readFileSync(join(root, bookPath), "utf8")), "indie", s), periods: 12 });
  assert.equal(indie.total, quote.total);
  assert.ok(quote.lines.some((l) => l.kind === "discount"), "the quote has the discount line");
});

test("the chart's crossovers are where the CLI's cheapest plan changes", async () => {
  const bookPath = "examples/hybrid.json";
  await loadBook(page, readFileSync(join(root, bookPath), "utf8"));
  await setInputs(page, { messages: "75000", users: "12", channels: "8" });
  await page.waitForFunction(() => document.querySelector("rating-calculator").shadowRoot.querySelectorAll("circle.crossover").length > 0, null, { timeout: 20000 });
  const dots = await page.evaluate(() => [...document.querySelector("rating-calculator").shadowRoot.querySelectorAll("circle.crossover")].map((c) => c.dataset.x));
  const book = JSON.parse(readFileSync(join(root, bookPath), "utf8"));
  const cheapestAt = (messages) => {
    const s = { inputs: { messages, users: "12", channels: "8" }, addons: [], avg: {} };
    let best = null;
    for (const plan of book.plans) {
      const q = rating("quote", bookPath, requestFor(book, plan.id, s));
      if (best === null || cmp(q.total, best.total) < 0) best = { plan: plan.id, total: q.total };
    }
    return best.plan;
  };
  for (const x of dots) assert.notEqual(cheapestAt(x), cheapestAt(String(Number(x) - 1)), `the cheapest plan changes at ${x} messages`);
});

test("no layout shift while the Worker's page loads", async () => {
  const p = await newPage({ width: 412, height: 823 });
  await p.addInitScript(() => {
    window.__cls = 0;
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) if (!e.hadRecentInput) window.__cls += e.value;
    }).observe({ type: "layout-shift", buffered: true });
  });
  await p.goto(`${server.origin}/target/worker-assets/`);
  await p.waitForFunction(() => document.querySelector("rating-calculator")?.quotes?.quotes, null, { timeout: 20000 });
  await p.waitForFunction(() => document.querySelector("rating-calculator").shadowRoot.querySelector("svg polyline"), null, { timeout: 20000 });
  await p.waitForTimeout(300);
  const cls = await p.evaluate(() => window.__cls);
  assert.ok(cls < 0.05, `cumulative layout shift ${cls}`);
  await p.close();
});

test("axe-core finds no violations on the page and the playground, light and dark", async () => {
  for (const scheme of ["light", "dark"]) {
    for (const url of [`${server.origin}/target/worker-assets/`, server.playground]) {
      const p = await newPage();
      await p.emulateMedia({ colorScheme: scheme });
      await p.goto(url);
      await p.waitForFunction(() => document.querySelector("rating-calculator")?.quotes?.quotes, null, { timeout: 20000 });
      // Colours after their transitions (0.15 s), as a visitor sees them.
      await p.waitForTimeout(400);
      await p.addScriptTag({ path: axePath });
      const result = await p.evaluate(() => window.axe.run(document));
      assert.deepEqual(result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`), [], `${url} (${scheme})`);
      await p.close();
    }
  }
});

test("screenshots at 320 px and at desktop width", async () => {
  for (const [width, name] of [[320, "calculator-320.png"], [1280, "calculator-desktop.png"]]) {
    const p = await newPage({ width, height: 900 });
    await p.goto(`${server.origin}/target/worker-assets/`);
    await p.waitForFunction(() => document.querySelector("rating-calculator")?.quotes?.quotes, null, { timeout: 20000 });
    await p.waitForFunction(() => document.querySelector("rating-calculator").shadowRoot.querySelector("svg polyline"), null, { timeout: 20000 });
    // Usable at 320 px: nothing is wider than the screen.
    const overflow = await p.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.equal(overflow, 0, `the page scrolls sideways at ${width} px`);
    await p.screenshot({ path: join(artifacts, name), fullPage: true });
    await p.close();
  }
});

test("the playground shows a broken book's errors at their paths, and prices the fixed one", async () => {
  const p = await newPage({ width: 1280, height: 900 });
  await p.goto(server.playground);
  await p.waitForFunction(() => document.querySelector("rating-calculator")?.quotes?.quotes, null, { timeout: 20000 });
  const good = await p.inputValue("#source");
  const broken = good.replace('"included_quantity": "10000"', '"inclued_quantity": "10000"').replace('"unit_amount": "0.0002"', '"unit_amount": "-1"');
  assert.notEqual(broken, good);
  await p.fill("#source", broken);
  await p.waitForSelector("#problems li");
  const listed = await p.$$eval("#problems li", (lis) => lis.map((li) => [li.dataset.path, li.textContent]));
  const paths = listed.map(([path]) => path);
  assert.ok(paths.includes("plans[0].items[1].inclued_quantity"), JSON.stringify(listed));
  assert.ok(paths.some((path) => path.startsWith("plans[1].items[2].price.tiers[0]")), JSON.stringify(listed));
  for (const [path, text] of listed) assert.ok(text.startsWith(path), text);
  // Clicking a path selects that field in the editor.
  await p.locator('#problems li[data-path="plans[0].items[1].inclued_quantity"] button').click();
  const at = await p.evaluate(() => document.getElementById("source").selectionStart);
  assert.ok(broken.slice(at).startsWith('"inclued_quantity"'), broken.slice(at, at + 30));
  await p.screenshot({ path: join(artifacts, "playground.png"), fullPage: true });
  // The fixed book is priced again.
  await p.fill("#source", good.replace('"amount": "49.00"', '"amount": "59.00"'));
  await p.waitForFunction(() => document.querySelector("rating-calculator").quotes?.quotes?.pro?.lines?.some((l) => l.amount === "59.00"));
  assert.equal(await p.$$eval("#problems li", (l) => l.length), 0);
  await p.close();
});

test("no errors in the pages", () => {
  assert.deepEqual(problems, []);
});
