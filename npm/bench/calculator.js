// Quote speed against a hand-written calculator (not a test):
//
//   node npm/bench/calculator.js [--rounds N] [--json]
//
// after `scripts/wasm` (and `apt-get install chromium` for the browser
// part). Times, in one run and side by side, 10,000 quotes of
// examples/hybrid.json over its three plans with varying usage
// (bench/calculator-run.js), each reading the total and every line's
// product and amount:
//   calculator  the hand-written decimal.js calculator (bench/handwritten)
//   quote       book.quote({plan, usage})
//   quoter      a prepared quoter per plan: set() × 3, total, lines
// in Node (the nodejs build, and the quote-only build initialised with its
// .wasm bytes from disk) and in headless Chromium (the web build and the
// quote-only build, in a tiny page served from a local HTTP server).
// Reports µs per quote, min and median of the rounds.
import { readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import * as node from "rating-engine";
import * as quoteOnly from "rating-engine/quote";
import { calculator } from "./handwritten/calculator.js";
import { workload, contenders, measure } from "./calculator-run.js";

const npm = fileURLToPath(new URL("../", import.meta.url));
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
};
const rounds = arg("--rounds", 15);
const bookText = readFileSync(join(npm, "../examples/hybrid.json"), "utf8");
const results = {};

// ------------------------------------------------------------------ Node

quoteOnly.initSync({ module: readFileSync(join(npm, "pkg-quote/rating_wasm_bg.wasm")) });
const w = workload();
for (const [name, lib] of [["node: pkg-node", node], ["node: pkg-quote", quoteOnly]]) {
  results[name] = measure(contenders({ PriceBook: lib.PriceBook, calculator, bookText }), w, { rounds, now: () => performance.now() });
}

// -------------------------------------------------------------- Chromium

const page = `<!doctype html>
<meta charset="utf-8">
<title>quote speed</title>
<script type="importmap">{"imports": {"decimal.js": "/node_modules/decimal.js/decimal.mjs"}}</script>
<script type="module">
import initWeb, * as web from "/pkg-web/rating_wasm.js";
import initQuote, * as quoteOnly from "/pkg-quote/rating_wasm.js";
import { calculator } from "/bench/handwritten/calculator.js";
import { workload, contenders, measure } from "/bench/calculator-run.js";
window.run = async (rounds) => {
  await initWeb();
  await initQuote();
  const bookText = await (await fetch("/hybrid.json")).text();
  const w = workload();
  const out = { userAgent: navigator.userAgent };
  for (const [name, lib] of [["chromium: pkg-web", web], ["chromium: pkg-quote", quoteOnly]]) {
    out[name] = measure(contenders({ PriceBook: lib.PriceBook, calculator, bookText }), w, { rounds, now: () => performance.now() });
  }
  return out;
};
document.body.dataset.ready = "true";
</script>
<body></body>`;

// Only what the page needs: the two builds, the bench modules, decimal.js.
const allowed = ["pkg-web/", "pkg-quote/", "bench/", "node_modules/decimal.js/"];
const types = { ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm", ".json": "application/json" };
const server = createServer((req, res) => {
  const path = decodeURIComponent(new URL(req.url, "http://x").pathname).slice(1);
  if (path === "") return res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(page);
  if (path === "hybrid.json") return res.writeHead(200, { "content-type": types[".json"] }).end(bookText);
  const file = normalize(join(npm, path));
  if (!allowed.some((a) => path.startsWith(a)) || !file.startsWith(npm) || path.split("/").includes("..")) {
    return res.writeHead(403).end();
  }
  try {
    statSync(file);
  } catch {
    return res.writeHead(404).end();
  }
  res.writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream" }).end(readFileSync(file));
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const require = createRequire(join(npm, "package.json"));
const { chromium } = require("playwright-core");
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
});
try {
  const tab = await browser.newPage();
  const problems = [];
  tab.on("pageerror", (e) => problems.push(e.message));
  await tab.goto(`http://127.0.0.1:${server.address().port}/`);
  await tab.waitForFunction(() => document.body.dataset.ready === "true", null, { timeout: 20000 }).catch(() => {
    throw new Error(`the page did not load: ${problems.join("; ")}`);
  });
  const { userAgent, ...inBrowser } = await tab.evaluate((r) => window.run(r), rounds);
  Object.assign(results, inBrowser);
  results.userAgent = userAgent;
} finally {
  await browser.close();
  server.close();
}

// ---------------------------------------------------------------- report

const f = (x) => x.toFixed(2);
console.log(`10,000 quotes of examples/hybrid.json, µs per quote, min / median of ${rounds} rounds (${process.version}; ${results.userAgent.match(/Chrome\/[\d.]+/)?.[0] ?? "Chromium"})`);
console.log("target                 calculator (decimal.js)  book.quote(object)   quoter             quoter vs calculator");
for (const [name, r] of Object.entries(results)) {
  if (name === "userAgent") continue;
  const cell = (k) => `${f(r[k].min)} / ${f(r[k].median)}`.padEnd(21);
  const ratio = r.calculator.median / r.quoter.median;
  console.log(`${name.padEnd(23)}${cell("calculator")}${cell("quote")}${cell("quoter")}${ratio.toFixed(2)}× faster (median)`);
}
if (process.argv.includes("--json")) console.log(JSON.stringify(results, null, 2));
