// Security of the Worker under `wrangler dev` (RELIABILITY.md,
// "Security"), table-driven from worker/openapi.json so that a new route
// cannot go unchecked:
// - no key, a malformed or an unknown key: 401 on every secured route,
//   and the presented key is never echoed;
// - a key whose role does not allow the route: 403 (admin routes refuse
//   ingest and read keys);
// - tenant isolation: with the other tenant's keys, no route reaches this
//   tenant's data (a marker string in its book, events and audit never
//   shows up), and what the other tenant writes changes nothing here;
// - neither a key nor an event's payload appears in wrangler's logs.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Dev, KEYS, ROOT, event, iso } from "./harness.mjs";

const DOC = JSON.parse(readFileSync(join(ROOT, "worker/openapi.json"), "utf8"));
const BOOK_TEXT = readFileSync(join(ROOT, "examples/worker/price-book.json"), "utf8");
const DAY = 86400_000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Placed in the dev tenant's book, events and audit; must never reach acme or the logs. */
const MARKER = `SECRET-MARKER-${randomBytes(8).toString("hex")}`;
/** A wrong key: must never be echoed or logged. */
const WRONG_KEY = `wrong-key-${randomBytes(8).toString("hex")}`;

// The dev tenant's book: the example with the marker in its name and a
// platform fee no other book has.
const DEV_BOOK = JSON.parse(BOOK_TEXT);
DEV_BOOK.name = `Dev book ${MARKER}`;
DEV_BOOK.plans.find((p) => p.id === "pro").items.find((i) => i.product === "platform").price.amount = "4242.00";

const dev = new Dev();
const out = [];
const listen = () => {
  dev.proc.stdout.on("data", (d) => out.push(String(d)));
  dev.proc.stderr.on("data", (d) => out.push(String(d)));
};

/** Every secured operation of the OpenAPI document, with its role. */
const OPS = [];
for (const [path, item] of Object.entries(DOC.paths)) {
  for (const [method, op] of Object.entries(item)) {
    if (method === "parameters") continue;
    if (Array.isArray(op.security) && op.security.length === 0) continue;
    const role = /\(role (ingest|read|admin)\)/.exec(op.summary)?.[1] ?? /role (ingest|read|admin)\)/.exec(op.summary)?.[1];
    assert.ok(role, `${method} ${path}: the summary names no role`);
    OPS.push({ method: method.toUpperCase(), path, role, id: op.operationId });
  }
}

/** A request body each operation accepts. */
function bodyOf(op) {
  switch (op.id) {
    case "ingestEvents": return [event("sec-any", "api_calls", "sec_none")];
    case "putPriceBook": return JSON.parse(BOOK_TEXT);
    case "quote": return { plan: "pro" };
    case "compare": return { usage: {} };
    case "estimate": return event("sec-est", "api_calls", "sec_none", { quantity: "1" });
    case "putSubscription": return { plan: "pro" };
    case "createWebhookEndpoint": return { url: "https://hooks.example.com/acme" };
    default: return undefined;
  }
}
const concrete = (op, customer = "sec_none", id = "ep_none", delivery = "dlv_none") =>
  op.path.replace("{customer}", customer).replace("{id}", id).replace("{delivery}", delivery);
const call = (op, key, { customer, body, id, delivery } = {}) =>
  dev.call(op.method, concrete(op, customer, id, delivery), { key, body: body ?? bodyOf(op) });
/** dev's webhook endpoint (its URL holds the marker), made in before(). */
let devEndpoint;
const text = (r) => (typeof r.body === "string" ? r.body : JSON.stringify(r.body));

function problem(r, status, code, what) {
  assert.equal(r.status, status, `${what}: ${r.status} ${text(r).slice(0, 200)}`);
  assert.match(r.headers.get("content-type") ?? "", /^application\/problem\+json/, what);
  assert.equal(r.body.code, code, what);
}

async function drained(key, table, want) {
  for (let i = 0; i < 120; i++) {
    const r = await dev.call("GET", `/v1/${table}?limit=1000`, { key });
    if (r.body.total >= want) return r;
    await sleep(250);
  }
  assert.fail(`${table} never reached ${want} rows`);
}

