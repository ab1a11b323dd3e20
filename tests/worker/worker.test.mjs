// End-to-end tests of the Worker on the real runtime: `wrangler dev`
// (workerd with local Durable Objects, Queue and D1), started here on a
// free port with its own state. Run by scripts/test-worker.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { existsSync, readFileSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Dev, KEYS, ROOT, event, iso, rating } from "./harness.mjs";
import { stream } from "./stream.mjs";

const BOOK_PATH = join(ROOT, "examples/worker/price-book.json");
const BOOK_TEXT = readFileSync(BOOK_PATH, "utf8");
const BOOK = JSON.parse(BOOK_TEXT);
const HOUR = 3600_000;
const DAY = 24 * HOUR;

const dev = new Dev();
const scratch = mkdtempSync(join(tmpdir(), "rating-worker-test-"));

/** Every accepted event, per tenant: "customer|source|id" -> amount. */
const accepted = { dev: new Map(), acme: new Map() };
const dropped = { dev: new Map(), acme: new Map() };

async function send(key, events, type) {
  const tenant = key.startsWith("acme") ? "acme" : "dev";
  const results = await dev.ingest(key, events, type);
  const list = Array.isArray(events) ? events : [events];
  assert.equal(results.length, list.length);
  results.forEach((r, i) => {
    const e = list[i];
    assert.equal(r.id, typeof e.id === "string" ? e.id.slice(0, 255) : "");
    const k = `${e.subject}|${r.source}|${r.id}`;
    if (r.status === "accepted") {
      assert.ok(!accepted[tenant].has(k), `accepted twice: ${k}`);
      accepted[tenant].set(k, r.amount);
    }
    if (r.status === "dropped") dropped[tenant].set(k, true);
  });
  return results;
}

