// A new price book version mid-period (docs/metering.md "Price book
// versions"), on the real runtime: the open period stays on the version
// its receipts named, so its invoice is what the receipts promised, and
// the next period is billed with the new version.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Dev, KEYS, event, iso } from "./harness.mjs";

const dev = new Dev();
const HOUR = 3600_000;

const book = (platform, withBuilds) => ({
  format: "price-book/v1",
  id: "versions",
  currency: "USD",
  products: [
    { id: "platform", name: "Platform", type: "recurring" },
    ...(withBuilds ? [{ id: "builds", name: "Builds", type: "metered" }] : []),
  ],
  plans: [
    {
      id: "team",
      name: "Team",
      period: { unit: "hour", length: 1 },
      items: [
        { product: "platform", price: { model: "flat", amount: platform } },
        ...(withBuilds ? [{ product: "builds", price: { model: "per_unit", unit_amount: "20.00" } }] : []),
      ],
    },
  ],
});

/** An exact decimal string in hundredths. */
const cents = (s) => {
  const [i, f = ""] = String(s).split(".");
  return BigInt(i) * 100n + BigInt((f + "00").slice(0, 2));
};

async function putBook(b) {
  const r = await dev.call("PUT", "/v1/price-book", { key: KEYS.acmeAdmin, body: b });
  assert.ok(r.status === 200 || r.status === 201, JSON.stringify(r.body));
  return r.body.hash;
}

before(async () => {
  await dev.start();
});

after(async () => {
  await dev.stop();
  dev.cleanup();
});

test("a book changed mid-period invoices the open period as its receipts said, and the next with the new book", async () => {
  const hashA = await putBook(book("10.00", true));
  // An hourly plan whose first period ends a few seconds from now.
  const start = Date.now() - HOUR + 12_000;
  const sub = await dev.call("PUT", "/v1/customers/cus_v/subscription", {
    key: KEYS.acmeAdmin,
    body: { plan: "team", start: iso(start) },
  });
  assert.equal(sub.status, 201, JSON.stringify(sub.body));
  const end = start + HOUR;

  const before = await dev.ingest(KEYS.acmeIngest, [event("b1", "builds", "cus_v", { quantity: "1" })]);
  assert.equal(before[0].status, "accepted", JSON.stringify(before));
  assert.equal(before[0].price_book, hashA);

  // Book B drops `builds` and raises the platform fee.
  const hashB = await putBook(book("15.00", false));
  assert.notEqual(hashA, hashB);

  // The open period is still priced with A: a second build is accepted at
  // A's price, and the preview still bills both.
  const after = await dev.ingest(KEYS.acmeIngest, [event("b2", "builds", "cus_v", { quantity: "1" })]);
  assert.equal(after[0].status, "accepted", JSON.stringify(after));
  assert.equal(after[0].price_book, hashA);
  const receipts = [...before, ...after].reduce((s, r) => s + cents(r.amount), 0n);
  const preview = await dev.call("GET", "/v1/customers/cus_v/invoice-preview", { key: KEYS.acmeAdmin });
  assert.equal(preview.status, 200, JSON.stringify(preview.body));
  const builds = preview.body.lines.find((l) => l.product === "builds");
  assert.ok(builds, JSON.stringify(preview.body));
  assert.equal(cents(builds.amount), receipts);
  assert.equal(builds.amount, "40.00");
  assert.equal(preview.body.price_book, hashA);

  // After the period ends: its invoice bills the usage the receipts
  // promised (book A) and the next period's fee at book B's price.
  await new Promise((ok) => setTimeout(ok, Math.max(0, end - Date.now()) + 1500));
  const invoices = await dev.call("GET", "/v1/customers/cus_v/invoices", { key: KEYS.acmeAdmin });
  assert.equal(invoices.status, 200, JSON.stringify(invoices.body));
  const closing = invoices.body.invoices.find((inv) => inv.lines.some((l) => l.product === "builds"));
  assert.ok(closing, JSON.stringify(invoices.body));
  assert.equal(closing.price_book, hashA);
  const usage = closing.lines.filter((l) => l.product === "builds");
  assert.equal(usage.reduce((s, l) => s + cents(l.amount), 0n), receipts);
  const fee = closing.lines.find((l) => l.product === "platform");
  assert.equal(fee.amount, "15.00", JSON.stringify(closing));

  // The new period is on B: builds are no longer a product.
  const later = await dev.ingest(KEYS.acmeIngest, [event("b3", "builds", "cus_v", { quantity: "1" })]);
  assert.equal(later[0].status, "rejected", JSON.stringify(later));
  assert.equal(later[0].error.code, "unknown_product");
  const next = await dev.call("GET", "/v1/customers/cus_v/invoice-preview", { key: KEYS.acmeAdmin });
  assert.equal(next.body.price_book, hashB);
});

test("an add-on's own limit caps the quote and the events alike (tests/addon-limit)", async () => {
  const dir = new URL("../addon-limit/", import.meta.url);
  const read = (f) => readFileSync(new URL(f, dir), "utf8");
  await putBook(JSON.parse(read("book.json")));
  const over = await dev.call("POST", "/v1/quote", { key: KEYS.acmeAdmin, body: JSON.parse(read("quote-over.json")) });
  assert.equal(over.status, 422, JSON.stringify(over.body));
  assert.equal(over.body.code, "limit_exceeded");
  const at = await dev.call("POST", "/v1/quote", { key: KEYS.acmeAdmin, body: JSON.parse(read("quote-at.json")) });
  assert.equal(at.body.total, "20.00", JSON.stringify(at.body));
  const sub = await dev.call("PUT", "/v1/customers/cus_1/subscription", {
    key: KEYS.acmeAdmin,
    body: { plan: "base", addons: ["teams"] },
  });
  assert.equal(sub.status, 201, JSON.stringify(sub.body));
  // The case's events without their January times: received now.
  const events = read("events.ndjson").trim().split("\n").map((l) => {
    const e = JSON.parse(l);
    delete e.time;
    return e;
  });
  const [r1, r2] = await dev.ingest(KEYS.acmeIngest, events);
  assert.deepEqual([r1.status, r1.error?.code], ["rejected", "limit_exceeded"], JSON.stringify(r1));
  assert.deepEqual([r2.status, r2.amount], ["accepted", "10.00"], JSON.stringify(r2));
});
