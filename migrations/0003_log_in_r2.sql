-- Raw events leave D1: the event log in R2 holds every accepted and
-- dropped event (docs/worker.md "Where events go"), usage_rollups answer
-- GET /v1/usage, and dropped_events stays as the dropped-events index
-- (GET /v1/dropped-events), which is small: drops are not billed and rare.
--
-- Nothing writes usage_events any more. A deployment that ran an earlier
-- version keeps the rows it has (events from before the log existed);
-- docs/worker.md "Upgrading" says how to export and then drop them. Its
-- time index goes now: nothing reads by time any more.

DROP INDEX IF EXISTS usage_events_by_time;

-- What the Queue consumer has written, per tenant (GET /v1/stats): Queue
-- messages and events taken, rows written to D1 (as D1 reports them) and
-- compressed bytes written to the log.
CREATE TABLE ingest_stats (
    tenant      TEXT    NOT NULL PRIMARY KEY,
    messages    INTEGER NOT NULL,
    events      INTEGER NOT NULL,
    d1_rows     INTEGER NOT NULL,
    log_bytes   INTEGER NOT NULL,
    log_objects INTEGER NOT NULL
);

-- Issued invoices, tenant-wide (GET /v1/invoices): each customer's object
-- sends the invoices its meter issues through its outbox, like events; a
-- row is keyed by the outbox message that carried it (n) and its place in
-- that message (i), so a message written twice writes it once.
CREATE TABLE invoices (
    tenant       TEXT    NOT NULL,
    customer     TEXT    NOT NULL,
    n            INTEGER NOT NULL,   -- the outbox message number
    i            INTEGER NOT NULL,   -- the invoice's index in that message
    issued_at    TEXT    NOT NULL,   -- RFC 3339 UTC
    period_start TEXT    NOT NULL,
    period_end   TEXT    NOT NULL,
    currency     TEXT    NOT NULL,
    total        TEXT    NOT NULL,   -- exact decimal string
    price_book   TEXT    NOT NULL,
    invoice      TEXT    NOT NULL,   -- the invoice as the customer's object issued it (JSON)
    PRIMARY KEY (tenant, customer, n, i)
);
CREATE INDEX invoices_by_issued ON invoices (tenant, issued_at);
