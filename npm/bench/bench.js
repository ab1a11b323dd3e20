// Benchmarks of the npm package (not a test): `node npm/bench/bench.js`
// after `make build`. Reports
//  1. the browser bundle (pkg-web: JS glue + snippet + .wasm), raw and gzipped
//     (gzip -9), against the 150 KB target;
//  2. a quote in Node through WASM against the native engine doing the same
//     work (JSON text in, quote, JSON text out; crates/rating-wasm/examples/
//     quote_timing.rs, release profile), against the 2x target;
//  3. 10,000 quotes inside the pricing page in headless Chromium, against
//     the 200 ms target.
// Medians of several rounds. `--json` prints the numbers as JSON too.
import { readFileSync, readdirSync, writeFileSync, mkdtempSync, rmSync, statSync, existsSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PriceBook } from "rating-engine";
import { serve } from "../examples/serve.js";

const npm = fileURLToPath(new URL("../", import.meta.url));
const root = join(npm, "..");
const rounds = 7;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
const results = {};

// ------------------------------------------------------------ 1. bundle

function files(dir) {
  return readdirSync(dir, { recursive: true })
    .map((f) => join(dir, f))
    // *_inline.js is the .wasm again as base64, downloaded only when a
    // bundler cannot serve the .wasm (docs/package.md "Bundlers").
    .filter((f) => statSync(f).isFile() && /\.(js|wasm)$/.test(f) && !f.endsWith("_inline.js"));
}
function bundle(dir) {
  let raw = 0;
  let gz = 0;
  const parts = {};
  for (const f of files(dir)) {
    const bytes = readFileSync(f);
    const g = gzipSync(bytes, { level: 9 }).length;
    raw += bytes.length;
    gz += g;
    parts[f.slice(dir.length + 1)] = { raw: bytes.length, gzip: g };
  }
  return { raw, gzip: gz, parts };
}
results.bundle = bundle(join(npm, "pkg-web"));
if (existsSync(join(npm, "pkg-quote"))) results.bundle_quote_only = bundle(join(npm, "pkg-quote"));

// -------------------------------------------------------- 2. workloads

const hybridText = readFileSync(join(root, "examples/hybrid.json"), "utf8");
const pageRequests = [];
for (const plan of ["starter", "professional", "enterprise"]) {
  for (let i = 0; i < 20; i++) {
    pageRequests.push(JSON.stringify({ plan, usage: { messages: String(i * 15000), users: String(3 + i * 7), channels: String(2 + i * 11) } }));
  }
}
const vectorWorkload = new Map();
for (const f of readdirSync(join(root, "tests/vectors")).filter((f) => f.endsWith(".json")).sort()) {
  for (const c of JSON.parse(readFileSync(join(root, "tests/vectors", f), "utf8")).cases) {
    if (c.op !== "quote" || !c.expect) continue;
    const bookText = typeof c.book === "string" ? readFileSync(join(root, c.book), "utf8") : JSON.stringify(c.book);
    const req = typeof c.request === "string" ? readFileSync(join(root, c.request), "utf8") : JSON.stringify(c.request);
    if (!vectorWorkload.has(bookText)) vectorWorkload.set(bookText, []);
    vectorWorkload.get(bookText).push(req);
  }
}
const workloads = {
  pricing_page: [{ book: hybridText, requests: pageRequests }],
  vectors: [...vectorWorkload].map(([book, requests]) => ({ book, requests })),
};

/** Median ns per quote over `rounds` rounds of at least 200 ms each, after
 * a second of warm-up: V8 first runs WebAssembly in its baseline compiler
 * and tiers hot functions up to TurboFan, so short loops measure the former. */
function wasmTiming(workload, api) {
  const cases = workload.map((w) => ({ book: PriceBook.parse(w.book), requests: w.requests, objects: w.requests.map((r) => JSON.parse(r)) }));
  const pass = () => {
    let n = 0;
    for (const c of cases) {
      for (let i = 0; i < c.requests.length; i++) {
        if (api === "text") c.book.quoteJson(c.requests[i]);
        else c.book.quote(c.objects[i]);
        n++;
      }
    }
    return n;
  };
  const timed = (ms) => {
    let n = 0;
    const t0 = process.hrtime.bigint();
    const until = t0 + BigInt(ms * 1e6);
    while (process.hrtime.bigint() < until) n += pass();
    return Number(process.hrtime.bigint() - t0) / n;
  };
  timed(1000);
  const per = Array.from({ length: rounds }, () => timed(200));
  for (const c of cases) c.book.free();
  return median(per);
}

