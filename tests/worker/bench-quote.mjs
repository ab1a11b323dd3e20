// Quote time across targets (a script, not a test; scripts/bench-targets
// runs it): every quote vector of tests/vectors/*.json that succeeds, per
// vector file and in all, on
// - native: the engine in Rust (crates/rating-wasm/examples/quote_timing.rs:
//   the calls `quoteJson` makes, JSON text in and out), release build;
// - WASM in Node: the npm package's `book.quoteJson(text)`;
// - WASM in Chromium: the same through the package's browser build;
// - the Worker under `wrangler dev`: POST /v1/quote over loopback, one
//   request at a time (latency) and 8 at a time (throughput).
// With --write it replaces the "## Across targets" section of
// BENCHMARKS.md (appending it when missing) and touches nothing else.
//
//   node tests/worker/bench-quote.mjs [--write] [--json]

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir, cpus, loadavg } from "node:os";
import { join } from "node:path";
import { Dev, KEYS, ROOT } from "./harness.mjs";
import { loadCases } from "./identity.mjs";

const WRITE = process.argv.includes("--write");
const JSON_OUT = process.argv.includes("--json");
const CONCURRENCY = 8;
const log = (...a) => console.error("bench:", ...a);

// ------------------------------------------------------------ workload

const lib = await import("../../npm/node.js");
/** Quote cases that succeed, per vector file: [{file, groups: [{book, requests}]}]. */
function workload() {
  const files = new Map();
  for (const c of loadCases()) {
    if (c.op !== "quote") continue;
    try {
      const b = lib.PriceBook.parse(c.book);
      b.quoteJson(c.request);
      b.free();
    } catch {
      continue; // an error case: not a quote to time
    }
    const file = c.id.split("#")[0].replace(/\.json$/, "");
    if (!files.has(file)) files.set(file, []);
    const groups = files.get(file);
    const last = groups[groups.length - 1];
    if (last && last.book === c.book) last.requests.push(c.request);
    else groups.push({ book: c.book, requests: [c.request] });
  }
  return [...files].map(([file, groups]) => ({ file, groups, quotes: groups.reduce((n, g) => n + g.requests.length, 0) }));
}

/**
 * Median ns per quote of `book.quoteJson` over the groups: `warmMs` of
 * warm-up, then `rounds` rounds of at least `minMs`. Self-contained, so
 * Chromium can run its source.
 */
function timeQuotes(lib, groups, warmMs, rounds, minMs) {
  const books = groups.map((g) => ({ b: lib.PriceBook.parse(g.book), reqs: g.requests }));
  const now = () => performance.now();
  let sink = 0;
  const once = () => {
    let n = 0;
    for (const { b, reqs } of books) for (const r of reqs) { sink += b.quoteJson(r).length; n++; }
    return n;
  };
  const t0 = now();
  while (now() - t0 < warmMs) once();
  const per = [];
  for (let k = 0; k < rounds; k++) {
    let n = 0;
    const s = now();
    do n += once(); while (now() - s < minMs);
    per.push(((now() - s) * 1e6) / n);
  }
  for (const x of books) x.b.free?.();
  per.sort((a, b) => a - b);
  return { ns: per[per.length >> 1], sink };
}

const WARM = 300;
const ROUNDS = 5;
const MIN_MS = 100;

// ------------------------------------------------------------ targets

function native(work) {
  log("native: building the quote_timing example (release)");
  execFileSync("cargo", ["build", "-q", "--release", "-p", "rating-wasm", "--example", "quote_timing"], { cwd: ROOT, stdio: "inherit" });
  const bin = join(ROOT, "target/release/examples/quote_timing");
  const dir = mkdtempSync(join(tmpdir(), "bench-targets-"));
  const run = (groups, quotes) => {
    // Repeat the requests so that a round takes some tens of ms.
    const reps = Math.max(1, Math.ceil(20_000 / quotes));
    const w = groups.map((g) => ({ book: g.book, requests: Array.from({ length: reps }, () => g.requests).flat() }));
    const p = join(dir, "w.json");
    writeFileSync(p, JSON.stringify(w));
    return JSON.parse(execFileSync(bin, [p, "7"]).toString()).ns_per_quote;
  };
  return run;
}

