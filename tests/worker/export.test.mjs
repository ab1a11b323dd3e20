// The event log in R2 and `GET /v1/export` (docs/worker.md, "Event log"),
// end to end on the real runtime (`wrangler dev`: local Durable Objects,
// Queue and R2): events go in through POST /v1/events, the Queue consumer
// writes them to R2, the export reads them back, and `rating replay` of
// the export bills exactly what the Worker's invoice preview says.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { gunzipSync } from "node:zlib";
import { Dev, KEYS, ROOT, event, iso, rating } from "./harness.mjs";

const BOOK_PATH = join(ROOT, "examples/worker/price-book.json");
const HOUR = 3600_000;
const RECEIPT = ["ratingstatus", "ratingpricebook", "ratingseq", "ratingreceived"];

let dev = new Dev();
const scratch = mkdtempSync(join(tmpdir(), "rating-export-test-"));
// Subscriptions start three hours ago; the dev clock (x-rating-now, set by
// worker/dev.vars) places two batches' receipts inside those hours.
const start = Math.floor(Date.now() / 1000) * 1000 - 3 * HOUR;
// A "/" and a space: the object names encode the customer.
const CUSTOMERS = ["cus_exp_a", "cus/exp b"];
const subs = CUSTOMERS.map((customer, i) => ({ customer, plan: i === 0 ? "starter" : "pro", start: iso(start) }));

/** Posts a batch, received at `at` (ms) by the dev clock when given. */
async function send(events, at) {
  const headers = { authorization: `Bearer ${KEYS.devIngest}`, "content-type": "application/cloudevents-batch+json" };
  if (at !== undefined) headers["x-rating-now"] = iso(at);
  const r = await fetch(`${dev.url}/v1/events`, { method: "POST", headers, body: JSON.stringify(events) });
  const body = await r.json();
  assert.equal(r.status, 200, JSON.stringify(body));
  return body.results;
}

function exportLines(query = "", key = KEYS.devAdmin) {
  return dev.exportLines(query, key);
}

/** Polls the export until it holds `n` lines (the Queue delivers a moment later). */
async function waitFor(n, query = "") {
  let got;
  for (let i = 0; i < 120; i++) {
    got = await exportLines(query);
    assert.equal(got.status, 200, got.text);
    if (got.lines.length >= n) return got;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.fail(`the export holds ${got.lines.length} lines, not ${n}, after 30 s`);
}

const receipts = [];
let logged = 0;

async function startWithBook() {
  await dev.start();
  const book = await dev.call("PUT", "/v1/price-book", { key: KEYS.devAdmin, body: JSON.parse(readFileSync(BOOK_PATH, "utf8")) });
  assert.ok(book.status === 200 || book.status === 201, JSON.stringify(book.body));
  for (const { customer, ...body } of subs) {
    const r = await dev.call("PUT", `/v1/customers/${encodeURIComponent(customer)}/subscription`, {
      key: KEYS.devAdmin,
      body,
    });
    assert.ok(r.status === 200 || r.status === 201, JSON.stringify(r.body));
  }
}

before(startWithBook);

after(async () => {
  await dev.stop();
  dev.cleanup();
});

test("ingested events reach the log: keyed, dropped, duplicates once", async () => {
  const [a, b] = CUSTOMERS;
  // Received an hour after the start; no `time`: the usage time is the receipt time.
  receipts.push(
    ...(await send(
      [
        event("e1", "api_calls", a, { quantity: "7" }),
        event("e2", "sms", a, { quantity: "3", country: "US" }),
        event("e3", "sms", b, { quantity: "2", country: "GB" }),
        // A client's own `rating*` attributes are replaced by the receipt's.
        event("e4", "voice", b, { quantity: "11", country: "FR" }, { ratingseq: 999, ratingstatus: "forged" }),
        // No US/GB price and policy "drop": a dropped event, logged too.
        event("e5", "mms", a, { quantity: "1", country: "FR" }),
      ],
      start + HOUR,
    )),
  );
  // Received two hours after the start, with usage times of their own.
  receipts.push(
    ...(await send(
      [
        event("e6", "bandwidth", a, { quantity: "12.5" }, { time: iso(start + HOUR + 60_000) }),
        event("e7", "api_calls", b, { quantity: "1" }, { time: iso(start + 2 * HOUR - 60_000) }),
        // The same (source, id) again in one batch: a duplicate.
        event("e1", "api_calls", a, { quantity: "7" }),
      ],
      start + 2 * HOUR,
    )),
  );
  // Received now; a resend of earlier events (duplicates) and new ones.
  receipts.push(
    ...(await send([
      event("e2", "sms", a, { quantity: "3", country: "US" }),
      event("e3", "sms", b, { quantity: "2", country: "GB" }),
      event("e8", "sms", b, { quantity: "4", country: "US" }),
      event("e9", "api_calls", a, { quantity: "3" }),
    ])),
  );
  const count = (s) => receipts.filter((r) => r.status === s).length;
  assert.equal(count("duplicate"), 3, JSON.stringify(receipts));
  assert.equal(count("dropped"), 1, JSON.stringify(receipts));
  assert.equal(count("rejected"), 0, JSON.stringify(receipts));
  logged = count("accepted") + count("dropped");
  assert.equal(logged, 9);

  const { lines, type } = await waitFor(logged);
  assert.match(type, /^application\/x-ndjson/);
  assert.equal(lines.length, logged);
  // Each (customer, source, id) once: the duplicates are not logged.
  const keys = lines.map((l) => `${l.subject}|${l.source}|${l.id}`);
  assert.equal(new Set(keys).size, keys.length);
  // By customer, then sequence number.
  const order = lines.map((l) => [l.subject, l.ratingseq]);
  const sorted = [...order].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : x[1] - y[1]));
  assert.deepEqual(order, sorted);
  for (const l of lines) {
    for (const k of RECEIPT) assert.ok(k in l, `${l.id}: ${k}`);
    assert.match(l.ratingpricebook, /^sha256:[0-9a-f]{64}$/);
    assert.ok(Number.isInteger(l.ratingseq));
    if (l.ratingstatus === "accepted") assert.match(l.ratingamount, /^\d+(\.\d+)?$/);
    assert.ok(!Number.isNaN(Date.parse(l.ratingreceived)), l.ratingreceived);
  }
  const byId = Object.fromEntries(lines.map((l) => [l.id, l]));
  assert.equal(byId.e5.ratingstatus, "dropped");
  assert.equal(byId.e4.ratingstatus, "accepted");
  assert.notEqual(byId.e4.ratingseq, 999);
  assert.equal(byId.e2.ratingpricekey, "US");
  assert.equal(byId.e1.ratingreceived, new Date(start + HOUR).toISOString().replace(".000Z", "Z"));
  // The receipt's amounts are the ones the Worker answered.
  for (const r of receipts.filter((r) => r.status === "accepted")) {
    assert.equal(byId[r.id].ratingamount, r.amount, r.id);
  }
  // The event as received, attributes in their order, receipt after it.
  assert.deepEqual(Object.keys(byId.e6).slice(0, 7), ["specversion", "id", "source", "type", "subject", "time", "data"]);
  assert.equal(Object.keys(byId.e6).at(-1), "ratingreceived");
});

