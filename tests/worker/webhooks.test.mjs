// Webhooks (docs/webhooks.md) against the real Worker under `wrangler
// dev` and a real receiver: a Node HTTP server on 127.0.0.1. Records the
// meter makes reach registered endpoints signed per Standard Webhooks 1.0
// (checked with the specification's reference library, `standardwebhooks`,
// and with the package's own `verifyWebhook`); failures are retried on
// the schedule with the same `webhook-id`; 429 + Retry-After is honoured;
// 410 disables the endpoint; a failed delivery can be sent again; slow
// endpoints time out; redirects are not followed; URLs are checked.
//
// The Worker runs with a short retry schedule and timeout (dev variables
// WEBHOOK_RETRY_SCHEDULE=0,1,2,3 and WEBHOOK_TIMEOUT_SECONDS=2).

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createRequire } from "node:module";
import { Dev, KEYS, ROOT, event, iso, freePort } from "./harness.mjs";
import { verifyWebhook } from "../../npm/webhooks.js";

// The specification's reference library, a devDependency of the package.
const { Webhook } = createRequire(join(ROOT, "npm/package.json"))("standardwebhooks");

const BOOK = readFileSync(join(ROOT, "examples/worker/price-book.json"), "utf8");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const dev = new Dev({ vars: { WEBHOOK_RETRY_SCHEDULE: "0,1,2,3", WEBHOOK_TIMEOUT_SECONDS: "2" } });

/** Verifies a delivery with the Standard Webhooks signature scheme. */
function verify(secret, headers, body) {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const mac = createHmac("sha256", key)
    .update(`${headers["webhook-id"]}.${headers["webhook-timestamp"]}.${body}`)
    .digest("base64");
  const sigs = headers["webhook-signature"].split(" ").map((s) => s.replace(/^v1,/, ""));
  return sigs.includes(mac);
}

/** A receiver whose answers a test scripts: `reply(req, n)` answers the
 * n-th request (1-based) with [status, headers?] or "hang". */
class Receiver {
  constructor() {
    this.requests = [];
    this.reply = () => [204];
  }
  async start(port) {
    this.port = port ?? (await freePort());
    this.server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (d) => (body += d));
      req.on("end", () => {
        const r = { at: Date.now(), path: req.url, headers: req.headers, body };
        this.requests.push(r);
        const answer = this.reply(r, this.requests.length);
        if (answer === "hang") return; // never answers
        const [status, headers = {}] = answer;
        res.writeHead(status, headers);
        res.end();
      });
    });
    await new Promise((ok) => this.server.listen(this.port, "127.0.0.1", ok));
    this.url = `http://127.0.0.1:${this.port}`;
    return this;
  }
  async stop() {
    this.server.closeAllConnections?.();
    await new Promise((ok) => this.server.close(ok));
  }
  async waitFor(n, ms = 20_000) {
    const end = Date.now() + ms;
    while (this.requests.length < n && Date.now() < end) await sleep(100);
    assert.ok(this.requests.length >= n, `${this.requests.length} requests, not ${n}, after ${ms} ms`);
    return this.requests;
  }
}

const PLAN = ["subscription.plan_changed"];

