// Webhook verification: checks that a request came from the rating Worker,
// which signs its webhooks as Standard Webhooks 1.0 prescribes
// (https://www.standardwebhooks.com/), and returns its event.
//
//   import { verifyWebhook } from "rating-engine/webhooks";
//   const event = await verifyWebhook(secret, request.headers, await request.text());
//
// - The signature is `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`
//   in `webhook-signature`, a space-separated list (two entries while a
//   secret is being rotated): one matching entry is enough. Entries of
//   other schemes (`v1a,...`) are skipped.
// - The HMAC is WebCrypto's (`crypto.subtle`), so the same module runs in
//   browsers, Node and Cloudflare Workers; it is compared byte for byte in
//   constant time.
// - `webhook-timestamp` must be within the tolerance of now, both ways, so
//   that a captured request cannot be replayed later.
// - Every failure is a `WebhookVerificationError` with a stable `code`;
//   no message ever holds the secret.
// - The body is parsed only once its signature has matched.

/** Default tolerance between `webhook-timestamp` and now, in seconds (5 minutes). */
export const WEBHOOK_TOLERANCE_SECONDS = 300;

const SECRET_PREFIX = "whsec_";
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const UNIX_SECONDS = /^[0-9]{1,15}$/;

/** A webhook that did not verify. `code` says why (see webhooks.d.ts). */
export class WebhookVerificationError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "WebhookVerificationError";
    /** `missing_header`, `invalid_timestamp`, `timestamp_too_old`, ... */
    this.code = code;
  }
}

const fail = (code, message) => {
  throw new WebhookVerificationError(code, message);
};

function subtle() {
  const s = globalThis.crypto?.subtle;
  if (!s) throw new Error("rating-engine/webhooks needs WebCrypto (globalThis.crypto.subtle; Node 19 or later)");
  return s;
}

