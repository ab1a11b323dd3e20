// Hourly usage rollups in D1 and `GET /v1/usage` (docs/worker.md, "Usage
// rollups"), end to end on the real runtime (`wrangler dev`: local
// Durable Objects, Queue and D1): events for two customers in two hours
// (the dev clock), a duplicate and a dropped event; once the Queue has
// delivered them, the hour and day buckets hold exactly the sums of the
// accepted receipts (compared as exact decimals, never as floats).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Dev, KEYS, ROOT, event, iso } from "./harness.mjs";

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let dev = new Dev();
// Subscriptions start three hours ago; batches are received one and two
// hours after that (no `time`: the usage time is the receipt time).
const start = Math.floor(Date.now() / 1000) * 1000 - 3 * HOUR;
const CUSTOMERS = { a: "cus_use_a", b: "cus use/b" };
const PLANS = { [CUSTOMERS.a]: "starter", [CUSTOMERS.b]: "pro" };
const FROM = iso(start - DAY);
const TO = iso(Date.now() + HOUR);

/** An exact decimal string as a BigInt of 10^-18 units. */
function units(s) {
  const m = /^(-?)(\d+)(?:\.(\d{1,18}))?$/.exec(s);
  assert.ok(m, `not a decimal string: ${s}`);
  const v = BigInt(m[2] + (m[3] ?? "").padEnd(18, "0"));
  return m[1] ? -v : v;
}

const floorTo = (t, width) => Math.floor(t / width) * width;

/** GET /v1/usage for a customer (query string after it). */
function usage(customer, rest = "", key = KEYS.devRead) {
  return dev.call("GET", `/v1/usage?customer=${encodeURIComponent(customer)}${rest}`, { key });
}
const range = (granularity) =>
  `&from=${encodeURIComponent(FROM)}&to=${encodeURIComponent(TO)}&granularity=${granularity}`;

