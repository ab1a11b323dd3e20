//! From the customer objects' outboxes to the event log in R2 and the
//! rollups in D1, through the `EVENTS` Queue (docs/worker.md "Where events
//! go").
//!
//! A message is one customer's rows: `{"n", "tenant", "customer",
//! "events": [row...]}` as JSON text, `n` being the outbox's number for it.
//! The consumer writes its rows to the event log ([`crate::log`]: objects
//! named by their rows, so a message delivered twice overwrites its own
//! objects), then, in one D1 batch, the accepted ones' hourly partial sums
//! ([`crate::rollup`], keyed by the message's sequence range) and the
//! dropped ones to the dropped-events index (keyed by (tenant, customer,
//! seq)); then it reports the message numbers back to the customer's
//! object, which deletes them from its outbox. Whatever the Queue does
//! (it is at-least-once, and may lose a message whose consumer died),
//! the object sends again what is not reported, and writing a message
//! twice changes nothing.

use crate::customer::store::EventRow;
use crate::problem::ApiError;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use wasm_bindgen::JsValue;
use worker::*;

/// How long the consumer waits for an object it calls (the webhooks
/// object, the customers' reports) before giving up on that call.
const CALL_DEADLINE_MS: u64 = 10_000;
/// Largest message body (the Queue's limit is 128 KB).
pub const MAX_MESSAGE_BYTES: usize = 100_000;
/// Largest batch for `sendBatch` (the Queue's limits: 100 messages, 256 KB).
pub const MAX_BATCH_BYTES: usize = 200_000;
/// Most messages in one `sendBatch`.
pub const MAX_BATCH_MESSAGES: usize = 100;

/// One Queue message.
#[derive(Debug, Serialize, Deserialize)]
pub struct Message {
    /// The outbox's number for it (0 in messages of earlier versions).
    #[serde(default)]
    pub n: i64,
    /// Tenant.
    pub tenant: String,
    /// Customer.
    pub customer: String,
    /// Accepted and dropped events, in sequence order.
    pub events: Vec<EventRow>,
    /// Invoices the meter issued (a message carries either events, or
    /// invoices and records).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub invoices: Vec<Box<serde_json::value::RawValue>>,
    /// Records the meter made (docs/webhooks.md), for the webhooks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<Box<serde_json::value::RawValue>>,
}

#[derive(Serialize)]
struct MessageRef<'a> {
    tenant: &'a str,
    customer: &'a str,
    events: &'a [EventRow],
}

/// Cuts consecutive rows into message bodies of at most about 100 KB
/// (the Queue takes 128 KB): (first seq, last seq, body without `n`).
/// The cut depends only on the rows, and the outbox stores the bodies, so
/// a message sent again is the same message.
pub fn pack_messages(tenant: &str, customer: &str, rows: &[EventRow]) -> Vec<(i64, i64, String)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut size = 0;
    let cut = |slice: &[EventRow], out: &mut Vec<(i64, i64, String)>| {
        let m = MessageRef {
            tenant,
            customer,
            events: slice,
        };
        if let (Some(f), Some(l)) = (slice.first(), slice.last()) {
            out.push((f.seq, l.seq, serde_json::to_string(&m).unwrap_or_default()));
        }
    };
    for (i, r) in rows.iter().enumerate() {
        let n = r.event.len() + r.source.len() + r.id.len() + 300;
        if size + n > MAX_MESSAGE_BYTES && i > start {
            cut(&rows[start..i], &mut out);
            start = i;
            size = 0;
        }
        size += n;
    }
    if start < rows.len() {
        cut(&rows[start..], &mut out);
    }
    out
}

/// The body of a message carrying invoices and records (JSON text
/// each), without `n`.
pub fn documents_body(tenant: &str, customer: &str, invoices: &[&str], records: &[&str]) -> String {
    let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
    format!(
        "{{\"tenant\":{},\"customer\":{},\"events\":[],\"invoices\":[{}],\"records\":[{}]}}",
        q(tenant),
        q(customer),
        invoices.join(","),
        records.join(",")
    )
}

