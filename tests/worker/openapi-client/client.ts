// A client of the Worker written the way a new user writes one: types
// generated from worker/openapi.json by openapi-typescript (./api.d.ts,
// made by tests/worker/openapi-client.test.mjs), calls made with
// openapi-fetch. It must compile under `tsc --strict` with no cast and
// no escape hatch: every request below is checked against the document's
// request schemas, and every field read against its response schemas.
//
// It subscribes a customer, quotes, sends events (an sms event priced by
// its `data.country`, the example book's price key), reads the allowance
// state and the invoice preview, and handles two problem documents. It
// prints what it read in one JSON object, which the test compares with
// what the Worker answered.

import createClient from "openapi-fetch";
import type { components, paths } from "./api.js";

type Schemas = components["schemas"];
type Problem = Schemas["Problem"];

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};

const baseUrl = env("RATING_URL");
const customer = env("RATING_CUSTOMER");
const client = (key: string) => createClient<paths>({ baseUrl, headers: { authorization: `Bearer ${key}` } });
const admin = client(env("RATING_ADMIN_KEY"));
const reader = client(env("RATING_READ_KEY"));
const ingest = client(env("RATING_INGEST_KEY"));

/** An answer that must be a success: its typed body, else an error naming the problem. */
function ok<T>(what: string, r: { data?: T; error?: Problem; response: Response }): T {
  if (r.data !== undefined) return r.data;
  throw new Error(`${what}: ${r.response.status} ${r.error?.code ?? "(no problem document)"} ${r.error?.detail ?? ""}`);
}

/** An answer that must be a problem document. */
function problem(what: string, r: { data?: unknown; error?: Problem; response: Response }): Problem {
  if (r.error === undefined) throw new Error(`${what}: expected a problem, got ${r.response.status}`);
  return r.error;
}

const minutesAgo = (n: number) => new Date(Date.now() - n * 60_000).toISOString();

// Subscribe (admin): the answer carries the invoices the request issued.
const subscribed = ok(
  "subscribe",
  await admin.PUT("/v1/customers/{customer}/subscription", {
    params: { path: { customer } },
    body: { plan: "pro", start: minutesAgo(60), quantities: { seats: 2 } },
  }),
);
const firstInvoice: Schemas["Invoice"] | undefined = subscribed.invoices[0];

// A quote: quantities and usage are maps, usage of a keyed product is
// given per price key, an amount-aggregated product by its transactions.
const quote = ok(
  "quote",
  await reader.POST("/v1/quote", {
    body: {
      plan: "pro",
      quantities: { seats: 3 },
      usage: {
        api_calls: "150000",
        bandwidth: 1200,
        sms: { US: "100", GB: 20 },
        sales: { amounts: ["25.00", 100] },
      },
    },
  }),
);
const usageLines = quote.lines.filter((line) => line.kind === "usage");
const graduated = quote.lines.find((line) => line.product === "api_calls");

// A quote the engine refuses: a typed problem with `code`, `path`, `errors`.
const refused = problem(
  "invalid quote",
  await reader.POST("/v1/quote", { body: { plan: "pro", usage: { api_calls: "-1", bandwidth: "lots" } } }),
);
const unknownPlan = problem("unknown plan", await reader.POST("/v1/quote", { body: { plan: "enterprise" } }));

// Events: one CloudEvent's data holds the price key `country`, besides the quantity.
const event = (id: string, type: string, data: Schemas["EventData"]): Schemas["CloudEvent"] => ({
  specversion: "1.0",
  id,
  source: "openapi-client",
  type,
  subject: customer,
  time: minutesAgo(1),
  data,
});
const receipts = ok(
  "ingest",
  await ingest.POST("/v1/events", {
    body: [
      event("oc-1", "sms", { quantity: "3", country: "US" }),
      event("oc-2", "bandwidth", { quantity: 12.5 }),
      event("oc-3", "sms", { quantity: "1", country: "FR" }),
      event("oc-1", "sms", { quantity: "3", country: "US" }),
    ],
  }),
).results;
const receipt = (r: Schemas["Receipt"]) => ({
  id: r.id,
  status: r.status,
  amount: r.amount ?? null,
  price_key: r.price_key ?? null,
  error: r.error?.code ?? null,
});

// The allowance state and the invoice preview (read role).
const state = ok(
  "allowance state",
  await reader.GET("/v1/customers/{customer}/allowance-state", { params: { path: { customer } } }),
);
const dimension = (product: string) => {
  const d = state.dimensions.find((x) => x.product === product);
  return d === undefined ? null : { used: d.used, remaining: d.remaining, percent_used: d.percent_used };
};
const preview = ok(
  "invoice preview",
  await reader.GET("/v1/customers/{customer}/invoice-preview", { params: { path: { customer } } }),
);

// An unknown customer: a 404 problem document.
const nobody = problem(
  "unknown customer",
  await reader.GET("/v1/customers/{customer}/allowance-state", { params: { path: { customer: `${customer}-nobody` } } }),
);

console.log(
  JSON.stringify({
    subscription: {
      plan: subscribed.plan,
      quantities: subscribed.quantities,
      period: subscribed.period,
      first_invoice_total: firstInvoice?.total ?? null,
    },
    quote: {
      currency: quote.currency,
      period: quote.period,
      subtotal: quote.subtotal,
      discount: quote.discount,
      total: quote.total,
      price_book: quote.price_book,
      usage: usageLines.map((line) => [line.product, line.price_key ?? null, line.quantity, line.amount]),
      api_calls_tiers: graduated?.tiers?.map((t) => [t.index, t.quantity, t.unit_amount ?? null, t.amount]) ?? null,
    },
    refused: {
      status: refused.status,
      code: refused.code,
      errors: (refused.errors ?? []).map((e) => [e.code, e.path ?? null]),
    },
    unknown_plan: { status: unknownPlan.status, code: unknownPlan.code, path: unknownPlan.path ?? null },
    receipts: receipts.map(receipt),
    allowance: { period: state.period, sms: dimension("sms"), bandwidth: dimension("bandwidth") },
    preview: {
      total: preview.total,
      currency: preview.currency,
      lines: preview.lines.map((line) => [line.kind, line.product, line.price_key ?? null, line.quantity, line.amount]),
    },
    unknown_customer: { status: nobody.status, code: nobody.code },
  }),
);
