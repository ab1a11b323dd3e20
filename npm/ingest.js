// The ingest client: sends usage events from a customer's app to the
// rating Worker (`POST /v1/events`, docs/contract.md §6-7).
//
//   import { createIngestClient } from "rating-engine/ingest";
//   const client = createIngestClient({ url: "https://rating.example.com", key: "..." });
//   const receipt = await client.send({ type: "api_calls", subject: "cus_42" });
//
// - Each event is validated locally with the same engine before it is sent
//   (an invalid event resolves to a `rejected` receipt and is not sent).
// - Events are batched: a batch goes when it holds `batchSize` events (500
//   by default) or `maxBatchBytes` of JSON (900 KB; the Worker takes
//   1 MiB), or `flushInterval` ms after its first event, whichever comes
//   first. One customer's Durable Object takes its requests one at a time
//   (docs/worker.md "Hot customers"), so a busy customer's ceiling is its
//   requests/s times the events per request: full batches of 500 keep
//   request rate, not batching, from being the limit.
// - Network errors, 5xx and 429 are retried with exponential backoff and
//   jitter (429/503 `Retry-After` is honoured). Every event keeps its `id`
//   across retries (one is generated when it has none), so the Worker
//   deduplicates a retry whose first attempt was stored: its receipt is
//   then `duplicate`, with the first receipt's amount.
// - A 4xx other than 429 is never retried: the events' promises reject
//   with an `IngestError` carrying the status and the problem document.
// - Every `send` resolves to the event's receipt.
import * as engine from "rating-engine";

/** Largest batch the Worker takes. */
export const MAX_BATCH = 1000;
/** Largest request body the Worker takes (bytes). */
export const MAX_BODY_BYTES = 1 << 20;
/** Default events per request. */
export const DEFAULT_BATCH_SIZE = 500;
/** Default largest batch, bytes of JSON (leaves room under MAX_BODY_BYTES). */
export const DEFAULT_BATCH_BYTES = 900_000;

/** A request the Worker refused (4xx), or one that failed after every retry. */
export class IngestError extends Error {
  constructor(message, { status, problem, cause } = {}) {
    super(message, cause ? { cause } : undefined);
    this.name = "IngestError";
    /** HTTP status (absent after network errors). */
    this.status = status;
    /** The RFC 9457 problem document, when the Worker sent one. */
    this.problem = problem;
    /** The problem's stable code (`unauthorized`, `payload_too_large`, ...). */
    this.code = problem?.code ?? (status === undefined ? "network_error" : `http_${status}`);
  }
}

let ready;
/** Initialises the engine once (a no-op in Node and workerd). */
function init() {
  ready ??= Promise.resolve(typeof engine.default === "function" ? engine.default() : undefined);
  return ready;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** UTF-8 length of a string (what it takes in a request body). */
function utf8Bytes(s) {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) n += 1; // half of a 4-byte pair
    else if (c > 0x7ff) n += 2;
    else if (c > 0x7f) n += 1;
  }
  return n;
}
const retryable = (status) => status === 429 || status >= 500;

function newId() {
  if (globalThis.crypto?.randomUUID) return globalThis.crypto.randomUUID();
  return `evt_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 12)}`;
}

/** Seconds or an HTTP date, in ms; undefined when absent or unreadable. */
function retryAfter(header) {
  if (!header) return undefined;
  const s = Number(header);
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  const t = Date.parse(header);
  return Number.isFinite(t) ? Math.max(0, t - Date.now()) : undefined;
}

/**
 * Creates a client.
 * @param {object} options
 * @param {string} options.url - the Worker's base URL
 * @param {string} options.key - an API key with the `ingest` (or `admin`) role
 * @param {string} [options.source] - `source` for events that have none
 * @param {number} [options.batchSize=500] - events per request (at most 1000)
 * @param {number} [options.maxBatchBytes=900000] - bytes of JSON per request (at most 1 MiB)
 * @param {number} [options.flushInterval=1000] - ms a partial batch waits
 * @param {number} [options.maxRetries=8] - retries after the first attempt
 * @param {number} [options.retryDelay=250] - first backoff, ms (doubles each retry)
 * @param {number} [options.maxRetryDelay=30000] - longest backoff, ms
 * @param {boolean} [options.validate=true] - validate events locally first
 * @param {typeof fetch} [options.fetch] - the fetch to use
 */
