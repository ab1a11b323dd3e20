//! The `Customer` Durable Object: one per (tenant, customer). It owns the
//! customer's meter and is the only writer of its state, so events are
//! rated one request at a time, in arrival order.
//!
//! An ingest request is handled synchronously from the dedup look-up to
//! the commit (no `await` in between), and the commit (events, their dedup
//! keys, invoices and the meter) is one `transactionSync`. The runtime's
//! output gate holds the answer until that write is durable, so a receipt
//! is only ever sent for a stored event. Accepted and dropped events stay
//! in the outbox (`forwarded = 0`) until the Queue takes them; a failed
//! send is retried by the object's alarm.

pub mod store;
pub mod subscription;

use crate::forward;
use crate::http::{json, json_text, millis, now, query, query_time};
use crate::problem::ApiError;
use rating::event::{ids_of, parse_event, UsageEvent};
use rating::meter::{Dedup, Meter, Receipt, Status, DEFAULT_MAX_ENTRIES};
use rating::period::{fmt_timestamp, Timestamp};
use rating::{PriceBook, Problem};
use serde_json::{json, Value};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use store::{Commit, EventRow};
use worker::*;

/// Default dedup window: 35 days (SPEC §6); `DEDUP_WINDOW_SECONDS` overrides it.
pub const DEFAULT_DEDUP_SECONDS: i64 = rating::meter::DEFAULT_DEDUP_SECONDS;
/// Retry delay of the outbox after a failed Queue send.
const RETRY_MS: i64 = 5_000;

/// Internal request headers from the front Worker.
pub const H_TENANT: &str = "x-rating-tenant";
/// The customer id.
pub const H_CUSTOMER: &str = "x-rating-customer";
/// Hash of the price book to use.
pub const H_BOOK: &str = "x-rating-book";

#[derive(Default)]
struct Loaded {
    meter: Option<Meter>,
    next_seq: i64,
}

/// One customer's meter, events and invoices.
#[durable_object]
pub struct Customer {
    state: State,
    env: Env,
    cache: RefCell<Option<Loaded>>,
    flushing: Rc<Cell<bool>>,
    alarm_at: Cell<Option<i64>>,
}

fn dedup_window(env: &Env) -> i64 {
    env.var("DEDUP_WINDOW_SECONDS")
        .ok()
        .and_then(|v| v.to_string().trim().parse().ok())
        .filter(|s: &i64| *s > 0)
        .unwrap_or(DEFAULT_DEDUP_SECONDS)
}

fn not_subscribed(customer: &str) -> ApiError {
    let mut e = ApiError::new(404, "unknown_customer", format!("no subscription for {customer:?}"));
    e.path = Some("customer".into());
    e
}

fn to_text(v: &impl serde::Serialize) -> std::result::Result<String, ApiError> {
    serde_json::to_string(v).map_err(|e| ApiError::unavailable("serializing", e))
}

impl Customer {
    fn sql(&self) -> SqlStorage {
        self.state.storage().sql()
    }

    /// Loads the meter and counters on first use.
    fn load(&self) -> std::result::Result<(), ApiError> {
        if self.cache.borrow().is_some() {
            return Ok(());
        }
        let sql = self.sql();
        let meter = match store::meta(&sql, "meter")? {
            Some(t) => {
                Some(serde_json::from_str::<Meter>(&t).map_err(|e| ApiError::unavailable("loading the meter", e))?)
            }
            None => None,
        };
        let next_seq = store::meta(&sql, "next_seq")?.and_then(|s| s.parse().ok()).unwrap_or(1);
        *self.cache.borrow_mut() = Some(Loaded { meter, next_seq });
        // Events committed but not yet taken by the Queue when the object
        // last stopped: send them now.
        if store::outbox_pending(&sql)? {
            self.flush_later();
        }
        Ok(())
    }

    /// Forgets the cached state (after a failed commit), so the next
    /// request starts again from what is stored.
    fn forget(&self) {
        *self.cache.borrow_mut() = None;
    }

