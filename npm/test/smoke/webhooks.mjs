// Packaging smoke test, webhooks: `rating-engine/webhooks` from the
// installed tarball. Signs a delivery and verifies it here; given the
// smoke Worker's URL, posts a signed and a tampered delivery to it, so that
// WebCrypto under workerd verifies them too. Prints "ok" or exits non-zero.
import { signWebhook, verifyWebhook, WebhookVerificationError } from "rating-engine/webhooks";

// The smoke Worker's secret (worker/index.js): "whsec_" + base64 of 32 test bytes.
const secret = "whsec_cmF0aW5nLWVuZ2luZSBwYWNrYWdlIHNtb2tlIHRlc3Q=";
const body = JSON.stringify({ type: "invoice.issued", timestamp: "2026-12-01T00:00:00Z", data: { customer: "cus_42", total: "74.00" } });
const id = "msg_smoke";
const timestamp = Math.floor(Date.now() / 1000);
const headers = { "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": await signWebhook(secret, id, timestamp, body) };
const tampered = body.replace("74.00", "7.40");

function check(ok, what) {
  if (!ok) {
    console.error(`webhooks smoke: ${what}`);
    process.exit(1);
  }
}

const event = await verifyWebhook(secret, headers, body);
check(event.data.total === "74.00", "the verified event differs from the body");
const err = await verifyWebhook(secret, headers, tampered).catch((e) => e);
check(err instanceof WebhookVerificationError && err.code === "invalid_signature", `a tampered body gave ${err}`);

const url = process.argv[2];
if (url) {
  const post = (b) => fetch(url, { method: "POST", headers, body: b }).then(async (r) => [r.status, await r.json()]);
  const [status, answer] = await post(body);
  check(status === 200 && answer.event?.data?.total === "74.00", `the Worker answered ${status} ${JSON.stringify(answer)}`);
  const [badStatus, bad] = await post(tampered);
  check(badStatus === 400 && bad.instanceof === true && bad.code === "invalid_signature", `the Worker answered ${badStatus} ${JSON.stringify(bad)}`);
}
console.log("ok");
