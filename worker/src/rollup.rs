//! Hourly usage rollups in D1 (`usage_rollups`, migrations/0002) and
//! `GET /v1/usage`, which answers from them (docs/worker.md "Usage
//! rollups").
//!
//! D1 cannot add decimal strings exactly, so nothing is added in SQL: the
//! Queue consumer computes, per message, the exact partial sums of its
//! accepted events for each (product, price key, currency, usage hour)
//! with `rust_decimal`, and writes one row per group, identified by the
//! message's customer and sequence range. A message delivered again
//! first deletes the rows of every message its range covers (its own
//! earlier copy included), then writes its own, unless a message whose
//! range covers it is already there. The read adds the rows up in Rust.

use crate::customer::store::EventRow;
use crate::problem::ApiError;
use chrono::{DurationRound, TimeDelta};
use rating::period::{fmt_timestamp, parse_timestamp, Timestamp};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, Env};

/// What one row of `usage_rollups` sums over.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Group {
    /// Start of the usage hour (or day, when read by day), RFC 3339 UTC.
    pub start: String,
    /// Product (`type`).
    pub product: String,
    /// Price key; empty for a product without keys.
    pub price_key: String,
    /// Currency of the receipts' amounts; empty when they had none.
    pub currency: String,
}

/// Exact sums of a group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sums {
    /// Sum of the events' `data.quantity` as sent (absent: 1).
    pub quantity: Decimal,
    /// Accepted events.
    pub events: i64,
    /// Sum of the receipts' amounts.
    pub amount: Decimal,
}

impl Sums {
    /// Adds `other`; `None` on overflow (no decimal here ever panics).
    fn add(&mut self, other: Sums) -> Option<()> {
        self.quantity = self.quantity.checked_add(other.quantity)?;
        self.events = self.events.checked_add(other.events)?;
        self.amount = self.amount.checked_add(other.amount)?;
        Some(())
    }
}

/// Bucket widths of `GET /v1/usage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    /// One bucket per UTC hour.
    Hour,
    /// One bucket per UTC day.
    Day,
}

impl Granularity {
    /// Reads the `granularity` parameter.
    pub fn parse(s: &str) -> Option<Granularity> {
        match s {
            "hour" => Some(Granularity::Hour),
            "day" => Some(Granularity::Day),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Granularity::Hour => "hour",
            Granularity::Day => "day",
        }
    }

    fn width(self) -> TimeDelta {
        match self {
            Granularity::Hour => TimeDelta::hours(1),
            Granularity::Day => TimeDelta::days(1),
        }
    }

    /// The start of the bucket holding `t`.
    pub fn floor(self, t: Timestamp) -> Timestamp {
        t.duration_trunc(self.width()).unwrap_or(t)
    }

    /// The start of the first bucket at or after `t`.
    pub fn ceil(self, t: Timestamp) -> Timestamp {
        let f = self.floor(t);
        if f == t {
            t
        } else {
            f.checked_add_signed(self.width()).unwrap_or(t)
        }
    }
}

/// The usage hour of a row (its `time`; one that does not parse, which
/// the object never stores, goes to the epoch's hour, as in the log).
fn usage_hour(r: &EventRow) -> String {
    let t = parse_timestamp(&r.time).unwrap_or_default();
    fmt_timestamp(Granularity::Hour.floor(t))
}

/// A message's exact partial sums: its accepted rows by group. `None`
/// when a sum overflows (a message no real meter produces).
pub fn partial_sums(rows: &[EventRow]) -> Option<BTreeMap<Group, Sums>> {
    let mut out: BTreeMap<Group, Sums> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.status == "accepted") {
        let quantity = rating::event::parse_event_text(&r.event)
            .ok()
            .and_then(|e| e.quantity)
            .unwrap_or(Decimal::ONE);
        let amount = match r.amount.as_deref() {
            None => Decimal::ZERO,
            Some(a) => a.parse::<Decimal>().ok()?,
        };
        let group = Group {
            start: usage_hour(r),
            product: r.kind.clone(),
            price_key: r.price_key.clone().unwrap_or_default(),
            currency: r.currency.clone().unwrap_or_default(),
        };
        out.entry(group).or_default().add(Sums {
            quantity,
            events: 1,
            amount,
        })?;
    }
    Some(out)
}

