// The shared table of subscription requests (tests/subscriptions/cases.json,
// docs/subscriptions.md) against the real Worker under `wrangler dev`:
// every request is a `PUT /v1/customers/{customer}/subscription`. The
// Worker applies a request at its own clock, so each case is shifted by
// whole days to today (the table's book prorates by whole UTC days and
// bills 30-day periods, so amounts do not depend on the date). The engine
// (crates/rating/tests/subscriptions.rs) and the npm package
// (npm/test/subscriptions.test.js) run the same table.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Dev, KEYS, ROOT, iso } from "./harness.mjs";

const DIR = join(ROOT, "tests/subscriptions");
const TABLE = JSON.parse(readFileSync(join(DIR, "cases.json"), "utf8"));
const DAY = 86_400_000;

const dev = new Dev();

before(async () => {
  await dev.start();
  const book = readFileSync(join(DIR, TABLE.book), "utf8");
  const r = await dev.call("PUT", "/v1/price-book", { key: KEYS.devAdmin, raw: book });
  assert.equal(r.status, 201, JSON.stringify(r.body));
});

after(async () => {
  await dev.stop();
  dev.cleanup();
});

/** An invoice as the table writes it. */
const brief = (invoice) => ({
  total: invoice.total,
  lines: invoice.lines.map((l) => `${l.kind} ${l.plan}/${l.product} ${l.amount}`),
});

const startOfToday = () => Math.floor(Date.now() / DAY) * DAY;

/** The case's times moved so that its last request falls today. */
function shifter(c, today) {
  const later = new Set(c.requests.slice(1).map((r) => r.at));
  assert.ok(later.size <= 1, `${c.name}: the requests after the first must share one time`);
  const shift = today - Date.parse(c.requests.at(-1).at);
  assert.equal(shift % DAY, 0, `${c.name}: times at midnight`);
  const move = (t) => (typeof t === "string" && !Number.isNaN(Date.parse(t)) ? iso(Date.parse(t) + shift) : t);
  return {
    body: (b) => ({ ...b, ...("start" in b ? { start: move(b.start) } : {}), ...("anchor" in b ? { anchor: move(b.anchor) } : {}) }),
    // A time today means "now": the Worker applied the requests at its
    // clock, in milliseconds (`iso` keeps whole seconds: round up).
    at: (t) => {
      const moved = Date.parse(move(t));
      return iso(moved < today + DAY ? Math.max(moved, Date.now() + 1000) : moved);
    },
  };
}

async function run(c, customer) {
  const today = startOfToday();
  const shift = shifter(c, today);
  const path = `/v1/customers/${customer}`;
  const out = { invoices: [] };
  for (const [k, r] of c.requests.entries()) {
    const res = await dev.call("PUT", `${path}/subscription`, { key: KEYS.devAdmin, body: shift.body(r.body) });
    if (res.status >= 400) {
      assert.equal(res.status, 422, `${c.name}: ${JSON.stringify(res.body)}`);
      assert.match(res.headers.get("content-type"), /^application\/problem\+json/);
      out.error = { request: k, code: res.body.code, path: res.body.path };
      break;
    }
    assert.equal(res.status, k === 0 ? 201 : 200, `${c.name}: ${JSON.stringify(res.body)}`);
    out.invoices.push(...res.body.invoices.map(brief));
  }
  const sub = await dev.call("GET", `${path}/subscription`, { key: KEYS.devRead });
  if (sub.status === 200) {
    out.subscription = sub.body;
    // What the PUTs answered is what the customer's invoices hold.
    const stored = await dev.call("GET", `${path}/invoices`, { key: KEYS.devRead });
    assert.deepEqual(stored.body.invoices.map(brief), out.invoices, `${c.name}: stored invoices`);
    if (c.expect.preview) {
      const at = encodeURIComponent(shift.at(c.expect.preview.at));
      const p = await dev.call("GET", `${path}/invoice-preview?at=${at}`, { key: KEYS.devRead });
      assert.equal(p.status, 200, `${c.name}: ${JSON.stringify(p.body)}`);
      out.preview = p.body;
    }
  } else {
    assert.equal(sub.status, 404, `${c.name}: ${JSON.stringify(sub.body)}`);
  }
  // A case that ran across midnight UTC is run again (the shift assumed one day).
  return startOfToday() === today ? out : null;
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

for (const c of TABLE.cases) {
  test(c.name, async () => {
    const got = (await run(c, c.customer)) ?? (await run(c, `${c.customer}_again`));
    assert.ok(got, `${c.name}: ran across midnight twice`);
    check(c, got);
  });
}