/** Posts a batch received at `at` (ms) by the dev clock. */
async function post(events, at) {
  const r = await fetch(`${dev.url}/v1/events`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${KEYS.devIngest}`,
      "content-type": "application/cloudevents-batch+json",
      "x-rating-now": iso(at),
    },
    body: JSON.stringify(events),
  });
  const body = await r.json();
  assert.equal(r.status, 200, JSON.stringify(body));
  return body.results.map((receipt, i) => ({ receipt, event: events[i], at }));
}

/** The expected buckets of a customer: the accepted receipts summed. */
function expected(sent, customer, width) {
  const groups = new Map();
  for (const { receipt, event, at } of sent) {
    if (event.subject !== customer || receipt.status !== "accepted") continue;
    const start = iso(floorTo(at, width));
    const k = JSON.stringify([start, event.type, receipt.price_key ?? ""]);
    const g = groups.get(k) ?? { start, product: event.type, price_key: receipt.price_key, quantity: 0n, events: 0, amount: 0n, currency: receipt.currency };
    g.quantity += units(event.data?.quantity ?? "1");
    g.events += 1;
    g.amount += units(receipt.amount);
    assert.equal(g.currency, receipt.currency);
    groups.set(k, g);
  }
  return [...groups.entries()].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)).map(([, g]) => g);
}

/** A bucket of the answer with its decimals as BigInt units. */
function exact(b) {
  for (const f of ["quantity", "amount"]) assert.equal(typeof b[f], "string", f);
  return { ...b, quantity: units(b.quantity), amount: units(b.amount) };
}

const sent = [];

async function startWithBook() {
  await dev.start();
  const book = JSON.parse(readFileSync(join(ROOT, "examples/worker/price-book.json"), "utf8"));
  const r = await dev.call("PUT", "/v1/price-book", { key: KEYS.devAdmin, body: book });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  for (const [customer, plan] of Object.entries(PLANS)) {
    const s = await dev.call("PUT", `/v1/customers/${encodeURIComponent(customer)}/subscription`, {
      key: KEYS.devAdmin,
      body: { plan, start: iso(start) },
    });
    assert.equal(s.status, 201, JSON.stringify(s.body));
  }
}

before(startWithBook);

after(async () => {
  await dev.stop();
  dev.cleanup();
});

test("hour and day buckets are the exact sums of the accepted receipts", { timeout: 90_000 }, async () => {
  const { a, b } = CUSTOMERS;
  sent.push(
    ...(await post(
      [
        event("u1", "sms", a, { quantity: "3", country: "US" }),
        event("u2", "sms", a, { quantity: "0.5", country: "US" }),
        event("u3", "bandwidth", a, { quantity: "12.5" }),
        event("u4", "sms", b, { quantity: "2", country: "GB" }),
        // No FR price and policy "drop": dropped, not counted.
        event("u5", "mms", a, { quantity: "1", country: "FR" }),
        event("u6", "api_calls", b, {}),
      ],
      start + HOUR,
    )),
  );
  sent.push(
    ...(await post(
      [
        event("u7", "sms", a, { quantity: "7", country: "US" }),
        event("u8", "bandwidth", a, { quantity: "0.25" }),
        // The same (source, id) again: a duplicate, not counted twice.
        event("u1", "sms", a, { quantity: "3", country: "US" }),
        event("u9", "sms", b, { quantity: "1", country: "US" }),
        event("u10", "api_calls", b, {}),
      ],
      start + 2 * HOUR,
    )),
  );
  const count = (s) => sent.filter((x) => x.receipt.status === s).length;
  assert.deepEqual([count("accepted"), count("duplicate"), count("dropped"), count("rejected")], [9, 1, 1, 0], JSON.stringify(sent));

  // The Queue delivers a moment later: poll, bounded.
  const total = async () => {
    let n = 0;
    for (const c of [a, b]) {
      const r = await usage(c, range("hour"));
      assert.equal(r.status, 200, JSON.stringify(r.body));
      n += r.body.buckets.reduce((s, x) => s + x.events, 0);
    }
    return n;
  };
  let n = 0;
  for (let i = 0; i < 120 && n < count("accepted"); i++) {
    n = await total();
    if (n < count("accepted")) await sleep(250);
  }
  assert.equal(n, count("accepted"), "the rollups never held every accepted event");
  // Settled: nothing more arrives.
  await sleep(1500);
  assert.equal(await total(), count("accepted"));

  for (const [granularity, width] of [["hour", HOUR], ["day", DAY]]) {
    for (const customer of [a, b]) {
      const r = await usage(customer, range(granularity));
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.customer, customer);
      assert.equal(r.body.granularity, granularity);
      assert.equal(r.body.from, iso(floorTo(Date.parse(FROM), width)));
      assert.ok(Date.parse(r.body.to) >= Date.parse(TO));
      const want = expected(sent, customer, width);
      assert.ok(want.length > 0);
      const got = r.body.buckets.map(exact);
      // Absent price keys are absent, not null.
      for (const x of r.body.buckets) assert.ok(!("price_key" in x) || typeof x.price_key === "string");
      assert.deepEqual(
        got.map(({ price_key, ...x }) => ({ ...x, price_key: price_key ?? undefined })),
        want.map(({ price_key, ...x }) => ({ ...x, price_key: price_key ?? undefined })),
        `${customer} by ${granularity}`,
      );
    }
  }
  // Sanity of the fixture: money was billed, in two hours.
  const hours = await usage(a, range("hour"));
  assert.ok(new Set(hours.body.buckets.map((x) => x.start)).size >= 2);
  assert.ok(hours.body.buckets.some((x) => units(x.amount) > 0n));
});

test("the default granularity is hour; from and to select buckets by start", async () => {
  const a = CUSTOMERS.a;
  const all = await usage(a, `&from=${encodeURIComponent(FROM)}&to=${encodeURIComponent(TO)}`);
  assert.equal(all.status, 200);
  assert.equal(all.body.granularity, "hour");
  // Only the first hour: [start + 1h, start + 2h) by receipt (usage) time.
  const first = iso(floorTo(start + HOUR, HOUR));
  const one = await usage(a, `&from=${encodeURIComponent(first)}&to=${encodeURIComponent(iso(floorTo(start + HOUR, HOUR) + HOUR))}`);
  assert.equal(one.status, 200, JSON.stringify(one.body));
  assert.deepEqual(one.body.buckets, all.body.buckets.filter((x) => x.start === first));
  assert.ok(one.body.buckets.length > 0);
  // Defaults: the day before now, which holds the events.
  const dflt = await usage(a);
  assert.equal(dflt.status, 200, JSON.stringify(dflt.body));
  assert.deepEqual(dflt.body.buckets, all.body.buckets);
});

test("bad parameters are 400 problems naming the field", async () => {
  const cases = [
    ["/v1/usage", "customer"],
    ["/v1/usage?customer=", "customer"],
    [`/v1/usage?customer=${CUSTOMERS.a}&granularity=week`, "granularity"],
    [`/v1/usage?customer=${CUSTOMERS.a}&from=yesterday`, "from"],
    [`/v1/usage?customer=${CUSTOMERS.a}&to=${encodeURIComponent(FROM)}&from=${encodeURIComponent(TO)}`, "to"],
  ];
  for (const [path, field] of cases) {
    const r = await dev.call("GET", path, { key: KEYS.devRead });
    assert.equal(r.status, 400, `${path}: ${JSON.stringify(r.body)}`);
    assert.match(r.headers.get("content-type") ?? "", /^application\/problem\+json/);
    assert.equal(r.body.path, field, path);
  }
});

test("read and admin keys; ingest is 403; the other tenant sees nothing", async () => {
  const a = CUSTOMERS.a;
  const mine = await usage(a, range("hour"), KEYS.devAdmin);
  assert.equal(mine.status, 200);
  assert.ok(mine.body.buckets.length > 0);
  const ingest = await usage(a, range("hour"), KEYS.devIngest);
  assert.equal(ingest.status, 403);
  assert.equal(ingest.body.code, "forbidden");
  assert.equal((await usage(a, range("hour"), "no-such-key")).status, 401);
  for (const c of Object.values(CUSTOMERS)) {
    const acme = await usage(c, range("day"), KEYS.acmeAdmin);
    assert.equal(acme.status, 200);
    assert.deepEqual(acme.body.buckets, []);
  }
});

describe("a message the Queue delivers again is counted once", () => {
  before(async () => {
    await dev.stop();
    dev.cleanup();
    // The consumer's fault hook (worker/src/forward.rs) fails every 2nd
    // batch, alternately before and after writing it to D1: the Queue
    // delivers those batches again, some of them already written.
    dev = new Dev({ vars: { FAULT_QUEUE_FAIL_EVERY: "2" } });
    await startWithBook();
  });

  test("the rollups equal the accepted receipts exactly", { timeout: 120_000 }, async () => {
    const out = [];
    const listen = (d) => out.push(String(d));
    dev.proc.stdout.on("data", listen);
    dev.proc.stderr.on("data", listen);
    const again = [];
    const now = Date.now();
    // One request per consumer batch (the Queue batches for 1 s).
    for (let i = 0; i < 8; i++) {
      const rs = await post(
        Object.values(CUSTOMERS).map((c, j) => event(`r${i}_${j}`, "sms", c, { quantity: `${i + j}.5`, country: "US" })),
        now - (i % 2) * HOUR,
      );
      for (const { receipt } of rs) assert.equal(receipt.status, "accepted", JSON.stringify(receipt));
      again.push(...rs);
      await sleep(1200);
    }
    const events = async () => {
      let n = 0;
      for (const c of Object.values(CUSTOMERS)) n += (await usage(c, range("hour"))).body.buckets.reduce((s, x) => s + x.events, 0);
      return n;
    };
    let n = 0;
    for (let i = 0; i < 120 && n < again.length; i++) {
      n = await events();
      if (n < again.length) await sleep(250);
    }
    await sleep(2000);
    assert.equal(await events(), again.length);
    dev.proc.stdout.off("data", listen);
    dev.proc.stderr.off("data", listen);
    assert.match(out.join(""), /injected fault \(FAULT_QUEUE_FAIL_EVERY\) after writing/);
    for (const customer of Object.values(CUSTOMERS)) {
      const r = await usage(customer, range("hour"));
      assert.deepEqual(r.body.buckets.map(exact), expected(again, customer, HOUR), customer);
    }
  });
});
