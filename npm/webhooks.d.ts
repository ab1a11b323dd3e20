// Types of webhook verification (npm/webhooks.js): `rating-engine/webhooks`.

/** Why a webhook did not verify:
 * - `missing_header`: `webhook-id`, `webhook-timestamp` or `webhook-signature` is absent or empty;
 * - `invalid_timestamp`: `webhook-timestamp` is not unix seconds;
 * - `timestamp_too_old` / `timestamp_too_new`: it is further from now than the tolerance;
 * - `invalid_signature`: no `v1` signature in `webhook-signature` matches;
 * - `invalid_secret`: the secret is not `whsec_` followed by base64 key bytes
 *   (a configuration error, not the sender's);
 * - `invalid_body`: the signature matched but the body is not a JSON event. */
export type WebhookVerificationErrorCode =
  | "missing_header"
  | "invalid_timestamp"
  | "timestamp_too_old"
  | "timestamp_too_new"
  | "invalid_signature"
  | "invalid_secret"
  | "invalid_body";

/** A webhook that did not verify: answer it with a 4xx (a 400 or 401)
 * and do not act on it. The message never holds the secret. */
export class WebhookVerificationError extends Error {
  constructor(code: WebhookVerificationErrorCode, message: string);
  readonly name: "WebhookVerificationError";
  /** Why, as a stable machine code. */
  readonly code: WebhookVerificationErrorCode;
}

/** A webhook's body: a Standard Webhooks event. */
export interface WebhookEvent<Data = unknown> {
  /** What happened: `invoice.issued`, `allowance.threshold_reached`, ... */
  type: string;
  /** When it happened (RFC 3339); the delivery attempt's time is the
   * `webhook-timestamp` header. */
  timestamp: string;
  /** The event's own fields. */
  data: Data;
  [field: string]: unknown;
}

/** Request headers: a `Headers` object (fetch, Cloudflare Workers), or a
 * plain object with names in any case (Node's `IncomingHttpHeaders`,
 * Express's `req.headers`). */
export type WebhookHeaders =
  | { get(name: string): string | null }
  | { readonly [name: string]: string | readonly string[] | undefined };

/** The raw request body exactly as received (`await request.text()`,
 * `await request.arrayBuffer()`, a Node `Buffer`): never a parsed and
 * re-serialized object, whose bytes would differ from those signed. */
export type WebhookBody = string | Uint8Array | ArrayBuffer;

export interface VerifyWebhookOptions {
  /** Largest distance, in seconds, between `webhook-timestamp` and now,
   * in either direction (default {@link WEBHOOK_TOLERANCE_SECONDS}, 300). */
  toleranceSeconds?: number;
}

/** Default tolerance between `webhook-timestamp` and now: 300 seconds. */
export const WEBHOOK_TOLERANCE_SECONDS: 300;

/**
 * Verifies a webhook (Standard Webhooks 1.0) and resolves to its event.
 *
 * Checks that `webhook-timestamp` is within the tolerance of now, then that
 * one of the `v1` signatures of `webhook-signature` is the HMAC-SHA256 of
 * `{webhook-id}.{webhook-timestamp}.{body}` under the secret (compared in
 * constant time), and only then parses the body. Uses WebCrypto
 * (`globalThis.crypto.subtle`): browsers, Node 19+, Cloudflare Workers.
 *
 * `webhook-id` stays the same across retries of one event: keep the ids
 * you have handled to drop duplicates.
 *
 * @param secret the endpoint's signing secret, `whsec_` + base64
 * @param headers the request's headers
 * @param body the raw request body
 * @typeParam Data what you expect `data` to hold (not checked)
 * @throws {WebhookVerificationError} (the promise rejects) when the webhook does not verify
 * @throws {TypeError} when `body` or `headers` is of the wrong kind
 */
export function verifyWebhook<Data = unknown>(
  secret: string,
  headers: WebhookHeaders,
  body: WebhookBody,
  options?: VerifyWebhookOptions,
): Promise<WebhookEvent<Data>>;

/**
 * The `webhook-signature` header value (`v1,<base64>`) of a webhook, as the
 * Worker sends it: for tests of a webhook handler, or to send webhooks the
 * same way.
 *
 * @param secret `whsec_` + base64 (rejects with an `invalid_secret`
 *   {@link WebhookVerificationError} otherwise)
 * @param id the `webhook-id`
 * @param timestamp the `webhook-timestamp`: unix seconds, or a `Date`
 * @param body the exact body sent
 */
export function signWebhook(secret: string, id: string, timestamp: number | Date, body: WebhookBody): Promise<string>;
