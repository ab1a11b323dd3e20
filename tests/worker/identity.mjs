// Cross-target identity (RELIABILITY.md, "Cross-target identity"): every
// case of tests/vectors/*.json run on each target, one NDJSON line per
// case, so that the targets' files can be compared byte for byte.
//
// A line is {"id": "<file>#<index>", "op", "ok": <the output text>} or
// {"id", "op", "error": {code, message, path, errors}}. The output text is
// the target's own bytes: the package's `quoteJson`/`compareJson` string,
// the Worker's response body, and the CLI's stdout with the whitespace of
// its pretty printing removed (`minify`: outside strings only). A `check`
// case's output is the book's hash.
//
// Used by tests/worker/identity.test.mjs (the CLI, Node, Chromium and the
// Worker) and scripts/bench-targets.

import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify, minify } from "../../npm/test/json-literal.js";
import { ROOT } from "./harness.mjs";

export const ARTIFACTS = join(ROOT, "tests/artifacts/identity");

/** Every vector case: {id, op, book (text), request (text, or undefined)}.
 * Texts are made exactly as the vector runners make them (numbers keep
 * their literal text). */
export function loadCases() {
  const dir = join(ROOT, "tests/vectors");
  const read = (p) => parse(readFileSync(join(ROOT, p), "utf8"));
  const inlineOrFile = (v) => (typeof v === "string" ? read(v) : v);
  const cases = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".json")).sort()) {
    const doc = read(`tests/vectors/${file}`);
    doc.cases.forEach((c, i) => {
      cases.push({
        id: `${file}#${i}`,
        op: c.op,
        book: stringify(inlineOrFile(c.book)),
        request: c.request === undefined ? undefined : stringify(inlineOrFile(c.request)),
      });
    });
  }
  return cases;
}

/** One error, the same shape from every target. */
export function normalError(e) {
  const problem = (p) => {
    const o = { code: p.code, message: p.message };
    if (p.path !== undefined && p.path !== null) o.path = p.path;
    return o;
  };
  return { ...problem(e), errors: (e.errors ?? []).map(problem) };
}

/**
 * Runs the cases on a build of the package (`lib`: PriceBook, RatingError).
 * Self-contained (no closure over this module) so that Chromium can run
 * its source text; `normal` is normalError's source, for the same reason.
 */
export function collectWith(lib, cases, normal) {
  const lines = [];
  for (const c of cases) {
    let out;
    let book;
    try {
      book = lib.PriceBook.parse(c.book);
      if (c.op === "check") out = { ok: book.hash };
      else out = { ok: c.op === "quote" ? book.quoteJson(c.request) : book.compareJson(c.request) };
    } catch (e) {
      out = { error: normal(e) };
    } finally {
      book?.free?.();
    }
    lines.push(JSON.stringify({ id: c.id, op: c.op, ...out }));
  }
  return lines;
}

/** The npm package in this Node process. */
export async function collectNode(cases) {
  const lib = await import("../../npm/node.js");
  return collectWith(lib, cases, normalError);
}

/** The CLI: `rating check|quote|compare`, one process per case. */
export function collectCli(cases, bin = process.env.RATING_BIN ?? join(ROOT, "target/debug/rating")) {
  const scratch = mkdtempSync(join(tmpdir(), "rating-identity-"));
  const lines = [];
  for (const c of cases) {
    const bookPath = join(scratch, "book.json");
    writeFileSync(bookPath, c.book);
    const args = [c.op, bookPath];
    if (c.op !== "check") {
      const reqPath = join(scratch, "request.json");
      writeFileSync(reqPath, c.request);
      args.push(reqPath);
    }
    const r = spawnSync(bin, args, { encoding: "utf8" });
    if (r.error) throw r.error;
    let out;
    if (r.status === 0) out = { ok: c.op === "check" ? JSON.parse(r.stdout).price_book : minify(r.stdout) };
    else if (r.status === 1) out = { error: normalError(JSON.parse(r.stderr).error) };
    else throw new Error(`${c.id}: rating exited ${r.status}: ${r.stderr}`);
    lines.push(JSON.stringify({ id: c.id, op: c.op, ...out }));
  }
  return lines;
}

/** The npm package's browser build in Chromium, from a page of `origin`
 * (the Worker serves the package's pkg-web build with the pricing page). */
export async function collectChromium(cases, origin) {
  const { createRequire } = await import("node:module");
  const require = createRequire(join(ROOT, "npm/package.json"));
  const { chromium } = require("playwright-core");
  // TOOLCHAIN.md: Chromium on this network needs its background traffic off.
  const args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"];
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", headless: true, args });
  try {
    const page = await browser.newPage();
    await page.goto(`${origin}/healthz`);
    return await page.evaluate(
      async ({ collect, normal, cases }) => {
        const lib = await import("/pkg-web/rating_wasm.js");
        await lib.default();
        // eslint-disable-next-line no-eval
        return (0, eval)(`(${collect})`)(lib, cases, (0, eval)(`(${normal})`));
      },
      { collect: collectWith.toString(), normal: normalError.toString(), cases },
    );
  } finally {
    await browser.close();
  }
}

/** The Worker: `PUT /v1/price-book` (the case's book, when it changes),
 * then `POST /v1/quote` or `/v1/compare`; `check` is the PUT itself. */
export async function collectWorker(cases, url, adminKey) {
  const send = async (method, path, body) => {
    const r = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
      body,
    });
    return { status: r.status, text: await r.text() };
  };
  const problem = (text) => {
    const p = JSON.parse(text);
    return normalError({ code: p.code, message: p.detail, path: p.path, errors: p.errors });
  };
  const lines = [];
  let active; // the book text the tenant has now
  let put; // the answer to putting it
  for (const c of cases) {
    if (c.book !== active) {
      const r = await send("PUT", "/v1/price-book", c.book);
      put = r.status === 200 || r.status === 201 ? { ok: JSON.parse(r.text).hash } : { error: problem(r.text) };
      if (put.ok) active = c.book;
    }
    let out;
    if (c.op === "check" || put.error) {
      out = put;
    } else {
      const r = await send("POST", `/v1/${c.op}`, c.request);
      out = r.status === 200 ? { ok: r.text } : { error: problem(r.text) };
    }
    lines.push(JSON.stringify({ id: c.id, op: c.op, ...out }));
  }
  return lines;
}

/** Writes a target's lines to tests/artifacts/identity/<target>.ndjson. */
export function save(target, lines) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${target}.ndjson`);
  writeFileSync(path, lines.join("\n") + "\n");
  return path;
}

/** Compares two targets' files byte for byte; answers null or the first
 * differing vector with both lines. */
export function firstDifference(a, b) {
  const x = readFileSync(join(ARTIFACTS, `${a}.ndjson`));
  const y = readFileSync(join(ARTIFACTS, `${b}.ndjson`));
  if (x.equals(y)) return null;
  const xl = x.toString().split("\n");
  const yl = y.toString().split("\n");
  for (let i = 0; i < Math.max(xl.length, yl.length); i++) {
    if (xl[i] !== yl[i]) {
      const id = JSON.parse(xl[i] ?? yl[i] ?? "{}").id;
      return `first difference at line ${i + 1} (${id}):\n--- ${a}:\n${xl[i]}\n--- ${b}:\n${yl[i]}`;
    }
  }
  return "the files differ (no differing line?)";
}