    /// Commits, or forgets the in-memory changes if the commit fails.
    fn commit(&self, c: Commit) -> std::result::Result<(), ApiError> {
        if c.is_empty() {
            return Ok(());
        }
        store::transaction(&self.state.storage(), self.sql(), c).map_err(|e| {
            self.forget();
            ApiError::unavailable("committing to storage", e)
        })
    }

    /// The commit of a changed meter: its JSON (without the dedup window,
    /// kept in SQLite), the invoices and records it issued.
    fn meter_commit(m: &mut Meter, book: &PriceBook, c: &mut Commit) -> std::result::Result<(), ApiError> {
        for inv in m.take_invoices() {
            c.invoices.push((inv.issued_at.clone(), to_text(&inv)?));
        }
        for r in m.take_records() {
            c.records.push(to_text(&r)?);
        }
        m.dedup = Dedup::new(DEFAULT_DEDUP_SECONDS, DEFAULT_MAX_ENTRIES);
        c.meta.push(("meter", to_text(m)?));
        c.meta.push(("book", book.hash().to_string()));
        Ok(())
    }

    /// Closes the periods that ended by `now` (issuing their invoices).
    fn catch_up(&self, book: &PriceBook, now: Timestamp) -> std::result::Result<(), ApiError> {
        self.load()?;
        let mut c = Commit::default();
        {
            let mut cache = self.cache.borrow_mut();
            let Some(m) = cache.as_mut().and_then(|l| l.meter.as_mut()) else {
                return Ok(());
            };
            if m.period.end > now || m.ended_at.is_some() {
                return Ok(());
            }
            m.advance_to(book, now)?;
            Self::meter_commit(m, book, &mut c)?;
        }
        self.commit(c)
    }