function decodeBase64(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function encodeBase64(bytes) {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

/** The HMAC key of a `whsec_` secret. The secret never enters a message. */
async function hmacKey(secret) {
  if (typeof secret !== "string" || !secret.startsWith(SECRET_PREFIX)) {
    fail("invalid_secret", 'the webhook secret must be a string starting with "whsec_"');
  }
  const encoded = secret.slice(SECRET_PREFIX.length);
  let key;
  if (BASE64.test(encoded)) {
    try {
      key = decodeBase64(encoded);
    } catch {}
  }
  if (!key?.length) fail("invalid_secret", 'the webhook secret must be "whsec_" followed by base64 key bytes');
  return subtle().importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
}

/** The body's bytes: a string as UTF-8, bytes as they are. */
function bodyBytes(body) {
  if (typeof body === "string") return new TextEncoder().encode(body);
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  throw new TypeError("the webhook body must be the raw request body: a string, Uint8Array or ArrayBuffer");
}

/** HMAC-SHA256 of `{id}.{timestamp}.{body}`. */
async function mac(key, id, timestamp, body) {
  const prefix = new TextEncoder().encode(`${id}.${timestamp}.`);
  const content = new Uint8Array(prefix.length + body.length);
  content.set(prefix);
  content.set(body, prefix.length);
  return new Uint8Array(await subtle().sign("HMAC", key, content));
}

/** Equal bytes, in a time that depends only on the lengths. */
function constantTimeEqual(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** The `v1` signatures of a `webhook-signature` value, decoded; malformed entries are skipped. */
function v1Signatures(header) {
  const signatures = [];
  for (const entry of header.split(/\s+/)) {
    // `split(",", 2)` also drops the "," that joins a header sent twice in a Headers object.
    const [version, value] = entry.split(",", 2);
    if (version !== "v1" || !value || !BASE64.test(value)) continue;
    try {
      signatures.push(decodeBase64(value));
    } catch {}
  }
  return signatures;
}

/** A header's value from a Headers object or a plain object in any case; undefined when absent or empty. */
function header(headers, name) {
  let value;
  if (typeof headers?.get === "function") {
    value = headers.get(name);
  } else if (headers && typeof headers === "object") {
    const values = [];
    for (const [key, v] of Object.entries(headers)) {
      if (key.toLowerCase() !== name || v === undefined || v === null) continue;
      values.push(...(Array.isArray(v) ? v : [v]).map(String));
    }
    value = values.join(name === "webhook-signature" ? " " : ", ");
  } else {
    throw new TypeError("the webhook headers must be a Headers object or a plain object");
  }
  value = value?.trim();
  return value ? value : undefined;
}

function required(headers, name) {
  return header(headers, name) ?? fail("missing_header", `the ${name} header is missing`);
}

/**
 * Verifies a webhook and returns its event (the parsed body).
 * @param {string} secret - the endpoint's secret, `whsec_` + base64
 * @param {Headers | Record<string, string | string[] | undefined>} headers - the request's headers
 * @param {string | Uint8Array | ArrayBuffer} body - the raw request body, as received
 * @param {{ toleranceSeconds?: number }} [options]
 * @returns {Promise<{ type: string, timestamp: string, data: unknown }>}
 * @throws {WebhookVerificationError}
 */
export async function verifyWebhook(secret, headers, body, { toleranceSeconds = WEBHOOK_TOLERANCE_SECONDS } = {}) {
  if (!(Number.isFinite(toleranceSeconds) && toleranceSeconds >= 0)) {
    throw new RangeError("toleranceSeconds must be a finite number of seconds, 0 or more");
  }
  const key = await hmacKey(secret);
  const bytes = bodyBytes(body);
  const id = required(headers, "webhook-id");
  const timestamp = required(headers, "webhook-timestamp");
  const signatureHeader = required(headers, "webhook-signature");

  if (!UNIX_SECONDS.test(timestamp)) fail("invalid_timestamp", "webhook-timestamp is not a unix time in seconds");
  const now = Math.floor(Date.now() / 1000);
  const sent = Number(timestamp);
  if (now - sent > toleranceSeconds) fail("timestamp_too_old", "webhook-timestamp is too far in the past");
  if (sent - now > toleranceSeconds) fail("timestamp_too_new", "webhook-timestamp is too far in the future");

  const expected = await mac(key, id, timestamp, bytes);
  let matched = false;
  for (const signature of v1Signatures(signatureHeader)) matched = constantTimeEqual(signature, expected) || matched;
  if (!matched) fail("invalid_signature", "no webhook-signature matches the body");

  let event;
  try {
    event = JSON.parse(typeof body === "string" ? body : new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    fail("invalid_body", "the webhook body is not UTF-8 JSON");
  }
  const isObject = event !== null && typeof event === "object" && !Array.isArray(event);
  if (!isObject || typeof event.type !== "string" || typeof event.timestamp !== "string" || !("data" in event)) {
    fail("invalid_body", 'the webhook body is not an event ({"type", "timestamp", "data"})');
  }
  return event;
}

/**
 * The `webhook-signature` value (`v1,<base64>`) of a webhook: for tests,
 * and for anything that sends webhooks the way the Worker does.
 * @param {string} secret - `whsec_` + base64
 * @param {string} id - the `webhook-id`
 * @param {number | Date} timestamp - the `webhook-timestamp`: unix seconds, or a Date
 * @param {string | Uint8Array | ArrayBuffer} body - the exact body sent
 * @returns {Promise<string>}
 */
export async function signWebhook(secret, id, timestamp, body) {
  if (typeof id !== "string" || !id) throw new TypeError("the webhook id must be a non-empty string");
  const seconds = timestamp instanceof Date ? Math.floor(timestamp.getTime() / 1000) : timestamp;
  if (!Number.isSafeInteger(seconds) || seconds < 0) {
    throw new TypeError("the webhook timestamp must be unix seconds (an integer, 0 or more) or a valid Date");
  }
  const key = await hmacKey(secret);
  return `v1,${encodeBase64(await mac(key, id, seconds, bodyBytes(body)))}`;
}
