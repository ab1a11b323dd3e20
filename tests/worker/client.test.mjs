// The npm package's ingest client (`rating-engine/ingest`) against the
// real Worker under `wrangler dev`: batching by size and by time, local
// validation, retries that keep ids (so the Worker deduplicates them), and
// no retry of a 4xx.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Dev, KEYS, ROOT, iso } from "./harness.mjs";
import { createIngestClient, IngestError } from "../../npm/ingest.js";

const dev = new Dev();

/** A fetch that counts requests and lets a test break some of them. */
function fetchWith(hook = async (_n, req) => req()) {
  const calls = [];
  const bytes = [];
  const f = async (url, init) => {
    calls.push(JSON.parse(init.body));
    bytes.push(Buffer.byteLength(init.body));
    return hook(calls.length, () => fetch(url, init));
  };
  f.calls = calls;
  f.bytes = bytes;
  return f;
}

async function used(customer, product) {
  const r = await dev.call("GET", `/v1/customers/${customer}/allowance-state`, { key: KEYS.devRead });
  return r.body.dimensions.find((d) => d.product === product).used;
}

before(async () => {
  await dev.start();
  const book = readFileSync(join(ROOT, "examples/worker/price-book.json"), "utf8");
  assert.equal((await dev.call("PUT", "/v1/price-book", { key: KEYS.devAdmin, raw: book })).status, 201);
  for (const c of ["cl_size", "cl_time", "cl_retry", "cl_5xx", "cl_default", "cl_bytes"]) {
    const r = await dev.call("PUT", `/v1/customers/${c}/subscription`, {
      key: KEYS.devAdmin,
      body: { plan: "pro", start: iso(Date.now() - 3600_000) },
    });
    assert.equal(r.status, 201);
  }
});

after(async () => {
  await dev.stop();
  dev.cleanup();
});

test("batches by size and hands back each event's receipt", async () => {
  const fetch = fetchWith();
  const client = createIngestClient({ url: dev.url, key: KEYS.devIngest, source: "client", batchSize: 100, flushInterval: 60_000, fetch });
  const events = Array.from({ length: 250 }, (_, i) => ({ id: `s${i}`, type: "bandwidth", subject: "cl_size", data: { quantity: "2" } }));
  const pending = client.sendBatch(events);
  await client.flush();
  const receipts = await pending;
  assert.deepEqual(fetch.calls.map((b) => b.length), [100, 100, 50]);
  assert.deepEqual(receipts.map((r) => r.id), events.map((e) => e.id));
  assert.ok(receipts.every((r) => r.status === "accepted" && r.source === "client"));
  assert.equal(await used("cl_size", "bandwidth"), "500");
});

test("by default a request holds up to 500 events", async () => {
  const fetch = fetchWith();
  const client = createIngestClient({ url: dev.url, key: KEYS.devIngest, source: "client", flushInterval: 60_000, fetch });
  const events = Array.from({ length: 1200 }, (_, i) => ({ id: `d${i}`, type: "api_calls", subject: "cl_default" }));
  const pending = client.sendBatch(events);
  await client.flush();
  const receipts = await pending;
  assert.deepEqual(fetch.calls.map((b) => b.length), [500, 500, 200]);
  assert.ok(receipts.every((r) => r.status === "accepted"));
  assert.equal(await used("cl_default", "api_calls"), "1200");
});

test("batches by bytes: large events never make a body the Worker refuses", async () => {
  const fetch = fetchWith();
  const client = createIngestClient({ url: dev.url, key: KEYS.devIngest, source: "client", flushInterval: 60_000, fetch });
  // ~40 KB of UTF-8 each (2-byte characters: a count of string length
  // alone would put 1.6 MB in a request of 40 events).
  const note = "é".repeat(20_000);
  const events = Array.from({ length: 120 }, (_, i) => ({ id: `b${i}`, type: "api_calls", subject: "cl_bytes", data: { note } }));
  const pending = client.sendBatch(events);
  await client.flush();
  const receipts = await pending;
  assert.ok(fetch.bytes.every((b) => b <= 900_000), JSON.stringify(fetch.bytes));
  assert.ok(fetch.calls.length >= 6, `${fetch.calls.length} requests`);
  assert.deepEqual(fetch.calls.flat().map((e) => e.id), events.map((e) => e.id));
  assert.ok(receipts.every((r) => r.status === "accepted"), JSON.stringify(receipts.find((r) => r.status !== "accepted")));
  assert.equal(await used("cl_bytes", "api_calls"), "120");
});

