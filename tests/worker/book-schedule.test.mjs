// Price book versions over time (docs/worker.md "Price books",
// docs/subscriptions.md "Price book versions"), on the real runtime with
// the dev clock (x-rating-now), so months pass in seconds:
// - a version PUT with ?effective_from becomes active at that time, for
//   reads, quotes and new periods alike;
// - a subscription with pin_price_book keeps its version (and its prices)
//   through a change, while an unpinned one moves at its next period;
// - PUT .../subscription {"price_book": "latest"} moves a pinned one: at
//   once with proration (one invoice per version, receipts adding up to
//   each), or at its next period start.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Dev, KEYS, event, iso } from "./harness.mjs";

const dev = new Dev();
const DAY = 86400_000;
// Times start now (to the second): the objects' own alarms run on the
// real clock and must find nothing due during the test.
const T0 = Math.floor(Date.now() / 1000) * 1000;

const book = (platform, build) => ({
  format: "price-book/v1", id: "schedule", currency: "USD", proration: "by_second",
  products: [
    { id: "platform", name: "Platform", type: "recurring" },
    { id: "builds", name: "Builds", type: "metered" },
  ],
  plans: [{
    id: "team", name: "Team", period: { unit: "day", length: 10 },
    items: [
      { product: "platform", price: { model: "flat", amount: platform } },
      { product: "builds", price: { model: "per_unit", unit_amount: build } },
    ],
  }],
});
const A = book("10.00", "20.00");
const B = book("15.00", "30.00");

