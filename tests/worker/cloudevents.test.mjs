// CloudEvents over HTTP in all three content modes (docs/worker.md,
// "Ingest, step by step"), sent by the `cloudevents` npm SDK itself to the
// real Worker under `wrangler dev`: binary (the SDK's default: attributes
// in `ce-*` headers, `data` in the body), structured and batch. Each mode
// prices an event exactly as the others do; a binary event's extension
// attributes reach the event log.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { Dev, KEYS, ROOT, iso } from "./harness.mjs";

const { CloudEvent, HTTP, Mode, emitterFor, httpTransport } = createRequire(join(ROOT, "npm/package.json"))("cloudevents");

const dev = new Dev();
const CUSTOMERS = ["ce_binary", "ce_structured", "ce_batch", "ce_ext"];
const AUTH = { authorization: `Bearer ${KEYS.devIngest}` };
/** The Pro plan's price of 2 US messages (examples/worker/price-book.json). */
const SMS_2_US = "0.015";

/** An SMS event of the SDK: 2 messages to the US. */
function sms(id, subject, extra = {}) {
  return new CloudEvent({ id, source: "ce-tests", type: "sms", subject, data: { quantity: "2", country: "US" }, ...extra });
}

/** Posts a message of the SDK (`{headers, body}`) with fetch: the status and the parsed answer. */
async function post(message, headers = {}) {
  const r = await fetch(`${dev.url}/v1/events`, {
    method: "POST",
    headers: { ...message.headers, ...AUTH, ...headers },
    body: message.body,
  });
  const text = await r.text();
  let body = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: r.status, body };
}

/** Posts a message that must answer 200 with one receipt: that receipt. */
async function one(message) {
  const r = await post(message);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.results.length, 1, JSON.stringify(r.body));
  return r.body.results[0];
}

/** A binary message of the SDK without one of its headers. */
function without(header, message) {
  const headers = { ...message.headers };
  delete headers[header];
  return { ...message, headers };
}

