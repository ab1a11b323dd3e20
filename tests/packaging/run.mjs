// The packaging test's driver (scripts/packaging packs the tarball and
// calls this). As a new user would, with no configuration at all, it
// installs the tarball into fresh projects and checks:
//
// - Vite 5 and Vite 8 (dev server and build), webpack 5 (production
//   build) and esbuild (`--bundle --format=esm`): a page importing
//   `rating-engine/quote` + `rating-engine/calculator`, and one importing
//   `rating-engine`, each in Chromium, must print exactly the CLI's quote;
//   a `<rating-calculator>` on the same book must price every plan.
//   What each page downloads is checked by content: the quote page never
//   gets the whole engine's .wasm (nor its inlined copy), and where the
//   bundler serves the .wasm file (Vite 8, Vite 5's build, webpack) the
//   inlined copy is never downloaded (docs/package.md "Bundlers").
// - The quote app's build output holds the quote build and never the
//   whole engine.
// - Node: ESM import and CommonJS require of every entry, and server-side
//   rendering through Vite 5's and Vite 8's ssrLoadModule.
// - @arethetypeswrong/cli and publint on the tarball.
//
//   node tests/packaging/run.mjs --tarball T --scratch DIR --cli RATING --book B --request R
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, createReadStream, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { extname, join, normalize, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";

const here = fileURLToPath(new URL(".", import.meta.url));
const repo = join(here, "../..");
const { values: args } = parseArgs({
  options: {
    tarball: { type: "string" },
    scratch: { type: "string" },
    cli: { type: "string" },
    book: { type: "string" },
    request: { type: "string" },
  },
});
for (const name of ["tarball", "scratch", "cli", "book", "request"]) {
  if (!args[name]) throw new Error(`run.mjs: --${name} is required`);
}
const { chromium } = createRequire(join(repo, "npm/package.json"))("playwright-core");
const bin = (name) => join(here, "node_modules/.bin", name);
const viteBin = (v) => join(here, "node_modules", v, "bin/vite.js");

const failures = [];
const log = (msg) => console.log(`packaging: ${msg}`);
function check(what, ok, detail = "") {
  if (ok) log(`${what} ok`);
  else {
    failures.push(what);
    console.error(`packaging: FAILED ${what}${detail ? `\n  ${detail.replaceAll("\n", "\n  ")}` : ""}`);
  }
}

/** serde_json's pretty and compact output differ only in whitespace between tokens. */
function compact(json) {
  let out = "";
  let str = false;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (str) {
      out += c;
      if (c === "\\") out += json[++i];
      else if (c === '"') str = false;
    } else if (c === '"') {
      str = true;
      out += c;
    } else if (!" \n\r\t".includes(c)) out += c;
  }
  return out;
}

function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { encoding: "utf8", maxBuffer: 64 << 20, ...opts });
  return { ok: r.status === 0, out: `${r.stdout ?? ""}${r.stderr ?? ""}${r.error ? String(r.error) : ""}`, stdout: r.stdout ?? "" };
}

for (const name of ["book", "request", "cli", "tarball", "scratch"]) args[name] = resolve(args[name]);
const book = readFileSync(args.book, "utf8");
const request = readFileSync(args.request, "utf8");
const cliRun = run(args.cli, ["quote", args.book, args.request]);
if (!cliRun.ok) throw new Error(`rating quote failed: ${cliRun.out}`);
const want = compact(cliRun.stdout);

// --- fresh projects, each with the tarball installed ---------------------