async function chromium(origin) {
  const { createRequire } = await import("node:module");
  const require = createRequire(join(ROOT, "npm/package.json"));
  const { chromium: type } = require("playwright-core");
  const args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"];
  const browser = await type.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", headless: true, args });
  const page = await browser.newPage();
  await page.goto(`${origin}/healthz`);
  await page.evaluate(async () => {
    globalThis.lib = await import("/pkg-web/rating_wasm.js");
    await globalThis.lib.default();
  });
  const version = browser.version();
  const run = (groups) =>
    page.evaluate(({ src, groups, a }) => (0, eval)(`(${src})`)(globalThis.lib, groups, ...a).ns,
      { src: timeQuotes.toString(), groups, a: [WARM, ROUNDS, MIN_MS] });
  return { run, close: () => browser.close(), version };
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

async function worker(dev) {
  const post = async (path, body, method = "POST") => {
    const r = await fetch(`${dev.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${KEYS.devAdmin}`, "content-type": "application/json" },
      body,
    });
    const t = await r.text();
    if (r.status >= 300) throw new Error(`${path}: ${r.status} ${t.slice(0, 200)}`);
    return t;
  };
  /** Sequential latency (ms per request) over the groups, `reps` times each. */
  const latency = async (groups, reps) => {
    const ms = [];
    for (const g of groups) {
      await post("/v1/price-book", g.book, "PUT");
      for (const r of g.requests) await post("/v1/quote", r); // warm
      for (let k = 0; k < reps; k++) {
        for (const r of g.requests) {
          const s = performance.now();
          await post("/v1/quote", r);
          ms.push(performance.now() - s);
        }
      }
    }
    return ms;
  };
  /** Requests per second with CONCURRENCY in flight (book switches not timed). */
  const throughput = async (groups, perGroup) => {
    let n = 0;
    let time = 0;
    for (const g of groups) {
      await post("/v1/price-book", g.book, "PUT");
      const jobs = Array.from({ length: perGroup }, (_, i) => g.requests[i % g.requests.length]);
      let next = 0;
      const s = performance.now();
      await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
        while (next < jobs.length) await post("/v1/quote", jobs[next++]);
      }));
      time += performance.now() - s;
      n += jobs.length;
    }
    return (n * 1000) / time;
  };
  return { latency, throughput };
}

// ------------------------------------------------------------ run

const work = workload();
const all = work.flatMap((w) => w.groups);
const total = work.reduce((n, w) => n + w.quotes, 0);
log(`${total} quote vectors in ${work.length} files`);

const nativeRun = native(work);
const dev = new Dev({ logLevel: "error" });
await dev.start();
const rows = [];
let summary;
try {
  const ch = await chromium(dev.url);
  const wk = await worker(dev);
  // Warm each runtime up on everything first.
  timeQuotes(lib, all, 1000, 1, 10);
  await ch.run(all);
  for (const w of work) {
    log(w.file);
    const lat = await wk.latency(w.groups, 3);
    rows.push({
      file: w.file,
      quotes: w.quotes,
      native: nativeRun(w.groups, w.quotes) / 1000,
      node: timeQuotes(lib, w.groups, WARM, ROUNDS, MIN_MS).ns / 1000,
      chromium: (await ch.run(w.groups)) / 1000,
      worker_p50: pct(lat, 50),
      worker_p99: pct(lat, 99),
    });
  }
  log("all vectors");
  const lat = await wk.latency(all, 3);
  summary = {
    quotes: total,
    native: nativeRun(all, total) / 1000,
    node: timeQuotes(lib, all, 1000, 7, 200).ns / 1000,
    chromium: (await ch.run(all)) / 1000,
    worker_p50: pct(lat, 50),
    worker_p99: pct(lat, 99),
    worker_rps: await wk.throughput(all, 100),
    chromium_version: ch.version,
  };
  await ch.close();
} finally {
  await dev.stop();
  dev.cleanup();
}