    /// Rates a batch of events (validated by the front Worker) at `now`.
    fn ingest(
        &self,
        book: &PriceBook,
        events: &[Value],
        now: Timestamp,
        tenant: &str,
        customer: &str,
    ) -> std::result::Result<(Vec<Value>, bool), ApiError> {
        self.load()?;
        let sql = self.sql();
        let now_ms = millis(now);
        let window_ms = dedup_window(&self.env).saturating_mul(1000);
        let since = now_ms.saturating_sub(window_ms);
        let parsed: Vec<std::result::Result<UsageEvent, Box<Receipt>>> = events
            .iter()
            .map(|v| {
                parse_event(v).map_err(|p| {
                    let (id, source) = ids_of(v);
                    Box::new(Receipt::rejected(&id, &source, p))
                })
            })
            .collect();
        let keys: Vec<(&str, &str)> = parsed
            .iter()
            .filter_map(|e| e.as_ref().ok().map(|e| (e.source.as_str(), e.id.as_str())))
            .collect();
        let mut seen = store::seen(&sql, &keys, since)?;
        let mut cache = self.cache.borrow_mut();
        let Some(loaded) = cache.as_mut() else {
            return Err(ApiError::unavailable("loading the meter", "no state"));
        };
        let mut c = Commit::default();
        let mut results = Vec::with_capacity(events.len());
        let hash = book.hash().to_string();
        let received = fmt_timestamp(now);
        for (raw, p) in events.iter().zip(parsed) {
            let ev = match p {
                Ok(ev) => ev,
                Err(r) => {
                    results.push(serde_json::to_value(&r).unwrap_or(Value::Null));
                    continue;
                }
            };
            if ev.customer != customer {
                let p = Problem::at(
                    "invalid_value",
                    "subject",
                    format!("the event is for {:?}, not {customer:?}", ev.customer),
                );
                results.push(serde_json::to_value(Receipt::rejected(&ev.id, &ev.source, p)).unwrap_or(Value::Null));
                continue;
            }
            let key = (ev.source.clone(), ev.id.clone());
            if let Some(s) = seen.get(&key) {
                if let Some(m) = loaded.meter.as_mut() {
                    m.counts.duplicate += 1;
                }
                let r = Receipt {
                    id: ev.id.clone(),
                    source: ev.source.clone(),
                    status: Status::Duplicate,
                    amount: s.amount.clone(),
                    currency: s.amount.as_ref().and(s.currency.clone()),
                    price_key: s.price_key.clone(),
                    price_key_remapped: None,
                    price_book: Some(hash.clone()),
                    conflict: (s.fingerprint != format!("{:016x}", ev.fingerprint)).then_some(true),
                    error: None,
                };
                results.push(serde_json::to_value(&r).unwrap_or(Value::Null));
                continue;
            }
            let Some(meter) = loaded.meter.as_mut() else {
                let p = Problem::at(
                    "unknown_customer",
                    "subject",
                    format!("no subscription for {customer:?}"),
                );
                results.push(serde_json::to_value(Receipt::rejected(&ev.id, &ev.source, p)).unwrap_or(Value::Null));
                continue;
            };
            let r = meter.record(book, &ev, now);
            if matches!(r.status, Status::Accepted | Status::Dropped) {
                let seq = loaded.next_seq;
                loaded.next_seq += 1;
                let status = if r.status == Status::Accepted {
                    "accepted"
                } else {
                    "dropped"
                };
                let fingerprint = format!("{:016x}", ev.fingerprint);
                seen.insert(
                    key,
                    store::Seen {
                        source: ev.source.clone(),
                        id: ev.id.clone(),
                        fingerprint: fingerprint.clone(),
                        status: status.to_string(),
                        amount: r.amount.clone(),
                        currency: r.currency.clone(),
                        price_key: r.price_key.clone(),
                    },
                );
                c.events.push(EventRow {
                    seq,
                    source: ev.source.clone(),
                    id: ev.id.clone(),
                    kind: ev.product.clone(),
                    time: ev.time.map(fmt_timestamp).unwrap_or_else(|| received.clone()),
                    received_at: now_ms,
                    status: status.to_string(),
                    amount: r.amount.clone(),
                    currency: r.currency.clone(),
                    price_key: r.price_key.clone(),
                    price_book: hash.clone(),
                    event: raw.to_string(),
                    fingerprint,
                });
            }
            results.push(serde_json::to_value(&r).unwrap_or(Value::Null));
        }
        let outbox = !c.events.is_empty();
        if let Some(m) = loaded.meter.as_mut() {
            Self::meter_commit(m, book, &mut c)?;
        }
        c.meta.push(("next_seq", loaded.next_seq.to_string()));
        c.meta.push(("tenant", tenant.to_string()));
        c.meta.push(("customer", customer.to_string()));
        c.expire_before = Some(since);
        drop(cache);
        self.commit(c)?;
        Ok((results, outbox))
    }

    /// Sends the outbox to the Queue in the background; on failure the
    /// alarm retries.
    fn flush_later(&self) {
        if self.flushing.get() {
            return;
        }
        self.flushing.set(true);
        let flushing = self.flushing.clone();
        let sql = self.sql();
        let storage = self.state.storage();
        let env = self.env.clone();
        self.state.wait_until(async move {
            let sent = flush(&env, &sql).await;
            flushing.set(false);
            if let Err(e) = sent {
                console_error!("outbox: the Queue refused a batch ({e}); retrying in {RETRY_MS} ms");
                if let Err(e) = storage.set_alarm(RETRY_MS).await {
                    console_error!("outbox: cannot set the retry alarm: {e}");
                }
            }
        });
    }

    /// Keeps an alarm at the end of the open period, so that periods close
    /// (and invoices are issued) without waiting for the next request.
    async fn arm_period_alarm(&self) {
        let end = self
            .cache
            .borrow()
            .as_ref()
            .and_then(|l| l.meter.as_ref())
            .filter(|m| m.ended_at.is_none())
            .map(|m| millis(m.period.end));
        if let Some(end) = end {
            if self.alarm_at.get() != Some(end) {
                self.alarm_at.set(Some(end));
                if let Err(e) = self
                    .state
                    .storage()
                    .set_alarm(end - worker::Date::now().as_millis() as i64)
                    .await
                {
                    console_error!("cannot set the period alarm: {e}");
                }
            }
        }
    }

