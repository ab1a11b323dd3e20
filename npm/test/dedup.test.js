// The dedup window through the package: a meter made by book.meter()
// takes its window from the price book's `dedup_window`, and the receipt
// time passed to meter.record(event, at) decides whether a resend is
// still a duplicate (docs/metering.md, "Deduplication").
import { test } from "node:test";
import assert from "node:assert/strict";
import { PriceBook } from "rating-engine";

function book(window) {
  return PriceBook.parse({
    format: "price-book/v1", id: "dedup", currency: "USD",
    ...(window ? { dedup_window: window } : {}),
    products: [{ id: "api", name: "API calls", type: "metered" }],
    plans: [{ id: "pro", name: "Pro", period: { unit: "month", length: 1 },
      items: [{ product: "api", price: { model: "per_unit", unit_amount: "0.01" } }] }],
  });
}

// No `time`: the usage time is the receipt time.
const event = (id, quantity = "100") => ({
  specversion: "1.0", id, source: "app", type: "api", subject: "cus_1", data: { quantity },
});

const subscription = { customer: "cus_1", plan: "pro", start: "2026-01-01T00:00:00Z" };

test("a resend inside the book's dedup_window is a duplicate, after it is rated again", () => {
  const meter = book({ unit: "hour", length: 1 }).meter(subscription);
  const first = meter.record(event("e1"), "2026-01-05T10:00:00Z");
  assert.deepEqual([first.status, first.amount], ["accepted", "1.00"]);
  const inside = meter.record(event("e1"), "2026-01-05T10:30:00Z");
  assert.deepEqual([inside.status, inside.amount], ["duplicate", "1.00"]);
  const conflict = meter.record(event("e1", "7"), "2026-01-05T10:45:00Z");
  assert.deepEqual([conflict.status, conflict.amount, conflict.conflict], ["duplicate", "1.00", true]);
  const after = meter.record(event("e1"), "2026-01-05T11:30:00Z");
  assert.deepEqual([after.status, after.amount], ["accepted", "1.00"]);
  assert.equal(meter.previewInvoice("2026-01-06T00:00:00Z").total, "2.00");
});

test("the window survives toJSON and restoreMeter", () => {
  const b = book({ unit: "hour", length: 1 });
  const a = b.meter(subscription);
  a.record(event("e1"), "2026-01-05T10:00:00Z");
  const restored = b.restoreMeter(a.toJSON());
  assert.equal(restored.record(event("e1"), "2026-01-05T10:59:00Z").status, "duplicate");
  assert.equal(restored.record(event("e1"), "2026-01-05T11:01:00Z").status, "accepted");
});

test("without dedup_window the window is 35 days", () => {
  const meter = book(null).meter(subscription);
  assert.equal(meter.record(event("e1"), "2026-01-05T10:00:00Z").status, "accepted");
  assert.equal(meter.record(event("e1"), "2026-02-09T10:00:00Z").status, "duplicate");
  assert.equal(meter.record(event("e1"), "2026-02-09T10:00:01Z").status, "accepted");
});
