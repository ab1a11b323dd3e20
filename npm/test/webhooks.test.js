// rating-engine/webhooks: verification of Standard Webhooks 1.0 deliveries,
// checked against the specification's reference library (`standardwebhooks`)
// in both directions, then on random secrets, ids and bodies: round trips,
// tampering, timestamps, several signatures, header shapes and secrets.
// The random cases come from a seed printed in every failure
// (WEBHOOK_TEST_SEED=<n> replays one run).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Webhook } from "standardwebhooks";
import {
  verifyWebhook,
  signWebhook,
  WebhookVerificationError,
  WEBHOOK_TOLERANCE_SECONDS,
} from "rating-engine/webhooks";

const seed = Number(process.env.WEBHOOK_TEST_SEED ?? Date.now() % 2 ** 31);
const why = (what) => `${what} (WEBHOOK_TEST_SEED=${seed})`;

/** mulberry32: a small seeded generator, uniform in [0, 1). */
function generator(s) {
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
const random = generator(seed);
const int = (lo, hi) => lo + Math.floor(random() * (hi - lo + 1));
const pick = (xs) => xs[int(0, xs.length - 1)];
const bytes = (n) => Uint8Array.from({ length: n }, () => int(0, 255));
const base64 = (b) => Buffer.from(b).toString("base64");

/** A secret of 24 to 64 random bytes, as the specification recommends. */
const newSecret = () => `whsec_${base64(bytes(int(24, 64)))}`;
const ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const newId = () => `msg_${Array.from({ length: int(1, 30) }, () => pick([...ALNUM, "-", "_"])).join("")}`;
/** Text with ASCII, accents, CJK, astral characters (surrogate pairs), escapes and line separators. */
const PIECES = ["a", "Z", "0", " ", "é", "ß", "€", "日本", "😀", "🧾", "\u2028", '"', "\\", "\n", "\u0001", "{", "."];
const newText = () => Array.from({ length: int(0, 40) }, () => pick(PIECES)).join("");
/** A JSON event body, compact or indented (the bytes are what is signed, not the value). */
function newBody() {
  const event = {
    type: pick(["invoice.issued", "allowance.threshold_reached", "credits.low_balance"]),
    timestamp: new Date(Date.UTC(2026, 0, 1) + int(0, 1e10)).toISOString(),
    data: { customer: newText(), note: newText(), amount: `${int(0, 1e6)}.${int(10, 99)}`, lines: [newText(), int(-5, 5)] },
  };
  return JSON.stringify(event, null, pick([undefined, 2, "\t"]));
}
const now = () => Math.floor(Date.now() / 1000);

/** A webhook signed by our signWebhook, as the Worker sends it. */
async function delivery({ secret = newSecret(), id = newId(), timestamp = now(), body = newBody() } = {}) {
  const signature = await signWebhook(secret, id, timestamp, body);
  const headers = { "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": signature };
  return { secret, id, timestamp, body, signature, headers };
}

/** The WebhookVerificationError a promise rejects with; its code must be `code`. */
async function rejects(promise, code, what) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof WebhookVerificationError, why(`${what}: not a WebhookVerificationError: ${e}`));
    assert.equal(e.code, code, why(`${what}: ${e.message}`));
    return true;
  });
}

const CASES = 40;

test("the reference library's signatures verify, and are byte for byte ours", async () => {
  for (let n = 0; n < CASES; n++) {
    const secret = newSecret();
    const id = newId();
    const timestamp = now() - int(0, 200);
    const body = newBody();
    const signature = new Webhook(secret).sign(id, new Date(timestamp * 1000), body);
    assert.equal(await signWebhook(secret, id, timestamp, body), signature, why("signWebhook differs from the reference"));
    const headers = { "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": signature };
    assert.deepEqual(await verifyWebhook(secret, headers, body), JSON.parse(body), why(body));
    // The same bytes given as bytes.
    const raw = new TextEncoder().encode(body);
    assert.equal(new Webhook(secret).sign(id, new Date(timestamp * 1000), raw), signature);
    assert.deepEqual(await verifyWebhook(secret, headers, raw), JSON.parse(body), why(body));
  }
});