    async fn book(&self, req: &Request) -> std::result::Result<(Rc<PriceBook>, String, String), ApiError> {
        let h = |n: &str| req.headers().get(n).ok().flatten().unwrap_or_default();
        let (tenant, customer, hash) = (h(H_TENANT), h(H_CUSTOMER), h(H_BOOK));
        if tenant.is_empty() || customer.is_empty() || hash.is_empty() {
            return Err(ApiError::new(
                400,
                "invalid_request",
                "internal call without tenant, customer or book",
            ));
        }
        let book = crate::books::by_hash(&self.env, &tenant, &hash).await?;
        Ok((book, tenant, customer))
    }

    fn meter_or_404<T>(
        &self,
        customer: &str,
        f: impl FnOnce(&Meter) -> std::result::Result<T, ApiError>,
    ) -> std::result::Result<T, ApiError> {
        self.load()?;
        let cache = self.cache.borrow();
        match cache.as_ref().and_then(|l| l.meter.as_ref()) {
            Some(m) => f(m),
            None => Err(not_subscribed(customer)),
        }
    }

    /// `at` for reads: a query parameter or now, never before the open period.
    fn read_time(req: &Request, m: &Meter, now: Timestamp) -> std::result::Result<Timestamp, ApiError> {
        let at = query_time(req, "at")?.unwrap_or(now);
        if at < m.period.start {
            let mut e = ApiError::new(
                422,
                "invalid_value",
                format!(
                    "at is before the open period, which starts at {}",
                    fmt_timestamp(m.period.start)
                ),
            );
            e.path = Some("at".into());
            return Err(e);
        }
        Ok(at)
    }

    async fn handle(&self, mut req: Request) -> std::result::Result<Response, ApiError> {
        let (book, tenant, customer) = self.book(&req).await?;
        let now = now();
        let path = req.path();
        let method = req.method();
        if !(method == Method::Post && path == "/ingest") {
            self.catch_up(&book, now)?;
        }
        let resp = match (method, path.as_str()) {
            (Method::Post, "/ingest") => {
                let body = req.text().await?;
                let events: Vec<Value> = match rating::json::parse_json(&body) {
                    Ok(Value::Array(a)) => a,
                    _ => {
                        return Err(ApiError::new(
                            400,
                            "invalid_request",
                            "internal ingest body must be an array",
                        ))
                    }
                };
                let (results, outbox) = self.ingest(&book, &events, now, &tenant, &customer)?;
                if outbox {
                    self.flush_later();
                }
                json(200, &json!({ "results": results }))?
            }
            (Method::Put, "/subscription") => {
                let body = req.text().await?;
                let v = rating::json::parse_json(&body).map_err(|p| ApiError::problem(400, p))?;
                let r = subscription::read(&v)?;
                self.load()?;
                let (mut m, created) = {
                    let cache = self.cache.borrow();
                    let old = cache.as_ref().and_then(|l| l.meter.as_ref());
                    subscription::apply(&book, &customer, old, &r, now)?
                };
                let mut c = Commit::default();
                let issued = m.take_invoices();
                for inv in &issued {
                    c.invoices.push((inv.issued_at.clone(), to_text(inv)?));
                }
                Self::meter_commit(&mut m, &book, &mut c)?;
                c.meta.push(("tenant", tenant.clone()));
                c.meta.push(("customer", customer.clone()));
                let mut view = subscription::view(&m, &book);
                view["invoices"] = serde_json::to_value(&issued).unwrap_or(Value::Null);
                if let Some(l) = self.cache.borrow_mut().as_mut() {
                    l.meter = Some(m);
                }
                self.commit(c)?;
                json(if created { 201 } else { 200 }, &view)?
            }
            (Method::Get, "/subscription") => {
                let v = self.meter_or_404(&customer, |m| Ok(subscription::view(m, &book)))?;
                json(200, &v)?
            }
            (Method::Get, "/allowance-state") => {
                let v = self.meter_or_404(&customer, |m| {
                    let at = Self::read_time(&req, m, now)?;
                    Ok(m.allowance_state(&book, at)?)
                })?;
                json(200, &v)?
            }
            (Method::Get, "/invoice-preview") => {
                let text = self.meter_or_404(&customer, |m| {
                    let at = Self::read_time(&req, m, now)?;
                    to_text(&m.preview_invoice(&book, at)?)
                })?;
                json_text(200, text)?
            }
            (Method::Get, "/invoices") => {
                self.meter_or_404(&customer, |_| Ok(()))?;
                let invoices = store::invoices(&self.sql())?;
                let cust = serde_json::to_string(&customer).unwrap_or_default();
                json_text(
                    200,
                    format!("{{\"customer\":{cust},\"invoices\":[{}]}}", invoices.join(",")),
                )?
            }
            (Method::Get, "/dropped-events") => {
                let after = query(&req, "after").and_then(|s| s.parse().ok()).unwrap_or(0);
                let limit = query(&req, "limit")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(100i64)
                    .clamp(1, 1000);
                let rows = store::dropped(&self.sql(), after, limit)?;
                let items: Vec<Value> = rows.iter().map(|r| forward::audit_entry(&customer, r)).collect();
                json(200, &json!({ "dropped_events": items }))?
            }
            (Method::Get, "/stats") => {
                let (accepted, dropped, pending) = store::counts(&self.sql())?;
                json(
                    200,
                    &json!({"customer": customer, "accepted": accepted, "dropped": dropped, "outbox": pending}),
                )?
            }
            _ => return Err(ApiError::new(404, "not_found", "no such internal route")),
        };
        self.arm_period_alarm().await;
        Ok(resp)
    }
}