export function createIngestClient(options) {
  const {
    url, key, source, batchSize = DEFAULT_BATCH_SIZE, maxBatchBytes = DEFAULT_BATCH_BYTES, flushInterval = 1000,
    maxRetries = 8, retryDelay = 250, maxRetryDelay = 30_000, validate = true, fetch: fetchImpl = globalThis.fetch,
  } = options ?? {};
  if (typeof url !== "string" || !url) throw new TypeError("createIngestClient: `url` is required");
  if (typeof key !== "string" || !key) throw new TypeError("createIngestClient: `key` is required");
  if (!(batchSize >= 1 && batchSize <= MAX_BATCH)) throw new RangeError(`batchSize must be 1-${MAX_BATCH}`);
  if (!(maxBatchBytes >= 1024 && maxBatchBytes <= MAX_BODY_BYTES)) {
    throw new RangeError(`maxBatchBytes must be 1024-${MAX_BODY_BYTES}`);
  }
  if (typeof fetchImpl !== "function") throw new TypeError("createIngestClient: no fetch available");
  const endpoint = `${url.replace(/\/+$/, "")}/v1/events`;

  let queue = [];
  /** Bytes of JSON the queued events take in a request body. */
  let queuedBytes = 0;
  let timer;
  let closed = false;
  let entering = 0; // sends still validating, not yet queued
  const inflight = new Set();

  function prepare(event) {
    if (event === null || typeof event !== "object" || Array.isArray(event)) {
      throw new TypeError("an event is an object (a CloudEvent)");
    }
    const e = { specversion: "1.0", ...event };
    e.id ??= newId();
    if (e.source === undefined && source !== undefined) e.source = source;
    return e;
  }

  function localRejection(e, err) {
    const error = { code: err.code ?? "invalid_value", message: err.message };
    if (err.path) error.path = err.path;
    return { id: typeof e.id === "string" ? e.id : "", source: typeof e.source === "string" ? e.source : "", status: "rejected", error };
  }

  function backoff(attempt) {
    const d = Math.min(maxRetryDelay, retryDelay * 2 ** attempt);
    return d / 2 + Math.random() * (d / 2);
  }

  async function post(items) {
    const body = `[${items.map((i) => i.json).join(",")}]`;
    let lastError;
    for (let attempt = 0; attempt <= maxRetries; attempt++) {
      if (attempt > 0) await sleep(lastError.wait ?? backoff(attempt - 1));
      let res;
      try {
        res = await fetchImpl(endpoint, {
          method: "POST",
          headers: { authorization: `Bearer ${key}`, "content-type": "application/cloudevents-batch+json" },
          body,
        });
      } catch (cause) {
        lastError = new IngestError(`network error: ${cause?.message ?? cause}`, { cause });
        continue;
      }
      const text = await res.text().catch(() => "");
      let parsed;
      try {
        parsed = JSON.parse(text);
      } catch {}
      if (res.ok && Array.isArray(parsed?.results) && parsed.results.length === items.length) {
        items.forEach((item, n) => item.resolve(parsed.results[n]));
        return;
      }
      const problem = parsed && typeof parsed === "object" && !Array.isArray(parsed) ? parsed : undefined;
      const err = new IngestError(problem?.detail ?? `POST /v1/events: HTTP ${res.status}`, { status: res.status, problem });
      if (res.ok || retryable(res.status)) {
        // A 2xx without receipts is as good as a lost answer: send again.
        err.wait = res.status === 429 || res.status === 503 ? retryAfter(res.headers.get("retry-after")) : undefined;
        lastError = err;
        continue;
      }
      for (const item of items) item.reject(err);
      return;
    }
    for (const item of items) item.reject(lastError);
  }

  function dispatch() {
    clearTimeout(timer);
    timer = undefined;
    while (queue.length > 0) {
      // Up to batchSize events and maxBatchBytes of body ("[", "]" and
      // the commas included); always at least one event.
      let n = 0;
      let bytes = 2;
      while (n < queue.length && n < batchSize && (n === 0 || bytes + queue[n].bytes + 1 <= maxBatchBytes)) {
        bytes += queue[n].bytes + (n > 0 ? 1 : 0);
        n++;
      }
      const items = queue.splice(0, n);
      const p = post(items).finally(() => inflight.delete(p));
      inflight.add(p);
    }
    queuedBytes = 0;
  }

  /**
   * Queues one event; resolves to its receipt.
   * @returns {Promise<object>}
   */
  async function send(event) {
    if (closed) throw new IngestError("the client is closed");
    const e = prepare(event);
    entering++;
    try {
      if (validate) {
        await init();
        try {
          engine.validateEvent(e);
        } catch (err) {
          return localRejection(e, err);
        }
      }
    } finally {
      entering--;
    }
    const json = JSON.stringify(e);
    const bytes = utf8Bytes(json);
    return new Promise((resolve, reject) => {
      queue.push({ event: e, json, bytes, resolve, reject });
      queuedBytes += bytes + 1;
      if (queue.length >= batchSize || queuedBytes + 1 >= maxBatchBytes) dispatch();
      else timer ??= setTimeout(dispatch, flushInterval);
    });
  }

  return {
    send,
    /** Queues several events; resolves to their receipts, in order. */
    sendBatch: (events) => Promise.all(events.map(send)),
    /** Sends what is queued now and waits for every request in flight. */
    async flush() {
      // Let sends that are still validating reach the queue first.
      while (entering > 0) await sleep(0);
      dispatch();
      while (inflight.size > 0) await Promise.allSettled([...inflight]);
    },
    /** Flushes, then refuses further events. */
    async close() {
      await this.flush();
      closed = true;
    },
    /** Events queued and not yet sent. */
    get pending() {
      return queue.length;
    },
  };
}
