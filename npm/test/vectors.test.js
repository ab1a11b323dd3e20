// Runs every case of tests/vectors/*.json against the built package, with
// the comparison rules of crates/rating/tests/vectors.rs (the Rust runner),
// and checks each result against the `rating` CLI byte for byte.
//
// Each file is {"area", "cases": [...]}; a case names a book (inline, or a
// path from the repository root), an op (check, quote, compare), a request
// (inline or a path) and either `expect` (the exact output) or `error`
// ({"code", "path"?, "errors"?: [{"code", "path"?}]}). Comparison is
// structural and exact: same key sets, same strings, numbers by their
// literal text. `description`, `message` and `price_book` are ignored when
// `expect` does not name them, and so is `path` inside an error object
// (one with a `code`) in an output.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, mkdtempSync, writeFileSync, existsSync, rmSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Num, parse, stringify, minify } from "./json-literal.js";
import { targets } from "./targets.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const IGNORABLE = ["description", "message", "price_book"];

const readJson = (path) => parse(readFileSync(join(root, path), "utf8"));
const inlineOrFile = (v) => (typeof v === "string" ? readJson(v) : v);

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Num);
const show = (v) => (v === undefined ? "undefined" : stringify(v));

/** Structural comparison; returns the path of the first difference. */
export function diff(expected, actual, path) {
  if (isObject(expected) && isObject(actual)) {
    for (const k of Object.keys(expected)) {
      const p = `${path}.${k}`;
      if (!Object.hasOwn(actual, k)) return `${p}: missing in actual`;
      const d = diff(expected[k], actual[k], p);
      if (d) return d;
    }
    const isError = Object.hasOwn(expected, "code");
    for (const k of Object.keys(actual)) {
      const ignorable = IGNORABLE.includes(k) || (isError && k === "path");
      if (!Object.hasOwn(expected, k) && !ignorable) return `${path}.${k}: not expected (actual ${show(actual[k])})`;
    }
    return null;
  }
  if (Array.isArray(expected) && Array.isArray(actual)) {
    if (expected.length !== actual.length) {
      return `${path}: expected ${expected.length} elements, actual ${actual.length}`;
    }
    for (let i = 0; i < expected.length; i++) {
      const d = diff(expected[i], actual[i], `${path}[${i}]`);
      if (d) return d;
    }
    return null;
  }
  if (expected instanceof Num && actual instanceof Num) {
    return expected.text === actual.text ? null : `${path}: expected ${expected.text}, actual ${actual.text}`;
  }
  const same = !isObject(expected) && !Array.isArray(expected) && !(expected instanceof Num) && expected === actual;
  return same ? null : `${path}: expected ${show(expected)}, actual ${show(actual)}`;
}

const asStr = (v) => (typeof v === "string" ? v : null);

/** Compares a thrown RatingError with the case's `error` block. */
export function diffError(expected, actual) {
  const code = asStr(expected.code);
  if (code !== null && code !== actual.code) return `code: expected ${code}, actual ${actual.code}`;
  if (Object.hasOwn(expected, "path")) {
    const want = asStr(expected.path);
    if (want !== (actual.path ?? null)) return `path: expected ${show(expected.path)}, actual ${actual.path}`;
  }
  if (Array.isArray(expected.errors)) {
    if (expected.errors.length !== actual.errors.length) {
      return `errors: expected ${expected.errors.length} problems, actual ${actual.errors.length}`;
    }
    for (let i = 0; i < expected.errors.length; i++) {
      const e = expected.errors[i];
      const a = actual.errors[i];
      const c = asStr(e?.code) ?? "";
      const p = asStr(e?.path);
      if (c !== a.code || p !== (a.path ?? null)) {
        return `errors[${i}]: expected ${c} at ${p}, actual ${a.code} at ${a.path}`;
      }
    }
  }
  return null;
}

const errorJson = (e) => JSON.stringify({ code: e.code, message: e.message, path: e.path, errors: e.errors }, null, 2);

/** Runs one case on one build; returns null or what failed, plus what the
 * CLI check needs. */
function runCase(lib, c) {
  if (c.book === undefined) return { failure: "case has no book" };
  const bookText = stringify(inlineOrFile(c.book));
  const op = c.op;
  let book;
  let bookError;
  try {
    book = lib.PriceBook.parse(bookText);
  } catch (e) {
    if (!(e instanceof lib.RatingError)) return { failure: `PriceBook.parse threw a non-RatingError: ${e}` };
    bookError = e;
  }
  let actual; // {ok: text} | {err: RatingError}
  let requestText;
  if (op === "check") {
    actual = bookError ? { err: bookError } : { ok: '{"ok":true}' };
  } else if (op === "quote" || op === "compare") {
    if (bookError) return { failure: `the case's price book is invalid:\n${errorJson(bookError)}` };
    if (c.request === undefined) return { failure: "case has no request" };
    requestText = stringify(inlineOrFile(c.request));
    try {
      actual = { ok: op === "quote" ? book.quoteJson(requestText) : book.compareJson(requestText) };
    } catch (e) {
      if (!(e instanceof lib.RatingError)) return { failure: `${op} threw a non-RatingError: ${e}` };
      actual = { err: e };
    }
  } else {
    return { failure: `unknown op ${JSON.stringify(op)}` };
  }
  const hasExpect = Object.hasOwn(c, "expect");
  const hasError = Object.hasOwn(c, "error");
  const out = { bookText, requestText, book, actual };
  if (hasExpect && !hasError && actual.ok) {
    const d = diff(c.expect, parse(actual.ok), "$");
    if (d) out.failure = `${d}\n--- expected:\n${stringify(c.expect)}\n--- actual:\n${actual.ok}`;
  } else if (hasExpect && !hasError) {
    out.failure = `expected a result, got an error\n--- actual error:\n${errorJson(actual.err)}`;
  } else if (hasError && !hasExpect && actual.err) {
    const d = diffError(c.error, actual.err);
    if (d) out.failure = `${d}\n--- expected error:\n${stringify(c.error)}\n--- actual error:\n${errorJson(actual.err)}`;
  } else if (hasError && !hasExpect) {
    out.failure = `expected an error, got a result\n--- actual:\n${actual.ok}`;
  } else {
    out.failure = "a case needs exactly one of expect and error";
  }
  return out;
}

