//! From the customer objects' outboxes to R2 and D1, through the `EVENTS`
//! Queue.
//!
//! A message is one customer's rows: `{"tenant", "customer", "events":
//! [row...]}` as JSON text. The consumer writes them to the event log in
//! R2 ([`crate::log`]: objects named by their rows, so a message
//! delivered twice overwrites its own objects), then accepted events to
//! `usage_events` and dropped ones to `dropped_events`, and the accepted
//! ones' hourly partial sums to `usage_rollups` ([`crate::rollup`]), all
//! in one D1 batch; rows are keyed by
//! (tenant, customer, seq), so a message delivered twice (the Queue is
//! at-least-once, and the outbox may send again after a failure) is
//! written once.

use crate::customer::store::EventRow;
use crate::problem::ApiError;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use wasm_bindgen::JsValue;
use worker::*;

/// Largest message body (the Queue's limit is 128 KB).
const MAX_MESSAGE_BYTES: usize = 100_000;
/// Largest batch for `sendBatch` (the Queue's limits: 100 messages, 256 KB).
const MAX_BATCH_BYTES: usize = 200_000;
const MAX_BATCH_MESSAGES: usize = 100;

/// One Queue message.
#[derive(Debug, Serialize, Deserialize)]
pub struct Message {
    /// Tenant.
    pub tenant: String,
    /// Customer.
    pub customer: String,
    /// Accepted and dropped events, in sequence order.
    pub events: Vec<EventRow>,
}

/// A message as the consumer reads it: the events stay JSON text, which
/// goes to D1 as it is.
#[derive(Deserialize)]
struct MessageText<'a> {
    tenant: String,
    customer: String,
    #[serde(borrow)]
    events: &'a serde_json::value::RawValue,
}

#[derive(Serialize)]
struct MessageRef<'a> {
    tenant: &'a str,
    customer: &'a str,
    events: &'a [EventRow],
}