before(async () => {
  await dev.start();
  listen();
  assert.equal((await dev.call("PUT", "/v1/price-book", { key: KEYS.devAdmin, body: DEV_BOOK })).status, 201);
  assert.equal((await dev.call("PUT", "/v1/price-book", { key: KEYS.acmeAdmin, raw: BOOK_TEXT })).status, 201);
  const start = iso(Date.now() - DAY);
  for (const [c, plan] of [["sec_shared", "pro"], ["sec_only_dev", "pro"], ["sec_drop", "starter"]]) {
    const r = await dev.call("PUT", `/v1/customers/${c}/subscription`, { key: KEYS.devAdmin, body: { plan, start } });
    assert.equal(r.status, 201, text(r));
  }
  const ep = await dev.call("POST", "/v1/webhook-endpoints", {
    key: KEYS.devAdmin,
    body: { url: `https://hooks.example.com/${MARKER}`, events: ["invoice.issued"] },
  });
  assert.equal(ep.status, 201, text(ep));
  devEndpoint = ep.body;
  // A customer whose subscription started months ago: its past periods'
  // invoices are issued at once (GET /v1/invoices).
  const inv = await dev.call("PUT", "/v1/customers/sec_inv/subscription", {
    key: KEYS.devAdmin,
    body: { plan: "pro", start: iso(Date.now() - 70 * DAY) },
  });
  assert.equal(inv.status, 201, text(inv));
  // Events carrying the marker in their payload, one of them dropped
  // (mms to FR on starter: the `drop` policy), one rejected.
  const rs = await dev.ingest(KEYS.devIngest, [
    event(`sec-1-${MARKER}`, "bandwidth", "sec_shared", { quantity: "5", note: MARKER }),
    event("sec-2", "bandwidth", "sec_only_dev", { quantity: "3", note: MARKER }, { source: `src-${MARKER}` }),
    event("sec-3", "mms", "sec_drop", { quantity: "1", country: "FR", note: MARKER }),
    event("sec-4", "bandwidth", "sec_only_dev", { quantity: `NaN-${MARKER}` }),
  ]);
  assert.deepEqual(rs.map((r) => r.status), ["accepted", "accepted", "dropped", "rejected"]);
});

after(async () => {
  await dev.stop();
  dev.cleanup();
});

test("the OpenAPI document has secured routes of every role", () => {
  assert.ok(OPS.length >= 12, String(OPS.length));
  for (const role of ["ingest", "read", "admin"]) assert.ok(OPS.some((o) => o.role === role), role);
});

describe("authentication: 401 on every secured route", () => {
  for (const op of OPS) {
    test(`${op.method} ${op.path}`, async () => {
      for (const authorization of [undefined, "", "Bearer", "Bearer ", `Basic ${Buffer.from("dev:dev").toString("base64")}`,
        `Bearer ${WRONG_KEY}`, `Bearer ${KEYS.devAdmin}x`, `Bearer x${KEYS.devAdmin}`, `Bearer ${KEYS.devAdmin.toUpperCase()}`,
        `Token ${KEYS.devAdmin}`]) {
        const headers = authorization === undefined ? {} : { authorization };
        const body = bodyOf(op);
        if (body !== undefined) headers["content-type"] = "application/json";
        const r = await fetch(`${dev.url}${concrete(op)}`, { method: op.method, headers, body: body && JSON.stringify(body) });
        const t = await r.text();
        assert.equal(r.status, 401, `${op.method} ${op.path} with ${JSON.stringify(authorization)}: ${r.status} ${t.slice(0, 200)}`);
        assert.match(r.headers.get("www-authenticate") ?? "", /^Bearer/);
        assert.equal(JSON.parse(t).code, "unauthorized");
        assert.ok(!t.includes(WRONG_KEY) && !t.includes(KEYS.devAdmin), "the key is echoed");
      }
    });
  }
});

describe("authorization: 403 for a role that does not allow the route", () => {
  const keys = { ingest: KEYS.devIngest, read: KEYS.devRead, admin: KEYS.devAdmin };
  for (const op of OPS) {
    test(`${op.method} ${op.path} (role ${op.role})`, async () => {
      for (const [role, key] of Object.entries(keys)) {
        const allowed = role === "admin" || role === op.role;
        if (allowed) continue;
        problem(await call(op, key), 403, "forbidden", `${op.method} ${op.path} with a ${role} key`);
      }
      if (op.role === "admin") {
        // Spelled out: admin routes refuse both other roles.
        problem(await call(op, KEYS.devIngest), 403, "forbidden", "ingest key");
        problem(await call(op, KEYS.devRead), 403, "forbidden", "read key");
      }
    });
  }
});