// ------------------------------------------------------------ the CLI

function findCli() {
  if (process.env.RATING_CLI) return process.env.RATING_CLI;
  for (const p of ["target/release/rating", "target/debug/rating"]) {
    if (existsSync(join(root, p))) return join(root, p);
  }
  return null;
}
const cli = findCli();
const scratch = mkdtempSync(join(tmpdir(), "rating-vectors-"));
process.on("exit", () => rmSync(scratch, { recursive: true, force: true }));

/** Runs `rating ARGS` with the given files; returns {status, stdout, stderr}. */
function runCli(args, files) {
  const paths = files.map((text, i) => {
    const p = join(scratch, `${i}.json`);
    writeFileSync(p, text);
    return p;
  });
  const r = spawnSync(cli, [...args, ...paths], { encoding: "utf8" });
  if (r.error) throw r.error;
  return r;
}

/** The CLI's answer to the same case must be the same bytes (results) or
 * the same error (code, message, path, every problem). */
function cliDifference(c, run) {
  const { bookText, requestText, book, actual } = run;
  const args = c.op === "check" ? ["check"] : [c.op];
  const r = runCli(args, c.op === "check" ? [bookText] : [bookText, requestText]);
  if (actual.err) {
    if (r.status !== 1) return `the CLI exited ${r.status}, the package threw ${actual.err.code}\n${r.stdout}`;
    const { error } = JSON.parse(r.stderr);
    const plain = (e) => JSON.parse(JSON.stringify({ code: e.code, message: e.message, path: e.path }));
    const mine = plain(actual.err);
    const theirs = plain(error);
    try {
      assert.deepEqual(mine, theirs);
      assert.deepEqual(actual.err.errors, error.errors ?? []);
    } catch (e) {
      return `errors differ from the CLI's:\n${e.message}`;
    }
    return null;
  }
  if (r.status !== 0) return `the CLI failed (${r.status}) where the package did not:\n${r.stderr}`;
  if (c.op === "check") {
    const hash = JSON.parse(r.stdout).price_book;
    return hash === book.hash ? null : `hash: CLI ${hash}, package ${book.hash}`;
  }
  const theirs = minify(r.stdout);
  return theirs === actual.ok ? null : `not the CLI's bytes\n--- CLI:\n${theirs}\n--- package:\n${actual.ok}`;
}

// --------------------------------------------------------------- tests

const files = readdirSync(join(root, "tests/vectors"))
  .filter((f) => f.endsWith(".json"))
  .sort();

test("there are vectors", () => assert.ok(files.length > 0));

for (const [name, lib] of Object.entries(targets)) {
  for (const file of files) {
    test(`${name} build: ${file}`, async (t) => {
      const doc = readJson(`tests/vectors/${file}`);
      assert.ok(Array.isArray(doc.cases), `${file}: no cases array`);
      for (const [i, c] of doc.cases.entries()) {
        await t.test(`#${i} ${c.name ?? "(unnamed)"}`, () => {
          const run = runCase(lib, c);
          if (run.failure) assert.fail(run.failure);
          // One build is enough to hold the CLI to the same bytes.
          if (name === "node" && cli) {
            const d = cliDifference(c, run);
            if (d) assert.fail(d);
          }
        });
      }
    });
  }
}

test("the CLI comparison ran", { skip: cli ? false : "no rating CLI built (set RATING_CLI)" }, () => {
  assert.ok(cli);
});

test("the comparison ignores key order but not keys", () => {
  const a = parse('{"a": "1", "b": {"x": [1, {"y": "2"}]}}');
  const b = parse('{"b": {"x": [1, {"y": "2"}]}, "a": "1"}');
  assert.equal(diff(a, b, "$"), null);
  const c = parse('{"a": "1", "b": {"x": [1, {"y": "2", "z": "3"}]}}');
  assert.notEqual(diff(a, c, "$"), null);
  assert.notEqual(diff(c, a, "$"), null);
  const d = parse('{"a": "1.0", "b": {"x": [1, {"y": "2"}]}}');
  assert.notEqual(diff(a, d, "$"), null);
  const e = parse('{"a": "1", "description": "x", "b": {"x": [1, {"y": "2"}]}}');
  assert.equal(diff(a, e, "$"), null);
  assert.notEqual(diff(parse("[1.0]"), parse("[1]"), "$"), null);
  assert.notEqual(diff(parse('["1"]'), parse("[1]"), "$"), null);
});
