//! The SQLite storage of a customer's Durable Object (docs/worker.md
//! "What the object keeps").
//!
//! - `meta`: the tenant and customer names, the meter (engine state as
//!   JSON, with an empty dedup window), the hash of the last price book
//!   used, and `next`: the last sequence number and outbox message number
//!   used.
//! - `seen_{start}_{end}`: (source, id) -> the first receipt, for the
//!   dedup window, in tables by arrival time ([`super::keys`]): the keys
//!   the engine asks for, lent to it as [`BatchKeys`]. One row per
//!   accepted or dropped event; a table is dropped once older than the
//!   window.
//! - `outbox`: the Queue messages (accepted and dropped events with their
//!   receipts) not yet confirmed in the event log; a message leaves when
//!   the Queue consumer reports it logged (`outbox`).
//! - `invoices`, `records`: documents the meter issued.
//!
//! Rows go in through `json_each` of one JSON parameter, so that a batch
//! of events costs a handful of statements whatever its size.

use super::keys::{Table, Tables};
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
    "CREATE TABLE IF NOT EXISTS outbox (n INTEGER PRIMARY KEY, first INTEGER NOT NULL, last INTEGER NOT NULL, \
     body TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS invoices (n INTEGER PRIMARY KEY AUTOINCREMENT, issued_at TEXT NOT NULL, invoice TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS records (n INTEGER PRIMARY KEY AUTOINCREMENT, record TEXT NOT NULL)",
];