/// Packs rows into messages (JSON text) and the messages into batches
/// within the Queue's limits.
pub fn pack(tenant: &str, customer: &str, rows: &[EventRow]) -> Vec<Vec<String>> {
    let mut messages: Vec<String> = Vec::new();
    let mut start = 0;
    let mut size = 0;
    for (i, r) in rows.iter().enumerate() {
        let n = r.event.len() + r.source.len() + r.id.len() + 300;
        if size + n > MAX_MESSAGE_BYTES && i > start {
            let m = MessageRef {
                tenant,
                customer,
                events: &rows[start..i],
            };
            messages.push(serde_json::to_string(&m).unwrap_or_default());
            start = i;
            size = 0;
        }
        size += n;
    }
    if start < rows.len() {
        let m = MessageRef {
            tenant,
            customer,
            events: &rows[start..],
        };
        messages.push(serde_json::to_string(&m).unwrap_or_default());
    }
    let mut batches: Vec<Vec<String>> = Vec::new();
    let mut bytes = 0;
    for m in messages {
        let start_new = match batches.last() {
            None => true,
            Some(b) => b.len() >= MAX_BATCH_MESSAGES || bytes + m.len() > MAX_BATCH_BYTES,
        };
        if start_new {
            batches.push(Vec::new());
            bytes = 0;
        }
        bytes += m.len();
        if let Some(b) = batches.last_mut() {
            b.push(m);
        }
    }
    batches
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

const INSERT_COLUMNS: &str =
    "tenant, customer, seq, source, id, type, time, received_at, amount, currency, price_key, price_book, event";

fn insert(table: &str, status: &str) -> String {
    format!(
        "INSERT OR IGNORE INTO {table} ({INSERT_COLUMNS}) \
         SELECT ?1, ?2, json_extract(value, '$.seq'), json_extract(value, '$.source'), json_extract(value, '$.id'), \
         json_extract(value, '$.type'), json_extract(value, '$.time'), json_extract(value, '$.received_at'), \
         json_extract(value, '$.amount'), json_extract(value, '$.currency'), json_extract(value, '$.price_key'), \
         json_extract(value, '$.price_book'), json_extract(value, '$.event') \
         FROM json_each(?3) WHERE json_extract(value, '$.status') = '{status}'"
    )
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
/// acknowledges them all; on
/// failure the whole batch is retried, after the consumer's `retry_delay`
/// (wrangler.toml), so that its `max_retries` span a D1 outage of minutes
/// rather than seconds before the dead-letter queue.
pub async fn consume(batch: MessageBatch<Value>, env: Env) -> Result<()> {
    let fault = injected_fault(&env, &batch);
    if fault == Some(true) {
        console_log!("queue: injected fault (FAULT_QUEUE_FAIL_EVERY) before writing; the batch will be retried");
        retry_now(&batch);
        return Ok(());
    }
    let db = env.d1("DB")?;
    let bucket = env.bucket(crate::log::BINDING)?;
    let mut objects = Vec::new();
    let accepted = insert("usage_events", "accepted");
    let dropped = insert("dropped_events", "dropped");
    let mut statements = Vec::new();
    for raw in batch.raw_iter() {
        let Some(text) = raw.body().as_string() else {
            console_error!("queue: a message that is not text; skipped");
            continue;
        };
        let m: MessageText = match serde_json::from_str(&text) {
            Ok(m) => m,
            Err(e) => {
                console_error!("queue: an unreadable message ({e}); skipped");
                continue;
            }
        };
        let rows = m.events.get();
        let mut rollups = Vec::new();
        match serde_json::from_str::<Vec<EventRow>>(rows) {
            Ok(rows) => {
                rollups = crate::rollup::statements(&db, &m.tenant, &m.customer, &rows)?;
                objects.push((m.tenant.clone(), m.customer.clone(), rows));
            }
            Err(e) => console_error!("queue: unreadable rows ({e}); not logged"),
        }
        let args = [
            JsValue::from_str(&m.tenant),
            JsValue::from_str(&m.customer),
            JsValue::from_str(rows),
        ];
        // Rows are serialised by `pack` (serde_json, no spaces), so a
        // message without this text has no dropped event.
        let any_dropped = rows.contains("\"status\":\"dropped\"");
        let any_accepted = rows.contains("\"status\":\"accepted\"");
        if any_accepted {
            statements.push(db.prepare(&accepted).bind(&args)?);
        }
        if any_dropped {
            statements.push(db.prepare(&dropped).bind(&args)?);
        }
        statements.extend(rollups);
    }
    let logged = objects
        .iter()
        .map(|(tenant, customer, rows)| crate::log::write(&bucket, tenant, customer, rows));
    if let Err(e) = futures_util::future::try_join_all(logged).await {
        console_error!("queue: writing the event log to R2 failed ({e}); the batch will be retried");
        batch.retry_all();
        return Ok(());
    }
    if statements.is_empty() {
        batch.ack_all();
        return Ok(());
    }
    match db.batch(statements).await {
        Ok(_) if fault == Some(false) => {
            console_log!("queue: injected fault (FAULT_QUEUE_FAIL_EVERY) after writing; the batch will be retried");
            retry_now(&batch);
        }
        Ok(_) => batch.ack_all(),
        Err(e) => {
            console_error!("queue: writing to D1 failed ({e}); the batch will be retried");
            batch.retry_all();
        }
    }
    Ok(())
}

/// One entry of the dropped-events audit.
pub fn audit_entry(customer: &str, r: &EventRow) -> Value {
    json!({
        "customer": customer,
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
    amount: Option<String>,
    currency: Option<String>,
    price_key: Option<String>,
    price_book: String,
    event: String,
}

#[derive(Deserialize)]
struct Count {
    n: i64,
}

/// Reads the tenant-wide store: `usage_events` or `dropped_events` of one
/// tenant (optionally one customer), in (customer, seq) order.
pub async fn read_d1(
    env: &Env,
    table: &str,
    tenant: &str,
    customer: Option<&str>,
    offset: i64,
    limit: i64,
) -> Result<Value, ApiError> {
    let db = env.d1("DB")?;
    let filter = "tenant = ?1 AND (?2 = '' OR customer = ?2)";
    let mut args = vec![JsValue::from_str(tenant), JsValue::from_str(customer.unwrap_or(""))];
    let total: Option<Count> = db
        .prepare(format!("SELECT COUNT(*) AS n FROM {table} WHERE {filter}"))
        .bind(&args)?
        .first(None)
        .await
        .map_err(|e| ApiError::unavailable("reading D1", e))?;
    args.push(JsValue::from_f64(limit as f64));
    args.push(JsValue::from_f64(offset as f64));
    let rows: Vec<D1Row> = db
        .prepare(format!(
            "SELECT customer, seq, source, id, type, time, received_at, amount, currency, price_key, price_book, event \
             FROM {table} WHERE {filter} ORDER BY customer, seq LIMIT ?3 OFFSET ?4"
        ))
        .bind(&args)?
        .all()
        .await
        .map_err(|e| ApiError::unavailable("reading D1", e))?
        .results()?;
    let items: Vec<Value> = rows
        .into_iter()
        .map(|r| {
            let mut v = json!({
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
            });
            if table == "usage_events" {
                v["amount"] = json!(r.amount);
                v["currency"] = json!(r.currency);
            }
            v
        })
        .collect();
    let key = if table == "usage_events" {
        "usage_events"
    } else {
        "dropped_events"
    };
    Ok(json!({ "total": total.map_or(0, |c| c.n), key: items }))
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
        let batches = pack("t", "c", &rows);
        let mut seqs = Vec::new();
        for b in &batches {
            assert!(b.len() <= MAX_BATCH_MESSAGES);
            assert!(b.iter().map(String::len).sum::<usize>() <= 256_000);
            for m in b {
                assert!(m.len() <= 128_000);
                let m: Message = serde_json::from_str(m).unwrap();
                seqs.extend(m.events.iter().map(|e| e.seq));
            }
        }
        assert_eq!(seqs, (1..=3000).collect::<Vec<_>>());
    }
}
