// An add-on's own limit (tests/addon-limit/README.md), through the
// package: book.quote() refuses the usage above it, and a meter rejects the
// event that would pass it, with the same code; within it both agree.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { PriceBook, RatingError } from "rating-engine";

const dir = new URL("../../tests/addon-limit/", import.meta.url);
const read = (f) => readFileSync(new URL(f, dir), "utf8");
const book = PriceBook.parse(read("book.json"));

test("quote: usage above an add-on's limit is limit_exceeded", () => {
  assert.throws(() => book.quote(JSON.parse(read("quote-over.json"))), (e) => {
    assert.ok(e instanceof RatingError);
    assert.equal(e.code, "limit_exceeded");
    assert.equal(e.path, "usage.projects");
    return true;
  });
  assert.equal(book.quote(JSON.parse(read("quote-at.json"))).total, "20.00");
});

test("meter: the event above an add-on's limit is rejected with the same code", () => {
  const [sub] = JSON.parse(read("subscriptions.json"));
  const meter = book.meter(sub);
  const [over, within] = read("events.ndjson").trim().split("\n").map((l) => JSON.parse(l));
  const r1 = meter.record(over, over.time);
  assert.deepEqual([r1.status, r1.error?.code], ["rejected", "limit_exceeded"]);
  const r2 = meter.record(within, within.time);
  assert.deepEqual([r2.status, r2.amount], ["accepted", "10.00"]);
  const preview = meter.previewInvoice("2026-01-20T00:00:00Z");
  assert.equal(preview.lines.find((l) => l.product === "projects").amount, "10.00");
});