test("rating replay of the export bills what the Worker's invoice preview says", async () => {
  const at = iso(Date.now());
  const exportPath = join(scratch, "export.ndjson");
  const subsPath = join(scratch, "subs.json");
  const { text } = await exportLines();
  writeFileSync(exportPath, text);
  writeFileSync(subsPath, JSON.stringify(subs));
  const replay = rating(["replay", BOOK_PATH, exportPath, "--subscriptions", subsPath, "--at", at]);
  assert.equal(replay.receipts.accepted + replay.receipts.dropped, logged);
  assert.equal(replay.receipts.duplicate, 0);
  assert.equal(replay.customers.length, CUSTOMERS.length);
  for (const c of replay.customers) {
    const preview = await dev.call(
      "GET",
      `/v1/customers/${encodeURIComponent(c.customer)}/invoice-preview?at=${encodeURIComponent(at)}`,
      { key: KEYS.devRead },
    );
    assert.equal(preview.status, 200, JSON.stringify(preview.body));
    assert.deepEqual(preview.body, c.open_period, c.customer);
    assert.equal(preview.body.total, c.open_period.total);
  }
  // Some usage was billed, so the comparison means something.
  assert.ok(replay.customers.some((c) => c.open_period.lines.some((l) => l.kind === "usage" && Number(l.amount) > 0)));
});

test("customer, from and to select; the range is on usage time", async () => {
  const all = (await exportLines()).lines;
  const b = await exportLines(`?customer=${encodeURIComponent(CUSTOMERS[1])}`);
  assert.deepEqual(b.lines, all.filter((l) => l.subject === CUSTOMERS[1]));
  assert.ok(b.lines.length > 0);
  // [start + 1h, start + 2h): the first batch (usage = receipt time) and the
  // events whose own `time` falls in it; nothing received now.
  const from = iso(start + HOUR);
  const to = iso(start + 2 * HOUR);
  const hour = await exportLines(`?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`);
  const usage = (l) => Date.parse(l.time ?? l.ratingreceived);
  assert.deepEqual(
    hour.lines,
    all.filter((l) => usage(l) >= start + HOUR && usage(l) < start + 2 * HOUR),
  );
  assert.deepEqual(hour.lines.map((l) => l.id).sort(), ["e1", "e2", "e3", "e4", "e5", "e6", "e7"]);
  const later = await exportLines(`?from=${encodeURIComponent(iso(Date.now() + HOUR))}`);
  assert.equal(later.status, 200);
  assert.equal(later.text, "");
  assert.equal((await exportLines("?from=yesterday")).status, 400);
  assert.equal((await exportLines("?customer=")).status, 400);
});