async function subscribe(key, customer, body) {
  const r = await dev.call("PUT", `/v1/customers/${encodeURIComponent(customer)}/subscription`, { key, body });
  assert.ok(r.status === 201 || r.status === 200, `subscribe ${customer}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

async function allowance(key, customer, at) {
  const q = at ? `?at=${encodeURIComponent(at)}` : "";
  const r = await dev.call("GET", `/v1/customers/${encodeURIComponent(customer)}/allowance-state${q}`, { key });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

/** An exact decimal string in millionths. */
function micros(s) {
  const [i, f = ""] = String(s).split(".");
  return BigInt(i) * 1_000_000n + BigInt((f + "000000").slice(0, 6)) * (i.startsWith("-") ? -1n : 1n);
}

function used(state, product) {
  return state.dimensions.find((d) => d.product === product)?.used;
}

function problem(r, status, code) {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.match(r.headers.get("content-type"), /^application\/problem\+json/);
  assert.equal(r.body.status, status);
  if (code) assert.equal(r.body.code, code, JSON.stringify(r.body));
}

/** Every row of a tenant-wide (D1) list. */
async function rows(key, table) {
  const out = [];
  for (let offset = 0; ; offset += 1000) {
    const r = await dev.call("GET", `/v1/${table}?limit=1000&offset=${offset}`, { key });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const items = r.body[table.replace("-", "_")];
    out.push(...items);
    if (items.length < 1000) return { total: r.body.total, items: out };
  }
}

/** The accepted events of a tenant's event log. */
async function loggedAccepted(key) {
  const got = await dev.exportLines("", key);
  assert.equal(got.status, 200, got.text);
  return got.lines.filter((l) => l.ratingstatus === "accepted");
}

/** Waits until the event log holds as many accepted events as were accepted. */
async function drained() {
  for (const [tenant, key] of [["dev", KEYS.devAdmin], ["acme", KEYS.acmeAdmin]]) {
    for (let i = 0; i < 120; i++) {
      if ((await loggedAccepted(key)).length >= accepted[tenant].size) break;
      await new Promise((ok) => setTimeout(ok, 250));
    }
  }
}

before(async () => {
  await dev.start();
});

after(async () => {
  await dev.stop();
  dev.cleanup();
});

describe("public routes", () => {
  test("healthz, the OpenAPI document and the pricing page", async () => {
    const h = await dev.call("GET", "/healthz");
    assert.deepEqual([h.status, h.body], [200, { status: "ok" }]);
    const o = await dev.call("GET", "/openapi.json");
    assert.equal(o.status, 200);
    assert.deepEqual(o.body, JSON.parse(readFileSync(join(ROOT, "worker/openapi.json"), "utf8")));
    const home = await fetch(`${dev.url}/`);
    assert.equal(home.status, 200);
    assert.match(home.headers.get("content-type"), /text\/html/);
    assert.match(await home.text(), /<rating-calculator>/);
    // The playground is a static asset too (playground.html at /playground).
    const playground = await fetch(`${dev.url}/playground`);
    assert.equal(playground.status, 200);
    assert.match(playground.headers.get("content-type"), /text\/html/);
    assert.match(await playground.text(), /<title>Price book playground/);
  });

  test("every documented route exists, and is public or needs a key as documented", async () => {
    const doc = JSON.parse(readFileSync(join(ROOT, "worker/openapi.json"), "utf8"));
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        if (method === "parameters") continue;
        const concrete = path.replace("{customer}", "cus_route_check");
        const r = await dev.call(method.toUpperCase(), concrete, method === "get" ? {} : { body: {} });
        const isPublic = Array.isArray(op.security) && op.security.length === 0;
        if (isPublic) assert.equal(r.status, 200, `${method} ${path}`);
        else problem(r, 401, "unauthorized");
        assert.ok(String(r.status) in op.responses, `${method} ${path}: ${r.status} is not documented`);
      }
    }
  });

  test("unknown routes are 404 and wrong methods 405 with Allow", async () => {
    problem(await dev.call("GET", "/v1/nope"), 404, "not_found");
    const r = await dev.call("DELETE", "/v1/price-book");
    problem(r, 405, "method_not_allowed");
    assert.equal(r.headers.get("allow"), "GET, PUT");
  });
});

describe("price book (versioned, validated, hashed)", () => {
  test("a tenant without a book gets 409 no_price_book", async () => {
    problem(await dev.call("GET", "/v1/price-book", { key: KEYS.acmeAdmin }), 409, "no_price_book");
    problem(await dev.call("POST", "/v1/quote", { key: KEYS.acmeAdmin, body: { plan: "pro" } }), 409, "no_price_book");
    const ev = [event("x1", "api_calls", "c1")];
    problem(await dev.call("POST", "/v1/events", { key: KEYS.acmeIngest, body: ev }), 409, "no_price_book");
  });

  test("an invalid book is refused with every problem and its path", async () => {
    const bad = structuredClone(BOOK);
    bad.plans[0].items[1].inclued_quantity = "5";
    bad.plans[1].items[2].price.tiers[0].up_to = "-1";
    const r = await dev.call("PUT", "/v1/price-book", { key: KEYS.acmeAdmin, body: bad });
    problem(r, 422);
    const paths = r.body.errors.map((e) => e.path);
    assert.ok(paths.includes("plans[0].items[1].inclued_quantity"), JSON.stringify(paths));
    assert.ok(paths.some((p) => p.startsWith("plans[1].items[2].price.tiers[0]")), JSON.stringify(paths));
    problem(await dev.call("PUT", "/v1/price-book", { key: KEYS.acmeAdmin, raw: "{" }), 400, "invalid_json");
  });

  test("PUT creates versions; an unchanged book is not a new version; GET reads any version", async () => {
    const check = rating(["check", BOOK_PATH]);
    const v1 = await dev.call("PUT", "/v1/price-book", { key: KEYS.acmeAdmin, raw: BOOK_TEXT });
    assert.equal(v1.status, 201);
    assert.equal(v1.body.version, 1);
    assert.equal(v1.body.hash, check.price_book);
    const again = await dev.call("PUT", "/v1/price-book", { key: KEYS.acmeAdmin, raw: BOOK_TEXT });
    assert.deepEqual([again.status, again.body.version], [200, 1]);
    const renamed = { ...BOOK, name: "Edge ingest demo, v2" };
    const v2 = await dev.call("PUT", "/v1/price-book", { key: KEYS.acmeAdmin, body: renamed });
    assert.deepEqual([v2.status, v2.body.version], [201, 2]);
    assert.notEqual(v2.body.hash, v1.body.hash);
    const active = await dev.call("GET", "/v1/price-book", { key: KEYS.acmeAdmin });
    assert.equal(active.body.version, 2);
    assert.deepEqual(active.body.price_book, renamed);
    const old = await dev.call("GET", "/v1/price-book?version=1", { key: KEYS.acmeAdmin });
    assert.deepEqual([old.body.version, old.body.hash], [1, v1.body.hash]);
    assert.deepEqual(old.body.price_book, BOOK);
    problem(await dev.call("GET", "/v1/price-book?version=9", { key: KEYS.acmeAdmin }), 404, "unknown_version");
    // New events use the active version: their receipts carry its hash.
    await subscribe(KEYS.acmeAdmin, "acme_c1", { plan: "pro" });
    const [r] = await send(KEYS.acmeIngest, [event("acme-v2-1", "api_calls", "acme_c1")]);
    assert.deepEqual([r.status, r.price_book], ["accepted", v2.body.hash]);
    // Back to the example book for the rest of the tests.
    const v3 = await dev.call("PUT", "/v1/price-book", { key: KEYS.acmeAdmin, raw: BOOK_TEXT });
    assert.deepEqual([v3.status, v3.body.version, v3.body.hash], [201, 3, v1.body.hash]);
    // acme_c1's open period started on v2: it stays on v2 until its next
    // period (docs/metering.md "Price book versions"); a new customer starts on v3.
    const [r3] = await send(KEYS.acmeIngest, [event("acme-v3-1", "api_calls", "acme_c1")]);
    assert.equal(r3.price_book, v2.body.hash);
    await subscribe(KEYS.acmeAdmin, "acme_c2", { plan: "pro" });
    const [r4] = await send(KEYS.acmeIngest, [event("acme-v3-2", "api_calls", "acme_c2")]);
    assert.equal(r4.price_book, v1.body.hash);
  });

  test("the dev tenant gets the example book", async () => {
    const r = await dev.call("PUT", "/v1/price-book", { key: KEYS.devAdmin, raw: BOOK_TEXT });
    assert.equal(r.status, 201);
  });
});

describe("auth", () => {
  test("missing, malformed or unknown keys are 401", async () => {
    for (const authorization of [undefined, "Basic ZGV2OmRldg==", "Bearer", "Bearer wrong-key", "Bearer dev-admin-key2"]) {
      const headers = authorization ? { authorization } : {};
      const r = await fetch(`${dev.url}/v1/customers/cus_42/allowance-state`, { headers });
      assert.equal(r.status, 401, String(authorization));
      assert.match(r.headers.get("www-authenticate"), /^Bearer/);
      assert.equal((await r.json()).code, "unauthorized");
    }
  });

  test("a key whose role does not allow the route is 403", async () => {
    const ev = [event("auth-1", "api_calls", "cus_auth")];
    problem(await dev.call("GET", "/v1/customers/x/allowance-state", { key: KEYS.devIngest }), 403, "forbidden");
    problem(await dev.call("POST", "/v1/quote", { key: KEYS.devIngest, body: { plan: "pro" } }), 403, "forbidden");
    problem(await dev.call("POST", "/v1/events", { key: KEYS.devRead, body: ev }), 403, "forbidden");
    problem(await dev.call("PUT", "/v1/price-book", { key: KEYS.devRead, raw: BOOK_TEXT }), 403, "forbidden");
    problem(await dev.call("GET", "/v1/price-book", { key: KEYS.devRead }), 403, "forbidden");
    problem(await dev.call("PUT", "/v1/customers/x/subscription", { key: KEYS.devRead, body: { plan: "pro" } }), 403, "forbidden");
    // Admin may do everything.
    assert.equal((await dev.call("POST", "/v1/events", { key: KEYS.devAdmin, body: [] })).status, 200);
  });
});

describe("quote and compare", () => {
  test("equal `rating quote` and `rating compare` on the same book", async () => {
    const req = { plan: "pro", quantities: { seats: "3" }, usage: { api_calls: "150000", bandwidth: "1200.5", sms: { US: "10", GB: "2" } } };
    const reqPath = join(scratch, "quote.json");
    writeFileSync(reqPath, JSON.stringify(req));
    const q = await dev.call("POST", "/v1/quote", { key: KEYS.devRead, body: req });
    assert.equal(q.status, 200, JSON.stringify(q.body));
    assert.deepEqual(q.body, rating(["quote", BOOK_PATH, reqPath]));
    const usage = { usage: { api_calls: "150000", bandwidth: "20" } };
    const usagePath = join(scratch, "usage.json");
    writeFileSync(usagePath, JSON.stringify(usage));
    const c = await dev.call("POST", "/v1/compare", { key: KEYS.devRead, body: usage });
    assert.equal(c.status, 200, JSON.stringify(c.body));
    assert.deepEqual(c.body, rating(["compare", BOOK_PATH, usagePath]));
    const bad = await dev.call("POST", "/v1/quote", { key: KEYS.devRead, body: { plan: "platinum" } });
    problem(bad, 422, "unknown_plan");
  });
});

describe("the pricing page at /", () => {
  const chromium = "/usr/bin/chromium";
  test("renders in a browser from the Worker's assets: every plan priced, with the totals of POST /v1/quote", { skip: !existsSync(chromium) && "no chromium" }, async () => {
    const require = createRequire(join(ROOT, "npm/package.json"));
    const { chromium: browserType } = require("playwright-core");
    // TOOLCHAIN.md: Chromium on this network needs its background traffic off.
    const args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"];
    const browser = await browserType.launch({ executablePath: chromium, headless: true, args });
    try {
      const page = await browser.newPage();
      const problems = [];
      page.on("pageerror", (e) => problems.push(e.message));
      page.on("requestfailed", (r) => problems.push(`failed: ${r.url()}`));
      page.on("console", (m) => m.type() === "error" && problems.push(`console: ${m.text()}`));
      await page.goto(`${dev.url}/`);
      await page
        .waitForFunction(() => document.querySelector("rating-calculator")?.quotes?.quotes, null, { timeout: 20000 })
        .catch((e) => assert.fail(`the page never priced: ${e.message}; ${problems.join("; ")}`));
      // <rating-calculator> (docs/calculator.md): each card's total, and the
      // request each plan was quoted with (seats only for plans with seats).
      const shown = await page.evaluate(() => {
        const el = document.querySelector("rating-calculator");
        const cards = [...el.shadowRoot.querySelectorAll(".card")].map((c) => [c.dataset.plan, c.dataset.total]);
        return { cards, requests: el.quotes.requests, errors: el.quotes.errors };
      });
      assert.deepEqual(problems, []);
      assert.deepEqual(shown.errors, {}, "every plan is priced for the default inputs");
      assert.deepEqual(shown.cards.map(([p]) => p), BOOK.plans.filter((p) => !p.addon).map((p) => p.id));
      for (const [plan, total] of shown.cards) {
        const q = await dev.call("POST", "/v1/quote", { key: KEYS.devRead, body: shown.requests[plan] });
        assert.equal(q.status, 200, JSON.stringify(q.body));
        assert.equal(total, q.body.total, plan);
      }
    } finally {
      await browser.close();
    }
  });
});

describe("ingest and receipts", () => {
  const now = Date.now();
  before(async () => {
    const sub = await subscribe(KEYS.devAdmin, "cus_ingest", { plan: "pro", quantities: { seats: "2" }, start: iso(now - DAY) });
    assert.equal(sub.plan, "pro");
    assert.ok(sub.invoices.length >= 1);
  });

  test("one event, a batch and a JSON array each get receipts in input order", async () => {
    const [one] = await send(KEYS.devIngest, event("ing-1", "sms", "cus_ingest", { quantity: "2", country: "US" }), "application/cloudevents+json");
    assert.deepEqual(one, {
      id: "ing-1", source: "tests", status: "accepted", amount: "0.015", currency: "USD", price_key: "US",
      price_book: rating(["check", BOOK_PATH]).price_book,
    });
    const batch = [
      event("ing-2", "bandwidth", "cus_ingest", { quantity: "12.5" }),
      event("ing-3", "nope", "cus_ingest"),
      { specversion: "1.0", id: "ing-4", source: "tests", type: "api_calls" },
      event("ing-5", "api_calls", "cus_ingest", undefined, { time: iso(now - HOUR) }),
      "not an object",
      event("x".repeat(300), "api_calls", "cus_ingest"),
      event("ing-7", "api_calls", "cus_ingest", undefined, { time: iso(now + 10 * 60_000) }),
      event("ing-8", "api_calls", "cus_ingest", undefined, { time: iso(now - 3 * DAY) }),
      event("ing-9", "bandwidth", "cus_ingest", { quantity: "-1" }),
      event("ing-10", "api_calls", "cus_nobody"),
    ];
    const rs = await send(KEYS.devIngest, batch);
    assert.deepEqual(rs.map((r) => r.status), [
      "accepted", "rejected", "rejected", "accepted", "rejected", "rejected", "rejected", "rejected", "rejected", "rejected",
    ]);
    assert.deepEqual(rs.map((r) => r.error?.code ?? null), [
      null, "unknown_product", "missing_field", null, "invalid_type", "invalid_value", "event_in_future", "event_too_late",
      "negative_value", "unknown_customer",
    ]);
    assert.equal(rs[2].error.path, "subject");
    assert.equal(rs[5].error.path, "id");
    const arr = await send(KEYS.devIngest, [event("ing-11", "api_calls", "cus_ingest")], "application/json");
    assert.equal(arr[0].status, "accepted");
    const st = await allowance(KEYS.devRead, "cus_ingest");
    assert.equal(used(st, "bandwidth"), "12.5");
    assert.equal(used(st, "api_calls"), "2");
    assert.equal(used(st, "sms"), "2");
  });

  test("duplicates within a batch and across batches count once and repeat the first amount", async () => {
    const e = event("dup-1", "sms", "cus_ingest", { quantity: "1", country: "GB" });
    const rs = await send(KEYS.devIngest, [e, e, { ...e, data: { quantity: "5", country: "GB" } }]);
    assert.deepEqual(rs.map((r) => r.status), ["accepted", "duplicate", "duplicate"]);
    assert.equal(rs[1].amount, rs[0].amount);
    assert.equal(rs[1].conflict, undefined);
    assert.equal(rs[2].conflict, true);
    assert.equal(rs[2].amount, rs[0].amount);
    const later = await send(KEYS.devIngest, [e]);
    assert.deepEqual([later[0].status, later[0].amount, later[0].price_key], ["duplicate", rs[0].amount, "GB"]);
    // Same id from another source is another event.
    const other = await send(KEYS.devIngest, [{ ...e, source: "other" }]);
    assert.equal(other[0].status, "accepted");
    const st = await allowance(KEYS.devRead, "cus_ingest");
    assert.equal(used(st, "sms"), "4");
  });

  test("20 concurrent clients sending the same events count each once", async () => {
    await subscribe(KEYS.devAdmin, "cus_race", { plan: "pro", start: iso(now - DAY) });
    await subscribe(KEYS.devAdmin, "cus_race2", { plan: "starter", start: iso(now - DAY) });
    const events = [];
    for (let i = 0; i < 300; i++) {
      events.push(event(`race-${i}`, "bandwidth", i % 3 ? "cus_race" : "cus_race2", { quantity: "1.5" }));
    }
    const client = async (n) => {
      // Each client sends everything, in its own order and batch sizes.
      const order = events.map((e, i) => [(i * (n + 7)) % 301, e]).sort((a, b) => a[0] - b[0]).map(([, e]) => e);
      const size = 10 + n * 3;
      const out = [];
      for (let i = 0; i < order.length; i += size) out.push(...(await dev.ingest(KEYS.devIngest, order.slice(i, i + size))));
      return out;
    };
    const all = (await Promise.all(Array.from({ length: 20 }, (_, n) => client(n)))).flat();
    const first = new Map();
    for (const r of all) {
      if (r.status === "accepted") {
        assert.ok(!first.has(r.id), `${r.id} accepted twice`);
        first.set(r.id, r.amount);
      } else {
        assert.equal(r.status, "duplicate");
      }
    }
    assert.equal(first.size, 300);
    for (const r of all) assert.equal(r.amount, first.get(r.id));
    for (const e of events) accepted.dev.set(`${e.subject}|tests|${e.id}`, first.get(e.id));
    assert.equal(used(await allowance(KEYS.devRead, "cus_race"), "bandwidth"), "300");
    assert.equal(used(await allowance(KEYS.devRead, "cus_race2"), "bandwidth"), "150");
  });
});

describe("unmatched price keys", () => {
  test("reject, use_default and drop; dropped events are in the audit", async () => {
    await subscribe(KEYS.devAdmin, "cus_keys", { plan: "starter", start: iso(Date.now() - DAY) });
    const rs = await send(KEYS.devIngest, [
      event("key-1", "sms", "cus_keys", { quantity: "1", country: "FR" }),
      event("key-2", "voice", "cus_keys", { quantity: "3", country: "FR" }),
      event("key-3", "mms", "cus_keys", { quantity: "1", country: "FR" }),
      event("key-4", "sms", "cus_keys", { quantity: "1" }),
      event("key-5", "mms", "cus_keys", { quantity: "1", country: "US" }),
    ]);
    assert.deepEqual(rs.map((r) => r.status), ["rejected", "accepted", "dropped", "rejected", "accepted"]);
    assert.equal(rs[0].error.code, "unknown_price_key");
    // Priced at the default key (US: 3 x 0.0130); the receipt keeps the event's key.
    assert.deepEqual([rs[1].price_key, rs[1].price_key_remapped, rs[1].amount], ["FR", true, "0.039"]);
    assert.deepEqual([rs[2].price_key, rs[2].amount], ["FR", undefined]);
    assert.equal(rs[3].error.code, "missing_field");
    // A dropped event is remembered: sending it again is a duplicate.
    const again = await send(KEYS.devIngest, [event("key-3", "mms", "cus_keys", { quantity: "1", country: "FR" })]);
    assert.equal(again[0].status, "duplicate");
    // The audit is the dropped-events index in D1, which the Queue
    // consumer fills a moment after the receipt.
    let audit;
    for (let i = 0; i < 120; i++) {
      audit = await dev.call("GET", "/v1/dropped-events?customer=cus_keys", { key: KEYS.devRead });
      assert.equal(audit.status, 200);
      if (audit.body.dropped_events.length > 0) break;
      await new Promise((ok) => setTimeout(ok, 250));
    }
    assert.deepEqual(audit.body.dropped_events.map((d) => [d.id, d.price_key, d.customer]), [["key-3", "FR", "cus_keys"]]);
    assert.equal(audit.body.dropped_events[0].event.data.country, "FR");
    const st = await allowance(KEYS.devRead, "cus_keys");
    assert.equal(used(st, "mms"), "1");
    assert.equal(used(st, "voice"), "3");
  });
});

describe("malformed and oversized requests", () => {
  const post = (raw, type = "application/cloudevents-batch+json") =>
    dev.call("POST", "/v1/events", { key: KEYS.devIngest, raw, type });

  test("malformed JSON and wrong content types are one 400", async () => {
    problem(await post("[{\"specversion\": \"1.0\","), 400, "invalid_json");
    problem(await post("[]", "text/plain"), 400, "unsupported_content_type");
    problem(await post("{}", "application/cloudevents-batch+json"), 400, "invalid_body");
    problem(await post("[]", "application/cloudevents+json"), 400, "invalid_body");
    problem(await post("42", "application/json"), 400, "invalid_body");
    const noType = await fetch(`${dev.url}/v1/events`, { method: "POST", headers: { authorization: `Bearer ${KEYS.devIngest}` }, body: "[]" });
    assert.equal(noType.status, 400);
    const empty = await post("[]");
    assert.deepEqual([empty.status, empty.body], [200, { results: [] }]);
  });

  test("more than 1 MiB or 1000 events is 413; an event over 64 KiB is rejected alone", async () => {
    const big = JSON.stringify([event("big", "api_calls", "cus_ingest", { pad: "x".repeat(1 << 20) })]);
    problem(await post(big), 413, "payload_too_large");
    const many = JSON.stringify(Array.from({ length: 1001 }, (_, i) => event(`m${i}`, "api_calls", "cus_ingest")));
    problem(await post(many), 413, "too_many_events");
    const rs = await send(KEYS.devIngest, [
      event("fat", "api_calls", "cus_ingest", { pad: "x".repeat(70 * 1024) }),
      event("thin", "api_calls", "cus_ingest"),
    ]);
    assert.deepEqual(rs.map((r) => r.error?.code ?? r.status), ["event_too_large", "accepted"]);
  });

  test("subscription bodies are read strictly", async () => {
    const r = await dev.call("PUT", "/v1/customers/cus_strict/subscription", { key: KEYS.devAdmin, body: { plan: "pro", quantites: {} } });
    problem(r, 422, "unknown_field");
    assert.equal(r.body.path, "quantites");
    problem(await dev.call("PUT", "/v1/customers/cus_strict/subscription", { key: KEYS.devAdmin, body: { plan: "gold" } }), 422, "unknown_plan");
    problem(await dev.call("GET", "/v1/customers/cus_strict/subscription", { key: KEYS.devRead }), 404, "unknown_customer");
  });
});

describe("tenant isolation", () => {
  test("the other tenant's keys reach none of this tenant's data, on every route", async () => {
    const c = "cus_shared_name";
    await subscribe(KEYS.devAdmin, c, { plan: "pro", start: iso(Date.now() - DAY) });
    const e = event("iso-1", "sms", c, { quantity: "1", country: "FR" });
    const m = event("iso-2", "mms", c, { quantity: "1", country: "FR" });
    await send(KEYS.devIngest, [e, m, event("iso-3", "bandwidth", c, { quantity: "7" })]);
    const path = `/v1/customers/${c}`;
    // acme sees no customer of that name.
    for (const p of ["subscription", "allowance-state", "invoice-preview", "invoices"]) {
      problem(await dev.call("GET", `${path}/${p}`, { key: KEYS.acmeAdmin }), 404, "unknown_customer");
    }
    const none = await dev.call("GET", `/v1/dropped-events?customer=${c}`, { key: KEYS.acmeAdmin });
    assert.deepEqual(none.body.dropped_events, []);
    // acme's events for that name go to acme's own (unsubscribed) customer.
    const [r] = await send(KEYS.acmeIngest, [event("iso-3", "bandwidth", c, { quantity: "1000" })]);
    assert.equal(r.error?.code, "unknown_customer");
    // acme subscribing and ingesting the same ids changes nothing for dev.
    await subscribe(KEYS.acmeAdmin, c, { plan: "starter" });
    const [r2] = await send(KEYS.acmeIngest, [event("iso-3", "bandwidth", c, { quantity: "1000" })]);
    assert.equal(r2.status, "accepted");
    assert.equal(used(await allowance(KEYS.devRead, c), "bandwidth"), "7");
    assert.equal(used(await allowance(KEYS.acmeAdmin, c), "bandwidth"), "1000");
    const devSub = await dev.call("GET", `${path}/subscription`, { key: KEYS.devRead });
    assert.equal(devSub.body.plan, "pro");
    // Price books are per tenant.
    const devBook = await dev.call("GET", "/v1/price-book", { key: KEYS.devAdmin });
    const acmeBook = await dev.call("GET", "/v1/price-book", { key: KEYS.acmeAdmin });
    assert.equal(devBook.body.version, 1);
    assert.equal(acmeBook.body.version, 3);
    // The tenant-wide stores are per tenant.
    await drained();
    const acmeLog = await loggedAccepted(KEYS.acmeAdmin);
    assert.ok(acmeLog.some((l) => l.id === "iso-3"));
    assert.ok(acmeLog.every((l) => !l.id.startsWith("iso-") || l.data.quantity === "1000"));
    const acmeDropped = await dev.call("GET", "/v1/dropped-events", { key: KEYS.acmeAdmin });
    assert.ok(acmeDropped.body.dropped_events.every((d) => d.id !== "iso-2"));
  });
});

describe("allowance state and invoice preview equal `rating replay`", () => {
  const nowMs = Date.now();
  const gen = stream({ prefix: "rp_", startMs: nowMs - 2 * DAY, endMs: nowMs - 10 * 60_000 });
  let firstReceipts;
  let at;
  let before;

  test("a generated stream, sent in batches of 100", async () => {
    for (const s of gen.subs) {
      const { customer, ...body } = s;
      await subscribe(KEYS.devAdmin, customer, body);
    }
    firstReceipts = [];
    for (let i = 0; i < gen.events.length; i += 100) {
      firstReceipts.push(...(await send(KEYS.devIngest, gen.events.slice(i, i + 100))));
    }
    const statuses = new Set(firstReceipts.map((r) => r.status));
    for (const s of ["accepted", "duplicate", "rejected", "dropped"]) assert.ok(statuses.has(s), s);
  });

  test("receipts, allowance state, invoice preview and invoices match the CLI", async () => {
    at = iso(Date.now());
    const eventsPath = join(scratch, "events.ndjson");
    const subsPath = join(scratch, "subs.json");
    const receiptsPath = join(scratch, "receipts.ndjson");
    writeFileSync(eventsPath, gen.events.map((e) => JSON.stringify(e)).join("\n") + "\n");
    writeFileSync(subsPath, JSON.stringify(gen.subs));
    const replay = rating(["replay", BOOK_PATH, eventsPath, "--subscriptions", subsPath, "--at", at, "--receipts", receiptsPath]);
    const cliReceipts = readFileSync(receiptsPath, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(firstReceipts, cliReceipts);
    before = {};
    for (const c of replay.customers) {
      const q = `?at=${encodeURIComponent(at)}`;
      const preview = await dev.call("GET", `/v1/customers/${c.customer}/invoice-preview${q}`, { key: KEYS.devRead });
      assert.equal(preview.status, 200);
      assert.deepEqual(preview.body, c.open_period, c.customer);
      const invoices = await dev.call("GET", `/v1/customers/${c.customer}/invoices`, { key: KEYS.devRead });
      assert.deepEqual(invoices.body.invoices, c.invoices, c.customer);
      const state = await allowance(KEYS.devRead, c.customer, at);
      // The allowance state agrees with the usage lines of the replayed open period.
      for (const line of c.open_period.lines.filter((l) => l.kind === "usage")) {
        const dims = state.dimensions.filter((d) => d.product === line.product);
        assert.ok(dims.length > 0, `${c.customer} ${line.product}`);
      }
      for (const d of state.dimensions) {
        const lines = c.open_period.lines.filter((l) => l.kind === "usage" && l.product === d.product);
        const sum = lines.reduce((a, l) => a + micros(l.quantity), 0n);
        if (d.product !== "storage") assert.equal(micros(d.used), sum, `${c.customer} ${d.product} used`);
      }
      before[c.customer] = { state, preview: preview.body, invoices: invoices.body.invoices };
    }
  });

  test("after a restart, state, dedup and receipts survive; re-sending everything yields duplicates", async () => {
    // Local Queues keep messages in memory: let them drain into D1 before
    // stopping, as a graceful restart would (production Queues are durable).
    await drained();
    await dev.restart();
    for (const [customer, b] of Object.entries(before)) {
      assert.deepEqual(await allowance(KEYS.devRead, customer, at), b.state);
      const p = await dev.call("GET", `/v1/customers/${customer}/invoice-preview?at=${encodeURIComponent(at)}`, { key: KEYS.devRead });
      assert.deepEqual(p.body, b.preview);
    }
    const again = [];
    for (let i = 0; i < gen.events.length; i += 100) {
      again.push(...(await send(KEYS.devIngest, gen.events.slice(i, i + 100))));
    }
    again.forEach((r, i) => {
      const first = firstReceipts[i];
      if (first.status === "rejected") {
        assert.equal(r.status, "rejected");
      } else {
        assert.equal(r.status, "duplicate", JSON.stringify([first, r]));
        assert.equal(r.amount, first.amount);
      }
    });
    for (const [customer, b] of Object.entries(before)) {
      assert.deepEqual(await allowance(KEYS.devRead, customer, at), b.state, customer);
      const inv = await dev.call("GET", `/v1/customers/${customer}/invoices`, { key: KEYS.devRead });
      assert.deepEqual(inv.body.invoices, b.invoices);
    }
  });
});

describe("the event log (Queue -> R2) and the dropped-events index (D1)", () => {
  test("after the Queue drains, the log holds each accepted event once, with its receipt", async () => {
    for (const [tenant, key] of [["dev", KEYS.devAdmin], ["acme", KEYS.acmeAdmin]]) {
      const want = accepted[tenant];
      let got;
      for (let i = 0; i < 120; i++) {
        got = await loggedAccepted(key);
        if (got.length >= want.size) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      assert.equal(got.length, want.size, tenant);
      const seen = new Map(got.map((l) => [`${l.subject}|${l.source}|${l.id}`, l.ratingamount]));
      assert.equal(seen.size, got.length, "no event twice");
      assert.deepEqual(new Map([...seen].sort()), new Map([...want].sort()), tenant);
      const d = await rows(key, "dropped-events");
      assert.deepEqual(new Set(d.items.map((u) => `${u.customer}|${u.source}|${u.id}`)), new Set(dropped[tenant].keys()), tenant);
    }
  });

  test("GET /v1/usage-events is gone: raw events left D1", async () => {
    const r = await dev.call("GET", "/v1/usage-events?limit=1", { key: KEYS.devRead });
    assert.equal(r.status, 410);
    assert.equal(r.body.code, "gone");
  });
});