function project(name, app) {
  const dir = join(args.scratch, name);
  if (app) cpSync(join(here, "apps", app), dir, { recursive: true });
  else cpSync(join(here, "node"), dir, { recursive: true });
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name, private: true, type: "module" }, null, 2));
  // The tarball has no dependencies: nothing is fetched.
  const r = run("npm", ["install", "--offline", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error", args.tarball], { cwd: dir });
  if (!r.ok) throw new Error(`npm install of the tarball into ${name} failed:\n${r.out}`);
  return dir;
}

// What tells the builds apart in what a page downloads: each .wasm by its
// hash, each inlined copy by a piece of its base64 text that the other
// build's base64 does not hold (the two share code and data).
const pkg = join(args.scratch, "node/node_modules/rating-engine");
const sha = (bytes) => createHash("sha256").update(bytes).digest("hex");
function fingerprints() {
  const wasm = { quote: readFileSync(join(pkg, "pkg-quote/rating_quote_bg.wasm")), full: readFileSync(join(pkg, "pkg-web/rating_wasm_bg.wasm")) };
  const b64 = { quote: wasm.quote.toString("base64"), full: wasm.full.toString("base64") };
  const probe = (mine, other) => {
    for (let at = Math.floor(mine.length / 8) * 4; at + 64 <= mine.length; at += 4) {
      const p = mine.slice(at, at + 64);
      if (!other.includes(p)) return p;
    }
    throw new Error("no base64 piece tells the two builds apart");
  };
  return {
    quote: { sha: sha(wasm.quote), probe: probe(b64.quote, b64.full) },
    full: { sha: sha(wasm.full), probe: probe(b64.full, b64.quote) },
  };
}
const isWasm = (b) => b.length > 4 && b[0] === 0 && b[1] === 0x61 && b[2] === 0x73 && b[3] === 0x6d;

/** Which builds BYTES are: {quote, full} × {file, inline}. */
function classify(bytes, fp, into) {
  if (isWasm(bytes)) {
    const h = sha(bytes);
    if (h === fp.quote.sha) into.add("quote file");
    if (h === fp.full.sha) into.add("full file");
  } else {
    const text = bytes.toString("latin1");
    if (text.includes(fp.quote.probe)) into.add("quote inline");
    if (text.includes(fp.full.probe)) into.add("full inline");
  }
}

// --- servers ---------------------------------------------------------------

const types = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm", ".json": "application/json" };

/** A plain static server for a build's output, as any host would serve it. */
function serveDir(root) {
  const server = createServer((req, res) => {
    let file = normalize(join(root, decodeURIComponent(new URL(req.url, "http://x").pathname)));
    if (!file.startsWith(root)) return res.writeHead(403).end();
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, "index.html");
    if (!existsSync(file)) return res.writeHead(404, { "content-type": "text/plain" }).end("not found");
    res.writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream" });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({ url: `http://127.0.0.1:${server.address().port}/`, close: () => new Promise((r) => server.close(r)) }),
    ),
  );
}

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/** `vite` (dev server) in DIR: resolves to {url, close} once it answers. */
async function viteDev(vite, dir) {
  const port = await freePort();
  const child = spawn(process.execPath, [viteBin(vite), "--host", "127.0.0.1", "--port", String(port), "--strictPort", "--clearScreen", "false"], {
    cwd: dir,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const url = `http://127.0.0.1:${port}/`;
  const close = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once("exit", resolve);
      process.kill(-child.pid, "SIGTERM");
      setTimeout(() => child.exitCode === null && process.kill(-child.pid, "SIGKILL"), 3000).unref();
    });
  for (let i = 0; i < 120; i++) {
    if (child.exitCode !== null) throw new Error(`${vite} dev exited:\n${output}`);
    try {
      if ((await fetch(url)).ok) return { url, close, output: () => output };
    } catch {}
    await new Promise((r) => setTimeout(r, 250));
  }
  await close();
  throw new Error(`${vite} dev did not answer:\n${output}`);
}

// --- the browser -------------------------------------------------------------

// TOOLCHAIN.md: Chromium on this network needs its background traffic off.
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
});

let fp;

/**
 * Opens URL, quotes through the page's module and checks the outcome.
 * `app` is "quote" or "full"; `fileOnly` says the bundler serves the .wasm
 * file, so the inlined copy must not be downloaded.
 */
