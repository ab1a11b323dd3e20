// Hostile input over HTTP against the real Worker under `wrangler dev`
// (RELIABILITY.md, "Hostile input over HTTP"): every body route gets
// 10 MB bodies, deep nesting, 1e30 / NaN / 40-digit quantities, invalid
// UTF-8, wrong content types, unknown fields, duplicate keys, 10,000-
// character ids and times in year 9999. Each is answered with a 4xx
// problem+json with a stable code (or, inside /v1/events, a rejected
// receipt with one), and after each the Worker still serves: /healthz and
// a normal ingest.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Dev, KEYS, ROOT, event, iso } from "./harness.mjs";

const BOOK_TEXT = readFileSync(join(ROOT, "examples/worker/price-book.json"), "utf8");
const DAY = 86400_000;
const dev = new Dev();

const TEN_MB = 10 * 1024 * 1024;
const deepArray = (n) => "[".repeat(n) + "]".repeat(n);
const deepObject = (n) => '{"a":'.repeat(n) + "1" + "}".repeat(n);
const BAD_UTF8 = Buffer.from([0x7b, 0x22, 0x70, 0x6c, 0x61, 0x6e, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0xc3, 0x22, 0x7d]); // {"plan":"<ff fe c3>"}
const FORTY = "1234567890123456789012345678901234567890";
const LONG = "x".repeat(10_000);
const Y9999 = "9999-12-31T23:59:59Z";

let okCount = 0;
/** The Worker still serves: /healthz, and a normal event is accepted. */
async function stillServing(what) {
  const h = await dev.call("GET", "/healthz");
  assert.equal(h.status, 200, `${what}: /healthz ${h.status}`);
  const id = `alive-${okCount++}`;
  const [r] = await dev.ingest(KEYS.devIngest, [event(id, "api_calls", "host_ok")]);
  assert.equal(r.status, "accepted", `${what}: a normal event after it: ${JSON.stringify(r)}`);
}