/// One row as the consumer binds it (in a JSON array, read by `json_each`).
#[derive(Serialize)]
struct RowIn<'a> {
    product: &'a str,
    price_key: &'a str,
    currency: &'a str,
    hour: &'a str,
    quantity: String,
    events: i64,
    amount: String,
}

const DELETE_COVERED: &str =
    "DELETE FROM usage_rollups WHERE tenant = ?1 AND customer = ?2 AND first_seq >= ?3 AND last_seq <= ?4";

const INSERT: &str = "INSERT OR REPLACE INTO usage_rollups \
     (tenant, customer, product, price_key, currency, hour, first_seq, last_seq, quantity, events, amount) \
     SELECT ?1, ?2, json_extract(value, '$.product'), json_extract(value, '$.price_key'), \
     json_extract(value, '$.currency'), json_extract(value, '$.hour'), ?3, ?4, \
     json_extract(value, '$.quantity'), json_extract(value, '$.events'), json_extract(value, '$.amount') \
     FROM json_each(?5) WHERE NOT EXISTS (SELECT 1 FROM usage_rollups \
     WHERE tenant = ?1 AND customer = ?2 AND first_seq <= ?3 AND last_seq >= ?4)";

/// The statements that write one message's rollup rows (none when it has
/// no accepted event), for the consumer's D1 batch.
pub fn statements(
    db: &D1Database,
    tenant: &str,
    customer: &str,
    rows: &[EventRow],
) -> worker::Result<Vec<D1PreparedStatement>> {
    let (Some(first), Some(last)) = (rows.iter().map(|r| r.seq).min(), rows.iter().map(|r| r.seq).max()) else {
        return Ok(Vec::new());
    };
    let Some(sums) = partial_sums(rows) else {
        worker::console_error!(
            "queue: a rollup sum overflows (customer {customer}, seq {first}-{last}); not rolled up"
        );
        return Ok(Vec::new());
    };
    if sums.is_empty() {
        return Ok(Vec::new());
    }
    let items: Vec<RowIn> = sums
        .iter()
        .map(|(g, s)| RowIn {
            product: &g.product,
            price_key: &g.price_key,
            currency: &g.currency,
            hour: &g.start,
            quantity: s.quantity.to_string(),
            events: s.events,
            amount: s.amount.to_string(),
        })
        .collect();
    let items = serde_json::to_string(&items).map_err(|e| worker::Error::RustError(e.to_string()))?;
    // Sequence numbers are far below 2^53: exact as JS numbers.
    let range = [
        JsValue::from_str(tenant),
        JsValue::from_str(customer),
        JsValue::from_f64(first as f64),
        JsValue::from_f64(last as f64),
    ];
    let mut with_items = range.to_vec();
    with_items.push(JsValue::from_str(&items));
    Ok(vec![
        db.prepare(DELETE_COVERED).bind(&range)?,
        db.prepare(INSERT).bind(&with_items)?,
    ])
}

/// The widest range `GET /v1/usage` answers.
pub const MAX_RANGE_DAYS: i64 = 366;

/// A checked `GET /v1/usage` query.
#[derive(Debug, Clone)]
pub struct Query {
    /// Customer.
    pub customer: String,
    /// Bucket width.
    pub granularity: Granularity,
    /// First bucket's start (`from` rounded down to the granularity).
    pub from: Timestamp,
    /// End of the last bucket (`to` rounded up to the granularity).
    pub to: Timestamp,
}

