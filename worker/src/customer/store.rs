//! The SQLite storage of a customer's Durable Object.
//!
//! - `meta`: the tenant and customer names, the meter (engine state as
//!   JSON, with an empty dedup window), the hash of the last price book
//!   used, and `forwarded`: the Queue has taken every event up to this
//!   sequence number (the outbox is every event after it; the stored mark
//!   may lag behind the Queue, see `outbox`).
//! - `events`: every accepted or dropped event with its receipt fields.
//! - `dedup`: (source, id) -> first event, for the dedup window: the
//!   keys the engine asks for, lent to it as [`BatchKeys`]; see
//!   `docs/worker.md`.
//! - `invoices`, `records`: documents the meter issued.
//!
//! Rows go in through `json_each` of one JSON parameter, so that a batch
//! of events costs a handful of statements whatever its size.

use rating::meter::{dedup_key, DedupKey, DedupStore, Seen, Status};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use worker::{SqlStorage, SqlStorageValue, Storage};

/// Creates the tables (idempotent).
pub const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, source TEXT NOT NULL, id TEXT NOT NULL, \
     type TEXT NOT NULL, time TEXT NOT NULL, received_at INTEGER NOT NULL, status TEXT NOT NULL, \
     amount TEXT, currency TEXT, price_key TEXT, price_book TEXT NOT NULL, event TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS events_dropped ON events (seq) WHERE status = 'dropped'",
    "CREATE TABLE IF NOT EXISTS dedup (source TEXT NOT NULL, id TEXT NOT NULL, fingerprint TEXT NOT NULL, \
     seq INTEGER NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (source, id)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS dedup_at ON dedup (at)",
    "CREATE TABLE IF NOT EXISTS invoices (n INTEGER PRIMARY KEY AUTOINCREMENT, issued_at TEXT NOT NULL, invoice TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS records (n INTEGER PRIMARY KEY AUTOINCREMENT, record TEXT NOT NULL)",
];

/// An accepted or dropped event, as stored and as forwarded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventRow {
    /// Sequence number in this customer's object.
    pub seq: i64,
    /// CloudEvents `source`.
    pub source: String,
    /// CloudEvents `id`.
    pub id: String,
    /// Product (`type`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Usage time (the event's, else the receipt time), RFC 3339.
    pub time: String,
    /// Receipt time, ms since the epoch.
    pub received_at: i64,
    /// `accepted` or `dropped`.
    pub status: String,
    /// Receipt amount.
    pub amount: Option<String>,
    /// Receipt currency.
    pub currency: Option<String>,
    /// Receipt price key.
    pub price_key: Option<String>,
    /// Hash of the price book that rated it.
    pub price_book: String,
    /// The event as received (JSON text).
    pub event: String,
    /// Fingerprint of the payload (for conflicting duplicates).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub fingerprint: String,
}

/// A first receipt as the `dedup` and `events` tables keep it.
#[derive(Debug, Clone, Deserialize)]
struct SeenRow {
    source: String,
    id: String,
    fingerprint: String,
    status: Status,
    /// Arrival time, ms since the epoch.
    at: i64,
    amount: Option<String>,
    currency: Option<String>,
    price_key: Option<String>,
}

/// The dedup keys of one batch, lent to the engine
/// (`Meter::record_with`): the stored keys of the batch's events, and the
/// keys the engine adds as it rates them. Whether a key is a duplicate is
/// the engine's decision; this only loads and remembers.
#[derive(Debug, Default)]
pub struct BatchKeys {
    seen: HashMap<DedupKey, Seen>,
    /// The engine put a key since the last [`BatchKeys::take_put`].
    put: bool,
}

impl DedupStore for BatchKeys {
    fn get(&self, key: DedupKey) -> Option<&Seen> {
        self.seen.get(&key)
    }

    fn put(&mut self, key: DedupKey, seen: Seen) {
        self.seen.insert(key, seen);
        self.put = true;
    }
}

impl BatchKeys {
    /// Whether the engine put the key of the event it just rated (the
    /// event is then stored, with its key, in the request's commit).
    pub fn take_put(&mut self) -> bool {
        std::mem::take(&mut self.put)
    }
}

