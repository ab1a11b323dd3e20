// Types of the ingest client (npm/ingest.js): `rating-engine/ingest`.

/** A usage event: a CloudEvent 1.0 in structured JSON (docs/contract.md §6). `id`
 * and `specversion` are filled in when absent; `source` comes from the
 * client's option when absent. */
export interface IngestEvent {
  specversion?: "1.0";
  id?: string;
  source?: string;
  /** The product id. */
  type: string;
  /** The customer id. */
  subject: string;
  /** RFC 3339 usage time (absent: the receipt time). */
  time?: string;
  data?: { quantity?: string | number; amount?: string | number; [property: string]: unknown };
  [extension: string]: unknown;
}

/** The answer to one event (docs/contract.md §6). Money is a decimal string. */
export interface Receipt {
  id: string;
  source: string;
  status: "accepted" | "duplicate" | "rejected" | "dropped";
  amount?: string;
  currency?: string;
  price_key?: string;
  price_key_remapped?: boolean;
  price_book?: string;
  conflict?: boolean;
  error?: { code: string; message: string; path?: string };
}

/** An RFC 9457 problem document from the Worker. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  detail: string;
  path?: string;
  errors?: { code: string; message: string; path?: string }[];
}

export interface IngestClientOptions {
  /** The Worker's base URL. */
  url: string;
  /** An API key with the `ingest` (or `admin`) role. */
  key: string;
  /** `source` for events that have none. */
  source?: string;
  /** Events per request, 1-1000 (default 500). */
  batchSize?: number;
  /** Largest request body in bytes of JSON, 1024-1048576 (default 900000;
   * the Worker refuses a body over 1 MiB). */
  maxBatchBytes?: number;
  /** Milliseconds a partial batch waits before it is sent (default 1000). */
  flushInterval?: number;
  /** Retries after the first attempt, for network errors, 5xx and 429 (default 8). */
  maxRetries?: number;
  /** First backoff in ms, doubled each retry, with jitter (default 250). */
  retryDelay?: number;
  /** Longest backoff in ms (default 30000). */
  maxRetryDelay?: number;
  /** Validate each event with the engine before sending it (default true). */
  validate?: boolean;
  /** The fetch to use (default: globalThis.fetch). */
  fetch?: typeof fetch;
}

export interface IngestClient {
  /** Queues one event; resolves to its receipt. An event that fails local
   * validation resolves to a `rejected` receipt and is not sent. */
  send(event: IngestEvent): Promise<Receipt>;
  /** Queues several events; resolves to their receipts, in order. */
  sendBatch(events: IngestEvent[]): Promise<Receipt[]>;
  /** Sends what is queued and waits for every request in flight. */
  flush(): Promise<void>;
  /** Flushes, then refuses further events. */
  close(): Promise<void>;
  /** Events queued and not yet sent. */
  readonly pending: number;
}

/** A request the Worker refused (a 4xx other than 429, never retried), or
 * one that still failed after every retry. */
export class IngestError extends Error {
  readonly status?: number;
  readonly problem?: Problem;
  readonly code: string;
}

/** Largest batch the Worker takes (1000). */
export const MAX_BATCH: number;
/** Largest request body the Worker takes (bytes). */
export const MAX_BODY_BYTES: number;
/** Default events per request (500). */
export const DEFAULT_BATCH_SIZE: number;
/** Default largest request body (900000 bytes). */
export const DEFAULT_BATCH_BYTES: number;

export function createIngestClient(options: IngestClientOptions): IngestClient;