const f = (x, d = 2) => x.toFixed(d);
const us = (x) => f(x, x < 10 ? 2 : 1);
const ratio = (x, base) => `${f(x / base, 1)}×`;
const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT }).toString().trim();
const node = process.version;
const load = loadavg()[0].toFixed(1);

const section = `## Across targets

\`scripts/bench-targets\` (a script, not a test; \`--write\` puts this
section here). The same work on four targets: every quote vector of
\`tests/vectors/*.json\` that succeeds (${total} quotes, ${work.length} files), each
a JSON request text in and the quote's JSON text out.

| Target | Per quote (all vectors) | × native | Notes |
|---|---|---|---|
| Native (Rust, release) | ${us(summary.native)} µs | 1.0× | \`quote_timing\` example: the calls \`quoteJson\` makes |
| WASM in Node | ${us(summary.node)} µs | ${ratio(summary.node, summary.native)} | \`book.quoteJson(text)\`, npm package, ${node} |
| WASM in Chromium | ${us(summary.chromium)} µs | ${ratio(summary.chromium, summary.native)} | the same, browser build (\`pkg-web\`), Chromium ${summary.chromium_version} |
| Worker, \`POST /v1/quote\` | ${f(summary.worker_p50)} ms p50, ${f(summary.worker_p99)} ms p99 | ${ratio(summary.worker_p50 * 1000, summary.native)} (p50) | \`wrangler dev\` over loopback, one request at a time |
| Worker, throughput | ${Math.round(summary.worker_rps)} quotes/s | — | ${CONCURRENCY} requests in flight |

Per vector file (µs per quote; the Worker's latency in ms):

| Vectors | Quotes | Native µs | WASM Node µs | WASM Chromium µs | Chromium / Node | Worker p50 ms | Worker p99 ms |
|---|---|---|---|---|---|---|---|
${rows.map((r) => `| ${r.file} | ${r.quotes} | ${us(r.native)} | ${us(r.node)} | ${us(r.chromium)} | ${f(r.chromium / r.node, 2)} | ${f(r.worker_p50)} | ${f(r.worker_p99)} |`).join("\n")}

How: native, Node and Chromium each warm up first, then take the
median of 5-7 rounds of at least 100-200 ms (native: 7 rounds of about
20,000 quotes). The Worker runs its release build under \`wrangler dev\`
(\`--log-level error\`); each vector file's book is PUT first and is not
timed; each request is timed from \`fetch\` to the end of its body (3
passes after a warm one), and the throughput is 100 requests per book
with ${CONCURRENCY} in flight. The Worker's time is almost all the HTTP path
(wrangler's proxy, workerd, the Tenant object's book look-up) rather
than the engine: the quote itself is the WASM figure. Machine:
${cpus().length} vCPUs shared with other agents' builds (load average
${load} when written), so absolute numbers are noisy; tree at \`${commit}\`,
${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC.

\`\`\`sh
scripts/bench-targets            # prints the table
scripts/bench-targets --write    # and replaces this section
\`\`\`
`;

if (JSON_OUT) console.log(JSON.stringify({ summary, rows }, null, 2));
else console.log(section);
if (WRITE) {
  const path = join(ROOT, "BENCHMARKS.md");
  const md = readFileSync(path, "utf8");
  const start = md.indexOf("\n## Across targets\n");
  let next;
  if (start >= 0) {
    const after = md.indexOf("\n## ", start + 1);
    next = md.slice(0, start + 1) + section + (after >= 0 ? md.slice(after) : "");
  } else {
    next = md.replace(/\n*$/, "\n\n") + section;
  }
  writeFileSync(path, next);
  log("BENCHMARKS.md: ## Across targets written");
}