test("admin only, and tenant-isolated", async () => {
  assert.equal((await exportLines("", KEYS.devRead)).status, 403);
  assert.equal((await exportLines("", KEYS.devIngest)).status, 403);
  assert.equal((await exportLines("", "no-such-key")).status, 401);
  const acme = await exportLines("", KEYS.acmeAdmin);
  assert.equal(acme.status, 200);
  assert.equal(acme.text, "");
});

test("the log survives a restart (R2 in wrangler dev's state)", async () => {
  const before = (await exportLines()).text;
  await dev.restart();
  assert.equal((await exportLines()).text, before);
  assert.ok(readFileSync(join(scratch, "export.ndjson"), "utf8").length > 0);
});

describe("a message the Queue delivers again overwrites its own objects", () => {
  before(async () => {
    await dev.stop();
    dev.cleanup();
    // The consumer's fault hook (worker/src/forward.rs) fails every 2nd
    // batch, alternately before and after writing it: the Queue delivers
    // those batches again, some of them already written to R2.
    dev = new Dev({ vars: { FAULT_QUEUE_FAIL_EVERY: "2" } });
    await startWithBook();
  });

  test("every event once in the export, and replay still agrees", { timeout: 120_000 }, async () => {
    const out = [];
    const listen = (d) => out.push(String(d));
    dev.proc.stdout.on("data", listen);
    dev.proc.stderr.on("data", listen);
    let n = 0;
    // One request per consumer batch (the Queue batches for 1 s).
    for (let i = 0; i < 8; i++) {
      const rs = await send(
        CUSTOMERS.map((c, j) => event(`r${i}_${j}`, "api_calls", c, { quantity: String(i + j + 1) })),
      );
      for (const r of rs) assert.equal(r.status, "accepted", JSON.stringify(r));
      n += rs.length;
      await new Promise((r) => setTimeout(r, 1200));
    }
    const { lines, text } = await waitFor(n);
    // Settled: nothing more arrives.
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal((await exportLines()).text, text);
    assert.equal(lines.length, n);
    assert.equal(new Set(lines.map((l) => `${l.subject}|${l.id}`)).size, n);
    dev.proc.stdout.off("data", listen);
    dev.proc.stderr.off("data", listen);
    const log = out.join("");
    assert.match(log, /injected fault \(FAULT_QUEUE_FAIL_EVERY\) after writing/);

    const at = iso(Date.now());
    const exportPath = join(scratch, "redelivered.ndjson");
    writeFileSync(exportPath, text);
    const subsPath = join(scratch, "subs.json");
    writeFileSync(subsPath, JSON.stringify(subs));
    const replay = rating(["replay", BOOK_PATH, exportPath, "--subscriptions", subsPath, "--at", at]);
    assert.equal(replay.receipts.accepted, n);
    for (const c of replay.customers) {
      const preview = await dev.call(
        "GET",
        `/v1/customers/${encodeURIComponent(c.customer)}/invoice-preview?at=${encodeURIComponent(at)}`,
        { key: KEYS.devRead },
      );
      assert.deepEqual(preview.body, c.open_period, c.customer);
    }

    // The objects themselves, read from the stopped dev server's state:
    // named log/{tenant}/{day}/{hour}/{customer}-{first}-{last}.ndjson.gz
    // by usage hour, each request's rows in one object.
    await dev.stop();
    for (const l of lines.filter((l) => l.ratingseq <= 2)) {
      const t = new Date(Date.parse(l.ratingreceived)).toISOString();
      const customer = encodeURIComponent(l.subject).replace(/[!'()*.~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
      const name = `log/dev/${t.slice(0, 10)}/${t.slice(11, 13)}/${customer}-${l.ratingseq}-${l.ratingseq}.ndjson.gz`;
      const gz = execFileSync(
        join(ROOT, "npm/node_modules/.bin/wrangler"),
        ["r2", "object", "get", `rating-log/${name}`, "--local", "--persist-to", dev.state, "--pipe"],
        { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, CI: "1" } },
      );
      assert.equal(gunzipSync(gz).toString(), JSON.stringify(l) + "\n", name);
    }
  });
});
