// Hostile input through the npm package's API (RELIABILITY.md, "Hostile
// input: CLI and npm"): the cases of tests/hostile/cases.json, shared with
// the CLI test (crates/rating-cli/tests/hostile.rs), given as JSON text to
// PriceBook.parse, quote, quoteJson, compare, meter, meter.record,
// validateEvent and restoreMeter; then the JS-only hostile values (NaN,
// BigInt, cycles, deep objects). Every call must return, or throw a
// RatingError with a code (and the field's path); never a WebAssembly trap
// (a Rust panic shows up as RuntimeError "unreachable") or a hang.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { PriceBook, RatingError, validateEvent } from "rating-engine";

const root = fileURLToPath(new URL("../../", import.meta.url));
const table = JSON.parse(readFileSync(root + "tests/hostile/cases.json", "utf8"));
const at = table.at;
/** When the meter receives the events: the day after they happen. */
const eventAt = "2026-01-16T00:00:00Z";

/** The input of `slot` for `c`, as the CLI test builds it (a lone
 * surrogate stands in for invalid UTF-8: JS strings cannot hold bytes). */
function build(c, slot) {
  const subs = { ...table.defaults };
  for (const [k, v] of Object.entries(c.set ?? {})) subs[k] = typeof v === "string" ? v : v[slot];
  for (const [k, v] of Object.entries(subs)) {
    const m = /^@repeat:(\d+):(.*)$/s.exec(v);
    if (m) subs[k] = m[2].repeat(Number(m[1]));
  }
  let text = table.templates[slot];
  for (const [k, v] of Object.entries(subs)) text = text.replaceAll(`%${k}%`, () => v);
  switch (c.raw) {
    case "empty":
      return "";
    case "bom":
      return "\ufeff" + text;
    case "truncated":
      return text.slice(0, Math.floor(text.length / 2));
    case "deep":
      return "[".repeat(100_000);
    case "invalid_utf8": {
      const i = text.indexOf('"') + 1;
      return text.slice(0, i) + "\ud800" + text.slice(i);
    }
    default:
      return text;
  }
}

/** What a call did: `ok`, a receipt's `accepted` / `rejected:code@path`,
 * a RatingError's `code@path`, or `CRASH ...` for anything else thrown. */
function outcome(f) {
  let r;
  try {
    r = f();
  } catch (e) {
    if (e instanceof RatingError) {
      assert.equal(typeof e.code, "string");
      assert.ok(Array.isArray(e.errors), "errors is a list");
      return e.path ? `${e.code}@${e.path}` : e.code;
    }
    return `CRASH ${e?.name}: ${String(e?.message).slice(0, 200)}`;
  }
  if (r && typeof r === "object" && typeof r.status === "string") {
    if (r.status !== "rejected") return r.status;
    return r.error.path ? `rejected:${r.error.code}@${r.error.path}` : `rejected:${r.error.code}`;
  }
  return "ok";
}

const book = PriceBook.parse(build({}, "book"));
const subscription = build({}, "subscription");
const goodEvent = build({}, "event");
const state = JSON.stringify(book.meter(subscription).toJSON());

/** A substitution of case `c`, with `@repeat:N:s` expanded. */
function value(c, key, slot) {
  let v = c.set?.[key] ?? table.defaults[key];
  if (typeof v !== "string") v = v[slot] ?? "";
  const m = /^@repeat:(\d+):(.*)$/s.exec(v);
  return m ? m[2].repeat(Number(m[1])) : v;
}

/** The state a meter exported, with the case applied to it. */
function hostileState(c) {
  if (c.raw) return build(c, "state");
  let text = state;
  if (c.set?.PRE) text = "{" + value(c, "PRE", "subscription").replaceAll("%PAD%", value(c, "PAD")) + text.slice(1);
  if (c.set?.ID) text = text.replace('"customer":"cus"', `"customer":"${value(c, "ID")}"`);
  if (c.set?.NUM) text = text.replace('"seats":"5"', `"seats":${value(c, "NUM")}`);
  if (c.set?.TIME) text = text.replace(/"start":"[^"]*"/, `"start":"${value(c, "TIME")}"`);
  return text;
}

const calls = {
  parse: (c) => PriceBook.parse(build(c, "book")),
  quote: (c) => book.quote(build(c, "request")),
  quoteJson: (c) => book.quoteJson(build(c, "request")),
  compare: (c) => book.compare(build(c, "usage")),
  meter: (c) => book.meter(build(c, "subscription")),
  record: (c) => book.meter(subscription).record(build(c, "event"), eventAt),
  validateEvent: (c) => validateEvent(build(c, "event")),
  restoreMeter: (c) => {
    const m = book.restoreMeter(hostileState(c));
    // A restored meter must keep working (or refuse cleanly).
    const r = outcome(() => m.record(goodEvent, at));
    assert.ok(!r.startsWith("CRASH"), `record after restore: ${r}`);
    const p = outcome(() => m.previewInvoice(at));
    assert.ok(!p.startsWith("CRASH"), `previewInvoice after restore: ${p}`);
  },
};

