// POST /v1/customers/{customer}/estimate under `wrangler dev`
// (docs/worker.md, "Estimates"): for random events, the estimate is the
// receipt the same event gets when it is posted next, its allowance is the
// allowance-state after that post, and an estimate stores nothing (the
// object's keys and event counts do not move). Receipt times come from the
// dev clock (x-rating-now), so estimates and posts see the same time.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Dev, KEYS, ROOT, event, iso } from "./harness.mjs";

const BOOK = JSON.parse(readFileSync(join(ROOT, "examples/worker/price-book.json"), "utf8"));
const MINUTE = 60_000;
const dev = new Dev();
const start = Math.floor(Date.now() / 1000) * 1000;

async function at(method, path, t, key, body) {
  const r = await fetch(`${dev.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json", "x-rating-now": iso(t) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const parsed = await r.json();
  assert.equal(r.status, 200, `${method} ${path}: ${r.status} ${JSON.stringify(parsed)}`);
  return parsed;
}

/** What the object has stored: its dedup keys and events (the outbox drains on its own meanwhile). */
async function stats() {
  const c = (await dev.call("GET", "/v1/stats?customer=cus_est", { key: KEYS.devAdmin })).body.customer;
  return { dedup_keys: c.dedup_keys, events_stored: c.events_stored };
}

before(async () => {
  await dev.start();
  const book = await dev.call("PUT", "/v1/price-book", { key: KEYS.devAdmin, body: BOOK });
  assert.ok(book.status === 200 || book.status === 201, JSON.stringify(book.body));
  const sub = await dev.call("PUT", "/v1/customers/cus_est/subscription",
    { key: KEYS.devAdmin, body: { plan: "starter", start: iso(start) } });
  assert.ok(sub.status === 200 || sub.status === 201, JSON.stringify(sub.body));
});

after(async () => {
  await dev.stop();
  dev.cleanup();
});

test("an estimate is the receipt of the same event posted next, and stores nothing", async () => {
  let seed = 12345;
  const r = (n) => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) % n);
  let t = start + MINUTE;
  const sent = [];
  const seen = new Set();
  for (let i = 0; i < 60; i++) {
    t += r(20) * MINUTE;
    const type = ["api_calls", "bandwidth", "sms", "mms", "voice", "nothing"][r(6)];
    const id = sent.length && r(5) === 0 ? sent[r(sent.length)] : `est-${i}`;
    const country = ["US", "GB", "FR"][r(3)];
    const e = event(id, type, "cus_est", { quantity: `${r(3000)}.${r(10)}`, country });
    const before = await stats();
    const estimate = await at("POST", "/v1/customers/cus_est/estimate", t, KEYS.devRead, e);
    assert.deepEqual(await stats(), before, "an estimate changed the object");
    const [receipt] = (await at("POST", "/v1/events", t, KEYS.devIngest, [e])).results;
    assert.deepEqual(estimate.receipt, receipt, `event ${i}`);
    assert.equal(estimate.would_be, receipt.status);
    assert.deepEqual(estimate.error, receipt.error);
    const state = await at("GET", `/v1/customers/cus_est/allowance-state?at=${encodeURIComponent(iso(t))}`, t, KEYS.devRead);
    assert.deepEqual(estimate.allowance, state.dimensions.find((d) => d.product === type), `event ${i}`);
    assert.deepEqual(estimate.credits, []);
    sent.push(id);
    seen.add(receipt.status);
  }
  // The series went through every kind of receipt.
  assert.deepEqual([...seen].sort(), ["accepted", "dropped", "duplicate", "rejected"]);
});

test("an estimate for a customer without a subscription, or of a bad event, is its rejection", async () => {
  const t = start + 5 * MINUTE;
  const none = await at("POST", "/v1/customers/cus_nobody/estimate", t, KEYS.devRead,
    event("x1", "api_calls", "cus_nobody", { quantity: "1" }));
  const [posted] = (await at("POST", "/v1/events", t, KEYS.devIngest, [event("x1", "api_calls", "cus_nobody", { quantity: "1" })])).results;
  assert.equal(none.would_be, "rejected");
  assert.deepEqual(none.receipt, posted);
  const bad = await at("POST", "/v1/customers/cus_est/estimate", t, KEYS.devRead,
    { specversion: "1.0", id: "x2", source: "tests", type: "api_calls", subject: "cus_est", data: { quantity: "-1" } });
  assert.equal(bad.would_be, "rejected");
  assert.equal(bad.error.path, "data.quantity");
  assert.equal(bad.error.code, bad.receipt.error.code);
});

test("an ingest key may not ask for estimates", async () => {
  const r = await dev.call("POST", "/v1/customers/cus_est/estimate",
    { key: KEYS.devIngest, body: event("x3", "api_calls", "cus_est", { quantity: "1" }) });
  assert.equal(r.status, 403);
  assert.equal(r.body.code, "forbidden");
});