const scratch = mkdtempSync(join(tmpdir(), "rating-bench-"));
try {
  execFileSync("cargo", ["build", "-q", "--release", "-p", "rating-wasm", "--example", "quote_timing"], { cwd: root, stdio: "inherit" });
  const targetDir = process.env.CARGO_TARGET_DIR ?? join(root, "target");
  const timing = join(targetDir, "release/examples/quote_timing");
  results.quote = {};
  // The machine may be shared: native and WASM runs alternate, three of
  // each, and the fastest of each is kept.
  for (const [name, w] of Object.entries(workloads)) {
    const file = join(scratch, `${name}.json`);
    writeFileSync(file, JSON.stringify(w));
    const native = [];
    const text = [];
    const object = [];
    for (let i = 0; i < 3; i++) {
      native.push(JSON.parse(execFileSync(timing, [file, String(rounds)], { encoding: "utf8" })).ns_per_quote);
      text.push(wasmTiming(w, "text"));
      object.push(wasmTiming(w, "object"));
    }
    const [n, t, o] = [native, text, object].map((xs) => Math.min(...xs));
    results.quote[name] = { requests: w.reduce((k, x) => k + x.requests.length, 0), native_ns: n, wasm_text_ns: Math.round(t), wasm_object_ns: Math.round(o), ratio_text: t / n, ratio_object: o / n };
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

// ----------------------------------------------- 3. quotes in Chromium

const require = createRequire(join(npm, "package.json"));
const { chromium } = require("playwright-core");
const server = await serve({ port: 0 });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
});
try {
  const page = await browser.newPage();
  await page.goto(server.url);
  await page.waitForFunction(() => document.querySelector("rating-calculator")?.quotes?.quotes);
  results.chromium = await page.evaluate(async (hybrid) => {
    // The engine module the page's <rating-calculator> loaded (already
    // initialised: the same module instance), with the hybrid book.
    const { PriceBook } = await import(new URL("../../pkg-quote/rating_quote.js", location.href).href);
    const book = PriceBook.parse(hybrid);
    const plans = ["starter", "professional", "enterprise"];
    const run = (f) => {
      const t0 = performance.now();
      for (let i = 0; i < 10000; i++) f(i);
      return performance.now() - t0;
    };
    const request = (i) => ({ plan: plans[i % 3], usage: { messages: String((i * 97) % 500000), users: String(i % 200), channels: String(i % 300) } });
    const texts = Array.from({ length: 10000 }, (_, i) => JSON.stringify(request(i)));
    // The first 10,000 in a fresh page run mostly in V8's baseline
    // WebAssembly compiler; later runs in the optimised tier.
    const times = { object: [], text: [] };
    for (let r = 0; r < 7; r++) {
      times.object.push(run((i) => book.quote(request(i))));
      times.text.push(run((i) => book.quoteJson(texts[i])));
    }
    const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    return {
      quotes: 10000,
      object_first_ms: times.object[0],
      object_ms: med(times.object.slice(1)),
      text_first_ms: times.text[0],
      text_ms: med(times.text.slice(1)),
      userAgent: navigator.userAgent,
    };
  }, hybridText);
} finally {
  await browser.close();
  await server.close();
}

// ----------------------------------------------------------------- report

const b = results.bundle;
console.log(`\nBrowser bundle (pkg-web, gzip -9): ${kb(b.gzip)} (raw ${kb(b.raw)}); target <= 150 KB: ${b.gzip <= 150 * 1024 ? "met" : "NOT met"}`);
for (const [f, s] of Object.entries(b.parts)) console.log(`  ${f}: ${kb(s.gzip)} (raw ${kb(s.raw)})`);
if (results.bundle_quote_only) {
  const q = results.bundle_quote_only;
  console.log(`Quote-only bundle (pkg-quote, gzip -9): ${kb(q.gzip)} (raw ${kb(q.raw)}); target <= 150 KB: ${q.gzip <= 150 * 1024 ? "met" : "NOT met"}`);
}
console.log("\nQuote, Node WASM vs native (ns per quote, fastest of 3 runs of 7-round medians; JSON text in and out):");
for (const [name, q] of Object.entries(results.quote)) {
  console.log(`  ${name} (${q.requests} requests): native ${q.native_ns} ns; wasm quoteJson ${q.wasm_text_ns} ns (${q.ratio_text.toFixed(2)}x), quote(object) ${q.wasm_object_ns} ns (${q.ratio_object.toFixed(2)}x); target <= 2x: ${q.ratio_text <= 2 ? "met" : "NOT met"}`);
}
const c = results.chromium;
console.log(`\n10,000 quotes in the page (Chromium), first run / warm median: quote(object) ${c.object_first_ms.toFixed(1)} / ${c.object_ms.toFixed(1)} ms, quoteJson ${c.text_first_ms.toFixed(1)} / ${c.text_ms.toFixed(1)} ms; target < 200 ms: ${c.object_first_ms < 200 ? "met" : c.object_ms < 200 ? "met when warm" : "NOT met"}`);
console.log(`  ${c.userAgent}`);
if (process.argv.includes("--json")) console.log(JSON.stringify(results, null, 2));