test("the shared hostile cases give clean results through the npm API", () => {
  table.templates.state = state;
  const failures = [];
  const rows = [];
  for (const c of table.cases) {
    const row = [c.name];
    for (const [name, call] of Object.entries(calls)) {
      const started = Date.now();
      const got = outcome(() => call(c));
      const ms = Date.now() - started;
      if (ms > 20_000) failures.push(`${c.name} / ${name}: took ${ms} ms`);
      const want = c.npm?.[name] ?? "(none)";
      if (got !== want) failures.push(`${c.name} / ${name}: expected ${want}, got ${got}`);
      row.push(got);
    }
    rows.push(row.join(" | "));
  }
  if (process.env.HOSTILE_TABLE) console.log(rows.join("\n"));
  if (process.env.HOSTILE_DUMP) {
    const got = Object.fromEntries(table.cases.map((c, i) => [c.name, rows[i].split(" | ").slice(1)]));
    writeFileSync(process.env.HOSTILE_DUMP, JSON.stringify({ calls: Object.keys(calls), got }, null, 1));
  }
  assert.deepEqual(failures, []);
});

test("JS values that JSON cannot carry are RatingErrors, not traps", () => {
  const cyclic = { plan: "pro" };
  cyclic.self = cyclic;
  let deep = [];
  for (let i = 0; i < 100_000; i++) deep = [deep];
  const cases = [
    ["NaN quantity", () => book.quote({ plan: "pro", usage: { api: NaN } }), "invalid_type@usage.api"],
    ["Infinity quantity", () => book.quote({ plan: "pro", usage: { api: Infinity } }), "invalid_type@usage.api"],
    ["1e30 as a JS number", () => book.quote({ plan: "pro", usage: { api: 1e30 } }), "out_of_range@usage.api"],
    ["-0 quantity", () => book.quote({ plan: "pro", usage: { api: -0 } }), "ok"],
    ["BigInt", () => book.quote({ plan: "pro", usage: { api: 10n } }), "invalid_json"],
    ["cyclic object", () => book.quote(cyclic), "invalid_json"],
    ["100,000 nested arrays", () => PriceBook.parse(deep), "invalid_json"],
    ["undefined book", () => PriceBook.parse(undefined), "invalid_type"],
    ["a Symbol", () => validateEvent(Symbol("x")), "invalid_type"],
    ["NaN changeQuantity", () => book.meter(subscription).changeQuantity("seats", NaN, at), "invalid_decimal@quantities.seats"],
    ["invalid Date", () => book.meter(subscription).record(goodEvent, new Date(NaN)), "invalid_timestamp@at"],
    ["year 9999 at", () => book.meter(subscription).previewInvoice("9999-12-31T23:59:59Z"), "ok"],
    ["batch that is not a list", () => book.meter(subscription).recordBatch("{}", at), "invalid_type"],
  ];
  const failures = [];
  for (const [name, f, want] of cases) {
    const got = outcome(f);
    if (got !== want) failures.push(`${name}: expected ${want}, got ${got}`);
  }
  assert.deepEqual(failures, []);
});

test("a restored meter with inconsistent state refuses or works, never traps", () => {
  const base = JSON.parse(state);
  const max = "79228162514264337593543950335";
  const variants = {
    "period end before its start": (s) => (s.period.end = "2020-01-01T00:00:00Z"),
    "period in 1970": (s) => {
      Object.assign(s.period, { start: "1970-01-01T00:00:00Z", end: "1970-02-01T00:00:00Z" });
      s.anchor = "1970-01-01T00:00:00Z";
    },
    "negative seats": (s) => (s.quantities.seats = "-5"),
    "usage at the decimal limit": (s) => Object.assign(s.products.api.keys[""], { exact: max, quantity: max }),
    "dedup window negative, no room": (s) => Object.assign(s.dedup, { max_entries: 0, window_seconds: -5 }),
    "unknown plan": (s) => (s.plan = "nope"),
    "paid at the decimal limit": (s) => (s.paid[0].exact = max),
    "ended before it started": (s) => (s.ended_at = "2000-01-01T00:00:00Z"),
    "anchor in year 9999": (s) => (s.anchor = "9999-12-31T23:59:59Z"),
    "closed period backwards": (s) => (s.closed = [{ start: "2026-01-20T00:00:00Z", end: "2026-01-10T00:00:00Z", products: s.products }]),
    "counts beyond u64": (s) => (s.counts.accepted = 2 ** 70),
  };
  const failures = [];
  for (const [name, change] of Object.entries(variants)) {
    const s = structuredClone(base);
    change(s);
    let m;
    const restored = outcome(() => (m = book.restoreMeter(JSON.stringify(s))));
    if (restored !== "ok") {
      if (restored.startsWith("CRASH")) failures.push(`${name} / restoreMeter: ${restored}`);
      continue;
    }
    const ops = {
      record: () => m.record(goodEvent, eventAt),
      changeQuantity: () => m.changeQuantity("seats", "3", "2026-01-17T00:00:00Z"),
      previewInvoice: () => m.previewInvoice("2026-03-01T00:00:00Z"),
      allowanceState: () => m.allowanceState("2026-03-01T00:00:00Z"),
      forecast: () => m.forecast("2026-03-01T00:00:00Z"),
      closePeriod: () => m.closePeriod("2026-06-01T00:00:00Z"),
      cancel: () => m.cancel("2026-06-02T00:00:00Z", "immediate"),
    };
    for (const [op, f] of Object.entries(ops)) {
      const got = outcome(f);
      if (got.startsWith("CRASH")) failures.push(`${name} / ${op}: ${got}`);
    }
  }
  assert.deepEqual(failures, []);
});