/// Loads the stored keys of `keys` (source, id) that arrived at or after
/// `since_ms` (the engine's window start: older keys cannot matter).
pub fn batch_keys(sql: &SqlStorage, keys: &[(&str, &str)], since_ms: i64) -> worker::Result<BatchKeys> {
    if keys.is_empty() {
        return Ok(BatchKeys::default());
    }
    let param = serde_json::to_string(keys).map_err(|e| worker::Error::RustError(e.to_string()))?;
    let rows: Vec<SeenRow> = sql
        .exec(
            "SELECT d.source AS source, d.id AS id, d.fingerprint AS fingerprint, e.status AS status, \
             d.at AS at, e.amount AS amount, e.currency AS currency, e.price_key AS price_key \
             FROM json_each(?) AS j \
             JOIN dedup AS d ON d.source = json_extract(j.value, '$[0]') AND d.id = json_extract(j.value, '$[1]') \
             JOIN events AS e ON e.seq = d.seq \
             WHERE d.at >= ?",
            vec![param.into(), since_ms.into()],
        )?
        .to_array()?;
    let seen = rows
        .into_iter()
        .map(|r| {
            // Written by `fingerprint_text`; a row that does not read
            // makes any resend a conflict rather than an error.
            let fingerprint = u64::from_str_radix(&r.fingerprint, 16).unwrap_or(0);
            let s = Seen::from_receipt_fields(
                fingerprint,
                r.at.div_euclid(1000),
                r.status == Status::Dropped,
                r.amount.as_deref(),
                r.currency.as_deref(),
                r.price_key.as_deref(),
            );
            (dedup_key(&r.source, &r.id), s)
        })
        .collect();
    Ok(BatchKeys { seen, put: false })
}

/// How a payload fingerprint is stored in `dedup.fingerprint`.
pub fn fingerprint_text(fingerprint: u64) -> String {
    format!("{fingerprint:016x}")
}

/// Everything one request writes, committed in one transaction.
#[derive(Debug, Default)]
pub struct Commit {
    /// New events (they are also their own dedup keys).
    pub events: Vec<EventRow>,
    /// Drop dedup keys older than this (ms), when set.
    pub expire_before: Option<i64>,
    /// Invoices issued (JSON text) with their `issued_at`.
    pub invoices: Vec<(String, String)>,
    /// Records made (JSON text).
    pub records: Vec<String>,
    /// `meta` entries to set.
    pub meta: Vec<(&'static str, String)>,
}

fn text(v: &impl Serialize) -> worker::Result<SqlStorageValue> {
    serde_json::to_string(v)
        .map(SqlStorageValue::from)
        .map_err(|e| worker::Error::RustError(e.to_string()))
}

impl Commit {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.invoices.is_empty() && self.records.is_empty() && self.meta.is_empty()
    }

    fn apply(&self, sql: &SqlStorage) -> worker::Result<()> {
        if let Some(t) = self.expire_before {
            sql.exec("DELETE FROM dedup WHERE at < ?", vec![t.into()])?;
        }
        if !self.events.is_empty() {
            insert_events(sql, &self.events)?;
        }
        if !self.invoices.is_empty() {
            sql.exec(
                "INSERT INTO invoices (issued_at, invoice) \
                 SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?)",
                vec![text(&self.invoices)?],
            )?;
        }
        if !self.records.is_empty() {
            sql.exec(
                "INSERT INTO records (record) SELECT value FROM json_each(?)",
                vec![text(&self.records)?],
            )?;
        }
        for (k, v) in &self.meta {
            sql.exec(
                "INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)",
                vec![(*k).into(), v.as_str().into()],
            )?;
        }
        Ok(())
    }
}

/// Inserts events and their dedup keys with one statement each: the rows
/// go in as one JSON parameter, `[[[seq, source, id, type, time,
/// received_at, status, amount, currency, price_key, price_book, event],
/// fingerprint], ...]`, read with `json_each` (two statements and one
/// string crossing into the runtime, where multi-row `VALUES` within the
/// 100-parameter limit took 18 statements and 1,700 values per 100
/// events).
fn insert_events(sql: &SqlStorage, events: &[EventRow]) -> worker::Result<()> {
    let rows: Vec<_> = events
        .iter()
        .map(|e| {
            (
                (
                    e.seq,
                    &e.source,
                    &e.id,
                    &e.kind,
                    &e.time,
                    e.received_at,
                    &e.status,
                    &e.amount,
                    &e.currency,
                    &e.price_key,
                    &e.price_book,
                    &e.event,
                ),
                &e.fingerprint,
            )
        })
        .collect();
    let rows = serde_json::to_string(&rows).map_err(|e| worker::Error::RustError(e.to_string()))?;
    sql.exec(
        "INSERT INTO events (seq, source, id, type, time, received_at, status, amount, currency, price_key, price_book, event) \
         SELECT value->>'$[0][0]', value->>'$[0][1]', value->>'$[0][2]', value->>'$[0][3]', value->>'$[0][4]', \
         value->>'$[0][5]', value->>'$[0][6]', value->>'$[0][7]', value->>'$[0][8]', value->>'$[0][9]', \
         value->>'$[0][10]', value->>'$[0][11]' FROM json_each(?1)",
        vec![rows.as_str().into()],
    )?;
    sql.exec(
        "INSERT OR REPLACE INTO dedup (source, id, fingerprint, seq, at) \
         SELECT value->>'$[0][1]', value->>'$[0][2]', value->>'$[1]', value->>'$[0][0]', value->>'$[0][5]' FROM json_each(?1)",
        vec![rows.into()],
    )?;
    Ok(())
}

