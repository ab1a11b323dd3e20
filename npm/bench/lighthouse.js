// Lighthouse (the npm package, its default mobile preset: a Moto G Power
// sized screen, 4x CPU slowdown, simulated slow 4G) on the pricing page
// and the price book playground, served by npm/examples/serve.js (gzip, as
// the Worker's static assets are) to Debian's headless Chromium. A bench,
// not a test: scores move with the machine. Targets: performance >= 95,
// accessibility, best practices and SEO 100, CLS < 0.05.
//
//   node npm/bench/lighthouse.js [--runs N] [--json] [--url URL ...]
//
// --url scores those pages instead (e.g. an older tree's page, served by
// its own serve.js).
// Scores the page as the Worker serves it at `/` (scripts/build-worker
// --assets, the book inlined), the page in the tree (the book fetched by
// URL) and the playground; each the median of N runs (default 3) by
// performance score.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { serve } from "../examples/serve.js";

const npm = fileURLToPath(new URL("../", import.meta.url));
const root = join(npm, "..");
const require = createRequire(join(npm, "package.json"));
const { default: lighthouse } = await import(require.resolve("lighthouse"));
const chromeLauncher = require("chrome-launcher");

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf("--runs") + 1] || 3) || 3;
const json = args.includes("--json");
const urls = args.flatMap((a, i) => (a === "--url" ? [args[i + 1]] : []));

const built = spawnSync(join(root, "scripts/build-worker"), ["--assets"], { encoding: "utf8" });
if (built.status !== 0) throw new Error(`scripts/build-worker --assets: ${built.stderr}`);

const server = await serve({ port: 0 });
const pages = urls.length
  ? Object.fromEntries(urls.map((u) => [u.replace(/^https?:\/\/[^/]+/, ""), u]))
  : {
      "worker /": `${server.origin}/target/worker-assets/`,
      "pricing page": server.url,
      playground: server.playground,
    };
const chrome = await chromeLauncher.launch({
  chromePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  chromeFlags: ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
});
const results = {};
try {
  for (const [name, url] of Object.entries(pages)) {
    const all = [];
    for (let r = 0; r < runs; r++) {
      const { lhr } = await lighthouse(url, {
        port: chrome.port,
        output: "json",
        logLevel: "error",
        onlyCategories: ["performance", "accessibility", "best-practices", "seo"],
      });
      const score = (c) => Math.round(lhr.categories[c].score * 100);
      const failing = Object.values(lhr.audits)
        .filter((a) => a.score !== null && a.score < 1 && ["binary", "numeric"].includes(a.scoreDisplayMode) && !["performance"].includes(a.id))
        .map((a) => a.id);
      all.push({
        performance: score("performance"),
        accessibility: score("accessibility"),
        best_practices: score("best-practices"),
        seo: score("seo"),
        cls: Number(lhr.audits["cumulative-layout-shift"].numericValue.toFixed(4)),
        lcp_ms: Math.round(lhr.audits["largest-contentful-paint"].numericValue),
        fcp_ms: Math.round(lhr.audits["first-contentful-paint"].numericValue),
        tbt_ms: Math.round(lhr.audits["total-blocking-time"].numericValue),
        speed_index_ms: Math.round(lhr.audits["speed-index"].numericValue),
        below_full_marks: failing,
        lighthouse: lhr.lighthouseVersion,
        user_agent: lhr.environment.hostUserAgent,
      });
    }
    all.sort((a, b) => a.performance - b.performance);
    results[name] = { ...all[Math.floor(all.length / 2)], runs, performance_all: all.map((x) => x.performance) };
  }
} finally {
  await chrome.kill();
  await server.close();
}

console.log(`Lighthouse ${Object.values(results)[0].lighthouse} (mobile preset), median of ${runs} runs`);
console.log("page            perf  a11y  best  seo   CLS     LCP     FCP    TBT   SI");
for (const [name, r] of Object.entries(results)) {
  console.log(
    `${name.slice(0, 15).padEnd(15)} ${String(r.performance).padStart(4)}  ${String(r.accessibility).padStart(4)}  ${String(r.best_practices).padStart(4)}  ${String(r.seo).padStart(4)}  ${r.cls.toFixed(3).padStart(5)}  ${String(r.lcp_ms).padStart(5)}ms ${String(r.fcp_ms).padStart(5)}ms ${String(r.tbt_ms).padStart(4)}ms ${String(r.speed_index_ms).padStart(5)}ms`,
  );
  if (r.below_full_marks.length) console.log(`                audits below full marks: ${r.below_full_marks.join(", ")}`);
}
if (json) console.log(JSON.stringify(results, null, 2));