/// Sends every event of the outbox to the Queue, oldest first, and marks
/// them forwarded. A message never exceeds the Queue's size limits.
async fn flush(env: &Env, sql: &SqlStorage) -> std::result::Result<(), ApiError> {
    let tenant = store::meta(sql, "tenant")?.unwrap_or_default();
    let customer = store::meta(sql, "customer")?.unwrap_or_default();
    let queue = env.queue("EVENTS")?;
    loop {
        let rows = store::outbox(sql, 1000)?;
        let (Some(first), Some(last)) = (rows.first().map(|r| r.seq), rows.last().map(|r| r.seq)) else {
            return Ok(());
        };
        for batch in forward::pack(&tenant, &customer, rows) {
            forward::send(&queue, batch).await?;
        }
        store::forwarded(sql, first, last)?;
    }
}

impl DurableObject for Customer {
    fn new(state: State, env: Env) -> Self {
        let sql = state.storage().sql();
        for stmt in store::SCHEMA {
            if let Err(e) = sql.exec(stmt, None) {
                console_error!("customer schema: {e}");
            }
        }
        Customer {
            state,
            env,
            cache: RefCell::new(None),
            flushing: Rc::new(Cell::new(false)),
            alarm_at: Cell::new(None),
        }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        match self.handle(req).await {
            Ok(r) => Ok(r),
            Err(e) => e.into_response(),
        }
    }

    /// Retries the outbox and closes periods that ended.
    async fn alarm(&self) -> Result<Response> {
        self.alarm_at.set(None);
        let sql = self.sql();
        let book_hash = store::meta(&sql, "book").ok().flatten();
        let tenant = store::meta(&sql, "tenant").ok().flatten();
        if let (Some(hash), Some(tenant)) = (book_hash, tenant) {
            match crate::books::by_hash(&self.env, &tenant, &hash).await {
                Ok(book) => {
                    if let Err(e) = self.catch_up(&book, now()) {
                        console_error!("alarm: closing periods failed: {}", e.detail);
                    }
                }
                Err(e) => console_error!("alarm: no price book: {}", e.detail),
            }
        }
        if let Err(e) = flush(&self.env, &sql).await {
            console_error!("alarm: the Queue refused a batch ({}); retrying", e.detail);
            self.state.storage().set_alarm(RETRY_MS).await?;
            return Response::ok("retry");
        }
        self.arm_period_alarm().await;
        Response::ok("ok")
    }
}