/** A call at dev time `t` (ms). */
async function at(t, method, path, body, key = KEYS.devAdmin) {
  const r = await fetch(`${dev.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json", "x-rating-now": iso(t) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let parsed = text;
  try { parsed = JSON.parse(text); } catch {}
  return { status: r.status, body: parsed };
}

async function ok(t, method, path, body, key) {
  const r = await at(t, method, path, body, key);
  assert.ok(r.status >= 200 && r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

const build = (id, customer) => event(id, "builds", customer, { quantity: "1" });
async function send(t, ...events) {
  return (await ok(t, "POST", "/v1/events", events, KEYS.devIngest)).results;
}

/** Exact decimal strings in hundredths, as BigInt. */
const cents = (s) => {
  const neg = s.startsWith("-");
  const [i, f = ""] = s.replace("-", "").split(".");
  const v = BigInt(i) * 100n + BigInt((f + "00").slice(0, 2));
  return neg ? -v : v;
};

let hashA;
let hashB;
/** cus_pinned's receipt on day 21 (test 2), billed when it moves (test 3). */
let p21Amount;

before(async () => {
  await dev.start();
  hashA = (await ok(T0, "PUT", "/v1/price-book", A)).hash;
});

after(async () => {
  await dev.stop();
  dev.cleanup();
});

test("a version scheduled with effective_from becomes active at its time", async () => {
  const past = await at(T0, "PUT", `/v1/price-book?effective_from=${encodeURIComponent(iso(T0 - DAY))}`, B);
  assert.equal(past.status, 422, JSON.stringify(past.body));
  assert.deepEqual([past.body.code, past.body.path], ["invalid_value", "effective_from"]);

  const when = T0 + 15 * DAY;
  const put = await ok(T0, "PUT", `/v1/price-book?effective_from=${encodeURIComponent(iso(when))}`, B);
  hashB = put.hash;
  assert.equal(put.effective_from, iso(when));
  // Scheduling the same book for the same time again changes nothing.
  const again = await at(T0, "PUT", `/v1/price-book?effective_from=${encodeURIComponent(iso(when))}`, B);
  assert.deepEqual([again.status, again.body.version], [200, put.version]);

  assert.equal((await ok(T0, "GET", "/v1/price-book")).hash, hashA);
  assert.equal((await ok(when - 1000, "GET", "/v1/price-book")).hash, hashA);
  assert.equal((await ok(when, "GET", "/v1/price-book")).hash, hashB);
  assert.equal((await ok(T0, "GET", `/v1/price-book?at=${encodeURIComponent(iso(when))}`)).hash, hashB);
  assert.equal((await ok(T0, "GET", `/v1/price-book?version=${put.version}`)).hash, hashB);

  const quote = async (t) => (await ok(t, "POST", "/v1/quote", { plan: "team", usage: { builds: "1" } }, KEYS.devRead)).total;
  assert.equal(await quote(T0), "30.00");
  assert.equal(await quote(when), "45.00");
});

test("a pinned subscription keeps its version; an unpinned one moves at its next period", async () => {
  // Both start at T0 on A; B is active from T0 + 15 days (the test above).
  await ok(T0, "PUT", "/v1/customers/cus_pinned/subscription", { plan: "team", start: iso(T0), pin_price_book: true });
  await ok(T0, "PUT", "/v1/customers/cus_moving/subscription", { plan: "team", start: iso(T0) });
  await ok(T0, "PUT", "/v1/customers/cus_later/subscription", { plan: "team", start: iso(T0), pin_price_book: true });
  const view = await ok(T0, "GET", "/v1/customers/cus_pinned/subscription");
  assert.equal(view.pin_price_book, true);

  // Period 2 (days 10-20) opened on A for both; B became active on day
  // 15, so an event on day 16 is still priced with A.
  const [p16, m16] = await send(T0 + 16 * DAY, build("b16", "cus_pinned"), build("b16", "cus_moving"));
  assert.deepEqual([p16.amount, p16.price_book, m16.amount, m16.price_book], ["20.00", hashA, "20.00", hashA]);
  // Period 3 (days 20-30): the unpinned one is on B, the pinned one stays on A.
  const [p21, m21] = await send(T0 + 21 * DAY, build("b21", "cus_pinned"), build("b21", "cus_moving"));
  assert.deepEqual([p21.amount, p21.price_book], ["20.00", hashA]);
  p21Amount = p21.amount;
  assert.deepEqual([m21.amount, m21.price_book], ["30.00", hashB]);
  // The invoice issued on day 20 bills period 2's usage (priced with A,
  // and named A) and period 3's platform fee in advance: A's for the
  // pinned one, B's for the other.
  const issued20 = async (c) => {
    const list = (await ok(T0 + 21 * DAY, "GET", `/v1/customers/${c}/invoices`)).invoices;
    const inv = list.find((i) => i.issued_at === iso(T0 + 20 * DAY));
    assert.ok(inv, JSON.stringify(list));
    return [inv.price_book, inv.lines.find((l) => l.kind === "recurring").amount];
  };
  assert.deepEqual(await issued20("cus_pinned"), [hashA, "10.00"]);
  assert.deepEqual(await issued20("cus_moving"), [hashA, "15.00"]);
});

test("price_book latest moves a pinned subscription at once, prorated, one invoice per version", async () => {
  const t = T0 + 25 * DAY; // half of period 3 (days 20-30) is left
  const [before] = await send(t - 1000, build("b25", "cus_pinned"));
  assert.deepEqual([before.amount, before.price_book], ["20.00", hashA]);
  const r = await ok(t, "PUT", "/v1/customers/cus_pinned/subscription", { price_book: "latest", transition: "immediate" });
  assert.equal(r.price_book, hashB);
  assert.equal(r.pin_price_book, undefined);
  assert.equal(r.invoices.length, 2, JSON.stringify(r.invoices));
  const [old, fresh] = r.invoices;
  // The old version's part: the usage its receipts priced (b21, b25) and
  // the unused half of the platform fee paid in advance, credited.
  assert.equal(old.price_book, hashA);
  assert.deepEqual([old.period.start, old.period.end], [iso(T0 + 20 * DAY), iso(t)]);
  const usage = old.lines.filter((l) => l.kind === "usage");
  assert.equal(usage.reduce((s, l) => s + cents(l.amount), 0n), cents(p21Amount) + cents(before.amount));
  const credit = old.lines.find((l) => l.kind === "credit");
  assert.equal(credit.amount, "-5.00");
  // The new version's part: half of B's platform fee for the rest.
  assert.equal(fresh.price_book, hashB);
  assert.deepEqual([fresh.period.start, fresh.period.end, fresh.total], [iso(t), iso(T0 + 30 * DAY), "7.50"]);
  // Events after the move are priced with B.
  const [after] = await send(t + 1000, build("b25b", "cus_pinned"));
  assert.deepEqual([after.amount, after.price_book], ["30.00", hashB]);
});

test("price_book latest with period_end moves at the next period start", async () => {
  const r = await ok(T0 + 22 * DAY, "PUT", "/v1/customers/cus_later/subscription", { price_book: "latest", transition: "period_end" });
  assert.deepEqual([r.price_book, r.invoices.length], [hashA, 0]);
  const [in3] = await send(T0 + 23 * DAY, build("l23", "cus_later"));
  assert.deepEqual([in3.amount, in3.price_book], ["20.00", hashA]);
  const [in4] = await send(T0 + 31 * DAY, build("l31", "cus_later"));
  assert.deepEqual([in4.amount, in4.price_book], ["30.00", hashB]);
});

test("pin_price_book: true with price_book latest is refused, naming the field", async () => {
  const r = await at(T0 + 22 * DAY, "PUT", "/v1/customers/cus_later/subscription", { price_book: "latest", pin_price_book: true });
  assert.equal(r.status, 422, JSON.stringify(r.body));
  assert.ok(r.body.errors.some((e) => e.path === "pin_price_book"), JSON.stringify(r.body));
  const bad = await at(T0 + 22 * DAY, "PUT", "/v1/customers/cus_later/subscription", { price_book: "v2" });
  assert.equal(bad.status, 422);
  assert.ok(bad.body.errors.some((e) => e.path === "price_book"), JSON.stringify(bad.body));
});
