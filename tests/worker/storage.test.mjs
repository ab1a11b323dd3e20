// The customer object stays bounded (docs/worker.md "What the object
// keeps"), on the real runtime: after 20,000 events and the Queue's drain,
// the object holds no message the log already has, only the dedup keys
// of the window; the log holds every event once; the rows the object
// wrote per event are about one (its dedup key, plus the request's meter
// and outbox rows shared by the batch).

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Dev, KEYS, ROOT, event, iso } from "./harness.mjs";

const BOOK_PATH = join(ROOT, "examples/worker/price-book.json");
const EVENTS = Number(process.env.STORAGE_EVENTS ?? 20000);
const BATCH = 500;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const dev = new Dev();

before(async () => {
  await dev.start();
  const r = await dev.call("PUT", "/v1/price-book", { key: KEYS.devAdmin, raw: readFileSync(BOOK_PATH, "utf8") });
  assert.equal(r.status, 201, JSON.stringify(r.body));
});

after(async () => {
  await dev.stop();
  dev.cleanup();
});

/** The object's and the consumer's counters. */
async function stats(customer) {
  const r = await dev.call("GET", `/v1/stats?customer=${customer}`, { key: KEYS.devAdmin });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

test(`after ${EVENTS} events the object holds no logged message, and writes about one row per event`, { timeout: 600_000 }, async () => {
  const c = "cus_bounded";
  const sub = await dev.call("PUT", `/v1/customers/${c}/subscription`, {
    key: KEYS.devAdmin,
    body: { plan: "pro", start: iso(Date.now() - 86400_000), quantities: { seats: "2" } },
  });
  assert.equal(sub.status, 201, JSON.stringify(sub.body));
  const before = await stats(c);
  let accepted = 0;
  for (let i = 0; i < EVENTS; i += BATCH) {
    const batch = [];
    for (let j = i; j < Math.min(EVENTS, i + BATCH); j++) {
      batch.push(j % 3 === 0 ? event(`b${j}`, "sms", c, { quantity: "1", country: "US" }) : event(`b${j}`, "api_calls", c));
    }
    // Every tenth batch sends its first event again: a duplicate, no row.
    if (i % (10 * BATCH) === 0) batch.push(batch[0]);
    const rs = await dev.ingest(KEYS.devIngest, batch);
    accepted += rs.filter((r) => r.status === "accepted").length;
  }
  assert.equal(accepted, EVENTS);
  // The Queue drains; each message leaves the object once the log has it.
  let s;
  for (let i = 0; i < 240; i++) {
    s = await stats(c);
    if (s.customer.outbox_messages === 0) break;
    await sleep(500);
  }
  assert.equal(s.customer.outbox_messages, 0, JSON.stringify(s));
  assert.equal(s.customer.outbox_events, 0);
  // Only the dedup keys of the window stay (the book's window is longer
  // than this test).
  assert.equal(s.customer.dedup_keys, EVENTS);
  // Every event once in the log.
  const log = await dev.exportLines(`?customer=${c}`);
  assert.equal(log.status, 200);
  assert.equal(log.lines.length, EVENTS);
  assert.equal(new Set(log.lines.map((l) => l.id)).size, EVENTS);
  // Rows written per event: the dedup key and its index entry, plus per
  // request the meter, the sequence counters and the outbox message (and
  // its deletion), shared by the batch's events.
  const stored = s.customer.events_stored;
  assert.equal(stored, EVENTS);
  const perEvent = s.customer.rows_written / stored;
  const consumer = {
    events: s.consumer.events - before.consumer.events,
    d1_rows: s.consumer.d1_rows - before.consumer.d1_rows,
    log_bytes: s.consumer.log_bytes - before.consumer.log_bytes,
  };
  console.log(
    `# storage: ${JSON.stringify({ events: EVENTS, object_rows_per_event: perEvent, d1_rows_per_event: consumer.d1_rows / EVENTS, log_bytes_per_event: consumer.log_bytes / EVENTS })}`,
  );
  assert.ok(perEvent >= 1 && perEvent < 1.1, `object rows per event: ${perEvent}`);
  // The rollups: a few rows per message, not one per event.
  assert.ok(consumer.d1_rows / EVENTS < 0.2, `D1 rows per event: ${consumer.d1_rows / EVENTS}`);
});

test("issued invoices reach D1 once: GET /v1/invoices equals each customer's own list", async () => {
  // Subscriptions that started months ago: the meter issues the past
  // periods' invoices at once, through the outbox.
  const DAY = 86400_000;
  const customers = ["cus_inv_a", "cus_inv_b"];
  for (const [i, c] of customers.entries()) {
    const r = await dev.call("PUT", `/v1/customers/${c}/subscription`, {
      key: KEYS.devAdmin,
      body: { plan: i === 0 ? "pro" : "starter", start: iso(Date.now() - (70 + 30 * i) * DAY) },
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  }
  const own = {};
  // The first test's customer is the tenant's too.
  for (const c of ["cus_bounded", ...customers]) {
    const r = await dev.call("GET", `/v1/customers/${c}/invoices`, { key: KEYS.devRead });
    own[c] = r.body.invoices;
    if (c !== "cus_bounded") assert.ok(own[c].length >= 2, `${c}: ${own[c].length} invoices`);
  }
  const want = Object.values(own).flat().length;
  let all;
  for (let i = 0; i < 120; i++) {
    all = await dev.call("GET", "/v1/invoices?limit=1000", { key: KEYS.devRead });
    assert.equal(all.status, 200, JSON.stringify(all.body));
    if (all.body.total >= want) break;
    await sleep(250);
  }
  assert.equal(all.body.total, want);
  for (const c of Object.keys(own)) {
    const mine = await dev.call("GET", `/v1/invoices?customer=${c}`, { key: KEYS.devRead });
    assert.deepEqual(mine.body.invoices, own[c], c);
  }
  // Oldest first; `from`/`to` select by issued_at.
  const issued = all.body.invoices.map((v) => Date.parse(v.issued_at));
  assert.deepEqual(issued, [...issued].sort((a, b) => a - b));
  const mid = all.body.invoices[Math.floor(want / 2)].issued_at;
  const before = await dev.call("GET", `/v1/invoices?to=${encodeURIComponent(mid)}`, { key: KEYS.devRead });
  const after = await dev.call("GET", `/v1/invoices?from=${encodeURIComponent(mid)}`, { key: KEYS.devRead });
  assert.equal(before.body.total + after.body.total, want);
  assert.ok(before.body.invoices.every((v) => Date.parse(v.issued_at) < Date.parse(mid)));
  const bad = await dev.call("GET", "/v1/invoices?from=yesterday", { key: KEYS.devRead });
  assert.equal(bad.status, 400);
});