describe("tenant isolation: acme's keys on every route never reach dev's data", () => {
  // One check per operation (the table must cover them all).
  const checks = {
    async ingestEvents(op) {
      // dev's own event (same id, source, subject) sent by acme is acme's:
      // unknown customer there; dev's meter is unchanged.
      const before = await dev.call("GET", "/v1/customers/sec_shared/allowance-state", { key: KEYS.devRead });
      const r = await call(op, KEYS.acmeIngest, { body: [event(`sec-1-${MARKER}`, "bandwidth", "sec_shared", { quantity: "500" })] });
      assert.equal(r.status, 200);
      assert.equal(r.body.results[0].error?.code, "unknown_customer");
      const after = await dev.call("GET", "/v1/customers/sec_shared/allowance-state", { key: KEYS.devRead });
      assert.deepEqual(after.body.dimensions, before.body.dimensions);
      // The receipt echoes acme's own id; nothing else of dev's.
      const { id, ...rest } = r.body.results[0];
      assert.equal(id, `sec-1-${MARKER}`);
      return { ...r, body: rest };
    },
    async getPriceBook(op) {
      const mine = await call(op, KEYS.devAdmin);
      assert.ok(text(mine).includes(MARKER), "positive control");
      const r = await call(op, KEYS.acmeAdmin);
      assert.equal(r.status, 200);
      for (let v = 1; v <= 3; v++) {
        const old = await dev.call("GET", `/v1/price-book?version=${v}`, { key: KEYS.acmeAdmin });
        assert.ok(!text(old).includes(MARKER), `acme version ${v}`);
      }
      return r;
    },
    async putPriceBook(op) {
      const book = { ...JSON.parse(BOOK_TEXT), name: "acme's own" };
      const r = await call(op, KEYS.acmeAdmin, { body: book });
      assert.equal(r.status, 201);
      const mine = await dev.call("GET", "/v1/price-book", { key: KEYS.devAdmin });
      assert.deepEqual([mine.body.version, mine.body.price_book.name], [1, DEV_BOOK.name]);
      return r;
    },
    async quote(op) {
      const mine = await call(op, KEYS.devRead);
      assert.ok(text(mine).includes("4242.00"), "positive control");
      const r = await call(op, KEYS.acmeAdmin);
      assert.equal(r.status, 200);
      assert.ok(!text(r).includes("4242.00"));
      return r;
    },
    async compare(op) {
      const total = (r) => r.body.plans.find((p) => p.plan === "pro").total;
      const mine = await call(op, KEYS.devRead);
      const r = await call(op, KEYS.acmeAdmin);
      assert.equal(r.status, 200);
      assert.equal(Number(total(mine)) - Number(total(r)), 4242 - 49, "acme's compare uses acme's book");
      return r;
    },
    async droppedEvents(op) {
      const mine = await drained(KEYS.devRead, "dropped-events", 1);
      assert.ok(text(mine).includes(MARKER), "positive control");
      const byCustomer = await dev.call("GET", "/v1/dropped-events?customer=sec_drop", { key: KEYS.acmeAdmin });
      assert.deepEqual(byCustomer.body.dropped_events, []);
      const r = await call(op, KEYS.acmeAdmin);
      assert.equal(r.body.total, 0);
      return [r, byCustomer];
    },
    async usageEvents(op) {
      // Removed: the same answer for every tenant, with nothing in it.
      const mine = await call(op, KEYS.devRead);
      const r = await call(op, KEYS.acmeAdmin);
      for (const x of [mine, r]) problem(x, 410, "gone");
      return r;
    },
    async tenantInvoices(op) {
      // dev's customers' invoices reach dev's list; acme's list, and acme
      // asking for dev's customer by name, never hold them.
      let mine;
      for (let i = 0; i < 120; i++) {
        mine = await dev.call("GET", "/v1/invoices?customer=sec_inv", { key: KEYS.devRead });
        if (mine.body.total > 0) break;
        await sleep(250);
      }
      assert.ok(mine.body.total > 0, "positive control");
      const r = await call(op, KEYS.acmeAdmin);
      assert.equal(r.status, 200);
      assert.equal(r.body.total, 0);
      const byCustomer = await dev.call("GET", "/v1/invoices?customer=sec_inv", { key: KEYS.acmeAdmin });
      assert.equal(byCustomer.body.total, 0);
      return [r, byCustomer];
    },
    async createWebhookEndpoint(op) {
      const r = await call(op, KEYS.acmeAdmin);
      assert.equal(r.status, 201, text(r));
      const mine = await dev.call("GET", "/v1/webhook-endpoints", { key: KEYS.devAdmin });
      assert.ok(!mine.body.webhook_endpoints.some((e) => e.id === r.body.id), "acme's endpoint is not dev's");
      return r;
    },
    async listWebhookEndpoints(op) {
      const mine = await call(op, KEYS.devAdmin);
      assert.ok(text(mine).includes(MARKER), "positive control");
      const r = await call(op, KEYS.acmeAdmin);
      assert.equal(r.status, 200);
      return r;
    },
    async deleteWebhookEndpoint(op) {
      const r = await call(op, KEYS.acmeAdmin, { id: devEndpoint.id });
      problem(r, 404, "unknown_endpoint", "acme deleting dev's endpoint");
      const mine = await dev.call("GET", "/v1/webhook-endpoints", { key: KEYS.devAdmin });
      assert.ok(mine.body.webhook_endpoints.some((e) => e.id === devEndpoint.id), "dev's endpoint is still there");
      return r;
    },
    async rotateWebhookSecret(op) {
      const r = await call(op, KEYS.acmeAdmin, { id: devEndpoint.id });
      problem(r, 404, "unknown_endpoint", "acme rotating dev's secret");
      return r;
    },
    async listWebhookDeliveries(op) {
      const mine = await call(op, KEYS.devAdmin, { id: devEndpoint.id });
      assert.equal(mine.status, 200, "positive control");
      const r = await call(op, KEYS.acmeAdmin, { id: devEndpoint.id });
      problem(r, 404, "unknown_endpoint", "acme reading dev's deliveries");
      return r;
    },
    async retryWebhookDelivery(op) {
      const r = await call(op, KEYS.acmeAdmin, { id: devEndpoint.id, delivery: "dlv_any" });
      problem(r, 404, "unknown_endpoint", "acme retrying dev's delivery");
      return r;
    },
    async stats(op) {
      // dev's object for sec_shared has stored dev's events; acme's object
      // of the same name has stored none of them, and acme's consumer
      // counters are acme's.
      const mine = await dev.call("GET", "/v1/stats?customer=sec_shared", { key: KEYS.devAdmin });
      assert.equal(mine.status, 200, text(mine));
      assert.ok(mine.body.consumer.events > 0, "positive control");
      const r = await call(op, KEYS.acmeAdmin);
      assert.equal(r.status, 200);
      const byCustomer = await dev.call("GET", "/v1/stats?customer=sec_shared", { key: KEYS.acmeAdmin });
      assert.equal(byCustomer.status, 200);
      assert.equal(byCustomer.body.customer.outbox_events, 0);
      assert.equal(byCustomer.body.customer.dedup_keys, 0);
      return [r, byCustomer];
    },
    async export(op) {
      // dev's log holds the marker (its accepted and dropped events) once
      // the Queue has delivered them; acme's never does, whatever it asks.
      let mine;
      for (let i = 0; i < 120; i++) {
        mine = await call(op, KEYS.devAdmin);
        if (text(mine).split(MARKER).length - 1 >= 2) break;
        await sleep(250);
      }
      assert.ok(text(mine).includes(MARKER), "positive control");
      const r = await call(op, KEYS.acmeAdmin);
      assert.equal(r.status, 200);
      const q = (customer) => dev.call("GET", `/v1/export?customer=${encodeURIComponent(customer)}`, { key: KEYS.acmeAdmin });
      const byCustomer = await q("sec_shared");
      const spelled = await q("../dev/sec_shared");
      for (const x of [byCustomer, spelled]) assert.equal(x.status, 200);
      return [r, byCustomer, spelled];
    },
    async usage(op) {
      // dev's rollups hold sec_shared's event once the Queue delivered it;
      // acme asking for the same customer name sees no bucket.
      const range = `from=${encodeURIComponent(iso(Date.now() - 2 * DAY))}&to=${encodeURIComponent(iso(Date.now() + DAY))}`;
      const path = `/v1/usage?customer=sec_shared&${range}`;
      let mine;
      for (let i = 0; i < 120; i++) {
        mine = await dev.call("GET", path, { key: KEYS.devRead });
        if (mine.body.buckets?.length > 0) break;
        await sleep(250);
      }
      assert.equal(mine.body.buckets.length, 1, "positive control");
      const r = await dev.call("GET", path, { key: KEYS.acmeAdmin });
      assert.equal(r.status, 200);
      assert.deepEqual(r.body.buckets, []);
      return r;
    },
    async putSubscription(op) {
      const r = await call(op, KEYS.acmeAdmin, { customer: "sec_shared", body: { plan: "starter" } });
      assert.equal(r.status, 201, "acme's own customer of the same name");
      const mine = await dev.call("GET", "/v1/customers/sec_shared/subscription", { key: KEYS.devRead });
      assert.equal(mine.body.plan, "pro");
      // ...whose meter starts empty.
      const theirs = await dev.call("GET", "/v1/customers/sec_shared/allowance-state", { key: KEYS.acmeAdmin });
      assert.ok(theirs.body.dimensions.every((d) => d.used === "0"), text(theirs));
      return r;
    },
  };
  // An estimate for dev's customer, with acme's key, is acme's customer of
  // that name: not subscribed there.
  checks.estimate = async (op) => {
    const body = event("sec-est", "api_calls", "sec_only_dev", { quantity: "1" });
    const mine = await call(op, KEYS.devRead, { customer: "sec_only_dev", body });
    assert.equal(mine.status, 200, "positive control");
    assert.equal(mine.body.would_be, "accepted", text(mine));
    const r = await call(op, KEYS.acmeAdmin, { customer: "sec_only_dev", body });
    assert.equal(r.status, 200, text(r));
    assert.equal(r.body.would_be, "rejected", text(r));
    assert.equal(r.body.error.code, "unknown_customer", text(r));
    return r;
  };
  // The customer reads: dev's customer does not exist for acme.
  for (const id of ["getSubscription", "allowanceState", "invoicePreview", "invoices"]) {
    checks[id] = async (op) => {
      const mine = await call(op, KEYS.devRead, { customer: "sec_only_dev" });
      assert.equal(mine.status, 200, "positive control");
      const r = await call(op, KEYS.acmeAdmin, { customer: "sec_only_dev" });
      problem(r, 404, "unknown_customer", `${op.method} ${op.path}`);
      // A customer id that spells dev's object name reaches acme's own.
      const spelled = await call(op, KEYS.acmeAdmin, { customer: encodeURIComponent("dev/sec_only_dev") });
      problem(spelled, 404, "unknown_customer", "dev/… as a customer id");
      return [r, spelled];
    };
  }

  test("every secured operation has an isolation check", () => {
    assert.deepEqual(OPS.map((o) => o.id).filter((id) => !checks[id]), []);
  });

  for (const op of OPS) {
    test(`${op.method} ${op.path}`, async () => {
      const answers = [await checks[op.id](op)].flat();
      for (const r of answers) assert.ok(!text(r).includes(MARKER), `${op.method} ${op.path}: acme saw dev's data`);
    });
  }
});

describe("logs", () => {
  test("wrangler's output holds no key, no webhook secret and no event payload", async () => {
    // Give late log lines (the Queue consumer) a moment.
    await sleep(1500);
    const log = out.join("");
    assert.ok(log.includes("/v1/events"), "the log was captured");
    const devVars = readFileSync(join(ROOT, "worker/dev.vars"), "utf8");
    const keys = Object.keys(JSON.parse(/API_KEYS='([^']*)'/.exec(devVars)[1]));
    assert.ok(keys.length >= 5);
    for (const k of [...keys, WRONG_KEY]) assert.ok(!log.includes(k), `a key is in the log: ${k.slice(0, 4)}…`);
    assert.ok(!log.includes(MARKER), "event payload (the marker) is in the log");
    assert.ok(!log.includes(devEndpoint.secret), "a webhook secret is in the log");
    assert.ok(!log.includes(devEndpoint.secret.slice(6)), "a webhook secret's key is in the log");
  });
});