test("the reference library verifies what signWebhook signs", async () => {
  for (let n = 0; n < CASES; n++) {
    const { secret, body, headers } = await delivery({ timestamp: now() + int(-200, 200) });
    assert.deepEqual(new Webhook(secret).verify(body, headers), JSON.parse(body), why(body));
    assert.deepEqual(new Webhook(secret).verify(new TextEncoder().encode(body), headers), JSON.parse(body), why(body));
  }
  // A Date timestamp is its unix second.
  const secret = newSecret();
  const at = new Date();
  const signature = await signWebhook(secret, "msg_date", at, "{}");
  assert.equal(signature, new Webhook(secret).sign("msg_date", at, "{}"));
  assert.equal(signature, await signWebhook(secret, "msg_date", Math.floor(at.getTime() / 1000), "{}"));
});

test("random secrets, ids and bodies round-trip as strings, Uint8Array, Buffer and ArrayBuffer", async () => {
  for (let n = 0; n < CASES; n++) {
    const { secret, body, headers } = await delivery();
    const event = JSON.parse(body);
    const utf8 = new TextEncoder().encode(body);
    for (const given of [body, utf8, Buffer.from(body), utf8.slice().buffer]) {
      assert.deepEqual(await verifyWebhook(secret, headers, given), event, why(body));
    }
    // Bytes signed equal the string signed.
    assert.equal(await signWebhook(secret, headers["webhook-id"], Number(headers["webhook-timestamp"]), utf8), headers["webhook-signature"]);
  }
});

test("a webhook signed with another secret fails with invalid_signature", async () => {
  const { body, headers } = await delivery();
  await rejects(verifyWebhook(newSecret(), headers, body), "invalid_signature", "other secret");
});

test("a flipped byte in the body, id, timestamp or signature fails with invalid_signature", async () => {
  for (let n = 0; n < CASES; n++) {
    const { secret, id, timestamp, body, signature, headers } = await delivery();

    const tampered = new TextEncoder().encode(body);
    tampered[int(0, tampered.length - 1)] ^= 1 << int(0, 7);
    await rejects(verifyWebhook(secret, headers, tampered), "invalid_signature", `body ${body}`);

    const i = int(0, id.length - 1);
    const otherId = id.slice(0, i) + (id[i] === "x" ? "y" : "x") + id.slice(i + 1);
    await rejects(verifyWebhook(secret, { ...headers, "webhook-id": otherId }, body), "invalid_signature", `id ${otherId}`);

    // Another second, still within the tolerance: only the signature can catch it.
    const otherTime = String(timestamp + pick([-1, 1, -9, 10]));
    await rejects(verifyWebhook(secret, { ...headers, "webhook-timestamp": otherTime }, body), "invalid_signature", "timestamp");

    const mac = Buffer.from(signature.slice(3), "base64");
    mac[int(0, mac.length - 1)] ^= 1 << int(0, 7);
    const otherSignature = `v1,${mac.toString("base64")}`;
    await rejects(verifyWebhook(secret, { ...headers, "webhook-signature": otherSignature }, body), "invalid_signature", "signature");
  }
});

test("stale and future timestamps fail with timestamp_too_old and timestamp_too_new", async () => {
  assert.equal(WEBHOOK_TOLERANCE_SECONDS, 300);
  const secret = newSecret();
  const at = async (offset, options) => {
    const { body, headers } = await delivery({ secret, timestamp: now() + offset });
    return verifyWebhook(secret, headers, body, options);
  };
  await rejects(at(-301), "timestamp_too_old", "-301 s");
  await rejects(at(-86_400), "timestamp_too_old", "-1 day");
  await rejects(at(301), "timestamp_too_new", "+301 s");
  await rejects(at(86_400), "timestamp_too_new", "+1 day");
  await at(-295);
  await at(295);
  await rejects(at(-20, { toleranceSeconds: 10 }), "timestamp_too_old", "-20 s, 10 s tolerance");
  await rejects(at(20, { toleranceSeconds: 10 }), "timestamp_too_new", "+20 s, 10 s tolerance");
  await at(-3000, { toleranceSeconds: 3600 });
  // The reference library draws the same line.
  const { body, headers } = await delivery({ secret, timestamp: now() - 301 });
  assert.throws(() => new Webhook(secret).verify(body, headers), /too old/);
  await assert.rejects(at(0, { toleranceSeconds: -1 }), RangeError);
  await assert.rejects(at(0, { toleranceSeconds: Number.NaN }), RangeError);
});

test("a timestamp that is not unix seconds fails with invalid_timestamp", async () => {
  const { secret, body, headers } = await delivery();
  for (const bad of ["abc", "1.5e9", `${now()}.0`, `-${now()}`, `+${now()}`, "0x6553f100", new Date().toISOString(), "9".repeat(16)]) {
    await rejects(verifyWebhook(secret, { ...headers, "webhook-timestamp": bad }, body), "invalid_timestamp", bad);
  }
});