/// Moves an object stored by an earlier version (an `events` table of
/// every event, `dedup` keys joined to it, a `forwarded` mark) to the
/// current tables: the keys with their receipts into one key table
/// spanning their arrivals ([`upgrade`]), then these statements: the
/// events after the mark into the outbox (100 to a message), and the old
/// tables dropped. Runs in one transaction on the object's first load in
/// this version.
const UPGRADE: &[&str] = &[
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

/// See [`UPGRADE`].
fn upgrade(sql: &SqlStorage) -> worker::Result<i64> {
    #[derive(Deserialize)]
    struct Span {
        lo: Option<i64>,
        hi: Option<i64>,
    }
    let mut written = 0;
    let span: Vec<Span> = sql
        .exec("SELECT MIN(at) AS lo, MAX(at) AS hi FROM dedup", None)?
        .to_array()?;
    if let Some(Span {
        lo: Some(lo),
        hi: Some(hi),
    }) = span.into_iter().next()
    {
        let t = Table {
            start: lo,
            end: hi.saturating_add(1),
        };
        sql.exec(&t.create(), None)?;
        let c = sql.exec(
            &format!(
                "INSERT OR IGNORE INTO {} (source, id, fingerprint, seq, at, status, amount, currency, price_key) \
                 SELECT d.source, d.id, d.fingerprint, d.seq, d.at, e.status, e.amount, e.currency, e.price_key \
                 FROM dedup AS d JOIN events AS e ON e.seq = d.seq",
                t.name()
            ),
            None,
        )?;
        written += c.rows_written() as i64;
    }
    for stmt in UPGRADE {
        written += sql.exec(stmt, None)?.rows_written() as i64;
    }
    Ok(written)
}

/// The key tables of the object (from `sqlite_master`).
pub fn key_tables(sql: &SqlStorage) -> worker::Result<Tables> {
    #[derive(Deserialize)]
    struct N {
        name: String,
    }
    let rows: Vec<N> = sql
        .exec(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'seen\\_%' ESCAPE '\\'",
            None,
        )?
        .to_array()?;
    Ok(Tables::from_names(rows.iter().map(|r| r.name.as_str())))
}

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

/// A first receipt as a key table keeps it.
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
pub fn batch_keys(
    sql: &SqlStorage,
    tables: &Tables,
    keys: &[(&str, &str)],
    since_ms: i64,
) -> worker::Result<BatchKeys> {
    let Some(query) = tables.lookup(since_ms).filter(|_| !keys.is_empty()) else {
        return Ok(BatchKeys::default());
    };
    let param = serde_json::to_string(keys).map_err(|e| worker::Error::RustError(e.to_string()))?;
    let mut rows: Vec<SeenRow> = sql.exec(&query, vec![param.into(), since_ms.into()])?.to_array()?;
    // A key in two tables (stored again after leaving the window): the
    // latest arrival is its first receipt now.
    rows.sort_by_key(|r| r.at);
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

/// How a payload fingerprint is stored in a key table's `fingerprint`.
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
    /// Slice width of the key tables new keys go to ([`super::keys::width`]).
    pub key_width: i64,
    /// Key tables to create first (the new keys' tables the object lacks).
    pub create: Vec<Table>,
    /// Key tables to drop: all their keys left the window.
    pub drop: Vec<Table>,
    /// The outbox messages that carry them to the log.
    pub outbox: Vec<OutboxRow>,
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
            && self.drop.is_empty()
            && self.invoices.is_empty()
            && self.records.is_empty()
            && self.meta.is_empty()
    }

    /// Writes the commit; answers the rows written.
    fn apply(&self, sql: &SqlStorage) -> worker::Result<i64> {
        let mut written = 0;
        if self.upgrade {
            written += upgrade(sql)?;
        }
        let mut w = |c: worker::SqlCursor| written += c.rows_written() as i64;
        for t in &self.drop {
            w(sql.exec(&format!("DROP TABLE IF EXISTS {}", t.name()), None)?);
        }
        for t in &self.create {
            w(sql.exec(&t.create(), None)?);
        }
        if !self.events.is_empty() {
            for c in insert_keys(sql, &self.events, self.key_width)? {
                w(c);
            }
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

/// The key tables `events` go to, for slices of `width_ms`.
pub fn tables_of(events: &[EventRow], width_ms: i64) -> Vec<Table> {
    let mut t: Vec<Table> = events.iter().map(|e| Table::of(e.received_at, width_ms)).collect();
    t.dedup();
    t.sort();
    t.dedup();
    t
}

/// Inserts the dedup keys of events, with their first receipts, one
/// statement per key table (almost always one): the rows go in as one
/// JSON parameter, `[[source, id, fingerprint, seq, at, status, amount,
/// currency, price_key], ...]`, read with `json_each` (one string crossing
/// into the runtime, where multi-row `VALUES` within the 100-parameter
/// limit took a statement per 11 events).
fn insert_keys(sql: &SqlStorage, events: &[EventRow], width_ms: i64) -> worker::Result<Vec<worker::SqlCursor>> {
    let mut out = Vec::new();
    for t in tables_of(events, width_ms) {
        let rows: Vec<_> = events
            .iter()
            .filter(|e| Table::of(e.received_at, width_ms) == t)
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
        out.push(sql.exec(
            &format!(
                "INSERT OR REPLACE INTO {} (source, id, fingerprint, seq, at, status, amount, currency, price_key) \
                 SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6, value->>7, \
                 value->>8 FROM json_each(?1)",
                t.name()
            ),
            vec![text(&rows)?],
        )?);
    }
    Ok(out)
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

/// Outbox messages, their events, and dedup keys the object holds now.
pub fn sizes(sql: &SqlStorage, tables: &Tables) -> worker::Result<(i64, i64, i64)> {
    #[derive(Deserialize)]
    struct N {
        n: i64,
    }
    let count = |q: &str| -> worker::Result<i64> {
        let rows: Vec<N> = sql.exec(q, None)?.to_array()?;
        Ok(rows.first().map_or(0, |r| r.n))
    };
    let messages = count("SELECT COUNT(*) AS n FROM outbox")?;
    let events = count("SELECT COALESCE(SUM(last - first + 1), 0) AS n FROM outbox")?;
    let mut keys = 0;
    for t in tables.all() {
        keys += count(&format!("SELECT COUNT(*) AS n FROM {}", t.name()))?;
    }
    Ok((messages, events, keys))
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
