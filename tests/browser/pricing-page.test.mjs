// The pricing page (npm/examples/pricing-page) in headless Chromium
// (Debian's, driven by playwright-core): it loads the package and the
// hybrid price book, takes usage from its number fields and sliders, and
// every total and line it shows must be what `rating quote` prints for the
// same usage. Saves a screenshot as tests/artifacts/pricing-page.png.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { serve } from "../../npm/examples/serve.js";

const require = createRequire(new URL("../../npm/package.json", import.meta.url));
const { chromium } = require("playwright-core");

const root = fileURLToPath(new URL("../../", import.meta.url));
const bookPath = join(root, "examples/hybrid.json");
const cli =
  process.env.RATING_CLI ??
  ["target/release/rating", "target/debug/rating"].map((p) => join(root, p)).find((p) => existsSync(p));
const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
// TOOLCHAIN.md: Chromium on this network needs its background traffic off.
const chromiumArgs = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
];

const scratch = mkdtempSync(join(tmpdir(), "rating-page-"));
/** `rating ARGS... REQUEST` → parsed JSON. */
function rating(command, request) {
  const file = join(scratch, "request.json");
  writeFileSync(file, JSON.stringify(request));
  const r = spawnSync(cli, [command, bookPath, file], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

const group = (d) => d.replace(/^(\d+)/, (int) => int.replace(/\B(?=(\d{3})+(?!\d))/g, ","));
const dollars = (d) => `$${group(d)}`;

let server, browser, page;
const problems = [];

before(async () => {
  assert.ok(cli, "no rating CLI built (set RATING_CLI)");
  server = await serve({ port: 0 });
  browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: chromiumArgs });
  page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => m.type() === "error" && problems.push(`console: ${m.text()}`));
  page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()}`));
  await page.goto(server.url);
  await page.waitForFunction(() => document.body.dataset.ready === "true" && document.body.dataset.chart, null, { timeout: 20000 });
});

after(async () => {
  await browser?.close();
  await server?.close();
  rmSync(scratch, { recursive: true, force: true });
});

/** What the page shows: the usage in its fields, each plan's total, the
 * highlighted plan, and the breakdown. */
async function shown() {
  return page.evaluate(() => {
    const usage = {};
    for (const input of document.querySelectorAll("input[type=number]")) usage[input.id.replace(/^num-/, "")] = input.value;
    const cards = [...document.querySelectorAll(".plan")].map((c) => ({
      plan: c.dataset.plan,
      total: c.dataset.total,
      text: c.querySelector("[data-role=total]").textContent,
      cheapest: c.classList.contains("cheapest"),
    }));
    const lines = [...document.querySelectorAll("#lines tbody tr")].map((tr) => ({
      product: tr.dataset.product,
      amount: tr.querySelector("[data-amount]").dataset.amount,
      text: tr.querySelector("[data-amount]").textContent,
    }));
    const total = document.getElementById("total");
    return { usage, cards, lines, breakdownPlan: document.getElementById("lines").dataset.plan, total: total.dataset.total, totalText: total.textContent };
  });
}

/** Every number on the page against the CLI, for the usage the page shows. */
async function assertMatchesCli() {
  const s = await shown();
  const comparison = rating("compare", { usage: s.usage });
  for (const card of s.cards) {
    const quote = rating("quote", { plan: card.plan, usage: s.usage });
    assert.equal(card.total, quote.total, `${card.plan} total for ${JSON.stringify(s.usage)}`);
    assert.equal(card.text, dollars(quote.total));
    assert.equal(card.cheapest, comparison.cheapest === card.plan, `${card.plan} highlighted`);
  }
  const quote = rating("quote", { plan: s.breakdownPlan, usage: s.usage });
  assert.deepEqual(s.lines.map((l) => [l.product, l.amount]), quote.lines.map((l) => [l.product, l.amount]));
  for (const l of s.lines) assert.equal(l.text, dollars(l.amount));
  assert.equal(s.total, quote.total);
  assert.equal(s.totalText, dollars(quote.total));
  return s;
}

async function setField(id, value) {
  const before = await page.evaluate(() => document.body.dataset.renders);
  await page.fill(`#num-${id}`, value);
  await page.waitForFunction((b) => document.body.dataset.renders !== b, before);
}

