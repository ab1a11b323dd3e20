//! The SQLite storage of a customer's Durable Object (docs/worker.md
//! "What the object keeps").
//!
//! - `meta`: the tenant and customer names, the meter (engine state as
//!   JSON, with an empty dedup window), the hash of the last price book
//!   used, and `next`: the last sequence number and outbox message number
//!   used.
//! - `seen`: (source, id) -> the first receipt, for the dedup window: the
//!   keys the engine asks for, lent to it as [`BatchKeys`]. One row per
//!   accepted or dropped event, deleted once older than the window.
//! - `outbox`: the Queue messages (accepted and dropped events with their
//!   receipts) not yet confirmed in the event log; a message leaves when
//!   the Queue consumer reports it logged (`outbox`).
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
    "CREATE TABLE IF NOT EXISTS seen (source TEXT NOT NULL, id TEXT NOT NULL, fingerprint TEXT NOT NULL, \
     seq INTEGER NOT NULL, at INTEGER NOT NULL, status TEXT NOT NULL, amount TEXT, currency TEXT, price_key TEXT, \
     PRIMARY KEY (source, id)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS seen_at ON seen (at)",
    "CREATE TABLE IF NOT EXISTS outbox (n INTEGER PRIMARY KEY, first INTEGER NOT NULL, last INTEGER NOT NULL, \
     body TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS invoices (n INTEGER PRIMARY KEY AUTOINCREMENT, issued_at TEXT NOT NULL, invoice TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS records (n INTEGER PRIMARY KEY AUTOINCREMENT, record TEXT NOT NULL)",
];

/// Moves an object stored by an earlier version (an `events` table of
/// every event, `dedup` keys joined to it, a `forwarded` mark) to the
/// current tables: the keys with their receipts into `seen`, the events
/// after the mark into the outbox (100 to a message), then drops the old
/// tables. Runs inside the first commit's transaction of the object's
/// life in this version; a no-op when there is no `events` table.
pub const UPGRADE: &[&str] = &[
    "INSERT OR IGNORE INTO seen (source, id, fingerprint, seq, at, status, amount, currency, price_key) \
     SELECT d.source, d.id, d.fingerprint, d.seq, d.at, e.status, e.amount, e.currency, e.price_key \
     FROM dedup AS d JOIN events AS e ON e.seq = d.seq",
    "INSERT INTO meta (k, v) SELECT 'next', json_object('seq', COALESCE(MAX(seq), 0), 'n', 0) FROM events \
     WHERE NOT EXISTS (SELECT 1 FROM meta WHERE k = 'next')",
    "INSERT INTO outbox (n, first, last, body) \
     SELECT (seq - 1) / 100 + 1, MIN(seq), MAX(seq), json_object('tenant', (SELECT v FROM meta WHERE k = 'tenant'), \
     'customer', (SELECT v FROM meta WHERE k = 'customer'), 'events', json_group_array(json_object('seq', seq, \
     'source', source, 'id', id, 'type', type, 'time', time, 'received_at', received_at, 'status', status, \
     'amount', amount, 'currency', currency, 'price_key', price_key, 'price_book', price_book, 'event', event))) \
     FROM (SELECT * FROM events WHERE seq > COALESCE((SELECT CAST(v AS INTEGER) FROM meta WHERE k = 'forwarded'), 0) \
     ORDER BY seq) GROUP BY (seq - 1) / 100",
    "UPDATE meta SET v = json_set(v, '$.n', (SELECT COALESCE(MAX(n), 0) FROM outbox)) WHERE k = 'next'",
    "DELETE FROM meta WHERE k = 'forwarded'",
    "DROP TABLE dedup",
    "DROP TABLE events",
];

/// Whether the object still has the tables of an earlier version.
pub fn needs_upgrade(sql: &SqlStorage) -> worker::Result<bool> {
    #[derive(Deserialize)]
    struct N {
        n: i64,
    }
    let rows: Vec<N> = sql
        .exec(
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'events'",
            None,
        )?
        .to_array()?;
    Ok(rows.first().is_some_and(|r| r.n > 0))
}

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

/// A first receipt as the `seen` table keeps it.
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
            "SELECT s.source AS source, s.id AS id, s.fingerprint AS fingerprint, s.status AS status, \
             s.at AS at, s.amount AS amount, s.currency AS currency, s.price_key AS price_key \
             FROM json_each(?) AS j \
             JOIN seen AS s ON s.source = json_extract(j.value, '$[0]') AND s.id = json_extract(j.value, '$[1]') \
             WHERE s.at >= ?",
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

/// How a payload fingerprint is stored in `seen.fingerprint`.
pub fn fingerprint_text(fingerprint: u64) -> String {
    format!("{fingerprint:016x}")
}

/// One outbox message as committed: its number, the sequence numbers of
/// its first and last events, and its body (JSON text, `forward::Message`).
#[derive(Debug, Clone)]
pub struct OutboxRow {
    /// Message number: never reused in this object.
    pub n: i64,
    /// First event's sequence number.
    pub first: i64,
    /// Last event's sequence number.
    pub last: i64,
    /// The message without its number.
    pub body: String,
}