async function register(url, events = PLAN) {
  const r = await dev.call("POST", "/v1/webhook-endpoints", { key: KEYS.devAdmin, body: { url, ...(events ? { events } : {}) } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
}

async function remove(id) {
  const r = await dev.call("DELETE", `/v1/webhook-endpoints/${id}`, { key: KEYS.devAdmin });
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

async function deliveries(id, status) {
  const q = status ? `?status=${status}` : "";
  const r = await dev.call("GET", `/v1/webhook-endpoints/${id}/deliveries${q}`, { key: KEYS.devAdmin });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.deliveries;
}

async function until(f, ms = 20_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) assert.fail("timed out");
    await sleep(200);
  }
}

let plans = 0;
/** Makes a `subscription.plan_changed` record for a fresh customer. */
async function planChange(customer = `wh_c${++plans}`) {
  const put = (plan) => dev.call("PUT", `/v1/customers/${customer}/subscription`, { key: KEYS.devAdmin, body: { plan } });
  assert.equal((await put("starter")).status, 201);
  const r = await put("pro");
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return customer;
}

before(async () => {
  await dev.start();
  assert.equal((await dev.call("PUT", "/v1/price-book", { key: KEYS.devAdmin, raw: BOOK })).status, 201);
});

after(async () => {
  await dev.stop();
  dev.cleanup();
});

test("a record reaches the endpoint, signed per Standard Webhooks", async () => {
  const rx = await new Receiver().start();
  const ep = await register(`${rx.url}/hook`);
  assert.match(ep.secret, /^whsec_[A-Za-z0-9+/]+=*$/);
  assert.equal(ep.enabled, true);
  const customer = await planChange();
  const [req] = await rx.waitFor(1);
  const body = JSON.parse(req.body);
  assert.equal(body.type, "subscription.plan_changed");
  assert.equal(body.data.type, "subscription.plan_changed");
  assert.equal(body.timestamp, body.data.at);
  assert.equal(req.headers["content-type"], "application/json");
  assert.match(req.headers["webhook-id"], /^msg_[0-9a-f]{32}$/);
  assert.ok(Math.abs(Number(req.headers["webhook-timestamp"]) - Date.now() / 1000) < 30);
  assert.ok(verify(ep.secret, req.headers, req.body), "signature");
  // The reference library and the package's verifyWebhook accept it.
  const theirs = new Webhook(ep.secret).verify(req.body, req.headers);
  assert.equal(theirs.type, "subscription.plan_changed");
  const ours = await verifyWebhook(ep.secret, req.headers, req.body);
  assert.deepEqual(ours, body);
  const tampered = { ...req.headers, "webhook-timestamp": String(Number(req.headers["webhook-timestamp"]) + 1) };
  assert.ok(!verify(ep.secret, tampered, req.body), "a changed timestamp no longer verifies");
  // The secret is never listed again.
  const list = await dev.call("GET", "/v1/webhook-endpoints", { key: KEYS.devAdmin });
  assert.ok(!JSON.stringify(list.body).includes(ep.secret));
  assert.equal(list.body.webhook_endpoints.find((e) => e.id === ep.id).url, `${rx.url}/hook`);
  const [d] = await until(async () => (await deliveries(ep.id, "succeeded")).length > 0 && (await deliveries(ep.id, "succeeded")));
  assert.deepEqual([d.attempts, d.last_status, d.webhook_id], [1, 204, req.headers["webhook-id"]]);
  assert.ok(customer);
  await remove(ep.id);
  await rx.stop();
});

test("500 three times, then the same webhook-id succeeds once", async () => {
  const rx = await new Receiver().start();
  rx.reply = (_r, n) => (n <= 3 ? [500] : [200]);
  const ep = await register(rx.url);
  await planChange();
  const reqs = await rx.waitFor(4);
  assert.equal(new Set(reqs.map((r) => r.headers["webhook-id"])).size, 1);
  // The schedule 0,1,2,3 s: each retry waits at least its delay.
  for (const [i, wait] of [[1, 1000], [2, 2000], [3, 3000]]) {
    assert.ok(reqs[i].at - reqs[i - 1].at >= wait - 150, `retry ${i} after ${reqs[i].at - reqs[i - 1].at} ms`);
  }
  for (const r of reqs) assert.ok(verify(ep.secret, r.headers, r.body));
  const ds = await until(async () => {
    const all = await deliveries(ep.id);
    return all.length === 1 && all[0].status === "succeeded" && all;
  });
  assert.deepEqual([ds[0].attempts, ds[0].last_status], [4, 200]);
  await sleep(1500);
  assert.equal(rx.requests.length, 4, "nothing after the success");
  await remove(ep.id);
  await rx.stop();
});

test("429 with Retry-After waits that long", async () => {
  const rx = await new Receiver().start();
  rx.reply = (_r, n) => (n === 1 ? [429, { "retry-after": "3" }] : [204]);
  const ep = await register(rx.url);
  await planChange();
  const reqs = await rx.waitFor(2);
  const gap = reqs[1].at - reqs[0].at;
  assert.ok(gap >= 2900, `retried after ${gap} ms, not the 3 s asked`);
  assert.equal(reqs[0].headers["webhook-id"], reqs[1].headers["webhook-id"]);
  await remove(ep.id);
  await rx.stop();
});

test("410 disables the endpoint: no delivery after it", async () => {
  const rx = await new Receiver().start();
  rx.reply = () => [410];
  const ep = await register(rx.url);
  await planChange();
  await rx.waitFor(1);
  const listed = await until(async () => {
    const r = await dev.call("GET", "/v1/webhook-endpoints", { key: KEYS.devAdmin });
    const e = r.body.webhook_endpoints.find((x) => x.id === ep.id);
    return e.enabled === false && e;
  });
  assert.match(listed.disabled_reason, /410/);
  await planChange();
  await sleep(3000);
  assert.equal(rx.requests.length, 1);
  const [d] = await deliveries(ep.id, "failed");
  assert.equal(d.last_status, 410);
  await remove(ep.id);
  await rx.stop();
});

test("a receiver that is down ends as a failed delivery; retry sends it once it is back", async () => {
  const port = await freePort();
  const ep = await register(`http://127.0.0.1:${port}/late`);
  await planChange();
  // Four attempts (0, 1, 2, 3 s apart), all refused.
  const [failed] = await until(async () => {
    const f = await deliveries(ep.id, "failed");
    return f.length === 1 && f;
  });
  assert.equal(failed.attempts, 4);
  assert.match(failed.last_error, /network error/);
  const rx = await new Receiver().start(port);
  const r = await dev.call("POST", `/v1/webhook-endpoints/${ep.id}/deliveries/${failed.id}/retry`, { key: KEYS.devAdmin });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  assert.equal(r.body.status, "pending");
  const [req] = await rx.waitFor(1);
  assert.equal(req.headers["webhook-id"], failed.webhook_id);
  assert.ok(verify(ep.secret, req.headers, req.body));
  await until(async () => (await deliveries(ep.id, "succeeded")).length === 1);
  // Retrying a delivery that is not failed is refused.
  const again = await dev.call("POST", `/v1/webhook-endpoints/${ep.id}/deliveries/${failed.id}/retry`, { key: KEYS.devAdmin });
  assert.equal(again.status, 409);
  assert.equal(again.body.code, "delivery_not_failed");
  await remove(ep.id);
  await rx.stop();
});

test("a slow endpoint times out; a redirect is not followed", async () => {
  const slow = await new Receiver().start();
  slow.reply = (_r, n) => (n === 1 ? "hang" : [204]);
  const moved = await new Receiver().start();
  moved.reply = (r) => (r.path === "/moved" ? [302, { location: `${moved.url}/elsewhere` }] : [204]);
  const a = await register(slow.url);
  const b = await register(`${moved.url}/moved`);
  await planChange();
  await slow.waitFor(2, 20_000);
  const [da] = await until(async () => (await deliveries(a.id, "succeeded")).length === 1 && (await deliveries(a.id)));
  assert.equal(da.attempts, 2);
  await moved.waitFor(4, 20_000);
  assert.ok(moved.requests.every((r) => r.path === "/moved"), "the redirect was followed");
  const [db] = await until(async () => (await deliveries(b.id, "failed")).length === 1 && (await deliveries(b.id)));
  assert.equal(db.last_status, 302);
  for (const e of [a, b]) await remove(e.id);
  await slow.stop();
  await moved.stop();
});

test("events filter, rotation signs with both secrets, URL and body checks", async () => {
  const rx = await new Receiver().start();
  // Only credit expiries: a plan change (and its invoice) is not delivered.
  const only = await register(`${rx.url}/expired`, ["credits.expired"]);
  const all = await register(`${rx.url}/all`, PLAN);
  await planChange();
  await rx.waitFor(1);
  await sleep(1500);
  assert.deepEqual(rx.requests.map((r) => r.path), ["/all"]);
  const rot = await dev.call("POST", `/v1/webhook-endpoints/${all.id}/rotate`, { key: KEYS.devAdmin });
  assert.equal(rot.status, 200);
  assert.notEqual(rot.body.secret, all.secret);
  await planChange();
  const [, second] = await rx.waitFor(2);
  assert.equal(second.headers["webhook-signature"].split(" ").length, 2);
  assert.ok(verify(rot.body.secret, second.headers, second.body));
  assert.ok(verify(all.secret, second.headers, second.body));
  for (const e of [only, all]) await remove(e.id);
  await rx.stop();
  const bad = async (body, path) => {
    const r = await dev.call("POST", "/v1/webhook-endpoints", { key: KEYS.devAdmin, body });
    assert.equal(r.status, 422, JSON.stringify(r.body));
    assert.equal(r.body.path, path);
  };
  await bad({ url: "https://10.0.0.1/hook" }, "url");
  await bad({ url: "http://hooks.example.com/hook" }, "url");
  await bad({ url: "https://localhost/hook" }, "url");
  await bad({ url: "https://hooks.example.com", events: ["nope"] }, "events[0]");
  const extra = await dev.call("POST", "/v1/webhook-endpoints", { key: KEYS.devAdmin, body: { url: "https://hooks.example.com", secret: "x" } });
  assert.equal(extra.status, 400);
  const missing = await dev.call("DELETE", "/v1/webhook-endpoints/ep_nope", { key: KEYS.devAdmin });
  assert.equal(missing.status, 404);
  assert.equal(missing.body.code, "unknown_endpoint");
});

test("a dropped event is delivered as usage_event.dropped, naming the event", async () => {
  // A customer on starter: mms to FR is dropped (policy drop).
  const rx = await new Receiver().start();
  const ep = await register(rx.url, ["usage_event.dropped"]);
  const c = "wh_drop";
  assert.equal((await dev.call("PUT", `/v1/customers/${c}/subscription`, { key: KEYS.devAdmin, body: { plan: "starter", start: iso(Date.now() - 3600_000) } })).status, 201);
  const [r] = await dev.ingest(KEYS.devIngest, [event("whd-1", "mms", c, { quantity: "1", country: "FR" })]);
  assert.equal(r.status, "dropped");
  const [req] = await rx.waitFor(1);
  const body = JSON.parse(req.body);
  assert.equal(body.type, "usage_event.dropped");
  assert.equal(body.data.event, "whd-1");
  assert.equal(body.data.customer, c);
  await remove(ep.id);
  await rx.stop();
});

test("every record type is delivered, and the reference library verifies each", { timeout: 120_000 }, async () => {
  // Tenant acme, with a book that has every kind of threshold and a
  // credit pack that expires after a day (tests/webhooks/price-book.json).
  const book = readFileSync(join(ROOT, "tests/webhooks/price-book.json"), "utf8");
  assert.equal((await dev.call("PUT", "/v1/price-book", { key: KEYS.acmeAdmin, raw: book })).status, 201);
  const rx = await new Receiver().start();
  const made = await dev.call("POST", "/v1/webhook-endpoints", { key: KEYS.acmeAdmin, body: { url: `${rx.url}/all` } });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const DAY = 86400_000;
  const now = Date.now();
  const c = "wh_all";
  // Receipt times set with the dev clock (x-rating-now).
  const at = (ms) => ({ "x-rating-now": iso(ms) });
  const call = async (method, path, body, headers = {}, key = KEYS.acmeAdmin) => {
    const r = await fetch(`${dev.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
    const text = await r.text();
    assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${text}`);
    return JSON.parse(text);
  };
  const sub = (body, headers) => call("PUT", `/v1/customers/${c}/subscription`, body, headers);
  const ingest = async (events, headers) => (await call("POST", "/v1/events", events, headers, KEYS.acmeIngest)).results;
  // Started 40 days ago: the first month closed (invoice.issued) with its
  // unused allowance carried over (allowance.rolled_over).
  await sub({ plan: "pro", start: iso(now - 40 * DAY) });
  await sub({ purchase_credits: "boost" });
  // 25 calls of 10 included + 10 rolled over: 50 % and 100 % reached, and
  // 5 over at 0.50 passes the 1.00 spend threshold.
  const calls = Array.from({ length: 25 }, (_, i) => event(`all-api-${i}`, "api", c));
  assert.ok((await ingest(calls)).every((r) => r.status === "accepted"));
  const [drop] = await ingest([event("all-drop", "domain", c, { quantity: "1", tld: ".xyz" })]);
  assert.equal(drop.status, "dropped");
  // 16 of the pack's 20 credits: 4 left, under its low_balance of 5.
  const [gen] = await ingest([event("all-gen", "gen", c, { quantity: "16" })]);
  assert.equal(gen.status, "accepted", JSON.stringify(gen));
  // Two days on, the pack (1 day) has expired.
  const later = now + 2 * DAY;
  await ingest([event("all-late", "api", c)], at(later));
  await sub({ plan: "team" }, at(later + 60_000));
  await sub({ cancel: "period_end" }, at(later + 120_000));
  const want = new Set([
    "invoice.issued", "allowance.threshold_reached", "spend.threshold_reached", "allowance.rolled_over",
    "subscription.created", "subscription.plan_changed", "subscription.canceled", "usage_event.dropped",
    "credits.low_balance", "credits.topped_up", "credits.expired",
  ]);
  const seen = () => new Set(rx.requests.map((r) => JSON.parse(r.body).type));
  await until(async () => [...want].every((t) => seen().has(t)), 30_000).catch(() => {
    assert.fail(`missing: ${[...want].filter((t) => !seen().has(t)).join(", ")}`);
  });
  const reference = new Webhook(made.body.secret);
  for (const r of rx.requests) {
    const body = JSON.parse(r.body);
    const verified = reference.verify(r.body, r.headers);
    assert.deepEqual(verified, body);
    assert.equal(body.data.customer, c);
    assert.equal(body.timestamp, body.data.at);
  }
  // The ones an event caused name it.
  const byType = (t) => rx.requests.map((r) => JSON.parse(r.body)).filter((b) => b.type === t);
  assert.equal(byType("usage_event.dropped")[0].data.event, "all-drop");
  assert.equal(byType("credits.low_balance")[0].data.event, "all-gen");
  assert.ok(byType("allowance.threshold_reached").every((b) => b.data.event.startsWith("all-api-")));
  assert.deepEqual(byType("allowance.threshold_reached").map((b) => b.data.threshold).sort(), ["100", "50"]);
  // One delivery per record: no webhook-id twice.
  const ids = rx.requests.map((r) => r.headers["webhook-id"]);
  assert.equal(new Set(ids).size, ids.length);
  await rx.stop();
});
