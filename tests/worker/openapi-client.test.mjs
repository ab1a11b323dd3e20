// The Worker's API document (worker/openapi.json) against reality, so that
// it types a client and cannot drift from what the Worker answers:
// - `redocly lint` (redocly.yaml, .redocly.lint-ignore.yaml) finds nothing;
// - the price-book schema it embeds is schema/price-book.v1.json, and the
//   example books are valid for it; the engine's documents (every quote
//   and comparison of tests/vectors, every record type, a meter's
//   invoices and allowance state) are valid for its component schemas;
// - a client typed only by it (openapi-typescript's types, openapi-fetch,
//   tests/worker/openapi-client/client.ts) compiles under `tsc --strict`
//   with no cast and no `any`, then runs against `wrangler dev`;
// - the running Worker's answers on its routes (and a webhook delivery,
//   and the export's lines) are valid for the response schema of their
//   route, status and content type: a status or media type the document
//   does not list is a failure too.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Dev, KEYS, ROOT, event, iso } from "./harness.mjs";
import { loadCases } from "./identity.mjs";
import { everyRecord, RECORDS_BOOK, RECORD_TYPES } from "../../npm/test/records.js";

const require = createRequire(join(ROOT, "npm/package.json"));
const Ajv2020 = require("ajv/dist/2020").default;
const addFormats = require("ajv-formats");

const BIN = join(ROOT, "npm/node_modules/.bin");
const DOC_FILE = join(ROOT, "worker/openapi.json");
const DOC = JSON.parse(readFileSync(DOC_FILE, "utf8"));
const BOOK = JSON.parse(readFileSync(join(ROOT, "examples/worker/price-book.json"), "utf8"));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Runs a command without blocking the event loop (a blocked loop would
 * leave fetch a kept-alive socket the dev server has closed meanwhile):
 * its exit status and output. */