test("batches by time", async () => {
  const fetch = fetchWith();
  const client = createIngestClient({ url: dev.url, key: KEYS.devIngest, source: "client", flushInterval: 150, fetch });
  const t0 = Date.now();
  const receipts = await Promise.all([1, 2, 3].map((i) => client.send({ type: "api_calls", subject: "cl_time", id: `t${i}` })));
  assert.ok(Date.now() - t0 >= 140);
  assert.equal(fetch.calls.length, 1);
  assert.deepEqual(receipts.map((r) => r.status), ["accepted", "accepted", "accepted"]);
});

test("validates locally with the engine: an invalid event is rejected without being sent", async () => {
  const fetch = fetchWith();
  const client = createIngestClient({ url: dev.url, key: KEYS.devIngest, source: "client", fetch });
  const [bad, negative] = await Promise.all([
    client.send({ id: "v1", type: "api_calls" }),
    client.send({ id: "v2", type: "bandwidth", subject: "cl_time", data: { quantity: "-3" } }),
  ]);
  assert.deepEqual(bad, { id: "v1", source: "client", status: "rejected", error: { code: "missing_field", message: bad.error.message, path: "subject" } });
  assert.deepEqual([negative.status, negative.error.code, negative.error.path], ["rejected", "negative_value", "data.quantity"]);
  await client.flush();
  assert.equal(fetch.calls.length, 0);
});

test("retries a lost answer with the same ids: the Worker counts each event once", async () => {
  // The first attempt reaches the Worker, then the answer is lost.
  const fetch = fetchWith(async (n, req) => {
    const res = await req();
    if (n === 1) throw new TypeError("connection reset");
    return res;
  });
  const client = createIngestClient({ url: dev.url, key: KEYS.devIngest, source: "client", retryDelay: 10, fetch });
  // No ids: the client makes them, once.
  const receipts = await client.sendBatch(Array.from({ length: 5 }, () => ({ type: "bandwidth", subject: "cl_retry", data: { quantity: "1.25" } })));
  assert.equal(fetch.calls.length, 2);
  assert.deepEqual(fetch.calls[0].map((e) => e.id), fetch.calls[1].map((e) => e.id));
  assert.equal(new Set(fetch.calls[0].map((e) => e.id)).size, 5);
  assert.deepEqual(receipts.map((r) => [r.status, r.amount]), Array(5).fill(["duplicate", "0.00"]));
  assert.equal(await used("cl_retry", "bandwidth"), "6.25");
});

test("retries 5xx and 429 (honouring Retry-After), then succeeds", async () => {
  const fetch = fetchWith(async (n, req) => {
    if (n === 1) return new Response(JSON.stringify({ code: "unavailable" }), { status: 503 });
    if (n === 2) return new Response("", { status: 429, headers: { "retry-after": "0" } });
    return req();
  });
  const client = createIngestClient({ url: dev.url, key: KEYS.devIngest, source: "client", retryDelay: 10, fetch });
  const r = await client.send({ id: "r1", type: "api_calls", subject: "cl_5xx" });
  assert.equal(fetch.calls.length, 3);
  assert.equal(r.status, "accepted");
});

test("gives up after maxRetries with the last error", async () => {
  const fetch = fetchWith(async () => new Response("", { status: 502 }));
  const client = createIngestClient({ url: dev.url, key: KEYS.devIngest, source: "client", retryDelay: 1, maxRetries: 3, fetch });
  await assert.rejects(client.send({ id: "g1", type: "api_calls", subject: "cl_5xx" }), (e) => e instanceof IngestError && e.status === 502);
  assert.equal(fetch.calls.length, 4);
});

test("never retries a 4xx", async () => {
  const fetch = fetchWith();
  const client = createIngestClient({ url: dev.url, key: "not-a-key", source: "client", retryDelay: 1, fetch });
  await assert.rejects(client.send({ id: "k1", type: "api_calls", subject: "cl_5xx" }), (e) => {
    assert.ok(e instanceof IngestError);
    assert.deepEqual([e.status, e.code, e.problem.status], [401, "unauthorized", 401]);
    return true;
  });
  const read = createIngestClient({ url: dev.url, key: KEYS.devRead, source: "client", fetch });
  await assert.rejects(read.send({ id: "k2", type: "api_calls", subject: "cl_5xx" }), (e) => e.status === 403 && e.code === "forbidden");
  assert.equal(fetch.calls.length, 2);
});