/** Polls the export until it holds the line of event `id`. */
async function logLine(id) {
  for (let i = 0; i < 120; i++) {
    const got = await dev.exportLines();
    assert.equal(got.status, 200, got.text);
    const line = got.lines.find((l) => l.id === id);
    if (line) return line;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.fail(`event ${id} is not in the export after 30 s`);
}

before(async () => {
  await dev.start();
  const book = readFileSync(join(ROOT, "examples/worker/price-book.json"), "utf8");
  assert.equal((await dev.call("PUT", "/v1/price-book", { key: KEYS.devAdmin, raw: book })).status, 201);
  for (const c of CUSTOMERS) {
    const r = await dev.call("PUT", `/v1/customers/${c}/subscription`, {
      key: KEYS.devAdmin,
      body: { plan: "pro", start: iso(Date.now() - 3600_000) },
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  }
});

after(async () => {
  await dev.stop();
  dev.cleanup();
});

test("binary mode, the SDK's default emitter: accepted and priced as in structured mode", async () => {
  const emit = emitterFor(httpTransport(`${dev.url}/v1/events`));
  const event = sms("bin-1", "ce_binary");
  assert.equal(HTTP.binary(event).headers["ce-id"], "bin-1");
  const answer = await emit(event, { headers: AUTH });
  const [receipt] = JSON.parse(answer.body).results;
  assert.equal(receipt.status, "accepted", JSON.stringify(receipt));
  assert.equal(receipt.id, "bin-1");
  assert.equal(receipt.source, "ce-tests");
  assert.equal(receipt.price_key, "US");
  assert.equal(receipt.amount, SMS_2_US);

  // The same event in structured mode, for another customer: the same price.
  const structured = await one(HTTP.structured(sms("bin-1", "ce_structured")));
  assert.equal(structured.status, "accepted", JSON.stringify(structured));
  assert.equal(structured.amount, receipt.amount);

  // Sent again in binary mode: a duplicate of the first, with no conflict.
  const again = await one(HTTP.binary(event));
  assert.equal(again.status, "duplicate", JSON.stringify(again));
  assert.equal(again.amount, SMS_2_US);
  assert.equal(again.conflict, undefined);
});

test("structured mode: the SDK's structured emitter and HTTP.structured", async () => {
  const emit = emitterFor(httpTransport(`${dev.url}/v1/events`), { mode: Mode.STRUCTURED });
  const answer = await emit(sms("str-1", "ce_structured"), { headers: AUTH });
  const [receipt] = JSON.parse(answer.body).results;
  assert.equal(receipt.status, "accepted", JSON.stringify(receipt));
  assert.equal(receipt.amount, SMS_2_US);
  const message = HTTP.structured(sms("str-2", "ce_structured"));
  assert.match(message.headers["content-type"], /^application\/cloudevents\+json/);
  assert.equal((await one(message)).amount, SMS_2_US);
});

test("batch mode: an array of the SDK's events, receipts in input order", async () => {
  // The SDK has no batch serializer: the batch is its events' JSON forms.
  const events = [sms("bat-1", "ce_batch"), sms("bat-2", "ce_batch", { type: "nope" }), sms("bat-3", "ce_batch")];
  const r = await post({
    headers: { "content-type": "application/cloudevents-batch+json" },
    body: JSON.stringify(events),
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body.results.map((x) => [x.id, x.status, x.amount ?? x.error.code]), [
    ["bat-1", "accepted", SMS_2_US],
    ["bat-2", "rejected", "unknown_product"],
    ["bat-3", "accepted", SMS_2_US],
  ]);
});

test("binary mode keeps extension attributes and percent-decodes headers: the event log has them", async () => {
  // `country` as an extension attribute is not the price key: that one
  // lives in data (US), and the extension (GB) is kept beside it.
  const event = sms("ext-1", "ce_ext", { region: "eu", country: "GB", note: "caf%C3%A9 50%25" });
  const message = HTTP.binary(event);
  assert.equal(message.headers["ce-region"], "eu");
  const receipt = await one(message);
  assert.equal(receipt.status, "accepted", JSON.stringify(receipt));
  assert.equal(receipt.price_key, "US");
  assert.equal(receipt.amount, SMS_2_US);

  const line = await logLine("ext-1");
  assert.equal(line.specversion, "1.0");
  assert.equal(line.source, "ce-tests");
  assert.equal(line.type, "sms");
  assert.equal(line.subject, "ce_ext");
  assert.equal(line.time, event.time);
  assert.equal(line.region, "eu");
  assert.equal(line.country, "GB");
  assert.equal(line.note, "café 50%");
  assert.equal(line.datacontenttype, message.headers["content-type"]);
  assert.deepEqual(line.data, { quantity: "2", country: "US" });
  assert.equal(line.ratingstatus, "accepted");
  assert.equal(line.ratingamount, SMS_2_US);

  // A percent-encoded attribute is decoded before it is used.
  const encoded = HTTP.binary(sms("ext-2", "ce_ext"));
  encoded.headers["ce-source"] = "ce%20tests%2Feu";
  const r = await one(encoded);
  assert.equal(r.status, "accepted", JSON.stringify(r));
  assert.equal(r.source, "ce tests/eu");
});

test("binary mode without a required header: a rejected receipt naming it", async () => {
  const message = HTTP.binary(sms("miss-1", "ce_binary"));
  for (const header of ["ce-id", "ce-source", "ce-type", "ce-subject"]) {
    const r = await one(without(header, message));
    assert.equal(r.status, "rejected", JSON.stringify(r));
    assert.equal(r.error.code, "missing_field", header);
    assert.equal(r.error.path, header);
    assert.match(r.error.message, new RegExp(header));
    if (header !== "ce-id") assert.equal(r.id, "miss-1");
  }
  // Another specversion than 1.0: rejected, naming the header.
  const old = await one(HTTP.binary(new CloudEvent({ specversion: "0.3", id: "miss-2", source: "ce-tests", type: "sms", subject: "ce_binary", data: { quantity: "2", country: "US" } })));
  assert.equal(old.source, "ce-tests");
  assert.equal(old.status, "rejected", JSON.stringify(old));
  assert.equal(old.error.code, "invalid_value");
  assert.equal(old.error.path, "ce-specversion");
  assert.equal(old.id, "miss-2");
});

test("binary mode with data that is not JSON: rejected, naming the content type", async () => {
  const text = HTTP.binary(new CloudEvent({ id: "txt-1", source: "ce-tests", type: "bandwidth", subject: "ce_binary", datacontenttype: "text/plain", data: "12.5" }));
  assert.equal(text.headers["content-type"], "text/plain");
  const r = await one(text);
  assert.equal(r.status, "rejected", JSON.stringify(r));
  assert.equal(r.error.code, "invalid_value");
  assert.equal(r.error.path, "datacontenttype");
  assert.match(r.error.message, /text\/plain/);

  // Bytes that are not UTF-8: rejected the same way.
  const bytes = HTTP.binary(new CloudEvent({ id: "bin-bytes", source: "ce-tests", type: "bandwidth", subject: "ce_binary", datacontenttype: "application/octet-stream", data: new Uint8Array([0xff, 0xfe, 0x00]) }));
  const b = await one(bytes);
  assert.equal(b.status, "rejected", JSON.stringify(b));
  assert.equal(b.error.path, "datacontenttype");

  // A JSON content type over a body that is not JSON: the request's 400.
  const broken = await post({ headers: { ...HTTP.binary(sms("txt-2", "ce_binary")).headers }, body: "{quantity: 2" });
  assert.equal(broken.status, 400, JSON.stringify(broken.body));
  assert.equal(broken.body.code, "invalid_json");

  // No body at all: an event without data (a count needs none).
  const count = HTTP.binary(new CloudEvent({ id: "cnt-1", source: "ce-tests", type: "api_calls", subject: "ce_binary" }));
  const c = await one({ headers: count.headers, body: undefined });
  assert.equal(c.status, "accepted", JSON.stringify(c));
});
