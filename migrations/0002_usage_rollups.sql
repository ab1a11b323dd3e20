-- Hourly usage rollups (docs/worker.md "Usage rollups"), filled by the
-- Queue consumer (worker/src/rollup.rs) in the same D1 batch as
-- usage_events. D1 cannot add decimal strings exactly, so a row holds one
-- Queue message's exact partial sums for one (product, price key,
-- currency, usage hour), computed in Rust; GET /v1/usage adds the rows up
-- in Rust. A message is identified by its customer and sequence range
-- [first_seq, last_seq]: delivered again it replaces its own rows.
-- Accepted events only (dropped ones are not billed).

CREATE TABLE usage_rollups (
    tenant      TEXT    NOT NULL,
    customer    TEXT    NOT NULL,
    product     TEXT    NOT NULL,
    price_key   TEXT    NOT NULL,   -- '' for a product without price keys
    currency    TEXT    NOT NULL,   -- the receipts' currency ('' when none)
    hour        TEXT    NOT NULL,   -- start of the usage hour, RFC 3339 UTC (YYYY-MM-DDTHH:00:00Z)
    first_seq   INTEGER NOT NULL,   -- the message's first sequence number
    last_seq    INTEGER NOT NULL,   -- the message's last sequence number
    quantity    TEXT    NOT NULL,   -- exact sum of data.quantity (decimal string)
    events      INTEGER NOT NULL,   -- accepted events
    amount      TEXT    NOT NULL,   -- exact sum of the receipts' amounts (decimal string)
    PRIMARY KEY (tenant, customer, first_seq, product, price_key, currency, hour)
);
CREATE INDEX usage_rollups_by_hour ON usage_rollups (tenant, customer, hour);