async function checkPage(what, url, app, fileOnly) {
  const page = await browser.newPage();
  const problems = [];
  const seen = new Set();
  const bodies = [];
  let gzipped = 0;
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("response", (r) =>
    bodies.push(r.body().then((b) => {
      classify(b, fp, seen);
      gzipped += gzipSync(b, { level: 9 }).length;
    }, () => {})),
  );
  try {
    await page.goto(url);
    let result, calc;
    // Vite 5's dev server may reload the page once after optimizing dependencies.
    for (let attempt = 0; ; attempt++) {
      try {
        await page.waitForFunction(() => typeof window.ratingQuote === "function", null, { timeout: 30000 });
        // The calculator first, so that it loads the engine itself.
        calc = app !== "quote" ? null : await page.evaluate((b) =>
          typeof window.ratingCalculator !== "function" || customElements.get("rating-calculator") === undefined
            ? { error: "customElements.get('rating-calculator') is undefined" }
            : window.ratingCalculator(b).catch((e) => ({ error: String(e) })), book);
        result = await page.evaluate(async ([b, r]) => ({ quote: await window.ratingQuote(b, r), ...window.ratingChecks() }), [book, request]);
        break;
      } catch (e) {
        if (attempt < 2 && /context was destroyed|navigation/i.test(String(e))) continue;
        throw e;
      }
    }
    await Promise.all(bodies);
    const downloads = `${[...seen].sort().join(", ") || "none recognised"}; ${(gzipped / 1024).toFixed(1)} KB gzipped in all`;
    const detail = [];
    if (result.quote !== want) detail.push(`quote differs from the CLI's:\n  CLI:  ${want}\n  page: ${result.quote}`);
    if (app === "quote") {
      if (!result.calculator) detail.push("customElements.get('rating-calculator') is undefined");
      if (calc.error || calc.plans.length === 0 || !calc.agree) detail.push(`<rating-calculator> did not price the book: ${JSON.stringify(calc)}`);
      if (result.meter) detail.push("PriceBook has meter(): the quote entry loaded the whole engine");
      if (!seen.has("quote file") && !seen.has("quote inline")) detail.push(`the quote build was not downloaded (${downloads})`);
      if (seen.has("full file") || seen.has("full inline")) detail.push(`the whole engine was downloaded (${downloads})`);
    } else {
      if (!result.meter) detail.push("PriceBook has no meter()");
      if (!seen.has("full file") && !seen.has("full inline")) detail.push(`the whole engine was not downloaded (${downloads})`);
    }
    if (fileOnly && [...seen].some((s) => s.endsWith("inline"))) detail.push(`the inlined copy was downloaded too (${downloads})`);
    detail.push(...problems);
    check(`${what} (downloads: ${downloads})`, detail.length === 0, detail.join("\n"));
  } catch (e) {
    check(what, false, `${String(e)}\n${problems.join("\n")}`);
  } finally {
    await page.close();
  }
}

/** Every file of a build's output, classified. */
function checkDist(what, dir) {
  const seen = new Set();
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else classify(readFileSync(join(d, e.name)), fp, seen);
    }
  };
  walk(dir);
  const found = [...seen].sort().join(", ") || "nothing recognised";
  check(`${what} output holds the quote build only (${found})`,
    (seen.has("quote file") || seen.has("quote inline")) && !seen.has("full file") && !seen.has("full inline"));
}

const elapsed = (t) => `${((performance.now() - t) / 1000).toFixed(1)}s`;

