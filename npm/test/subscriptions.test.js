// The shared table of subscription requests (tests/subscriptions/cases.json,
// docs/subscriptions.md) through the package: the first request is
// `book.meter(request)`, each later one `meter.apply(request, at)`. The
// engine (crates/rating/tests/subscriptions.rs) and the Worker
// (tests/worker/subscriptions.test.mjs) run the same table.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { targets } from "./targets.js";

const dir = fileURLToPath(new URL("../../tests/subscriptions/", import.meta.url));
const table = JSON.parse(readFileSync(join(dir, "cases.json"), "utf8"));
const bookText = readFileSync(join(dir, table.book), "utf8");

/** An invoice as the table writes it. */
const brief = (invoice) => ({
  total: invoice.total,
  lines: invoice.lines.map((l) => `${l.kind} ${l.plan}/${l.product} ${l.amount}`),
});

function run({ PriceBook, RatingError }, c) {
  const book = PriceBook.parse(bookText);
  const out = { invoices: [] };
  let meter;
  for (const [k, r] of c.requests.entries()) {
    const before = meter && JSON.stringify(meter);
    try {
      if (k === 0) meter = book.meter({ customer: c.customer, ...r.body });
      else meter.apply(r.body, r.at);
    } catch (e) {
      assert.ok(e instanceof RatingError, `${c.name}: ${e}`);
      out.error = { request: k, code: e.code, path: e.path };
      // A failed request changes nothing.
      if (meter) assert.equal(JSON.stringify(meter), before, c.name);
      break;
    }
    out.invoices.push(...meter.takeInvoices().map(brief));
  }
  if (meter) {
    out.subscription = meter.subscription();
    if (c.expect.preview) out.preview = meter.previewInvoice(c.expect.preview.at);
  }
  return out;
}

function check(c, got) {
  const { expect } = c;
  assert.deepEqual(got.error, expect.error, `${c.name}: error`);
  if (expect.invoices) assert.deepEqual(got.invoices, expect.invoices, `${c.name}: invoices`);
  for (const [k, v] of Object.entries(expect.subscription ?? {})) {
    const seen = k === "ended" ? got.subscription.ended_at !== undefined : got.subscription[k] ?? null;
    assert.deepEqual(seen, v, `${c.name}: subscription.${k}`);
  }
  if (expect.preview) {
    assert.deepEqual({ at: expect.preview.at, ...brief(got.preview) }, expect.preview, `${c.name}: preview`);
  }
}

for (const name of ["node", "web"]) {
  test(`tests/subscriptions/cases.json through the package (${name} build)`, () => {
    assert.ok(table.cases.length >= 15);
    for (const c of table.cases) check(c, run(targets[name], c));
  });
}

test("meter.apply reads strictly and throws RatingError with every problem", () => {
  const { PriceBook, RatingError } = targets.node;
  const book = PriceBook.parse(bookText);
  const meter = book.meter({ customer: "c", plan: "team", start: "2026-03-02T00:00:00Z", quantities: { seats: 3 } });
  assert.equal(meter.takeInvoices().length, 1);
  assert.throws(
    () => meter.apply({ plna: "team", cancel: "soon" }, "2026-03-12T00:00:00Z"),
    (e) =>
      e instanceof RatingError &&
      e.code === "invalid_request" &&
      JSON.stringify(e.errors.map((p) => [p.code, p.path])) === JSON.stringify([["invalid_value", "cancel"], ["unknown_field", "plna"]]),
  );
  // Quantities as JS numbers are read by their shortest text.
  const view = meter.apply({ quantities: { seats: 4 } }, new Date("2026-03-12T00:00:00Z"));
  assert.deepEqual(view.quantities, { seats: "4" });
  // The proration waits for the next invoice; nothing is issued now.
  assert.equal(meter.takeInvoices().length, 0);
  assert.deepEqual(meter.subscription(), view);
});
