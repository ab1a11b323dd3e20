// The JS surface of the package: argument conversions, RatingError, the
// meter's methods and state export, and the module entries.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import init, { PriceBook, Meter, RatingError, validateEvent } from "rating-engine";

const root = fileURLToPath(new URL("../../", import.meta.url));
const read = (p) => readFileSync(root + p, "utf8");
const hybridText = read("examples/hybrid.json");
const hybrid = PriceBook.parse(hybridText);

/** Calls f and returns the RatingError it throws. */
function thrown(f) {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof RatingError, `not a RatingError: ${e}`);
    return e;
  }
  assert.fail("did not throw");
}

test("init() resolves in Node and the entry exports the API", async () => {
  await init();
  for (const f of [PriceBook, Meter, RatingError, validateEvent]) assert.equal(typeof f, "function");
});

test("require() and import share one instance", () => {
  const require = createRequire(import.meta.url);
  const cjs = require("rating-engine");
  assert.equal(cjs.RatingError, RatingError);
  assert.equal(cjs.PriceBook, PriceBook);
  const e = thrown(() => cjs.PriceBook.parse("{}"));
  assert.ok(e instanceof cjs.RatingError);
});

test("PriceBook.parse takes JSON text or an object; the hash is the CLI's", () => {
  const fromObject = PriceBook.parse(JSON.parse(hybridText));
  assert.equal(fromObject.hash, hybrid.hash);
  assert.match(hybrid.hash, /^sha256:[0-9a-f]{64}$/);
  assert.equal(hybrid.id, "messaging-hybrid");
  // toJSON round-trips to the same book.
  assert.equal(PriceBook.parse(JSON.stringify(hybrid)).hash, hybrid.hash);
  assert.equal(PriceBook.parse(hybrid.toJSON()).hash, hybrid.hash);
});

test("RatingError: an Error subclass with code, path and every problem", () => {
  const e = thrown(() => PriceBook.parse({ format: "price-book/v1", id: "x", currency: "USD", products: [], plans: [], extra: 1 }));
  assert.ok(e instanceof Error);
  assert.equal(e.name, "RatingError");
  assert.equal(e.code, "unknown_field");
  assert.equal(e.path, "extra");
  assert.deepEqual(e.errors.map((p) => [p.code, p.path]), [["unknown_field", "extra"]]);
  assert.match(String(e.stack), /RatingError/);

  const many = thrown(() => PriceBook.parse("{}"));
  assert.equal(many.code, "missing_field");
  assert.equal(many.path, undefined);
  assert.ok(many.errors.length > 1);

  const json = thrown(() => PriceBook.parse("{"));
  assert.equal(json.code, "invalid_json");
});

test("bad requests raise the engine's codes and paths", () => {
  const cases = [
    [{ plan: "nope" }, "unknown_plan", "plan"],
    [{ plan: "starter", usage: { messages: "-1" } }, "negative_value", "usage.messages"],
    [{ plan: "starter", usage: { messages: "abc" } }, "invalid_decimal", "usage.messages"],
    [{ plan: "starter", usage: { messages: Infinity } }, "invalid_type", "usage.messages"],
    [{ plan: "starter", usage: { nope: "1" } }, "unknown_product", "usage.nope"],
    [{ plan: "starter", extra: true }, "unknown_field", "extra"],
  ];
  for (const [request, code, path] of cases) {
    const e = thrown(() => hybrid.quote(request));
    assert.equal(e.code, code, JSON.stringify(request));
    assert.equal(e.path, path, JSON.stringify(request));
  }
  assert.equal(thrown(() => hybrid.quote(undefined)).code, "invalid_type");
  assert.equal(thrown(() => hybrid.quote({ plan: "starter", usage: { messages: 10n } })).code, "invalid_json");
  assert.equal(thrown(() => hybrid.compare({ plan: "starter" })).code, "unknown_field");
});

test("decimals from JS numbers are read by their shortest text, never as doubles", () => {
  const book = PriceBook.parse({
    format: "price-book/v1", id: "n", currency: "USD",
    products: [{ id: "api", name: "API", type: "metered" }],
    plans: [{ id: "p", name: "P", period: { unit: "month", length: 1 },
      items: [{ product: "api", price: { model: "per_unit", unit_amount: 0.1 } }] }],
  });
  // 0.1 × 3 is 0.30000000000000004 in doubles; exactly 0.30 here.
  const q = book.quote({ plan: "p", usage: { api: 3 } });
  assert.equal(q.total, "0.30");
  assert.equal(book.quote({ plan: "p", usage: { api: 0.3 } }).lines[0].amount, "0.03");
  // A number and its string give the same quote; text and object APIs too.
  const asNumber = book.quote({ plan: "p", usage: { api: 1234.5678 } });
  assert.deepEqual(asNumber, book.quote({ plan: "p", usage: { api: "1234.5678" } }));
  assert.deepEqual(JSON.parse(book.quoteJson('{"plan": "p", "usage": {"api": 1234.5678}}')), asNumber);
  for (const v of Object.values(asNumber)) assert.notEqual(typeof v, "number");
});

