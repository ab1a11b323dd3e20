// The prepared quoter (`book.quoter()`, docs/quote.md "Prepared quotes")
// against `book.quote()`, on every build: for every quote case of
// tests/vectors and for random usage on every example book, a quoter made
// from the request without its usage, then given the usage with `set()`,
// must give byte for byte the quote `quote()` gives (`JSON.stringify`),
// the same total and lines through its readers, and the same RatingError
// (code, path, message) where `quote()` throws.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { targets } from "./targets.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const readText = (p) => readFileSync(join(root, p), "utf8");
const inline = (v) => (typeof v === "string" ? readText(v) : JSON.stringify(v));
const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

/** `f()` as {ok} or {err}; anything but a RatingError fails the test. */
function attempt(lib, f) {
  try {
    return { ok: f() };
  } catch (e) {
    assert.ok(e instanceof lib.RatingError, `not a RatingError: ${e?.stack ?? e}`);
    return { err: e };
  }
}

/** A usage value as `set()` takes it: strings and objects as they are, a
 * number by its JSON text unless it is a safe integer (what `quote()`
 * reads of it too). */
const settable = (v) => (typeof v === "number" && !Number.isSafeInteger(v) ? JSON.stringify(v) : v);

/** Builds a quoter for `req` as a user would: the request without its
 * usage, then `set()` for each product. Returns the quoter and what
 * `quote()` gave. */
function viaQuoter(lib, book, req) {
  return attempt(lib, () => {
    if (!isObject(req) || !isObject(req.usage)) return book.quoter(req);
    const { usage, ...rest } = req;
    const q = book.quoter(rest);
    for (const [k, v] of Object.entries(usage)) q.set(k, settable(v));
    return q;
  });
}

/** Checks one request: the quoter agrees with `quote()`. */
function check(lib, book, req, what) {
  const want = attempt(lib, () => book.quote(req));
  const made = viaQuoter(lib, book, req);
  const got = made.ok ? attempt(lib, () => made.ok.quote()) : made;
  if (want.ok) {
    assert.ok(got.ok, `${what}: quote() priced it, the quoter threw ${got.err?.code} at ${got.err?.path}: ${got.err?.message}`);
    assert.equal(JSON.stringify(got.ok), JSON.stringify(want.ok), what);
    const q = made.ok;
    assert.equal(q.total, want.ok.total, what);
    assert.equal(q.currency, want.ok.currency, what);
    assert.equal(q.plan, want.ok.plan, what);
    assert.equal(q.lineCount, want.ok.lines.length, what);
    want.ok.lines.forEach((l, i) => {
      assert.equal(q.lineAmount(i), l.amount, `${what} line ${i}`);
      assert.equal(q.lineProduct(i), l.product, `${what} line ${i}`);
      assert.equal(q.lineKind(i), l.kind, `${what} line ${i}`);
      assert.equal(q.lineCurrency(i), l.currency, `${what} line ${i}`);
    });
    assert.equal(JSON.stringify(q.lines()), JSON.stringify(want.ok.lines), what);
    assert.equal(q.quoteJson(), JSON.stringify(want.ok), what);
    return "ok";
  }
  assert.ok(got.err, `${what}: quote() threw ${want.err.code}, the quoter priced it`);
  const e = want.err;
  if (e.errors.length <= 1) {
    // One problem: the same error.
    assert.deepEqual([got.err.code, got.err.path, got.err.message], [e.code, e.path, e.message], what);
  } else {
    // Several: the quoter stops at the first it meets, one of them.
    const first = got.err.errors[0];
    assert.ok(
      e.errors.some((p) => p.code === first.code && p.path === first.path && p.message === first.message),
      `${what}: ${first.code} at ${first.path} is not among quote()'s problems`,
    );
  }
  return "error";
}

const vectorCases = [];
for (const f of readdirSync(join(root, "tests/vectors")).filter((f) => f.endsWith(".json")).sort()) {
  for (const [i, c] of JSON.parse(readText(`tests/vectors/${f}`)).cases.entries()) {
    if (c.op === "quote") vectorCases.push({ name: `${f} #${i} ${c.name ?? ""}`, book: inline(c.book), request: inline(c.request) });
  }
}

/** A deterministic pseudo-random generator (mulberry32). */
function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const exampleBooks = readdirSync(join(root, "examples"))
  .filter((f) => f.endsWith(".json"))
  .sort()
  .map((f) => [f, JSON.parse(readText(`examples/${f}`))])
  .filter(([, doc]) => doc.format === "price-book/v1");

/** A random usage value for product `p` of a book document. */
function randomUsage(next, p) {
  const n = (max) => Math.floor(next() * max);
  const qty = () => (next() < 0.3 ? `${n(500)}.${n(1000)}` : next() < 0.5 ? String(n(30)) : String(n(3000000)));
  if (p.aggregation === "amount") {
    return next() < 0.5 ? { count: String(n(1000)), total: qty() } : { amounts: Array.from({ length: n(4) }, qty) };
  }
  // An integer as a JS number sometimes: set() takes safe integers.
  return next() < 0.2 ? n(100000) : qty();
}