function isProblem(r, status, code, what) {
  assert.equal(r.status, status, `${what}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
  assert.match(r.headers.get("content-type") ?? "", /^application\/problem\+json/, what);
  assert.equal(r.body.status, status, what);
  assert.equal(r.body.code, code, `${what}: ${JSON.stringify(r.body).slice(0, 300)}`);
  assert.equal(typeof r.body.detail, "string", what);
}

/** An event body answered 200 whose receipts are all rejected with `code`. */
function isRejected(r, code, what) {
  assert.equal(r.status, 200, `${what}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
  assert.ok(r.body.results.length >= 1, what);
  for (const x of r.body.results) {
    assert.equal(x.status, "rejected", `${what}: ${JSON.stringify(x).slice(0, 300)}`);
    assert.equal(x.error.code, code, `${what}: ${JSON.stringify(x).slice(0, 300)}`);
  }
}

const ev = (over = {}, data) => JSON.stringify({ ...event("h-1", "bandwidth", "host_ok", data), ...over });
const book = (from, to) => {
  assert.ok(BOOK_TEXT.includes(from), from);
  return BOOK_TEXT.replace(from, to);
};
const UNIT = '"unit_amount": "0.0004"';

// Routes that take a body: [name, method, path, key, content type, bodies].
// Each body is [label, raw, expectation]; an expectation is [status, code],
// ["receipt", code] (a 200 whose receipts are rejected with `code`) or
// ["ok"] (a 200: the input is fine).
const ROUTES = [
  ["events (batch)", "POST", "/v1/events", KEYS.devIngest, "application/cloudevents-batch+json", {
    deep_array: [deepArray(100_000), ["receipt", "invalid_json"]],
    deep_object: [`[${deepObject(100_000)}]`, ["receipt", "invalid_json"]],
    e30: [`[${ev({}, { quantity: "1e30" })}]`, ["receipt", "out_of_range"]],
    e30_number: [`[${ev({}).slice(0, -1)},"data":{"quantity":1e30}}]`, ["receipt", "out_of_range"]],
    nan_literal: [`[${ev({}).slice(0, -1)},"data":{"quantity":NaN}}]`, [400, "invalid_json"]],
    nan_string: [`[${ev({}, { quantity: "NaN" })}]`, ["receipt", "invalid_decimal"]],
    forty_digits: [`[${ev({}, { quantity: FORTY })}]`, ["receipt", "out_of_range"]],
    forty_digit_number: [`[${ev({}).slice(0, -1)},"data":{"quantity":${FORTY}}}]`, ["receipt", "out_of_range"]],
    long_id: [`[${ev({ id: LONG })}]`, ["receipt", "invalid_value"]],
    long_subject: [`[${ev({ subject: LONG })}]`, ["receipt", "invalid_value"]],
    long_source: [`[${ev({ source: LONG })}]`, ["receipt", "invalid_value"]],
    long_type: [`[${ev({ type: LONG })}]`, ["receipt", "invalid_value"]],
    year_9999: [`[${ev({ time: Y9999 })}]`, ["receipt", "event_in_future"]],
    lone_surrogate: ['[{"specversion":"1.0","id":"\\ud800","source":"s","type":"api_calls","subject":"host_ok"}]', ["receipt", "invalid_json"]],
    not_an_array: ['{"specversion":"1.0"}', [400, "invalid_body"]],
  }],
  ["events (single)", "POST", "/v1/events", KEYS.devIngest, "application/cloudevents+json", {
    deep_array: [deepArray(100_000), [400, "invalid_json"]],
    deep_object: [deepObject(100_000), ["receipt", "invalid_json"]],
    e30: [ev({}, { quantity: "1e30" }), ["receipt", "out_of_range"]],
    nan_literal: [`${ev({}).slice(0, -1)},"data":{"quantity":NaN}}`, [400, "invalid_json"]],
    forty_digits: [ev({}, { quantity: FORTY }), ["receipt", "out_of_range"]],
    long_id: [ev({ id: LONG }), ["receipt", "invalid_value"]],
    year_9999: [ev({ time: Y9999 }), ["receipt", "event_in_future"]],
    an_array: ["[]", [400, "invalid_body"]],
  }],
  ["events (application/json)", "POST", "/v1/events", KEYS.devIngest, "application/json", {
    deep_array: [deepArray(100_000), ["receipt", "invalid_json"]],
    deep_object: [deepObject(100_000), ["receipt", "invalid_json"]],
    e30: [`[${ev({}, { quantity: "1e30" })}]`, ["receipt", "out_of_range"]],
    long_id: [ev({ id: LONG }), ["receipt", "invalid_value"]],
    year_9999: [`[${ev({ time: Y9999 })}]`, ["receipt", "event_in_future"]],
    a_number: ["42", [400, "invalid_body"]],
  }],
  ["price book", "PUT", "/v1/price-book", KEYS.devAdmin, "application/json", {
    deep_array: [deepArray(100_000), [400, "invalid_json"]],
    deep_object: [deepObject(100_000), [400, "invalid_json"]],
    e30: [book(UNIT, '"unit_amount": "1e30"'), [422, "out_of_range"]],
    e30_number: [book(UNIT, '"unit_amount": 1e30'), [422, "out_of_range"]],
    nan_literal: [book(UNIT, '"unit_amount": NaN'), [400, "invalid_json"]],
    nan_string: [book(UNIT, '"unit_amount": "NaN"'), [422, "invalid_decimal"]],
    forty_digits: [book(UNIT, `"unit_amount": "${FORTY}"`), [422, "out_of_range"]],
    unknown_field: [book('"currency": "USD"', '"currency": "USD", "curency": "EUR"'), [422, "unknown_field"]],
    long_id: [book('"id": "starter"', `"id": "${LONG}"`), [422, "invalid_value"]],
  }],
  ["quote", "POST", "/v1/quote", KEYS.devRead, "application/json", {
    deep_array: [deepArray(100_000), [400, "invalid_json"]],
    deep_object: [deepObject(100_000), [400, "invalid_json"]],
    e30: ['{"plan":"pro","usage":{"api_calls":"1e30"}}', [422, "out_of_range"]],
    e30_number: ['{"plan":"pro","usage":{"api_calls":1e30}}', [422, "out_of_range"]],
    nan_literal: ['{"plan":"pro","usage":{"api_calls":NaN}}', [400, "invalid_json"]],
    nan_string: ['{"plan":"pro","usage":{"api_calls":"NaN"}}', [422, "invalid_decimal"]],
    forty_digits: [`{"plan":"pro","usage":{"api_calls":"${FORTY}"}}`, [422, "out_of_range"]],
    unknown_field: ['{"plan":"pro","zzz":1}', [422, "unknown_field"]],
    long_id: [JSON.stringify({ plan: LONG }), [422, "invalid_value"]],
    // A quote is one period's arithmetic, whatever the date: fine.
    year_9999: [JSON.stringify({ plan: "pro", at: Y9999 }), ["ok"]],
  }],
  ["compare", "POST", "/v1/compare", KEYS.devRead, "application/json", {
    deep_array: [deepArray(100_000), [400, "invalid_json"]],
    deep_object: [deepObject(100_000), [400, "invalid_json"]],
    e30: ['{"usage":{"api_calls":"1e30"}}', [422, "out_of_range"]],
    nan_literal: ['{"usage":{"api_calls":NaN}}', [400, "invalid_json"]],
    nan_string: ['{"usage":{"api_calls":"NaN"}}', [422, "invalid_decimal"]],
    forty_digits: [`{"usage":{"api_calls":${FORTY}}}`, [422, "out_of_range"]],
    unknown_field: ['{"usage":{},"zzz":1}', [422, "unknown_field"]],
    long_id: [JSON.stringify({ usage: { [LONG]: "1" } }), [422, "unknown_product"]],
  }],
  ["subscription", "PUT", "/v1/customers/host_sub/subscription", KEYS.devAdmin, "application/json", {
    deep_array: [deepArray(100_000), [400, "invalid_json"]],
    deep_object: [deepObject(100_000), [400, "invalid_json"]],
    e30: ['{"plan":"pro","quantities":{"seats":"1e30"}}', [422, "out_of_range"]],
    nan_literal: ['{"plan":"pro","quantities":{"seats":NaN}}', [400, "invalid_json"]],
    forty_digits: [`{"plan":"pro","quantities":{"seats":${FORTY}}}`, [422, "out_of_range"]],
    unknown_field: ['{"plan":"pro","zzz":1}', [422, "unknown_field"]],
    long_id: [JSON.stringify({ plan: LONG }), [422, "invalid_value"]],
    year_9999: [JSON.stringify({ plan: "pro", start: Y9999 }), [422, "invalid_value"]],
    year_0001: [JSON.stringify({ plan: "pro", start: "0001-01-01T00:00:00Z" }), [422, "invalid_value"]],
    anchor_9999: [JSON.stringify({ plan: "pro", anchor: Y9999 }), [422, "invalid_value"]],
  }],
];

before(async () => {
  await dev.start();
  assert.equal((await dev.call("PUT", "/v1/price-book", { key: KEYS.devAdmin, raw: BOOK_TEXT })).status, 201);
  const r = await dev.call("PUT", "/v1/customers/host_ok/subscription", { key: KEYS.devAdmin, body: { plan: "pro", start: iso(Date.now() - DAY) } });
  assert.equal(r.status, 201);
});

after(async () => {
  await dev.stop();
  dev.cleanup();
});

for (const [name, method, path, key, type, bodies] of ROUTES) {
  describe(`${method} ${path}: ${name}`, () => {
    // What every body route gets, besides its own cases.
    const common = {
      ten_mb: [JSON.stringify({ pad: "x".repeat(TEN_MB) }), [413, "payload_too_large"]],
      invalid_utf8: [BAD_UTF8, [400, "invalid_json"]],
      text_plain: [null, [400, "unsupported_content_type"]],
      form: [null, [400, "unsupported_content_type"]],
    };
    for (const [label, [raw, expected]] of Object.entries({ ...common, ...bodies })) {
      test(label, async () => {
        const what = `${method} ${path} (${type}) ${label}`;
        let r;
        if (label === "text_plain") r = await dev.call(method, path, { key, raw: "{}", type: "text/plain" });
        else if (label === "form") r = await dev.call(method, path, { key, raw: "a=1", type: "application/x-www-form-urlencoded" });
        else r = await dev.call(method, path, { key, raw, type });
        if (expected[0] === "ok") assert.equal(r.status, 200, what);
        else if (expected[0] === "receipt") isRejected(r, expected[1], what);
        else isProblem(r, expected[0], expected[1], what);
        await stillServing(what);
      });
    }
  });
}

describe("other hostile requests", () => {
  test("a 10 MB body with no Content-Length (chunked) is 413", async () => {
    const chunk = Buffer.alloc(1 << 20, 0x20);
    let sent = 0;
    const body = new ReadableStream({
      pull(c) {
        if (sent++ < 10) c.enqueue(chunk);
        else c.close();
      },
    });
    const r = await fetch(`${dev.url}/v1/quote`, {
      method: "POST", body, duplex: "half",
      headers: { authorization: `Bearer ${KEYS.devRead}`, "content-type": "application/json" },
    });
    assert.equal(r.status, 413);
    assert.equal((await r.json()).code, "payload_too_large");
    await stillServing("chunked 10 MB");
  });

  test("a customer id of 10,000 characters in the path is 400 on every customer route", async () => {
    for (const [method, p, key] of [["GET", "subscription", KEYS.devRead], ["PUT", "subscription", KEYS.devAdmin],
      ["GET", "allowance-state", KEYS.devRead], ["GET", "invoice-preview", KEYS.devRead], ["GET", "invoices", KEYS.devRead]]) {
      const r = await dev.call(method, `/v1/customers/${LONG}/${p}`, { key, body: method === "PUT" ? { plan: "pro" } : undefined });
      isProblem(r, 400, "invalid_value", `${method} ${p}`);
    }
    isProblem(await dev.call("GET", `/v1/dropped-events?customer=${LONG}`, { key: KEYS.devRead }), 400, "invalid_value", "dropped-events");
    isProblem(await dev.call("GET", "/v1/customers/%FF%FE/invoices", { key: KEYS.devRead }), 404, "not_found", "invalid UTF-8 in the path");
    await stillServing("long customer ids");
  });

  test("?at= in year 9999 or not a time is refused on reads", async () => {
    for (const p of ["allowance-state", "invoice-preview"]) {
      isProblem(await dev.call("GET", `/v1/customers/host_ok/${p}?at=${Y9999}`, { key: KEYS.devRead }), 422, "invalid_value", p);
      isProblem(await dev.call("GET", `/v1/customers/host_ok/${p}?at=soon`, { key: KEYS.devRead }), 400, "invalid_timestamp", p);
    }
    // Within reach is fine.
    const ok = await dev.call("GET", `/v1/customers/host_ok/invoice-preview?at=${iso(Date.now() + 30 * DAY)}`, { key: KEYS.devRead });
    assert.equal(ok.status, 200);
    await stillServing("at 9999");
  });

  test("duplicate keys: refused as duplicate_key at the repeated key (parsers disagree on which counts)", async () => {
    const q = await dev.call("POST", "/v1/quote", { key: KEYS.devRead, raw: '{"plan":"pro","plan":"starter"}' });
    assert.equal(q.status, 400);
    assert.equal(q.body.code, "duplicate_key");
    assert.match(JSON.stringify(q.body), /plan/);
    const rs = await dev.call("POST", "/v1/events", {
      key: KEYS.devIngest,
      type: "application/cloudevents-batch+json",
      raw:
        '[{"specversion":"1.0","id":"dk-1","source":"s","type":"bandwidth","subject":"host_ok","data":{"quantity":"1","quantity":"7"}},' +
        '{"specversion":"1.0","id":"dk-ok","source":"s","type":"bandwidth","subject":"host_ok","data":{"quantity":"1"}}]',
    });
    assert.equal(rs.status, 200);
    const [bad, good] = rs.body.results;
    assert.deepEqual([bad.id, bad.status, bad.error?.code], ["dk-1", "rejected", "duplicate_key"]);
    assert.equal(good.status, "accepted");
    await stillServing("duplicate keys");
  });

  test("in one batch, each hostile event gets its own rejection and its neighbours are accepted", async () => {
    const good = (n) => event(`nb-${n}`, "bandwidth", "host_ok", { quantity: "1" });
    const hostile = [
      [{ ...good(0), data: { quantity: "1e30" } }, "out_of_range"],
      [{ ...good(0), data: { quantity: FORTY } }, "out_of_range"],
      [{ ...good(0), data: { quantity: "NaN" } }, "invalid_decimal"],
      [{ ...good(0), data: { quantity: "-5" } }, "negative_value"],
      [{ ...good(0), id: LONG }, "invalid_value"],
      [{ ...good(0), subject: LONG }, "invalid_value"],
      [{ ...good(0), time: Y9999 }, "event_in_future"],
      [{ ...good(0), time: "1970-01-01T00:00:00Z" }, "event_too_late"],
      [{ ...good(0), data: { pad: "x".repeat(70 * 1024), quantity: "1" } }, "event_too_large"],
      [{ ...good(0), specversion: "0.3" }, "invalid_value"],
      ["not an event", "invalid_type"],
      [null, "invalid_type"],
    ];
    const texts = [];
    const want = [];
    hostile.forEach(([e, code], i) => {
      const h = typeof e === "object" && e !== null ? { ...e, id: e.id === LONG ? LONG : `nb-bad-${i}` } : e;
      texts.push(JSON.stringify(good(`a${i}`)), JSON.stringify(h));
      want.push("accepted", code);
    });
    // And one nested too deep to parse, between two good ones.
    texts.push(JSON.stringify(good("deep-a")), deepArray(50_000), JSON.stringify(good("deep-b")));
    want.push("accepted", "invalid_json", "accepted");
    const r = await dev.call("POST", "/v1/events", { key: KEYS.devIngest, raw: `[${texts.join(",")}]`, type: "application/cloudevents-batch+json" });
    assert.equal(r.status, 200, JSON.stringify(r.body).slice(0, 300));
    assert.deepEqual(r.body.results.map((x) => x.error?.code ?? x.status), want);
    await stillServing("mixed batch");
  });
});