/// Runs `commit` inside `storage.transactionSync()`: all of it is written
/// or, if any statement fails, none of it.
pub fn transaction(storage: &Storage, sql: SqlStorage, commit: Rc<Commit>) -> worker::Result<()> {
    let raw: &JsValue = storage.as_raw().as_ref();
    let run: js_sys::Function = js_sys::Reflect::get(raw, &JsValue::from_str("transactionSync"))?.dyn_into()?;
    let failure: Rc<RefCell<Option<worker::Error>>> = Rc::new(RefCell::new(None));
    let seen_failure = failure.clone();
    let body = Closure::once(move || -> Result<JsValue, JsValue> {
        match commit.apply(&sql) {
            Ok(()) => Ok(JsValue::UNDEFINED),
            Err(e) => {
                let thrown = JsValue::from_str(&e.to_string());
                *seen_failure.borrow_mut() = Some(e);
                // Throwing rolls the transaction back.
                Err(thrown)
            }
        }
    });
    let result = run.call1(raw, body.as_ref().unchecked_ref());
    if let Some(e) = failure.borrow_mut().take() {
        return Err(e);
    }
    result.map(|_| ()).map_err(worker::Error::from)
}

/// Reads a `meta` value.
pub fn meta(sql: &SqlStorage, k: &str) -> worker::Result<Option<String>> {
    #[derive(Deserialize)]
    struct V {
        v: String,
    }
    let rows: Vec<V> = sql.exec("SELECT v FROM meta WHERE k = ?", vec![k.into()])?.to_array()?;
    Ok(rows.into_iter().next().map(|r| r.v))
}

/// Up to `limit` events after sequence number `after`, oldest first
/// (the outbox after a restart).
pub fn events_after(sql: &SqlStorage, after: i64, limit: i64) -> worker::Result<Vec<EventRow>> {
    sql.exec(
        "SELECT seq, source, id, type, time, received_at, status, amount, currency, price_key, price_book, event \
         FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
        vec![after.into(), limit.into()],
    )?
    .to_array()
}

/// The last sequence number used (0 when there is none).
pub fn last_seq(sql: &SqlStorage) -> worker::Result<i64> {
    #[derive(Deserialize)]
    struct N {
        n: i64,
    }
    let rows: Vec<N> = sql
        .exec("SELECT COALESCE(MAX(seq), 0) AS n FROM events", None)?
        .to_array()?;
    Ok(rows.first().map_or(0, |r| r.n))
}

/// Records that the Queue has taken every event up to `seq`.
pub fn forwarded(sql: &SqlStorage, seq: i64) -> worker::Result<()> {
    sql.exec(
        "INSERT OR REPLACE INTO meta (k, v) VALUES ('forwarded', ?)",
        vec![seq.to_string().into()],
    )?;
    Ok(())
}

/// Dropped events, oldest first.
pub fn dropped(sql: &SqlStorage, after_seq: i64, limit: i64) -> worker::Result<Vec<EventRow>> {
    sql.exec(
        "SELECT seq, source, id, type, time, received_at, status, amount, currency, price_key, price_book, event \
         FROM events WHERE status = 'dropped' AND seq > ? ORDER BY seq LIMIT ?",
        vec![after_seq.into(), limit.into()],
    )?
    .to_array()
}

/// Every invoice issued (JSON text), oldest first.
pub fn invoices(sql: &SqlStorage) -> worker::Result<Vec<String>> {
    #[derive(Deserialize)]
    struct I {
        invoice: String,
    }
    let rows: Vec<I> = sql.exec("SELECT invoice FROM invoices ORDER BY n", None)?.to_array()?;
    Ok(rows.into_iter().map(|r| r.invoice).collect())
}