for (const [name, lib] of Object.entries(targets)) {
  test(`${name} build: the quoter gives quote()'s result for every vector quote case`, () => {
    const seen = { ok: 0, error: 0 };
    for (const c of vectorCases) {
      const book = lib.PriceBook.parse(c.book);
      seen[check(lib, book, JSON.parse(c.request), c.name)]++;
      book.free();
    }
    assert.ok(seen.ok > 50 && seen.error > 10, JSON.stringify(seen));
  });

  test(`${name} build: one quoter per plan follows random usage on every example book`, () => {
    const next = rng(15);
    const seen = { ok: 0, error: 0 };
    for (const [file, doc] of exampleBooks) {
      const book = lib.PriceBook.parse(doc);
      const products = new Map(doc.products.map((p) => [p.id, p]));
      for (const plan of doc.plans.filter((p) => !p.addon)) {
        const metered = plan.items.map((it) => products.get(it.product)).filter((p) => p.type === "metered" && !p.price_key_label);
        if (metered.length === 0) continue;
        const q = book.quoter({ plan: plan.id });
        const usage = {};
        for (let i = 0; i < 40; i++) {
          const p = metered[Math.floor(next() * metered.length)];
          const v = randomUsage(next, p);
          q.set(p.id, v);
          usage[p.id] = v;
          const want = attempt(lib, () => book.quote({ plan: plan.id, usage }));
          const got = attempt(lib, () => q.quote());
          const what = `${file} ${plan.id} ${JSON.stringify(usage)}`;
          if (want.ok) {
            assert.equal(JSON.stringify(got.ok), JSON.stringify(want.ok), what);
            assert.equal(q.total, want.ok.total, what);
            want.ok.lines.forEach((l, j) => assert.equal(q.lineAmount(j), l.amount, `${what} line ${j}`));
            seen.ok++;
          } else {
            assert.ok(got.err, `${what}: quote() threw ${want.err.code}`);
            const total = attempt(lib, () => q.total);
            for (const e of [got.err, total.err]) {
              assert.deepEqual([e?.code, e?.path, e?.message], [want.err.code, want.err.path, want.err.message], what);
            }
            seen.error++;
          }
        }
        q.free();
      }
      book.free();
    }
    assert.ok(seen.ok > 200 && seen.error > 0, JSON.stringify(seen));
  });

  test(`${name} build: set() refuses what quote() refuses, with the same code and path`, () => {
    const book = lib.PriceBook.parse(readText("examples/hybrid.json"));
    const q = book.quoter({ plan: "starter" });
    q.set("messages", "20000");
    const cases = [
      ["nope", "1", "unknown_product"],
      ["messages", "12x", "invalid_decimal"],
      ["messages", "-3", "negative_value"],
      ["messages", -3, "negative_value"],
      ["platform", "1", "invalid_usage"],
      ["messages", "1e400", "out_of_range"],
    ];
    for (const [product, value, code] of cases) {
      const want = attempt(lib, () => book.quote({ plan: "starter", usage: { [product]: value } })).err;
      const got = attempt(lib, () => q.set(product, value)).err;
      assert.equal(want?.code, code, `${product}=${value}`);
      assert.deepEqual([got?.code, got?.path, got?.message], [want.code, want.path, want.message], `${product}=${value}`);
    }
    // Only safe integers as numbers: 0.1 + 0.2 is not a quantity.
    for (const n of [0.1 + 0.2, 2 ** 53, NaN, Infinity]) {
      const e = attempt(lib, () => q.set("messages", n)).err;
      assert.deepEqual([e?.code, e?.path], ["invalid_type", "usage.messages"], String(n));
    }
    // A refused value keeps the previous one: 20,000 messages, 10,000 over.
    assert.equal(q.total, "99.00");
    assert.equal(q.lineAmount(1), "50.00");
    assert.equal(attempt(lib, () => q.lineAmount(9)).err?.code, "out_of_range");
    // Unknown plans and currencies are refused when the quoter is made.
    for (const req of [{ plan: "nope" }, { plan: "starter", currency: "XYZ" }, { plan: "starter", bogus: 1 }]) {
      const want = attempt(lib, () => book.quote(req)).err;
      const got = attempt(lib, () => book.quoter(req)).err;
      assert.deepEqual([got?.code, got?.path, got?.message], [want.code, want.path, want.message], JSON.stringify(req));
    }
  });

  test(`${name} build: limits, add-ons and quantities follow quote()`, () => {
    const book = lib.PriceBook.parse(readText("examples/freemium.json"));
    const q = book.quoter({ plan: "free" });
    q.set("projects", 4);
    const want = attempt(lib, () => book.quote({ plan: "free", usage: { projects: "4" } })).err;
    const got = attempt(lib, () => q.total).err;
    assert.deepEqual([got?.code, got?.path], ["limit_exceeded", "usage.projects"]);
    assert.deepEqual([got.code, got.path, got.message], [want.code, want.path, want.message]);
    q.setAddon("unlimited-projects", true);
    const req = { plan: "free", addons: ["unlimited-projects"], usage: { projects: "4" } };
    assert.equal(JSON.stringify(q.quote()), JSON.stringify(book.quote(req)));
    assert.equal(q.total, "9.00");
    q.setAddon("unlimited-projects", false);
    assert.equal(attempt(lib, () => q.total).err?.code, "limit_exceeded");
    q.unset("projects");
    assert.equal(JSON.stringify(q.quote()), JSON.stringify(book.quote({ plan: "free" })));

    const team = JSON.parse(readText("examples/team.json"));
    const seat = team.products.find((p) => p.type === "seat");
    if (seat) {
      const tb = lib.PriceBook.parse(team);
      const plan = team.plans.find((p) => !p.addon && p.items.some((it) => it.product === seat.id));
      const tq = tb.quoter({ plan: plan.id });
      for (const n of ["3", 7, "12.5"]) {
        tq.setQuantity(seat.id, n);
        const r = attempt(lib, () => tb.quote({ plan: plan.id, quantities: { [seat.id]: String(n) } }));
        const mine = attempt(lib, () => tq.quote());
        if (r.ok) assert.equal(JSON.stringify(mine.ok), JSON.stringify(r.ok), `${seat.id}=${n}`);
        else assert.deepEqual([mine.err?.code, mine.err?.path], [r.err.code, r.err.path], `${seat.id}=${n}`);
      }
    }
  });
}