fn invalid(path: &str, detail: impl Into<String>) -> ApiError {
    let mut e = ApiError::new(400, "invalid_value", detail);
    e.path = Some(path.to_string());
    e
}

impl Query {
    /// Checks the parameters: `to` defaults to `now`, `from` to a day
    /// before `to`, `granularity` to `hour`.
    pub fn new(
        customer: String,
        granularity: Option<&str>,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<Query, ApiError> {
        let granularity = match granularity {
            None => Granularity::Hour,
            Some(g) => Granularity::parse(g).ok_or_else(|| invalid("granularity", "granularity is hour or day"))?,
        };
        let to = to.unwrap_or(now);
        let from = match from {
            Some(f) => f,
            None => to.checked_sub_signed(TimeDelta::days(1)).unwrap_or(to),
        };
        if from >= to {
            return Err(invalid("to", "to must be after from"));
        }
        if to - from > TimeDelta::days(MAX_RANGE_DAYS) {
            return Err(invalid(
                "to",
                format!("from and to are at most {MAX_RANGE_DAYS} days apart"),
            ));
        }
        Ok(Query {
            customer,
            granularity,
            from: granularity.floor(from),
            to: granularity.ceil(to),
        })
    }
}

#[derive(Deserialize)]
struct RowOut {
    product: String,
    price_key: String,
    currency: String,
    hour: String,
    quantity: String,
    events: i64,
    amount: String,
}

/// Adds rows up into the query's buckets, in (start, product, price key,
/// currency) order.
fn buckets(q: &Query, rows: Vec<RowOut>) -> Result<Vec<Value>, ApiError> {
    let mut sums: BTreeMap<Group, Sums> = BTreeMap::new();
    for r in rows {
        let bad = || ApiError::new(500, "internal", "a usage rollup row does not read");
        let hour = parse_timestamp(&r.hour).ok_or_else(bad)?;
        let part = Sums {
            quantity: r.quantity.parse().map_err(|_| bad())?,
            events: r.events,
            amount: r.amount.parse().map_err(|_| bad())?,
        };
        let group = Group {
            start: fmt_timestamp(q.granularity.floor(hour)),
            product: r.product,
            price_key: r.price_key,
            currency: r.currency,
        };
        sums.entry(group)
            .or_default()
            .add(part)
            .ok_or_else(|| ApiError::new(500, "internal", "a usage sum overflows"))?;
    }
    Ok(sums
        .into_iter()
        .map(|(g, s)| {
            let mut b = json!({"start": g.start, "product": g.product});
            if !g.price_key.is_empty() {
                b["price_key"] = json!(g.price_key);
            }
            b["quantity"] = json!(s.quantity.normalize().to_string());
            b["events"] = json!(s.events);
            b["amount"] = json!(s.amount.normalize().to_string());
            if !g.currency.is_empty() {
                b["currency"] = json!(g.currency);
            }
            b
        })
        .collect())
}

/// `GET /v1/usage`: the customer's buckets from the rollups.
pub async fn read(env: &Env, tenant: &str, q: &Query) -> Result<Value, ApiError> {
    let db = env.d1("DB")?;
    let args = [
        JsValue::from_str(tenant),
        JsValue::from_str(&q.customer),
        JsValue::from_str(&fmt_timestamp(q.from)),
        JsValue::from_str(&fmt_timestamp(q.to)),
    ];
    // `hour` is fixed-width RFC 3339 (YYYY-MM-DDTHH:00:00Z), as are the
    // bounds (whole hours): text order is time order.
    let rows: Vec<RowOut> = db
        .prepare(
            "SELECT product, price_key, currency, hour, quantity, events, amount FROM usage_rollups \
             WHERE tenant = ?1 AND customer = ?2 AND hour >= ?3 AND hour < ?4",
        )
        .bind(&args)?
        .all()
        .await
        .map_err(|e| ApiError::unavailable("reading D1", e))?
        .results()?;
    Ok(json!({
        "customer": q.customer,
        "granularity": q.granularity.name(),
        "from": fmt_timestamp(q.from),
        "to": fmt_timestamp(q.to),
        "buckets": buckets(q, rows)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seq: i64, time: &str, status: &str, quantity: &str, amount: &str) -> EventRow {
        EventRow {
            seq,
            source: "s".into(),
            id: format!("e{seq}"),
            kind: "sms".into(),
            time: time.into(),
            received_at: 0,
            status: status.into(),
            amount: Some(amount.into()),
            currency: Some("USD".into()),
            price_key: Some("US".into()),
            price_book: "sha256:x".into(),
            event: format!(
                r#"{{"specversion":"1.0","id":"e{seq}","source":"s","type":"sms","subject":"c","data":{{"quantity":"{quantity}"}}}}"#
            ),
            fingerprint: String::new(),
        }
    }

    #[test]
    fn partial_sums_are_exact_by_hour_and_skip_dropped() {
        let rows = [
            row(1, "2026-01-01T10:05:00Z", "accepted", "0.1", "0.0075"),
            row(2, "2026-01-01T10:59:59.999Z", "accepted", "0.2", "0.0075"),
            row(3, "2026-01-01T11:00:00Z", "accepted", "3", "0.01"),
            row(4, "2026-01-01T10:30:00Z", "dropped", "100", "0"),
        ];
        let sums = partial_sums(&rows).unwrap();
        let got: Vec<(String, String, i64, String)> = sums
            .iter()
            .map(|(g, s)| (g.start.clone(), s.quantity.to_string(), s.events, s.amount.to_string()))
            .collect();
        assert_eq!(
            got,
            [
                ("2026-01-01T10:00:00Z".into(), "0.3".into(), 2, "0.0150".into()),
                ("2026-01-01T11:00:00Z".into(), "3".into(), 1, "0.01".into()),
            ]
        );
    }

    #[test]
    fn query_defaults_and_rounding() {
        let t = |s: &str| parse_timestamp(s).unwrap();
        let now = t("2026-01-02T10:30:00Z");
        let q = Query::new("c".into(), None, None, None, now).unwrap();
        assert_eq!(
            (q.granularity, q.from, q.to),
            (Granularity::Hour, t("2026-01-01T10:00:00Z"), t("2026-01-02T11:00:00Z"))
        );
        let q = Query::new("c".into(), Some("day"), Some(t("2026-01-01T10:00:00Z")), None, now).unwrap();
        assert_eq!((q.from, q.to), (t("2026-01-01T00:00:00Z"), t("2026-01-03T00:00:00Z")));
        assert_eq!(
            Query::new("c".into(), Some("week"), None, None, now)
                .unwrap_err()
                .path
                .as_deref(),
            Some("granularity")
        );
        assert_eq!(
            Query::new("c".into(), None, Some(now), Some(now), now)
                .unwrap_err()
                .status,
            400
        );
    }

    #[test]
    fn buckets_add_rows_by_day_exactly() {
        let q = Query {
            customer: "c".into(),
            granularity: Granularity::Day,
            from: parse_timestamp("2026-01-01T00:00:00Z").unwrap(),
            to: parse_timestamp("2026-01-02T00:00:00Z").unwrap(),
        };
        let r = |hour: &str, amount: &str| RowOut {
            product: "sms".into(),
            price_key: String::new(),
            currency: "USD".into(),
            hour: hour.into(),
            quantity: "0.1".into(),
            events: 1,
            amount: amount.into(),
        };
        let b = buckets(
            &q,
            vec![r("2026-01-01T10:00:00Z", "0.10"), r("2026-01-01T23:00:00Z", "0.2")],
        )
        .unwrap();
        assert_eq!(
            b,
            [
                json!({"start": "2026-01-01T00:00:00Z", "product": "sms", "quantity": "0.2", "events": 2, "amount": "0.3", "currency": "USD"})
            ]
        );
    }
}