function run(cmd, args, { cwd = ROOT, env = process.env, timeout = 120_000 } = {}) {
  return new Promise((ok, fail) => {
    const p = spawn(cmd, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"], timeout });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    p.on("error", fail);
    p.on("close", (status) => ok({ status, stdout, stderr }));
  });
}

// ---- validation against the document's schemas (JSON Schema 2020-12)

// Strict, but `required` may name a property of an `allOf` member (the
// document's `{allOf: [{$ref: X}], required: [...]}`: X with more required).
const ajv = new Ajv2020({ strict: true, strictRequired: false, allowUnionTypes: true, allErrors: true });
addFormats(ajv);
// The OpenAPI document's own members are not schema keywords.
ajv.addVocabulary(["openapi", "info", "servers", "security", "paths", "webhooks", "components"]);
ajv.addSchema(DOC, "openapi.json");

/** The validator of a location in the document, by its path segments. */
function schemaAt(...segments) {
  const pointer = segments.map((s) => encodeURIComponent(String(s).replaceAll("~", "~0").replaceAll("/", "~1")));
  const v = ajv.getSchema(`openapi.json#/${pointer.join("/")}`);
  assert.ok(v, `no schema at ${segments.join(" ")}`);
  return v;
}

function assertValid(validate, value, what) {
  if (!validate(value)) {
    const detail = ajv.errorsText(validate.errors, { separator: "\n  " });
    assert.fail(`${what} does not match the document:\n  ${detail}\n${JSON.stringify(value).slice(0, 3000)}`);
  }
}

const component = (name) => schemaAt("components", "schemas", name);

/** "METHOD template status" of every answer checked. */
const answered = new Set();

/** The reason phrases of RFC 9110 (section 15), for the statuses the Worker answers with. */
const REASON = {
  400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
  409: "Conflict", 410: "Gone", 413: "Content Too Large", 422: "Unprocessable Content",
  429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable",
};

/** Checks an answer of `dev.call` against the document: its status and
 * content type are listed for the operation, its body fits their schema. */
function conforms(r, method, template) {
  const op = DOC.paths[template]?.[method.toLowerCase()];
  assert.ok(op, `${method} ${template} is not in the document`);
  const status = String(r.status);
  const response = op.responses[status];
  assert.ok(response, `${method} ${template}: ${status} is not documented (${JSON.stringify(r.body).slice(0, 300)})`);
  const media = (r.headers.get("content-type") ?? "").split(";")[0].trim();
  assert.ok(response.content?.[media], `${method} ${template} ${status}: ${media} is not documented`);
  const schema = ["paths", template, method.toLowerCase(), "responses", status, "content", media, "schema"];
  assertValid(schemaAt(...schema), r.body, `${method} ${template} ${status}`);
  answered.add(`${method.toUpperCase()} ${template} ${status}`);
  if (media === "application/problem+json") {
    // RFC 9457: `status` repeats the HTTP status, `title` is its reason phrase.
    assert.equal(r.body.status, r.status, `${method} ${template}: the problem's status`);
    assert.equal(r.body.title, REASON[r.status], `${method} ${template}: the problem's title`);
  }
  return r.body;
}

describe("the document", () => {
  test("redocly lint finds no problem", async () => {
    const r = await run(join(BIN, "redocly"), ["lint", "worker/openapi.json", "--format=json"], {
      // No usage data, no update check: the lint needs no network.
      env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true", CI: "1" },
    });
    let report;
    try {
      report = JSON.parse(r.stdout);
    } catch {
      assert.fail(`redocly lint printed no report (status ${r.status}):\n${r.stdout}\n${r.stderr}`);
    }
    const problems = report.problems.map((p) => `${p.severity} ${p.ruleId} ${p.location[0]?.pointer}: ${p.message}`);
    assert.deepEqual(problems, []);
    assert.deepEqual([report.totals.errors, report.totals.warnings], [0, 0]);
    assert.equal(r.status, 0, r.stderr);
  });

  test("the validator refuses what the document does not allow", () => {
    const quote = component("Quote");
    const ok = {
      currency: "USD", plan: "pro", period: { unit: "month", length: 1 }, lines: [],
      subtotal: "1.00", discount: "0.00", total: "1.00", price_book: `sha256:${"0".repeat(64)}`,
    };
    assertValid(quote, ok, "a minimal quote");
    assert.equal(quote({ ...ok, extra: 1 }), false, "an unknown field");
    assert.equal(quote({ ...ok, total: 1 }), false, "money as a number");
    const { subtotal, ...missing } = ok;
    assert.equal(quote(missing), false, "a missing required field");
  });

  test("the price-book schema is schema/price-book.v1.json, and the example books fit it", () => {
    const file = JSON.parse(readFileSync(join(ROOT, "schema/price-book.v1.json"), "utf8"));
    const toComponents = (v) => JSON.parse(JSON.stringify(v).replaceAll('"#/$defs/', '"#/components/schemas/'));
    const { $id, $schema, $defs, ...root } = file;
    assert.deepEqual(DOC.components.schemas.PriceBook, toComponents(root));
    for (const [name, def] of Object.entries($defs)) {
      assert.deepEqual(DOC.components.schemas[name], toComponents(def), `components.schemas.${name}`);
    }
    const files = [
      ...readdirSync(join(ROOT, "examples")).filter((f) => f.endsWith(".json")).map((f) => `examples/${f}`),
      "examples/worker/price-book.json",
      "examples/replay/book.json",
    ];
    const books = files
      .map((f) => [f, JSON.parse(readFileSync(join(ROOT, f), "utf8"))])
      .filter(([, doc]) => doc.format === "price-book/v1");
    assert.ok(books.length >= 10, `${books.length} books`);
    for (const [f, book] of books) assertValid(component("PriceBook"), book, f);
  });

  test("the engine's documents fit their schemas: quotes, comparisons, records, invoices", async () => {
    const { PriceBook } = await import("../../npm/node.js");
    let quotes = 0;
    let comparisons = 0;
    for (const c of loadCases()) {
      if (c.op !== "quote" && c.op !== "compare") continue;
      let out;
      try {
        const book = PriceBook.parse(c.book);
        out = c.op === "quote" ? book.quoteJson(c.request) : book.compareJson(c.request);
        book.free();
      } catch {
        continue; // refused requests: the Worker's problem documents are checked below
      }
      assertValid(component(c.op === "quote" ? "Quote" : "Comparison"), JSON.parse(out), c.id);
      if (c.op === "quote") quotes++;
      else comparisons++;
    }
    assert.ok(quotes > 100 && comparisons > 5, `${quotes} quotes, ${comparisons} comparisons`);

    const records = everyRecord(PriceBook);
    assert.deepEqual([...new Set(records.map((r) => r.type))].sort(), [...RECORD_TYPES].sort());
    for (const r of records) assertValid(component("Record"), r, `a ${r.type} record`);

    // A meter with credits: invoices with credit-unit lines, allowance state.
    const book = PriceBook.parse(RECORDS_BOOK);
    const m = book.meter({ customer: "c", plan: "pro", start: "2026-01-01T00:00:00Z" });
    m.record(event("e1", "api", "c", { quantity: "1500" }, { time: "2026-01-02T00:00:00Z" }), "2026-01-02T00:00:00Z");
    m.record(event("e2", "gen", "c", { quantity: "45" }, { time: "2026-01-03T00:00:00Z" }), "2026-01-03T00:00:00Z");
    m.purchaseCredits("boost", "2026-01-05T00:00:00Z");
    assertValid(component("AllowanceState"), m.allowanceState("2026-01-10T00:00:00Z"), "an allowance state");
    assertValid(component("Invoice"), m.previewInvoice("2026-01-10T00:00:00Z"), "an invoice preview");
    const invoices = m.closePeriod("2026-02-01T00:00:00Z");
    assert.ok(invoices.length >= 3, `${invoices.length} invoices`);
    for (const inv of invoices) assertValid(component("Invoice"), inv, "an invoice");
    m.free?.();
    book.free();
  });
});

// ---- against wrangler dev

describe("against wrangler dev", () => {
  // One attempt per delivery: a delivery the receiver refuses fails at once.
  const dev = new Dev({ vars: { WEBHOOK_RETRY_SCHEDULE: "0" } });
  /** Webhook deliveries, as received. */
  const received = [];
  let receiver;

  before(async () => {
    receiver = http.createServer((req, res) => {
      let body = "";
      req.on("data", (d) => (body += d));
      req.on("end", () => {
        received.push({ path: req.url, headers: req.headers, body });
        res.writeHead(req.url === "/refuse" ? 500 : 204).end();
      });
    });
    await new Promise((ok) => receiver.listen(0, "127.0.0.1", ok));
    await dev.start();
    const put = conforms(await dev.call("PUT", "/v1/price-book", { key: KEYS.devAdmin, body: BOOK }), "PUT", "/v1/price-book");
    assert.equal(put.version, 1);
  });

  after(async () => {
    receiver?.closeAllConnections?.();
    await new Promise((ok) => (receiver ? receiver.close(ok) : ok()));
    await dev.stop();
    dev.cleanup();
  });

  test("a client typed by openapi-typescript compiles with tsc --strict, with no cast, and runs", async () => {
    const source = readFileSync(join(ROOT, "tests/worker/openapi-client/client.ts"), "utf8");
    assert.doesNotMatch(source, /\bas\b/, "the client has an `as` (a cast)");
    assert.doesNotMatch(source, /\bany\b/, "the client has an `any`");
    assert.doesNotMatch(source, /@ts-|eslint-disable/, "the client silences the checker");

    const dir = mkdtempSync(join(tmpdir(), "rating-openapi-client-"));
    try {
      symlinkSync(join(ROOT, "npm/node_modules"), join(dir, "node_modules"), "dir");
      writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module", private: true }));
      copyFileSync(join(ROOT, "tests/worker/openapi-client/client.ts"), join(dir, "client.ts"));
      // In the scratch directory, so that it reads no configuration of ours.
      const gen = await run(join(BIN, "openapi-typescript"), [DOC_FILE, "--output", "api.d.ts"], { cwd: dir });
      assert.equal(gen.status, 0, `openapi-typescript:\n${gen.stdout}${gen.stderr}`);
      writeFileSync(
        join(dir, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: {
            strict: true,
            noUncheckedIndexedAccess: true,
            target: "ES2022",
            module: "nodenext",
            moduleResolution: "nodenext",
            types: ["node"],
            skipLibCheck: false,
            outDir: "out",
          },
          files: ["client.ts"],
        }),
      );
      const tsc = await run(join(BIN, "tsc"), ["-p", dir]);
      assert.equal(tsc.status, 0, `tsc --strict:\n${tsc.stdout}${tsc.stderr}`);

      const client = await run(process.execPath, [join(dir, "out/client.js")], {
        env: {
          ...process.env,
          RATING_URL: dev.url,
          RATING_CUSTOMER: "oc_client",
          RATING_ADMIN_KEY: KEYS.devAdmin,
          RATING_READ_KEY: KEYS.devRead,
          RATING_INGEST_KEY: KEYS.devIngest,
        },
        timeout: 60_000,
      });
      assert.equal(client.status, 0, `the client failed:\n${client.stdout}${client.stderr}`);
      const out = JSON.parse(client.stdout);

      assert.deepEqual(out.subscription.plan, "pro");
      assert.deepEqual(out.subscription.quantities, { seats: "2" });
      assert.equal(out.subscription.first_invoice_total, "69.00"); // platform 49.00 + 2 seats × 10.00

      // 49.00 platform + 3 × 10.00 seats; api_calls 50,000 past the
      // allowance × 0.0002; bandwidth 200 past it × 0.08; storage nothing;
      // sales 2.9% + 0.30 of 25 and of 100 (4.225); sms 100 × 0.0075 + 20 × 0.038.
      assert.deepEqual(out.quote, {
        currency: "USD",
        period: { unit: "month", length: 1 },
        subtotal: "110.74",
        discount: "0.00",
        total: "110.74",
        price_book: out.quote.price_book,
        usage: [
          ["api_calls", null, "150000", "10.00"],
          ["bandwidth", null, "1200", "16.00"],
          ["storage", null, "0", "0.00"],
          ["sales", null, "125", "4.23"],
          ["sms", "US", "100", "0.75"],
          ["sms", "GB", "20", "0.76"],
        ],
        api_calls_tiers: [[0, "50000", "0.0002", "10.00"]],
      });
      assert.match(out.quote.price_book, /^sha256:[0-9a-f]{64}$/);

      assert.deepEqual(out.refused, {
        status: 422,
        code: "invalid_request",
        errors: [
          ["negative_value", "usage.api_calls"],
          ["invalid_decimal", "usage.bandwidth"],
        ],
      });
      assert.deepEqual(out.unknown_plan, { status: 422, code: "unknown_plan", path: "plan" });
      assert.deepEqual(out.receipts, [
        { id: "oc-1", status: "accepted", amount: "0.0225", price_key: "US", error: null },
        { id: "oc-2", status: "accepted", amount: "0.00", price_key: null, error: null },
        { id: "oc-3", status: "rejected", amount: null, price_key: null, error: "unknown_price_key" },
        { id: "oc-1", status: "duplicate", amount: "0.0225", price_key: "US", error: null },
      ]);
      assert.deepEqual(out.allowance.sms, { used: "3", remaining: "0", percent_used: "0" });
      assert.deepEqual(out.allowance.bandwidth, { used: "12.5", remaining: "987.5", percent_used: "1.25" });
      assert.deepEqual(out.allowance.period, out.subscription.period);
      assert.equal(out.preview.currency, "USD");
      assert.equal(out.preview.total, "0.02");
      assert.deepEqual(
        out.preview.lines.filter((l) => l[1] === "sms" || l[1] === "bandwidth"),
        [
          ["usage", "bandwidth", null, "12.5", "0.00"],
          ["usage", "sms", "US", "3", "0.02"],
        ],
      );
      assert.deepEqual(out.unknown_customer, { status: 404, code: "unknown_customer" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the Worker's answers fit the document", async () => {
    const A = KEYS.devAdmin;
    const R = KEYS.devRead;
    const call = async (method, template, { key = A, params = {}, query = "", ...rest } = {}) => {
      let path = template;
      for (const [k, v] of Object.entries(params)) path = path.replace(`{${k}}`, encodeURIComponent(v));
      return conforms(await dev.call(method, path + query, { key, ...rest }), method, template);
    };
    const customer = { customer: "oc_valid" };

    // Public routes, auth, a tenant without a book, too many events.
    const home = await fetch(`${dev.url}/`);
    conforms({ status: home.status, headers: home.headers, body: await home.text() }, "GET", "/");
    await call("GET", "/healthz", { key: null });
    await call("GET", "/openapi.json", { key: null });
    await call("GET", "/v1/invoices", { key: null });
    await call("PUT", "/v1/price-book", { key: R, body: BOOK });
    await call("GET", "/v1/usage-events", { key: R });
    await call("POST", "/v1/quote", { key: KEYS.acmeAdmin, body: { plan: "pro" } });
    const many = Array.from({ length: 1001 }, (_, i) => event(`m${i}`, "api_calls", "oc_many"));
    await call("POST", "/v1/events", { key: KEYS.devIngest, body: many });

    // A webhook endpoint for every record type, before the records.
    const hook = `http://127.0.0.1:${receiver.address().port}/hook`;
    const endpoint = await call("POST", "/v1/webhook-endpoints", { body: { url: hook, description: "openapi" } });
    const refusing = await call("POST", "/v1/webhook-endpoints", {
      body: { url: hook.replace("/hook", "/refuse"), events: ["subscription.created"] },
    });
    const other = await call("POST", "/v1/webhook-endpoints", {
      body: { url: "https://hooks.example.com/rating", events: ["invoice.issued"] },
    });
    await call("POST", "/v1/webhook-endpoints", { body: { url: "ftp://hooks.example.com" } });
    await call("POST", "/v1/webhook-endpoints", { body: { url: hook, secret: "mine" } });

    // Price book versions.
    await call("PUT", "/v1/price-book", { body: BOOK });
    await call("GET", "/v1/price-book");
    await call("GET", "/v1/price-book", { query: "?version=1" });
    await call("GET", "/v1/price-book", { query: "?version=99" });
    await call("PUT", "/v1/price-book", { body: { ...BOOK, currency: "XXX", bogus: 1 } });
    await call("PUT", "/v1/price-book", { raw: "{", type: "application/json" });

    // Quotes and comparisons.
    await call("POST", "/v1/quote", {
      key: R,
      body: {
        plan: "pro",
        quantities: { seats: 3 },
        usage: { api_calls: "2000000", bandwidth: 1200, storage: "150", sales: { count: 2, total: "125" }, sms: { US: 1 }, voice: { FR: "3" }, mms: { FR: "2" } },
        include_setup: true,
      },
    });
    await call("POST", "/v1/quote", { key: R, body: { plan: "starter", usage: { sms: { FR: "1" } } } });
    await call("POST", "/v1/quote", { key: R, body: { plan: "pro", bogus: true, periods: 0 } });
    await call("POST", "/v1/quote", { key: R, raw: "plan=pro", type: "application/x-www-form-urlencoded" });
    await call("POST", "/v1/compare", { key: R, body: { quantities: { seats: "2" }, usage: { api_calls: "200000" } } });
    await call("POST", "/v1/compare", { key: R, body: { plan: "pro" } });

    // A subscription's life: subscribe, events, reads, change, cancel.
    const start = iso(Date.now() - 3 * 86400_000);
    const now = iso(Date.now() - 60_000);
    await call("PUT", "/v1/customers/{customer}/subscription", { params: customer, body: { plan: "pro", start, quantities: { seats: "2" } } });
    await call("GET", "/v1/customers/{customer}/subscription", { params: customer });
    await call("GET", "/v1/customers/{customer}/subscription", { params: { customer: "oc_nobody" } });
    await call("PUT", "/v1/customers/{customer}/subscription", { params: customer, body: { start: iso(Date.now()) } });
    const receipts = await call("POST", "/v1/events", {
      key: KEYS.devIngest,
      body: [
        event("v1", "sms", "oc_valid", { quantity: "3", country: "US" }, { time: now }),
        event("v1", "sms", "oc_valid", { quantity: "4", country: "US" }, { time: now }),
        event("v2", "voice", "oc_valid", { quantity: "2", country: "FR" }, { time: now }),
        event("v3", "mms", "oc_valid", { quantity: "1", country: "FR" }, { time: now }),
        event("v4", "sms", "oc_valid", { quantity: "1", country: "FR" }, { time: now }),
        event("v5", "sales", "oc_valid", { amount: "10" }, { time: now }),
        event("v6", "api_calls", "oc_nobody", {}, { time: now }),
        { specversion: "1.0" },
      ],
    });
    assert.deepEqual(
      receipts.results.map((r) => r.status),
      ["accepted", "duplicate", "accepted", "dropped", "rejected", "accepted", "rejected", "rejected"],
    );
    await call("POST", "/v1/events", { key: KEYS.devIngest, raw: "[", type: "application/cloudevents-batch+json" });
    await call("POST", "/v1/events", { key: KEYS.devIngest, body: [], type: "text/plain" });
    await call("GET", "/v1/customers/{customer}/allowance-state", { key: R, params: customer });
    await call("GET", "/v1/customers/{customer}/allowance-state", { key: R, params: customer, query: "?at=yesterday" });
    await call("GET", "/v1/customers/{customer}/allowance-state", { key: R, params: { customer: "oc_nobody" } });
    await call("POST", "/v1/customers/{customer}/estimate", {
      key: R, params: customer, body: event("oc-est", "api_calls", customer.customer, { quantity: "3" }),
    });
    await call("POST", "/v1/customers/{customer}/estimate", { key: R, params: customer, raw: "{" });
    await call("GET", "/v1/customers/{customer}/invoice-preview", { key: R, params: customer, query: "?at=2099-01-01T00:00:00Z" });
    await call("GET", "/v1/customers/{customer}/invoice-preview", { key: R, params: customer });
    await call("PUT", "/v1/customers/{customer}/subscription", {
      params: customer,
      body: { plan: "starter", spend_alert_thresholds: ["5"] },
    });
    await call("PUT", "/v1/customers/{customer}/subscription", { params: customer, body: { cancel: "period_end" } });
    await call("GET", "/v1/customers/{customer}/subscription", { params: customer });
    await call("GET", "/v1/customers/{customer}/invoices", { key: R, params: customer });

    // What the Queue consumer fills (D1, R2), a moment after the receipts.
    const until = async (what, f) => {
      for (let i = 0; i < 100; i++) {
        const v = await f();
        if (v) return v;
        await sleep(200);
      }
      assert.fail(`timed out waiting for ${what}`);
    };
    await until("the dropped event", async () => (await dev.call("GET", "/v1/dropped-events", { key: R })).body.total === 1);
    await call("GET", "/v1/dropped-events", { key: R, query: "?customer=oc_valid&limit=10" });
    await call("GET", "/v1/dropped-events", { key: R, query: "?customer=" });
    await call("GET", "/v1/invoices", { key: R, query: "?customer=oc_valid" });
    await call("GET", "/v1/invoices", { key: R, query: "?from=soon" });
    await until("the rollups", async () => (await dev.call("GET", "/v1/usage?customer=oc_valid", { key: R })).body.buckets?.length === 3);
    await call("GET", "/v1/usage", { key: R, query: "?customer=oc_valid&granularity=day" });
    await call("GET", "/v1/usage", { key: R, query: "?granularity=week" });
    await call("GET", "/v1/stats", { query: "?customer=oc_valid" });
    await call("GET", "/v1/stats");

    // The export: NDJSON lines of docs/event-log.md, each a CloudEvent of
    // the document with its receipt attributes.
    const line = ajv.compile({
      type: "object",
      allOf: [{ $ref: "openapi.json#/components/schemas/CloudEvent" }],
      required: ["ratingstatus", "ratingpricebook", "ratingseq", "ratingreceived"],
      properties: {
        ratingstatus: { enum: ["accepted", "dropped"] },
        ratingamount: { $ref: "openapi.json#/components/schemas/Decimal" },
        ratingcurrency: { type: "string" },
        ratingpricekey: { type: "string" },
        ratingpricebook: { $ref: "openapi.json#/components/schemas/BookHash" },
        ratingseq: { type: "integer", minimum: 1 },
        ratingreceived: { type: "string", format: "date-time" },
      },
    });
    const exported = await dev.exportLines("?customer=oc_valid");
    const r = await dev.call("GET", "/v1/export?customer=oc_valid", { key: A });
    conforms({ ...r, body: exported.text }, "GET", "/v1/export");
    assert.equal(exported.lines.length, 4);
    for (const l of exported.lines) assertValid(line, l, "an event log line");
    await call("GET", "/v1/export", { query: "?from=never" });

    // Webhooks: every delivery the receiver got fits the webhooks section.
    const deliveries = await until("the webhook deliveries", () => received.length >= 6 && received);
    const payload = schemaAt("webhooks", "record", "post", "requestBody", "content", "application/json", "schema");
    for (const d of deliveries) {
      const body = JSON.parse(d.body);
      assertValid(payload, body, `a ${body.type} delivery`);
      assert.equal(body.type, body.data.type);
      assert.match(d.headers["webhook-id"], /^msg_[0-9a-f]{32}$/);
    }
    const types = new Set(deliveries.map((d) => JSON.parse(d.body).type));
    for (const t of ["subscription.created", "invoice.issued", "usage_event.dropped", "subscription.plan_changed", "subscription.canceled"]) {
      assert.ok(types.has(t), `no ${t} delivery`);
    }
    const ep = { id: endpoint.id };
    await call("GET", "/v1/webhook-endpoints");
    const succeeded = `/v1/webhook-endpoints/${ep.id}/deliveries?status=succeeded`;
    await until("a succeeded delivery", async () => (await dev.call("GET", succeeded, { key: A })).body.deliveries.length > 0);
    const list = await call("GET", "/v1/webhook-endpoints/{id}/deliveries", { params: ep, query: "?status=succeeded&limit=5" });
    await call("GET", "/v1/webhook-endpoints/{id}/deliveries", { params: ep, query: "?status=lost" });
    await call("GET", "/v1/webhook-endpoints/{id}/deliveries", { params: { id: "ep_000000000000000000000000" } });
    await call("POST", "/v1/webhook-endpoints/{id}/deliveries/{delivery}/retry", {
      params: { ...ep, delivery: list.deliveries[0].id },
    });
    await call("POST", "/v1/webhook-endpoints/{id}/deliveries/{delivery}/retry", { params: { ...ep, delivery: "dlv_none" } });
    const failed = `/v1/webhook-endpoints/${refusing.id}/deliveries?status=failed`;
    await until("a failed delivery", async () => (await dev.call("GET", failed, { key: A })).body.deliveries.length > 0);
    const [lost] = (await call("GET", "/v1/webhook-endpoints/{id}/deliveries", { params: { id: refusing.id }, query: "?status=failed" })).deliveries;
    assert.equal(lost.last_status, 500);
    const again = await call("POST", "/v1/webhook-endpoints/{id}/deliveries/{delivery}/retry", {
      params: { id: refusing.id, delivery: lost.id },
    });
    assert.equal(again.status, "pending");
    await call("POST", "/v1/webhook-endpoints/{id}/rotate", { params: ep });
    await call("DELETE", "/v1/webhook-endpoints/{id}", { params: { id: other.id } });
    await call("DELETE", "/v1/webhook-endpoints/{id}", { params: { id: other.id } });

    // Every operation of the document was answered with a success here
    // (the removed usage-events with its 410), so a new route cannot go
    // unchecked.
    for (const [template, item] of Object.entries(DOC.paths)) {
      for (const method of Object.keys(item).filter((m) => m !== "parameters")) {
        const ok = [...answered].some((a) => a.startsWith(`${method.toUpperCase()} ${template} 2`));
        const gone = template === "/v1/usage-events" && answered.has(`GET ${template} 410`);
        assert.ok(ok || gone, `${method.toUpperCase()} ${template}: no success answer was checked`);
      }
    }
  });
});