try {
  let t = performance.now();
  const nodeDir = project("node");
  fp = fingerprints();

  // --- Node ------------------------------------------------------------------
  const nodeCheck = (what, r, cjs) => {
    let got;
    try {
      got = JSON.parse(r.stdout);
    } catch {}
    const ok = r.ok && got && got.quote === want && got.quoteEntry === want && got.oneRatingError &&
      got.ingest === "function" && got.webhooks === "function" && (!cjs || got.initIsPromise);
    check(what, ok, r.out);
  };
  nodeCheck("Node ESM import of every entry", run(process.execPath, ["esm.mjs", args.book, args.request], { cwd: nodeDir }));
  nodeCheck("Node CJS require of every entry", run(process.execPath, ["cjs.cjs", args.book, args.request], { cwd: nodeDir }), true);
  for (const vite of ["vite5", "vite8"]) {
    try {
      const { createServer: createViteServer } = await import(pathToFileURL(join(here, "node_modules", vite, "dist/node/index.js")));
      const server = await createViteServer({ root: nodeDir, configFile: false, logLevel: "error", appType: "custom", server: { middlewareMode: true, hmr: false } });
      try {
        const { render } = await server.ssrLoadModule("/ssr-entry.js");
        const got = JSON.parse(await render(book, request));
        check(`${vite} ssrLoadModule of every entry`, got.quote === want && got.quoteEntry === want && got.ingest === "function" && got.webhooks === "function", JSON.stringify(got));
      } finally {
        await server.close();
      }
    } catch (e) {
      check(`${vite} ssrLoadModule of every entry`, false, e.stack ?? String(e));
    }
  }

  // --- types and package metadata -------------------------------------------
  // The two .wasm exports are files to fetch or import as a
  // WebAssembly.Module, not JS modules with types. ingest, webhooks and
  // calculator are ES modules only; CommonJS loads them with require(esm)
  // (Node 20.19+, 22.12+; the CJS check above does), which attw counts as
  // "CJSResolvesToESM". Every other rule applies.
  const attw = run(bin("attw"), [args.tarball, "--format", "ascii", "--exclude-entrypoints", "rating_wasm_bg.wasm",
    "rating_quote_bg.wasm", "--ignore-rules", "cjs-resolves-to-esm"]);
  check("@arethetypeswrong/cli", attw.ok, attw.out);
  const publint = run(bin("publint"), ["--strict", pkg]);
  check("publint", publint.ok && /All good!/.test(publint.out), publint.out);
  log(`node, types and metadata took ${elapsed(t)}`);

  // --- bundlers, in Chromium ---------------------------------------------
  for (const vite of ["vite5", "vite8"]) {
    for (const app of ["quote", "full"]) {
      t = performance.now();
      const dir = project(`${vite}-${app}`, app);
      try {
        const dev = await viteDev(vite, dir);
        try {
          // Vite 5's dependency optimizer moves the glue away from its .wasm.
          await checkPage(`${vite} dev server, ${app}`, dev.url, app, vite !== "vite5");
        } finally {
          await dev.close();
        }
      } catch (e) {
        check(`${vite} dev server, ${app}`, false, String(e));
      }
      const build = run(process.execPath, [viteBin(vite), "build", "--logLevel", "warn"], { cwd: dir });
      check(`${vite} build, ${app}`, build.ok, build.out);
      if (build.ok) {
        if (app === "quote") checkDist(`${vite} build, quote`, join(dir, "dist"));
        const server = await serveDir(join(dir, "dist"));
        await checkPage(`${vite} build served, ${app}`, server.url, app, true);
        await server.close();
      }
      log(`${vite} ${app} took ${elapsed(t)}`);
    }
  }

  for (const app of ["quote", "full"]) {
    t = performance.now();
    const dir = project(`webpack-${app}`, app);
    const build = run(bin("webpack"), ["--mode", "production", "--entry", "./main.js", "--output-path", "dist", "--no-stats"], { cwd: dir });
    check(`webpack production build, ${app}`, build.ok, build.out);
    if (build.ok) {
      writeFileSync(join(dir, "dist/index.html"), '<!doctype html><meta charset="utf-8"><script src="main.js"></script>\n');
      if (app === "quote") checkDist("webpack build, quote", join(dir, "dist"));
      const server = await serveDir(join(dir, "dist"));
      await checkPage(`webpack build served, ${app}`, server.url, app, true);
      await server.close();
    }
    log(`webpack ${app} took ${elapsed(t)}`);
  }

  for (const app of ["quote", "full"]) {
    t = performance.now();
    const dir = project(`esbuild-${app}`, app);
    const build = run(bin("esbuild"), ["main.js", "--bundle", "--format=esm", "--outdir=dist", "--log-level=warning"], { cwd: dir });
    check(`esbuild bundle, ${app}`, build.ok, build.out);
    if (build.ok) {
      writeFileSync(join(dir, "dist/index.html"), '<!doctype html><meta charset="utf-8"><script type="module" src="main.js"></script>\n');
      if (app === "quote") checkDist("esbuild bundle, quote", join(dir, "dist"));
      const server = await serveDir(join(dir, "dist"));
      // esbuild leaves the .wasm's URL next to the bundle: the inlined copy is the path.
      await checkPage(`esbuild bundle served, ${app}`, server.url, app, false);
      await server.close();
    }
    log(`esbuild ${app} took ${elapsed(t)}`);
  }
} finally {
  await browser.close();
}

if (failures.length) {
  console.error(`packaging: ${failures.length} check(s) failed:\n  ${failures.join("\n  ")}`);
  process.exit(1);
}
log("all checks passed");