test("quote and compare on the hybrid book", () => {
  const q = hybrid.quote({ plan: "starter", usage: { messages: "15000" } });
  assert.equal(q.total, "74.00");
  assert.equal(q.price_book, hybrid.hash);
  assert.deepEqual(q.lines.map((l) => [l.product, l.amount]), [
    ["platform", "49.00"], ["messages", "25.00"], ["users", "0.00"], ["channels", "0.00"],
  ]);
  const c = hybrid.compare(read("examples/compare-usage.json"));
  assert.equal(c.cheapest, c.plans[0].plan);
  assert.deepEqual(c.plans.map((p) => p.plan).sort(), ["enterprise", "professional", "starter"]);
});

test("validateEvent returns what the engine read, or throws its problem", () => {
  const ev = { specversion: "1.0", id: "e1", source: "s", type: "messages", subject: "cus_1", time: "2026-11-23T10:00:00Z", data: { quantity: 12.5, tld: ".io" } };
  assert.deepEqual(validateEvent(ev), { id: "e1", source: "s", product: "messages", customer: "cus_1", time: "2026-11-23T10:00:00Z", quantity: "12.5" });
  const bad = thrown(() => validateEvent({ ...ev, data: { quantity: "-3" } }));
  assert.equal(bad.code, "negative_value");
  assert.equal(bad.path, "data.quantity");
  assert.equal(thrown(() => validateEvent({ ...ev, specversion: "0.3" })).path, "specversion");
  assert.equal(thrown(() => validateEvent({ ...ev, id: undefined })).code, "missing_field");
});

const event = (id, type, quantity, time, extra = {}) => ({
  specversion: "1.0", id, source: "app", type, subject: "cus_1", time, data: { quantity, ...extra },
});

test("a meter: receipts, allowances, preview, forecast, close", () => {
  const meter = hybrid.meter({ customer: "cus_1", plan: "starter", start: "2026-11-01T00:00:00Z" });
  assert.ok(meter instanceof Meter);
  assert.equal(meter.customer, "cus_1");
  assert.equal(meter.plan, "starter");
  const first = meter.takeInvoices();
  assert.equal(first.length, 1);
  assert.equal(first[0].total, "49.00");

  const r1 = meter.record(event("e1", "messages", "9000", "2026-11-03T00:00:00Z"), "2026-11-03T00:00:01Z");
  assert.deepEqual([r1.status, r1.amount], ["accepted", "0.00"]);
  const r2 = meter.record(event("e2", "messages", "2000", "2026-11-04T00:00:00Z"), new Date("2026-11-04T00:00:01Z"));
  assert.deepEqual([r2.status, r2.amount], ["accepted", "5.00"]);
  const dup = meter.record(event("e2", "messages", "2000", "2026-11-04T00:00:00Z"), "2026-11-04T00:00:02Z");
  assert.deepEqual([dup.status, dup.amount], ["duplicate", "5.00"]);
  const rejected = meter.record({ ...event("e3", "messages", "1", "2026-11-04T00:00:00Z"), subject: "cus_2" }, "2026-11-04T00:00:02Z");
  assert.equal(rejected.status, "rejected");
  assert.equal(rejected.error.path, "subject");
  // Text that is not JSON is not an event at all: thrown, like a bad argument.
  assert.equal(thrown(() => meter.record("not json", "2026-11-04T00:00:02Z")).code, "invalid_json");
  assert.equal(meter.record("[1]", "2026-11-04T00:00:02Z").status, "rejected");
  const batch = meter.recordBatch([event("e4", "users", "7", "2026-11-05T00:00:00Z"), { specversion: "1.0" }], "2026-11-05T00:00:01Z");
  assert.deepEqual(batch.map((r) => r.status), ["accepted", "rejected"]);

  const state = meter.allowanceState("2026-11-10T00:00:00Z");
  const messages = state.dimensions.find((d) => d.product === "messages");
  assert.deepEqual([messages.included, messages.used, messages.remaining, messages.billable_usage, messages.overage_amount, messages.percent_used],
    ["10000", "11000", "0", "1000", "5.00", "110"]);
  assert.equal(state.period.end, "2026-12-01T00:00:00Z");

  const preview = meter.previewInvoice("2026-11-10T00:00:00Z");
  assert.equal(preview.total, "25.00");
  assert.ok(meter.forecast("2026-11-10T00:00:00Z"));
  assert.deepEqual(meter.closePeriod("2026-11-30T00:00:00Z"), []);
  const closed = meter.closePeriod("2026-12-01T00:00:00Z");
  assert.equal(closed.length, 1);
  assert.equal(closed[0].period.start, "2026-11-01T00:00:00Z");
  assert.ok(closed[0].lines.some((l) => l.kind === "usage" && l.product === "messages" && l.amount === "5.00"));
});