/// A Queue message: several outbox messages of one customer
/// (`{"parts": [...]}`), or one (as earlier versions sent).
#[derive(Deserialize)]
struct Envelope {
    parts: Vec<Message>,
}

/// The outbox messages a Queue message carries.
fn read_parts(text: &str) -> serde_json::Result<Vec<Message>> {
    if text.starts_with("{\"parts\"") {
        Ok(serde_json::from_str::<Envelope>(text)?.parts)
    } else {
        Ok(vec![serde_json::from_str::<Message>(text)?])
    }
}

/// A stored body with its number: `{"n":N,` then the body's members.
pub fn numbered(n: i64, body: &str) -> String {
    format!("{{\"n\":{n},{}", body.strip_prefix('{').unwrap_or(body))
}

/// Sends one batch of messages.
pub async fn send(queue: &Queue, batch: Vec<String>) -> Result<(), ApiError> {
    let messages: Vec<SendMessage<JsValue>> = batch
        .into_iter()
        .map(|m| RawMessageBuilder::new(JsValue::from_str(&m)).build_with_content_type(QueueContentType::Text))
        .collect();
    queue
        .send_raw_batch(BatchMessageBuilder::new().messages(messages).build())
        .await
        .map_err(|e| ApiError::unavailable("sending to the Queue", e))
}

/// Inserts a message's invoices (`?1` tenant, `?2` customer, `?3` the
/// message number, `?4` the invoices as a JSON array); an invoice already
/// there (a message written twice) stays as it is.
const INSERT_INVOICES: &str = "INSERT OR IGNORE INTO invoices (tenant, customer, n, i, issued_at, period_start, \
     period_end, currency, total, price_book, invoice) \
     SELECT ?1, ?2, ?3, key, value->>'$.issued_at', value->>'$.period.start', value->>'$.period.end', \
     value->>'$.currency', value->>'$.total', value->>'$.price_book', value FROM json_each(?4)";

/// Issued invoices of a tenant (optionally one customer's) issued in
/// [`from`, `to`), oldest first: `{"total", "invoices": [...]}`.
pub async fn read_invoices(
    env: &Env,
    tenant: &str,
    customer: Option<&str>,
    range: (Option<String>, Option<String>),
    offset: i64,
    limit: i64,
) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        invoice: String,
    }
    let db = env.d1("DB")?;
    let filter = "tenant = ?1 AND (?2 = '' OR customer = ?2) \
                  AND (?3 = '' OR julianday(issued_at) >= julianday(?3)) \
                  AND (?4 = '' OR julianday(issued_at) < julianday(?4))";
    let mut args = vec![
        JsValue::from_str(tenant),
        JsValue::from_str(customer.unwrap_or("")),
        JsValue::from_str(range.0.as_deref().unwrap_or("")),
        JsValue::from_str(range.1.as_deref().unwrap_or("")),
    ];
    let total: Option<Count> = db
        .prepare(format!("SELECT COUNT(*) AS n FROM invoices WHERE {filter}"))
        .bind(&args)?
        .first(None)
        .await
        .map_err(|e| ApiError::unavailable("reading D1", e))?;
    args.push(JsValue::from_f64(limit as f64));
    args.push(JsValue::from_f64(offset as f64));
    let rows: Vec<Row> = db
        .prepare(format!(
            "SELECT invoice FROM invoices WHERE {filter} \
             ORDER BY julianday(issued_at), customer, n, i LIMIT ?5 OFFSET ?6"
        ))
        .bind(&args)?
        .all()
        .await
        .map_err(|e| ApiError::unavailable("reading D1", e))?
        .results()?;
    let items: Vec<Value> = rows
        .into_iter()
        .map(|r| rating::json::parse_json(&r.invoice).unwrap_or(Value::Null))
        .collect();
    Ok(json!({ "total": total.map_or(0, |c| c.n), "invoices": items }))
}

