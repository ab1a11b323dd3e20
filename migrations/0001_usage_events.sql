-- The tenant-wide store of usage, filled by the Queue consumer from the
-- customers' Durable Objects (worker/src/forward.rs). A row is identified
-- by (tenant, customer, seq): seq is the event's sequence number in its
-- customer's object, so a message delivered twice is written once.

CREATE TABLE usage_events (
    tenant      TEXT    NOT NULL,
    customer    TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    source      TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    type        TEXT    NOT NULL,
    time        TEXT    NOT NULL,   -- usage time, RFC 3339 UTC
    received_at INTEGER NOT NULL,   -- receipt time, ms since the epoch
    amount      TEXT,               -- exact receipt amount (decimal string)
    currency    TEXT,
    price_key   TEXT,
    price_book  TEXT    NOT NULL,   -- sha256: hash of the version that rated it
    event       TEXT    NOT NULL,   -- the CloudEvent as received (JSON)
    PRIMARY KEY (tenant, customer, seq)
);
CREATE INDEX usage_events_by_time ON usage_events (tenant, time);

-- The dropped-events audit: events accepted under the `drop` policy for
-- an unmatched price key, not billed.
CREATE TABLE dropped_events (
    tenant      TEXT    NOT NULL,
    customer    TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    source      TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    type        TEXT    NOT NULL,
    time        TEXT    NOT NULL,
    received_at INTEGER NOT NULL,
    amount      TEXT,
    currency    TEXT,
    price_key   TEXT,
    price_book  TEXT    NOT NULL,
    event       TEXT    NOT NULL,
    PRIMARY KEY (tenant, customer, seq)
);
CREATE INDEX dropped_events_by_time ON dropped_events (tenant, received_at);