/// Everything one request writes, committed in one transaction.
#[derive(Debug, Default)]
pub struct Commit {
    /// Move an earlier version's tables first ([`UPGRADE`]).
    pub upgrade: bool,
    /// New events (they are also their own dedup keys).
    pub events: Vec<EventRow>,
    /// The outbox messages that carry them to the log.
    pub outbox: Vec<OutboxRow>,
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
        !self.upgrade
            && self.events.is_empty()
            && self.invoices.is_empty()
            && self.records.is_empty()
            && self.meta.is_empty()
    }

    /// Writes the commit; answers the rows written.
    fn apply(&self, sql: &SqlStorage) -> worker::Result<i64> {
        let mut written = 0;
        let mut w = |c: worker::SqlCursor| written += c.rows_written() as i64;
        if self.upgrade {
            for stmt in UPGRADE {
                w(sql.exec(stmt, None)?);
            }
        }
        if let Some(t) = self.expire_before {
            w(sql.exec("DELETE FROM seen WHERE at < ?", vec![t.into()])?);
        }
        if !self.events.is_empty() {
            w(insert_seen(sql, &self.events)?);
        }
        if !self.outbox.is_empty() {
            let rows: Vec<_> = self.outbox.iter().map(|m| (m.n, m.first, m.last, &m.body)).collect();
            w(sql.exec(
                "INSERT INTO outbox (n, first, last, body) SELECT value->>'$[0]', value->>'$[1]', value->>'$[2]', \
                 value->>'$[3]' FROM json_each(?)",
                vec![text(&rows)?],
            )?);
        }
        if !self.invoices.is_empty() {
            w(sql.exec(
                "INSERT INTO invoices (issued_at, invoice) \
                 SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?)",
                vec![text(&self.invoices)?],
            )?);
        }
        if !self.records.is_empty() {
            w(sql.exec(
                "INSERT INTO records (record) SELECT value FROM json_each(?)",
                vec![text(&self.records)?],
            )?);
        }
        for (k, v) in &self.meta {
            w(sql.exec(
                "INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)",
                vec![(*k).into(), v.as_str().into()],
            )?);
        }
        Ok(written)
    }
}

/// Inserts the dedup keys of events, with their first receipts, in one
/// statement: the rows go in as one JSON parameter, `[[source, id,
/// fingerprint, seq, at, status, amount, currency, price_key], ...]`,
/// read with `json_each` (one string crossing into the runtime, where
/// multi-row `VALUES` within the 100-parameter limit took a statement per
/// 11 events).
fn insert_seen(sql: &SqlStorage, events: &[EventRow]) -> worker::Result<worker::SqlCursor> {
    let rows: Vec<_> = events
        .iter()
        .map(|e| {
            (
                &e.source,
                &e.id,
                &e.fingerprint,
                e.seq,
                e.received_at,
                &e.status,
                &e.amount,
                &e.currency,
                &e.price_key,
            )
        })
        .collect();
    sql.exec(
        "INSERT OR REPLACE INTO seen (source, id, fingerprint, seq, at, status, amount, currency, price_key) \
         SELECT value->>'$[0]', value->>'$[1]', value->>'$[2]', value->>'$[3]', value->>'$[4]', value->>'$[5]', \
         value->>'$[6]', value->>'$[7]', value->>'$[8]' FROM json_each(?1)",
        vec![text(&rows)?],
    )
}

/// Runs `commit` inside `storage.transactionSync()`: all of it is written
/// or, if any statement fails, none of it.
/// Answers the rows written.
pub fn transaction(storage: &Storage, sql: SqlStorage, commit: Rc<Commit>) -> worker::Result<i64> {
    let raw: &JsValue = storage.as_raw().as_ref();
    let run: js_sys::Function = js_sys::Reflect::get(raw, &JsValue::from_str("transactionSync"))?.dyn_into()?;
    let failure: Rc<RefCell<Option<worker::Error>>> = Rc::new(RefCell::new(None));
    let seen_failure = failure.clone();
    let written = Rc::new(std::cell::Cell::new(0));
    let count = written.clone();
    let body = Closure::once(move || -> Result<JsValue, JsValue> {
        match commit.apply(&sql) {
            Ok(n) => {
                count.set(n);
                Ok(JsValue::UNDEFINED)
            }
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
    result.map(|_| written.get()).map_err(worker::Error::from)
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

/// The outbox messages' numbers and ranges, oldest first (on load).
pub fn outbox_index(sql: &SqlStorage) -> worker::Result<Vec<(i64, i64, i64)>> {
    #[derive(Deserialize)]
    struct M {
        n: i64,
        first: i64,
        last: i64,
    }
    let rows: Vec<M> = sql
        .exec("SELECT n, first, last FROM outbox ORDER BY n", None)?
        .to_array()?;
    Ok(rows.into_iter().map(|m| (m.n, m.first, m.last)).collect())
}

/// The body of outbox message `n`, if it is still there.
pub fn outbox_body(sql: &SqlStorage, n: i64) -> worker::Result<Option<String>> {
    #[derive(Deserialize)]
    struct B {
        body: String,
    }
    let rows: Vec<B> = sql
        .exec("SELECT body FROM outbox WHERE n = ?", vec![n.into()])?
        .to_array()?;
    Ok(rows.into_iter().next().map(|b| b.body))
}

/// Deletes outbox messages the log has (by number); answers rows written.
pub fn outbox_delete(sql: &SqlStorage, ns: &[i64]) -> worker::Result<i64> {
    let c = sql.exec(
        "DELETE FROM outbox WHERE n IN (SELECT value FROM json_each(?))",
        vec![text(&ns)?],
    )?;
    Ok(c.rows_written() as i64)
}

/// Rows and dedup keys the object holds now.
pub fn sizes(sql: &SqlStorage) -> worker::Result<(i64, i64, i64)> {
    #[derive(Deserialize)]
    struct S {
        outbox: i64,
        events: i64,
        seen: i64,
    }
    let rows: Vec<S> = sql
        .exec(
            "SELECT (SELECT COUNT(*) FROM outbox) AS outbox, \
             (SELECT COALESCE(SUM(last - first + 1), 0) FROM outbox) AS events, \
             (SELECT COUNT(*) FROM seen) AS seen",
            None,
        )?
        .to_array()?;
    Ok(rows.first().map_or((0, 0, 0), |s| (s.outbox, s.events, s.seen)))
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