/// Inserts a message's dropped events into the dropped-events index
/// (`?1` tenant, `?2` customer, `?3` the rows as JSON); a row already
/// there (a message written twice) stays as it is.
fn insert_dropped() -> String {
    "INSERT OR IGNORE INTO dropped_events (tenant, customer, seq, source, id, type, time, received_at, price_key, \
     price_book, event) \
     SELECT ?1, ?2, json_extract(value, '$.seq'), json_extract(value, '$.source'), json_extract(value, '$.id'), \
     json_extract(value, '$.type'), json_extract(value, '$.time'), json_extract(value, '$.received_at'), \
     json_extract(value, '$.price_key'), json_extract(value, '$.price_book'), json_extract(value, '$.event') \
     FROM json_each(?3) WHERE json_extract(value, '$.status') = 'dropped'"
        .to_string()
}

thread_local! {
    /// Batches this isolate's consumer has received (for the fault hook).
    static BATCHES: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    /// How often the fault hook has failed each message (by message id).
    static FAILED: std::cell::RefCell<std::collections::HashMap<String, u32>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// The fault hook fails a message at most this often: well under the
/// consumer's `max_retries` (10), so the hook alone never sends a message
/// to the dead-letter queue. (Failing every Nth batch regardless did: a
/// redelivered message can keep landing in the failed batches.)
const FAULT_MAX_PER_MESSAGE: u32 = 3;

/// The test-only fault hook: the `FAULT_QUEUE_FAIL_EVERY` variable (N >= 2)
/// makes the consumer fail every Nth batch it receives, alternately before
/// and after writing it to D1, so the Queue delivers it again at once
/// (no retry delay); a batch holding a message the hook has already failed
/// [`FAULT_MAX_PER_MESSAGE`] times goes through. Unset (the default;
/// wrangler.toml never sets it) it is off. Only the deployment's variables
/// can set it (the reliability tests add it to the env file they give
/// `wrangler dev`); nothing in a request can. Answers `Some(true)` to fail
/// before writing, `Some(false)` to fail after writing, `None` to not fail.
fn injected_fault(env: &Env, batch: &MessageBatch<Value>) -> Option<bool> {
    let every: u64 = env
        .var("FAULT_QUEUE_FAIL_EVERY")
        .ok()?
        .to_string()
        .trim()
        .parse()
        .ok()?;
    if every < 2 {
        return None;
    }
    let k = BATCHES.with(|b| {
        b.set(b.get() + 1);
        b.get()
    });
    if !k.is_multiple_of(every) {
        return None;
    }
    let ids: Vec<String> = batch.raw_iter().map(|m| m.id()).collect();
    FAILED.with(|f| {
        let mut f = f.borrow_mut();
        if ids
            .iter()
            .any(|id| f.get(id).is_some_and(|n| *n >= FAULT_MAX_PER_MESSAGE))
        {
            return None;
        }
        for id in ids {
            *f.entry(id).or_default() += 1;
        }
        Some(!(k / every).is_multiple_of(2))
    })
}

/// The fault hook's retry: at once, whatever the consumer's `retry_delay`.
fn retry_now(batch: &MessageBatch<Value>) {
    batch.retry_all_with_options(&QueueRetryOptionsBuilder::new().with_delay_seconds(0).build());
}

/// The Queue consumer: writes every message of a batch to the event log
/// in R2, then to D1 in one `batch()` (one implicit transaction), then
/// reports the messages to their objects and acknowledges them all. On
/// failure the whole batch is retried, after the consumer's `retry_delay`
/// (wrangler.toml); the objects send again, after their resend delay,
/// whatever never reaches here.
pub async fn consume(batch: MessageBatch<Value>, env: Env) -> Result<()> {
    let fault = injected_fault(&env, &batch);
    if fault == Some(true) {
        console_log!("queue: injected fault (FAULT_QUEUE_FAIL_EVERY) before writing; the batch will be retried");
        retry_now(&batch);
        return Ok(());
    }
    let db = env.d1("DB")?;
    let bucket = env.bucket(crate::log::BINDING)?;
    let dropped = insert_dropped();
    let mut messages: Vec<Message> = Vec::new();
    let mut logs: Vec<(String, String, Vec<EventRow>)> = Vec::new();
    let mut statements = Vec::new();
    for raw in batch.raw_iter() {
        let Some(text) = raw.body().as_string() else {
            console_error!("queue: a message that is not text; skipped");
            continue;
        };
        let parts = match read_parts(&text) {
            Ok(p) => p,
            Err(e) => {
                console_error!("queue: an unreadable message ({e}); skipped");
                continue;
            }
        };
        // One log write per customer of a Queue message: its parts' rows
        // together (fewer, larger objects; readers keep each seq once).
        let mut rows: Vec<EventRow> = Vec::new();
        for m in &parts {
            rows.extend(m.events.iter().cloned());
        }
        if let Some(m) = parts.first().filter(|_| !rows.is_empty()) {
            logs.push((m.tenant.clone(), m.customer.clone(), rows));
        }
        for m in parts {
            statements.extend(crate::rollup::statements(&db, &m.tenant, &m.customer, &m.events)?);
            if m.events.iter().any(|r| r.status == "dropped") {
                let rows = serde_json::to_string(&m.events).unwrap_or_default();
                let args = [
                    JsValue::from_str(&m.tenant),
                    JsValue::from_str(&m.customer),
                    JsValue::from_str(&rows),
                ];
                statements.push(db.prepare(&dropped).bind(&args)?);
            }
            if !m.invoices.is_empty() {
                let invoices = serde_json::to_string(&m.invoices).unwrap_or_default();
                let args = [
                    JsValue::from_str(&m.tenant),
                    JsValue::from_str(&m.customer),
                    JsValue::from_f64(m.n as f64),
                    JsValue::from_str(&invoices),
                ];
                statements.push(db.prepare(INSERT_INVOICES).bind(&args)?);
            }
            messages.push(m);
        }
    }
    let logged = logs
        .iter()
        .map(|(tenant, customer, rows)| crate::log::write(&bucket, tenant, customer, rows));
    let (log_bytes, log_objects) = match futures_util::future::try_join_all(logged).await {
        Ok(sizes) => sizes.into_iter().fold((0, 0), |(b, n), (b1, n1)| (b + b1, n + n1)),
        Err(e) => {
            console_error!("queue: writing the event log to R2 failed ({e}); the batch will be retried");
            batch.retry_all();
            return Ok(());
        }
    };
    if let Err(e) = hand_records(&env, &messages).await {
        console_error!("queue: handing records to the webhooks failed ({e}); the batch will be retried");
        batch.retry_all();
        return Ok(());
    }
    let mut d1_rows = 0;
    if !statements.is_empty() {
        match db.batch(statements).await {
            Ok(results) => {
                d1_rows = results
                    .iter()
                    .filter_map(|r| r.meta().ok().flatten().and_then(|m| m.rows_written))
                    .sum::<usize>() as i64;
            }
            Err(e) => {
                console_error!("queue: writing to D1 failed ({e}); the batch will be retried");
                batch.retry_all();
                return Ok(());
            }
        }
    }
    if fault == Some(false) {
        console_log!("queue: injected fault (FAULT_QUEUE_FAIL_EVERY) after writing; the batch will be retried");
        retry_now(&batch);
        return Ok(());
    }
    if let Err(e) = crate::stats::add(&db, &messages, d1_rows, log_bytes, log_objects).await {
        console_error!("queue: counting the batch failed ({e})");
    }
    confirm(&env, &messages).await;
    batch.ack_all();
    Ok(())
}

/// Hands the messages' records to their tenants' `Webhooks` objects,
/// each under a `webhook-id` made from its message, so that a message
/// written twice makes no second delivery.
async fn hand_records(env: &Env, messages: &[Message]) -> std::result::Result<(), ApiError> {
    let mut by_tenant: BTreeMap<&str, Vec<crate::webhooks::Item>> = BTreeMap::new();
    for m in messages {
        for (i, r) in m.records.iter().enumerate() {
            let v: Value = serde_json::from_str(r.get()).unwrap_or(Value::Null);
            let kind = v["type"].as_str().unwrap_or_default().to_string();
            let at = v["at"].as_str().unwrap_or_default().to_string();
            by_tenant.entry(&m.tenant).or_default().push(crate::webhooks::Item {
                id: crate::webhooks::webhook_id(&m.tenant, &m.customer, m.n, i),
                body: crate::webhooks::body(&kind, &at, &v),
                kind,
            });
        }
    }
    for (tenant, items) in by_tenant {
        let stub = crate::webhooks::stub(env, tenant)?;
        let text = serde_json::to_string(&items).map_err(|e| ApiError::unavailable("serializing", e))?;
        let call = Box::pin(crate::http::call(&stub, Method::Post, "/enqueue", &[], Some(text)));
        let deadline = Box::pin(Delay::from(std::time::Duration::from_millis(CALL_DEADLINE_MS)));
        let (status, answer) = match futures_util::future::select(call, deadline).await {
            futures_util::future::Either::Left((r, _)) => r?,
            futures_util::future::Either::Right(_) => {
                return Err(ApiError::unavailable("the webhooks object", "no answer in time"));
            }
        };
        if status != 200 {
            return Err(ApiError::unavailable("the webhooks object", answer));
        }
    }
    Ok(())
}

/// Reports logged messages to their objects (one call per customer). A
/// report that fails is harmless: the object sends the message again
/// after its resend delay, and that copy is reported.
async fn confirm(env: &Env, messages: &[Message]) {
    let mut by_customer: BTreeMap<(&str, &str), Vec<i64>> = BTreeMap::new();
    for m in messages.iter().filter(|m| m.n > 0) {
        by_customer.entry((&m.tenant, &m.customer)).or_default().push(m.n);
    }
    let Ok(ns) = env.durable_object("CUSTOMER") else {
        return;
    };
    let calls = by_customer.into_iter().map(|((tenant, customer), numbers)| {
        let ns = &ns;
        async move {
            let stub = ns
                .id_from_name(&crate::ingest::object_name(tenant, customer))?
                .get_stub()?;
            let mut init = RequestInit::new();
            init.with_method(Method::Post).with_body(Some(JsValue::from_str(
                &serde_json::to_string(&numbers).unwrap_or_default(),
            )));
            let req = Request::new_with_init("https://customer/logged", &init)?;
            let resp = stub.fetch_with_request(req).await?;
            if resp.status_code() != 200 {
                return Err(Error::RustError(format!("status {}", resp.status_code())));
            }
            Ok::<(), Error>(())
        }
    });
    // A consumer that never returns holds the Queue's delivery (a local
    // Queue delivers one batch at a time): the reports get a deadline, and
    // what misses it is sent again by the objects.
    let all = Box::pin(futures_util::future::join_all(calls));
    let deadline = Box::pin(Delay::from(std::time::Duration::from_millis(CALL_DEADLINE_MS)));
    let results = match futures_util::future::select(all, deadline).await {
        futures_util::future::Either::Left((r, _)) => r,
        futures_util::future::Either::Right(_) => {
            console_error!(
                "queue: reporting logged messages took over {CALL_DEADLINE_MS} ms; the objects will send them again"
            );
            return;
        }
    };
    for r in results {
        if let Err(e) = r {
            console_error!("queue: reporting logged messages failed ({e}); the object will send them again");
        }
    }
}

fn received(ms: i64) -> String {
    use chrono::TimeZone;
    chrono::Utc
        .timestamp_millis_opt(ms)
        .single()
        .map(rating::period::fmt_timestamp)
        .unwrap_or_default()
}

#[derive(Deserialize)]
struct D1Row {
    customer: String,
    seq: i64,
    source: String,
    id: String,
    #[serde(rename = "type")]
    kind: String,
    time: String,
    received_at: i64,
    price_key: Option<String>,
    price_book: String,
    event: String,
}

#[derive(Deserialize)]
struct Count {
    n: i64,
}

/// Reads the dropped-events index: one tenant's dropped events
/// (optionally one customer's), in (customer, seq) order.
pub async fn read_dropped(
    env: &Env,
    tenant: &str,
    customer: Option<&str>,
    offset: i64,
    limit: i64,
) -> Result<Value, ApiError> {
    let db = env.d1("DB")?;
    let filter = "tenant = ?1 AND (?2 = '' OR customer = ?2)";
    let mut args = vec![JsValue::from_str(tenant), JsValue::from_str(customer.unwrap_or(""))];
    let total: Option<Count> = db
        .prepare(format!("SELECT COUNT(*) AS n FROM dropped_events WHERE {filter}"))
        .bind(&args)?
        .first(None)
        .await
        .map_err(|e| ApiError::unavailable("reading D1", e))?;
    args.push(JsValue::from_f64(limit as f64));
    args.push(JsValue::from_f64(offset as f64));
    let rows: Vec<D1Row> = db
        .prepare(format!(
            "SELECT customer, seq, source, id, type, time, received_at, price_key, price_book, event \
             FROM dropped_events WHERE {filter} ORDER BY customer, seq LIMIT ?3 OFFSET ?4"
        ))
        .bind(&args)?
        .all()
        .await
        .map_err(|e| ApiError::unavailable("reading D1", e))?
        .results()?;
    let items: Vec<Value> = rows
        .into_iter()
        .map(|r| {
            json!({
                "customer": r.customer,
                "seq": r.seq,
                "id": r.id,
                "source": r.source,
                "type": r.kind,
                "time": r.time,
                "received_at": received(r.received_at),
                "price_key": r.price_key,
                "price_book": r.price_book,
                "event": rating::json::parse_json(&r.event).unwrap_or(Value::Null),
            })
        })
        .collect();
    Ok(json!({ "total": total.map_or(0, |c| c.n), "dropped_events": items }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seq: i64, size: usize) -> EventRow {
        EventRow {
            seq,
            source: "s".into(),
            id: format!("e{seq}"),
            kind: "p".into(),
            time: "2026-01-01T00:00:00Z".into(),
            received_at: 0,
            status: "accepted".into(),
            amount: Some("1".into()),
            currency: Some("USD".into()),
            price_key: None,
            price_book: "sha256:x".into(),
            event: "x".repeat(size),
            fingerprint: "ab".into(),
        }
    }

    #[test]
    fn packs_within_queue_limits_and_keeps_order() {
        let rows: Vec<EventRow> = (1..=3000).map(|i| row(i, 500)).collect();
        let messages = pack_messages("t", "c", &rows);
        let mut seqs = Vec::new();
        for (i, (first, last, body)) in messages.iter().enumerate() {
            let text = numbered(i as i64 + 1, body);
            assert!(text.len() <= 128_000);
            let m: Message = serde_json::from_str(&text).unwrap();
            assert_eq!(m.n, i as i64 + 1);
            assert_eq!((m.events[0].seq, m.events.last().unwrap().seq), (*first, *last));
            seqs.extend(m.events.iter().map(|e| e.seq));
        }
        assert_eq!(seqs, (1..=3000).collect::<Vec<_>>());
        // The cut depends only on the rows.
        assert_eq!(pack_messages("t", "c", &rows), messages);
    }
}
