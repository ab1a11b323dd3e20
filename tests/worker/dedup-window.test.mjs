// The Worker honours the price book's `dedup_window` (docs/worker.md,
// "Deduplication"): a resend inside the window is a duplicate repeating
// the first receipt, a resend after it is rated again. The receipt times
// are set with the dev clock (the x-rating-now header, honoured because
// worker/dev.vars sets RATING_DEV_CLOCK; docs/worker.md, "Setting the
// clock in development"), so an hour-long window takes no hour to test.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Dev, KEYS, ROOT, event, iso } from "./harness.mjs";

const BOOK = JSON.parse(readFileSync(join(ROOT, "examples/worker/price-book.json"), "utf8"));
const MINUTE = 60_000;

const dev = new Dev();
// Receipt times start a minute after the subscriptions do.
const start = Math.floor(Date.now() / 1000) * 1000;
const T0 = start + MINUTE;

/** Posts events received at `at` (ms) by the dev clock. */
async function sendAt(key, events, at) {
  const r = await fetch(`${dev.url}/v1/events`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${key}`,
      "content-type": "application/cloudevents-batch+json",
      "x-rating-now": iso(at),
    },
    body: JSON.stringify(events),
  });
  const body = await r.json();
  assert.equal(r.status, 200, JSON.stringify(body));
  return body.results;
}

async function put(key, path, body) {
  const r = await dev.call("PUT", path, { key, body });
  assert.ok(r.status === 200 || r.status === 201, `${path}: ${r.status} ${JSON.stringify(r.body)}`);
}

// No `time`: the usage time is the receipt time.
const calls = (id, customer) => event(id, "api_calls", customer, { quantity: "5" });

before(async () => {
  await dev.start();
  // Tenant dev: the example book with a one-hour window; acme: the
  // example book as it is (no dedup_window: 35 days).
  await put(KEYS.devAdmin, "/v1/price-book", { ...BOOK, dedup_window: { unit: "hour", length: 1 } });
  await put(KEYS.acmeAdmin, "/v1/price-book", BOOK);
  for (const key of [KEYS.devAdmin, KEYS.acmeAdmin]) {
    await put(key, "/v1/customers/cus_dedup/subscription", { plan: "starter", start: iso(start) });
  }
});

after(async () => {
  await dev.stop();
  dev.cleanup();
});

test("a resend inside the book's window is a duplicate; after it, it is rated again", async () => {
  const [first] = await sendAt(KEYS.devIngest, [calls("w1", "cus_dedup")], T0);
  assert.equal(first.status, "accepted", JSON.stringify(first));
  const [inside] = await sendAt(KEYS.devIngest, [calls("w1", "cus_dedup")], T0 + 30 * MINUTE);
  assert.deepEqual(
    [inside.status, inside.amount, inside.currency, inside.conflict],
    ["duplicate", first.amount, first.currency, undefined],
  );
  const changed = { ...calls("w1", "cus_dedup"), data: { quantity: "6" } };
  const [conflict] = await sendAt(KEYS.devIngest, [changed], T0 + 45 * MINUTE);
  assert.deepEqual([conflict.status, conflict.amount, conflict.conflict], ["duplicate", first.amount, true]);
  // 90 minutes after the first: past the window, rated again; and in the
  // same batch, its own resend is a duplicate of this new first receipt.
  const [again, dup] = await sendAt(
    KEYS.devIngest,
    [calls("w1", "cus_dedup"), calls("w1", "cus_dedup")],
    T0 + 90 * MINUTE,
  );
  assert.equal(again.status, "accepted", JSON.stringify(again));
  assert.deepEqual([dup.status, dup.amount], ["duplicate", again.amount]);
  // The first key's table left with the window: the object holds one key.
  const st = await dev.call("GET", "/v1/stats?customer=cus_dedup", { key: KEYS.devAdmin });
  assert.equal(st.status, 200, JSON.stringify(st.body));
  assert.equal(st.body.customer.dedup_keys, 1);
  // Both rated sends count (api_calls counts events): 2 used.
  const r = await dev.call("GET", `/v1/customers/cus_dedup/allowance-state?at=${encodeURIComponent(iso(T0 + 2 * 60 * MINUTE))}`,
    { key: KEYS.devAdmin });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.dimensions.find((d) => d.product === "api_calls").used, "2");
});

test("without dedup_window the same resends stay duplicates (35 days)", async () => {
  const [first] = await sendAt(KEYS.acmeIngest, [calls("w1", "cus_dedup")], T0);
  assert.equal(first.status, "accepted", JSON.stringify(first));
  const [later] = await sendAt(KEYS.acmeIngest, [calls("w1", "cus_dedup")], T0 + 90 * MINUTE);
  assert.deepEqual([later.status, later.amount], ["duplicate", first.amount]);
});

test("a receipt time that is not RFC 3339 is refused", async () => {
  const r = await fetch(`${dev.url}/v1/events`, {
    method: "POST",
    headers: { authorization: `Bearer ${KEYS.devIngest}`, "content-type": "application/json", "x-rating-now": "soon" },
    body: JSON.stringify(calls("w2", "cus_dedup")),
  });
  assert.equal(r.status, 400);
  assert.equal((await r.json()).code, "invalid_timestamp");
});