test("several signatures in the header: one that matches is enough", async () => {
  const { secret, body, headers, signature } = await delivery();
  const wrong = `v1,${base64(bytes(32))}`;
  const asymmetric = `v1a,${base64(bytes(64))}`;
  for (const list of [
    `${wrong} ${signature}`,
    `${signature} ${wrong}`,
    `${asymmetric} ${wrong} ${signature}`,
    `v1,not-base64!! v1, v1 ,, ${signature}`,
    `  ${wrong}   ${signature}  `,
    `${wrong}, ${signature}`, // one header sent twice, joined by a Headers object
    `${signature}, ${wrong}`,
  ]) {
    assert.deepEqual(await verifyWebhook(secret, { ...headers, "webhook-signature": list }, body), JSON.parse(body), list);
  }
  // A rotated secret: the Worker signs with the old and the new secret; either verifies.
  const old = newSecret();
  const both = `${await signWebhook(old, headers["webhook-id"], Number(headers["webhook-timestamp"]), body)} ${signature}`;
  for (const s of [old, secret]) await verifyWebhook(s, { ...headers, "webhook-signature": both }, body);
  assert.deepEqual(new Webhook(old).verify(body, { ...headers, "webhook-signature": both }), JSON.parse(body));

  for (const list of [wrong, `${wrong} ${asymmetric}`, signature.replace("v1,", "v2,"), signature.replace("v1,", "v1a,"), signature.slice(3)]) {
    await rejects(verifyWebhook(secret, { ...headers, "webhook-signature": list }, body), "invalid_signature", list);
  }
});

test("a missing or empty header fails with missing_header", async () => {
  const { secret, body, headers } = await delivery();
  for (const name of Object.keys(headers)) {
    const { [name]: _, ...rest } = headers;
    await rejects(verifyWebhook(secret, rest, body), "missing_header", `without ${name}`);
    await rejects(verifyWebhook(secret, { ...headers, [name]: "" }, body), "missing_header", `empty ${name}`);
    await rejects(verifyWebhook(secret, { ...headers, [name]: undefined }, body), "missing_header", `undefined ${name}`);
    const h = new Headers(rest);
    await rejects(verifyWebhook(secret, h, body), "missing_header", `Headers without ${name}`);
  }
  await rejects(verifyWebhook(secret, {}, body), "missing_header", "no headers");
});

test("header names in any case, Headers objects and Node's repeated-header arrays", async () => {
  const { secret, body, headers, signature } = await delivery();
  const event = JSON.parse(body);
  const shout = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), v]));
  const title = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.replace(/\b\w/g, (c) => c.toUpperCase()), v]));
  const mixed = Object.fromEntries(Object.entries(headers).map(([k, v]) => [[...k].map((c) => (random() < 0.5 ? c.toUpperCase() : c)).join(""), v]));
  for (const h of [shout, title, mixed, new Headers(headers), new Headers(shout)]) {
    assert.deepEqual(await verifyWebhook(secret, h, body), event, why(JSON.stringify(Object.keys(h))));
  }
  // The signature header sent twice: an array in Node, a joined value in a Headers object.
  const wrong = `v1,${base64(bytes(32))}`;
  assert.deepEqual(await verifyWebhook(secret, { ...headers, "webhook-signature": [wrong, signature] }, body), event);
  for (const [first, second] of [[wrong, signature], [signature, wrong]]) {
    const twice = new Headers(headers);
    twice.set("webhook-signature", first);
    twice.append("webhook-signature", second);
    assert.deepEqual(await verifyWebhook(secret, twice, body), event);
  }
  // Other headers are ignored.
  assert.deepEqual(await verifyWebhook(secret, { ...headers, "content-type": "application/json", host: "x" }, body), event);
});