test("the page loads the book and matches the CLI at its starting usage", async () => {
  const s = await assertMatchesCli();
  assert.deepEqual(s.cards.map((c) => c.plan), ["starter", "professional", "enterprise"]);
  assert.equal(await page.textContent("#book-hash"), rating("quote", { plan: "starter" }).price_book);
});

test("typed usage: totals, cheapest plan and lines equal rating quote", async () => {
  for (const usage of [
    { messages: "75000", users: "12", channels: "8" },
    { messages: "300000", users: "150", channels: "5" },
    { messages: "19000", users: "8", channels: "15" }, // a tie: book order wins
    { messages: "12345.5", users: "0", channels: "0" },
  ]) {
    for (const [id, v] of Object.entries(usage)) await setField(id, v);
    const s = await assertMatchesCli();
    assert.deepEqual(s.usage, usage);
  }
});

test("choosing a plan shows its lines", async () => {
  await page.click(".plan[data-plan=enterprise]");
  await page.waitForFunction(() => document.getElementById("lines").dataset.plan === "enterprise");
  await assertMatchesCli();
});

test("dragging a slider changes the prices as it moves", async () => {
  await setField("messages", "10000");
  const slider = await page.locator("#range-messages").boundingBox();
  const y = slider.y + slider.height / 2;
  const xAt = (fraction) => slider.x + 8 + (slider.width - 16) * fraction;
  await page.mouse.move(xAt(10000 / 500000), y);
  await page.mouse.down();
  const seen = [];
  for (const f of [0.1, 0.2, 0.3, 0.45, 0.6]) {
    await page.mouse.move(xAt(f), y, { steps: 4 });
    const s = await shown();
    seen.push(s.cards.map((c) => c.total).join("/"));
  }
  await page.mouse.up();
  assert.ok(new Set(seen).size >= 4, `prices did not follow the drag: ${seen.join(" | ")}`);
  const s = await assertMatchesCli();
  assert.ok(Number(s.usage.messages) > 200000, `the slider moved the field: ${s.usage.messages}`);
});

test("bad usage shows the engine's error and keeps the last prices", async () => {
  const before = await shown();
  await page.fill("#num-users", "-3");
  await page.waitForSelector("#input-error:not([hidden])");
  assert.match(await page.textContent("#input-error"), /Users: must not be negative/);
  assert.equal(await page.getAttribute("#num-users", "aria-invalid"), "true");
  assert.deepEqual((await shown()).cards, before.cards);
  await setField("users", before.usage.users);
  assert.equal(await page.isHidden("#input-error"), true);
});

test("the chart's crossovers are where the CLI's cheapest plan changes", async () => {
  for (const [id, v] of Object.entries({ messages: "75000", users: "12", channels: "8" })) await setField(id, v);
  await page.waitForFunction(() => document.querySelectorAll("#crossovers li").length > 0);
  const chart = await page.evaluate(() => ({
    lines: [...document.querySelectorAll("#chart polyline")].map((p) => p.dataset.plan),
    dots: [...document.querySelectorAll("#chart circle.crossover")].map((c) => c.dataset.x),
  }));
  assert.deepEqual(chart.lines, ["starter", "professional", "enterprise"]);
  assert.ok(chart.dots.length >= 2);
  for (const x of chart.dots) {
    const usage = { messages: x, users: "12", channels: "8" };
    const at = rating("compare", { usage }).cheapest;
    const below = rating("compare", { usage: { ...usage, messages: String(Number(x) - 1) } }).cheapest;
    assert.notEqual(at, below, `the cheapest plan changes at ${x} messages`);
  }
  mkdirSync(join(root, "tests/artifacts"), { recursive: true });
  await page.setViewportSize({ width: 1100, height: 1400 });
  await page.screenshot({ path: join(root, "tests/artifacts/pricing-page.png"), fullPage: true });
});

test("no errors in the page", () => {
  assert.deepEqual(problems, []);
});