test("a meter's state survives toJSON and restoreMeter", () => {
  const a = hybrid.meter({ customer: "cus_1", plan: "professional", start: "2026-11-01T00:00:00Z" });
  a.record(event("e1", "messages", "60000", "2026-11-02T00:00:00Z"), "2026-11-02T00:00:00Z");
  const b = hybrid.restoreMeter(JSON.stringify(a));
  const c = hybrid.restoreMeter(a.toJSON());
  for (const m of [a, b, c]) m.record(event("e2", "messages", "1000", "2026-11-03T00:00:00Z"), "2026-11-03T00:00:00Z");
  // The dedup keys come along: e1 again is a duplicate everywhere.
  for (const m of [a, b, c]) assert.equal(m.record(event("e1", "messages", "60000", "2026-11-02T00:00:00Z"), "2026-11-04T00:00:00Z").status, "duplicate");
  const at = "2026-11-20T00:00:00Z";
  assert.deepEqual(b.previewInvoice(at), a.previewInvoice(at));
  assert.deepEqual(c.allowanceState(at), a.allowanceState(at));
  assert.equal(JSON.stringify(b), JSON.stringify(a));
  assert.equal(thrown(() => hybrid.restoreMeter({ nope: 1 })).code, "invalid_value");
});

test("meter changes: seats, plan transitions, cancellation", () => {
  const saas = PriceBook.parse(read("examples/replay/book.json"));
  const m = saas.meter({ customer: "cus_1", plan: "pro", start: "2026-01-01T00:00:00Z", quantities: { seats: 2 } });
  m.changeQuantity("seats", 5, "2026-01-13T00:00:00Z");
  assert.equal(thrown(() => m.changeQuantity("seats", "-1", "2026-01-14T00:00:00Z")).path, "quantities.seats");
  assert.equal(thrown(() => m.changeQuantity("bandwidth", "3", "2026-01-14T00:00:00Z")).code, "invalid_usage");
  assert.equal(thrown(() => m.changeQuantity("seats", "3", "yesterday")).code, "invalid_timestamp");
  assert.equal(thrown(() => m.transitionPlan("nope", "2026-01-20T00:00:00Z")).code, "unknown_plan");
  assert.equal(thrown(() => m.cancel("2026-01-20T00:00:00Z", "later")).code, "invalid_value");
  m.transitionPlan("hobby", "2026-01-20T00:00:00Z", "period_end");
  assert.equal(m.plan, "pro");
  m.closePeriod("2026-02-01T00:00:00Z");
  assert.equal(m.plan, "hobby");
  assert.ok(m.takeRecords().some((r) => r.type === "subscription.plan_changed"));
  assert.equal(m.endedAt, undefined);
  m.cancel("2026-02-10T00:00:00Z", "immediate");
  assert.equal(m.endedAt, "2026-02-10T00:00:00Z");
  assert.equal(thrown(() => m.cancel("2026-02-11T00:00:00Z")).code, "subscription_ended");
});

test("credits: purchaseCredits puts a pack on an invoice", () => {
  const book = PriceBook.parse(read("examples/credits.json"));
  const doc = book.toJSON();
  const plan = doc.plans.find((p) => !p.addon);
  const pack = doc.credit_packs[0];
  const m = book.meter({ customer: "cus_1", plan: plan.id, start: "2026-01-01T00:00:00Z" });
  m.takeInvoices();
  m.purchaseCredits(pack.id, "2026-01-02T00:00:00Z");
  const [inv] = m.takeInvoices();
  assert.equal(inv.issued_at, "2026-01-02T00:00:00Z");
  assert.ok(inv.lines.length >= 1);
  assert.equal(thrown(() => m.purchaseCredits("nope", "2026-01-03T00:00:00Z")).code, "unknown_pack");
});

test("bad subscriptions name their field", () => {
  assert.equal(thrown(() => hybrid.meter({ customer: "c", plan: "starter" })).path, "start");
  assert.equal(thrown(() => hybrid.meter({ customer: "c", plan: "nope", start: "2026-01-01T00:00:00Z" })).code, "unknown_plan");
  assert.equal(thrown(() => hybrid.meter({ customer: "c", plan: "starter", start: "2026-01-01T00:00:00Z", extra: 1 })).path, "extra");
});

test("records: every type comes through the package, tagged by `type`", async () => {
  const { everyRecord, RECORD_TYPES } = await import("./records.js");
  const records = everyRecord(PriceBook);
  assert.deepEqual([...new Set(records.map((r) => r.type))].sort(), [...RECORD_TYPES].sort());
  for (const r of records) assert.equal(r.customer, "c");
  const crossed = records.find((r) => r.type === "allowance.threshold_reached");
  assert.deepEqual(crossed, {
    type: "allowance.threshold_reached", customer: "c", at: "2026-01-02T00:00:00Z", event: "e1", source: "test",
    product: "api", threshold: "10", used: "150", limit: "1000",
    period: { start: "2026-01-01T00:00:00Z", end: "2026-02-01T00:00:00Z" },
  });
  const dropped = records.find((r) => r.type === "usage_event.dropped");
  assert.deepEqual([dropped.event, dropped.product, dropped.price_key], ["e3", "domain", ".xyz"]);
  // Records are taken once.
  const m = PriceBook.parse(read("examples/replay/book.json")).meter({ customer: "c", plan: "pro", start: "2026-01-01T00:00:00Z" });
  assert.equal(m.takeRecords()[0].type, "subscription.created");
  assert.deepEqual(m.takeRecords(), []);
});