test("secrets other than whsec_ + base64 fail with invalid_secret, and never show in a message", async () => {
  const { secret, body, headers } = await delivery();
  const key = secret.slice("whsec_".length);
  const bad = [
    key, // no prefix (the reference library would take it)
    `WHSEC_${key}`,
    `whsk_${key}`,
    "whsec_",
    "whsec_!!not base64!!",
    `whsec_${key} `,
    `whsec_${key}=A`,
    "whsec_abcde", // a length base64 cannot have
    "sk_live_0123456789abcdef",
    "",
  ];
  for (const s of bad) {
    for (const p of [verifyWebhook(s, headers, body), signWebhook(s, "msg_1", now(), body)]) {
      await assert.rejects(p, (e) => {
        assert.ok(e instanceof WebhookVerificationError, `${e}`);
        assert.equal(e.code, "invalid_secret");
        if (s.length > 6) assert.ok(!e.message.includes(s) && !e.message.includes(s.slice(6)), "the secret is in the message");
        return true;
      });
    }
  }
  for (const s of [undefined, null, 42, bytes(32)]) {
    // @ts-ignore: deliberately wrong types
    await rejects(verifyWebhook(s, headers, body), "invalid_secret", String(s));
  }
  // Unpadded base64 is base64 too.
  const unpadded = `whsec_${base64(bytes(31)).replace(/=+$/, "")}`;
  const d = await delivery({ secret: unpadded });
  await verifyWebhook(unpadded, d.headers, d.body);
});

test("no error message holds the secret", async () => {
  const { secret, body, headers } = await delivery();
  const key = secret.slice("whsec_".length);
  // Each attempt starts only when it is awaited: a rejection nobody awaits
  // yet would fail the run as an unhandled rejection.
  const attempts = [
    () => verifyWebhook(secret, {}, body),
    () => verifyWebhook(secret, { ...headers, "webhook-timestamp": "x" }, body),
    () => verifyWebhook(secret, { ...headers, "webhook-timestamp": String(now() - 1000) }, body),
    () => verifyWebhook(secret, { ...headers, "webhook-signature": `v1,${key}` }, body),
    () => verifyWebhook(secret, headers, `${body} `),
  ];
  for (const attempt of attempts) {
    await assert.rejects(attempt, (e) => {
      assert.ok(e instanceof WebhookVerificationError);
      assert.ok(!String(e.message).includes(key) && !String(e.stack).includes(key));
      return true;
    });
  }
});

test("a signed body that is not a JSON event fails with invalid_body, after the signature", async () => {
  const secret = newSecret();
  // Bytes that are not UTF-8, inside a JSON string (a lenient decoder would make them U+FFFD).
  const invalidUtf8 = Uint8Array.from([...new TextEncoder().encode('{"type":"x","timestamp":"t","data":"'), 0xff, 0xfe, 0x22, 0x7d]);
  for (const body of ["", "not json", "[1,2]", "null", '"event"', '{"type":"x","timestamp":"t"}', '{"type":1,"timestamp":"t","data":{}}', '{"type":"x","data":{}}', invalidUtf8]) {
    const { headers } = await delivery({ secret, body });
    await rejects(verifyWebhook(secret, headers, body), "invalid_body", String(body));
    // An unsigned body is a bad signature first: nothing is parsed before the signature matches.
    await rejects(verifyWebhook(newSecret(), headers, body), "invalid_signature", String(body));
  }
  // `data` may be any JSON value; other top-level fields stay.
  for (const body of ['{"type":"x","timestamp":"t","data":null}', '{"type":"x","timestamp":"t","data":[1],"extra":true}']) {
    const { headers } = await delivery({ secret, body });
    assert.deepEqual(await verifyWebhook(secret, headers, body), JSON.parse(body));
  }
});

test("WebhookVerificationError is an Error; verifyWebhook always answers with a promise", async () => {
  const { secret, body, headers } = await delivery();
  const p = verifyWebhook("nope", headers, body);
  assert.ok(p instanceof Promise);
  const e = await p.catch((e) => e);
  assert.ok(e instanceof Error && e instanceof WebhookVerificationError);
  assert.equal(e.name, "WebhookVerificationError");
  assert.equal(e.code, "invalid_secret");
  assert.match(String(e.stack), /WebhookVerificationError/);
  const made = new WebhookVerificationError("invalid_signature", "handmade");
  assert.deepEqual([made.code, made.message], ["invalid_signature", "handmade"]);
  // A parsed object instead of the raw body is a programming error, not a bad webhook.
  // @ts-ignore: deliberately wrong types
  await assert.rejects(verifyWebhook(secret, headers, JSON.parse(body)), TypeError);
  // @ts-ignore: deliberately wrong types
  await assert.rejects(verifyWebhook(secret, "webhook-id: x", body), TypeError);
  await assert.rejects(signWebhook(secret, "", now(), body), TypeError);
  await assert.rejects(signWebhook(secret, "msg", 1.5, body), TypeError);
  await assert.rejects(signWebhook(secret, "msg", new Date(Number.NaN), body), TypeError);
});
