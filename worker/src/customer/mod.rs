//! The `Customer` Durable Object: one per (tenant, customer). It owns the
//! customer's meter and is the only writer of its state, so events are
//! rated one request at a time, in arrival order.
//!
//! An ingest request is handled synchronously from the dedup look-up to
//! the commit (no `await` in between), and the commit (events, their dedup
//! keys, invoices and the meter) is one `transactionSync`. The runtime's
//! output gate holds the answer until that write is durable, so a receipt
//! is only ever sent for a stored event. Accepted and dropped events then
//! wait in the outbox (every event after the `forwarded` mark) until the
//! Queue takes them; a failed send is retried by the object's alarm.

pub mod outbox;
pub mod store;
pub mod subscription;

use crate::forward;
use crate::http::{json, json_text, millis, now, query, query_time};
use crate::problem::ApiError;
use outbox::Outbox;
use rating::event::UsageEvent;
use rating::meter::{dedup_window_start, no_subscription, read_event, Meter, Receipt};
use rating::period::{fmt_timestamp, Timestamp};
use rating::PriceBook;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use store::{Commit, EventRow};
use worker::*;

/// How far after now a read (`?at=`) may look.
pub const MAX_READ_AHEAD_DAYS: i64 = 366;
/// How often expired dedup keys are deleted (look-ups ignore them anyway).
const EXPIRE_EVERY_MS: i64 = 60_000;

/// Internal request headers from the front Worker.
pub const H_TENANT: &str = "x-rating-tenant";
/// The customer id.
pub const H_CUSTOMER: &str = "x-rating-customer";
/// Hash of the price book to use.
pub const H_BOOK: &str = "x-rating-book";

/// What the object keeps in memory between requests.
#[derive(Default)]
struct Loaded {
    meter: Option<Meter>,
    next_seq: i64,
    /// The `meta` values as stored, to write only what changes.
    tenant: Option<String>,
    customer: Option<String>,
    book: Option<String>,
    last_expire_ms: i64,
}

/// One customer's meter, events and invoices.
#[durable_object]
pub struct Customer {
    state: State,
    env: Env,
    cache: RefCell<Option<Loaded>>,
    outbox: Rc<RefCell<Outbox>>,
    alarm_at: Cell<Option<i64>>,
}

fn not_subscribed(customer: &str) -> ApiError {
    let mut e = ApiError::new(404, "unknown_customer", format!("no subscription for {customer:?}"));
    e.path = Some("customer".into());
    e
}

fn to_text(v: &impl serde::Serialize) -> std::result::Result<String, ApiError> {
    serde_json::to_string(v).map_err(|e| ApiError::unavailable("serializing", e))
}

fn receipt_text(r: &Receipt) -> String {
    serde_json::to_string(r).unwrap_or_else(|_| "null".into())
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
        let last = store::last_seq(&sql)?;
        let forwarded = store::meta(&sql, "forwarded")?
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let tenant = store::meta(&sql, "tenant")?;
        let customer = store::meta(&sql, "customer")?;
        let book = store::meta(&sql, "book")?;
        {
            let mut o = self.outbox.borrow_mut();
            o.reset(forwarded, last);
            if let (Some(t), Some(c)) = (&tenant, &customer) {
                o.names(t, c);
            }
        }
        *self.cache.borrow_mut() = Some(Loaded {
            meter,
            next_seq: last + 1,
            tenant,
            customer,
            book,
            last_expire_ms: 0,
        });
        // Events committed but not yet taken by the Queue when the object
        // last stopped: send them now.
        if forwarded < last {
            self.flush_later(true);
        }
        Ok(())
    }

    /// Forgets the cached state (after a failed commit), so the next
    /// request starts again from what is stored.
    fn forget(&self) {
        *self.cache.borrow_mut() = None;
    }

    /// Commits, or forgets the in-memory changes if the commit fails.
    /// Answers the committed events (for the outbox).
    fn commit(&self, mut c: Commit) -> std::result::Result<Vec<EventRow>, ApiError> {
        // The outbox's `forwarded` mark rides along with whatever else is
        // written (a commit of its own per Queue send would cost a second
        // SQLite transaction, and its fsync, per request).
        if !c.is_empty() {
            if let Some(seq) = self.outbox.borrow_mut().mark_to_store() {
                c.meta.push(("forwarded", seq.to_string()));
            }
        }
        if c.is_empty() {
            return Ok(Vec::new());
        }
        let c = Rc::new(c);
        let done = store::transaction(&self.state.storage(), self.sql(), c.clone());
        if let Err(e) = done {
            self.forget();
            return Err(ApiError::unavailable("committing to storage", e));
        }
        Ok(Rc::try_unwrap(c).map(|c| c.events).unwrap_or_default())
    }

    /// The commit of a changed meter: its JSON (its own dedup window stays
    /// empty: the keys are in SQLite), the invoices and records it issued, and the names
    /// and book hash when they changed.
    fn meter_commit(
        l: &mut Loaded,
        book: &PriceBook,
        names: Option<(&str, &str)>,
        c: &mut Commit,
    ) -> std::result::Result<(), ApiError> {
        if let Some(m) = l.meter.as_mut() {
            for inv in m.take_invoices() {
                c.invoices.push((inv.issued_at.clone(), to_text(&inv)?));
            }
            for r in m.take_records() {
                c.records.push(to_text(&r)?);
            }
            c.meta.push(("meter", to_text(m)?));
        }
        if l.book.as_deref() != Some(book.hash()) {
            l.book = Some(book.hash().to_string());
            c.meta.push(("book", book.hash().to_string()));
        }
        if let Some((tenant, customer)) = names {
            if l.tenant.as_deref() != Some(tenant) || l.customer.as_deref() != Some(customer) {
                l.tenant = Some(tenant.to_string());
                l.customer = Some(customer.to_string());
                c.meta.push(("tenant", tenant.to_string()));
                c.meta.push(("customer", customer.to_string()));
            }
        }
        Ok(())
    }

    /// Closes the periods that ended by `now` (issuing their invoices).
    /// `book` is the version the open period is priced with, `active` the
    /// tenant's active one: the meter moves to `active` at the first
    /// period start (docs/metering.md "Price book versions"). Answers
    /// whether it moved.
    fn catch_up(&self, book: &PriceBook, active: &PriceBook, now: Timestamp) -> std::result::Result<bool, ApiError> {
        self.load()?;
        let mut c = Commit::default();
        let moved = {
            let mut cache = self.cache.borrow_mut();
            let Some(l) = cache.as_mut() else { return Ok(false) };
            let Some(m) = l.meter.as_mut() else { return Ok(false) };
            if m.period.end > now || m.ended_at.is_some() {
                return Ok(false);
            }
            let moved = m.advance_across(book, active, now)?;
            Self::meter_commit(l, if moved { active } else { book }, None, &mut c)?;
            moved
        };
        self.commit(c)?;
        Ok(moved)
    }

    /// The version the open period is priced with: the one the meter was
    /// last committed with, or `active` for a customer without a meter.
    async fn period_book(&self, tenant: &str, active: &Rc<PriceBook>) -> std::result::Result<Rc<PriceBook>, ApiError> {
        self.load()?;
        let pinned = self
            .cache
            .borrow()
            .as_ref()
            .filter(|l| l.meter.is_some())
            .and_then(|l| l.book.clone())
            .filter(|h| h != active.hash());
        match pinned {
            Some(hash) => crate::books::by_hash(&self.env, tenant, &hash).await,
            None => Ok(active.clone()),
        }
    }

    /// Rates a batch of events at `now`; answers each receipt as JSON text.
    /// The engine decides every receipt and counts it; this loads the
    /// batch's dedup keys, lends them to the engine, and stores each event
    /// whose key the engine puts (docs/worker.md, "Deduplication").
    fn ingest(
        &self,
        book: &PriceBook,
        events: &[&RawValue],
        now: Timestamp,
        tenant: &str,
        customer: &str,
    ) -> std::result::Result<Vec<String>, ApiError> {
        self.load()?;
        let sql = self.sql();
        let now_ms = millis(now);
        let since = dedup_window_start(book, now).saturating_mul(1000);
        // The engine reads standard events straight from their text.
        let parsed: Vec<std::result::Result<UsageEvent, Box<Receipt>>> =
            events.iter().map(|raw| read_event(raw.get())).collect();
        let keys: Vec<(&str, &str)> = parsed
            .iter()
            .filter_map(|e| e.as_ref().ok().map(|e| (e.source.as_str(), e.id.as_str())))
            .collect();
        let mut keys = store::batch_keys(&sql, &keys, since)?;
        let mut cache = self.cache.borrow_mut();
        let Some(loaded) = cache.as_mut() else {
            return Err(ApiError::unavailable("loading the meter", "no state"));
        };
        let mut c = Commit::default();
        let mut results = Vec::with_capacity(events.len());
        let hash = book.hash();
        let received = fmt_timestamp(now);
        for (raw, p) in events.iter().zip(parsed) {
            let ev = match p {
                Ok(ev) => ev,
                Err(r) => {
                    results.push(receipt_text(&r));
                    continue;
                }
            };
            let Some(meter) = loaded.meter.as_mut() else {
                results.push(receipt_text(&no_subscription(&ev, customer)));
                continue;
            };
            let r = meter.record_with(book, &ev, now, &mut keys);
            if keys.take_put() {
                let seq = loaded.next_seq;
                loaded.next_seq += 1;
                c.events.push(EventRow {
                    seq,
                    time: ev.time.map(fmt_timestamp).unwrap_or_else(|| received.clone()),
                    source: ev.source.into(),
                    id: ev.id.into(),
                    kind: ev.product.into(),
                    received_at: now_ms,
                    status: r.status.as_str().to_string(),
                    amount: r.amount.as_deref().map(str::to_string),
                    currency: r.currency.as_deref().map(str::to_string),
                    price_key: r.price_key.as_deref().map(str::to_string),
                    price_book: hash.to_string(),
                    event: raw.get().to_string(),
                    fingerprint: store::fingerprint_text(ev.fingerprint),
                });
            }
            results.push(receipt_text(&r));
        }
        Self::meter_commit(loaded, book, Some((tenant, customer)), &mut c)?;
        if now_ms - loaded.last_expire_ms >= EXPIRE_EVERY_MS {
            loaded.last_expire_ms = now_ms;
            c.expire_before = Some(since);
        }
        drop(cache);
        let rows = self.commit(c)?;
        if !rows.is_empty() {
            self.outbox.borrow_mut().push(tenant, customer, rows);
            self.flush_later(false);
        }
        Ok(results)
    }

    /// Sends the outbox to the Queue in the background (one flush at a
    /// time); on failure the alarm retries. `store_mark`: write the
    /// `forwarded` mark after the send rather than with the next commit.
    fn flush_later(&self, store_mark: bool) {
        if !self.outbox.borrow_mut().start_flush() {
            return;
        }
        let outbox = self.outbox.clone();
        let sql = self.sql();
        let storage = self.state.storage();
        let env = self.env.clone();
        self.state.wait_until(async move {
            let sent = outbox::flush(&env, &sql, &outbox, store_mark).await;
            outbox.borrow_mut().end_flush();
            if let Err(e) = sent {
                console_error!("outbox: {e}; retrying in {} ms", outbox::RETRY_MS);
                if let Err(e) = storage.set_alarm(outbox::RETRY_MS).await {
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

    /// `at` for reads: a query parameter or now, never before the open
    /// period nor more than [`MAX_READ_AHEAD_DAYS`] after now.
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
        // A read rolls the meter forward to `at` period by period: keep
        // that bounded (an hourly plan read at year 9999 is 70 million
        // periods).
        if at > now + chrono::Duration::days(MAX_READ_AHEAD_DAYS) {
            let mut e = ApiError::new(
                422,
                "invalid_value",
                format!("at is more than {MAX_READ_AHEAD_DAYS} days after now"),
            );
            e.path = Some("at".into());
            return Err(e);
        }
        Ok(at)
    }

    async fn handle(&self, mut req: Request) -> std::result::Result<Response, ApiError> {
        let (active, tenant, customer) = self.book(&req).await?;
        // The runtime's clock, or the dev clock where allowed (crate::clock).
        let now = crate::clock::request_time(&self.env, &req)?;
        let path = req.path();
        let method = req.method();
        // A new version applies from the next period: the open period keeps
        // the version its receipts named.
        let mut book = self.period_book(&tenant, &active).await?;
        if self.catch_up(&book, &active, now)? {
            book = active;
        }
        let resp = match (method, path.as_str()) {
            (Method::Post, "/ingest") => {
                let body = req.text().await?;
                let Ok(events) = serde_json::from_str::<Vec<&RawValue>>(&body) else {
                    return Err(ApiError::new(
                        400,
                        "invalid_request",
                        "internal ingest body must be an array",
                    ));
                };
                let results = self.ingest(&book, &events, now, &tenant, &customer)?;
                json_text(200, format!("{{\"results\":[{}]}}", results.join(",")))?
            }
            (Method::Put, "/subscription") => {
                let body = req.text().await?;
                let v = rating::json::parse_json(&body).map_err(|p| ApiError::problem(400, p))?;
                let r = subscription::read(&v)?;
                self.load()?;
                let mut c = Commit::default();
                let (view, created) = {
                    let mut cache = self.cache.borrow_mut();
                    let Some(l) = cache.as_mut() else {
                        return Err(ApiError::unavailable("loading the meter", "no state"));
                    };
                    let created = subscription::apply(&book, &customer, &mut l.meter, &r, now)?;
                    let Some(m) = l.meter.as_mut() else {
                        return Err(ApiError::unavailable("applying the subscription", "no meter"));
                    };
                    let issued = m.take_invoices();
                    for inv in &issued {
                        c.invoices.push((inv.issued_at.clone(), to_text(inv)?));
                    }
                    let mut view = subscription::view(m, &book);
                    view["invoices"] = serde_json::to_value(&issued).unwrap_or(Value::Null);
                    Self::meter_commit(l, &book, Some((&tenant, &customer)), &mut c)?;
                    (view, created)
                };
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
                    Ok(serde_json::to_value(m.allowance_state(&book, at)?).unwrap_or(Value::Null))
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
            _ => return Err(ApiError::new(404, "not_found", "no such internal route")),
        };
        self.arm_period_alarm().await;
        Ok(resp)
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
            outbox: Rc::new(RefCell::new(Outbox::default())),
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
        if let Err(e) = self.load() {
            console_error!("alarm: cannot load: {}", e.detail);
            self.state.storage().set_alarm(outbox::RETRY_MS).await?;
            return Response::ok("retry");
        }
        let (hash, tenant) = {
            let cache = self.cache.borrow();
            let l = cache.as_ref();
            (l.and_then(|l| l.book.clone()), l.and_then(|l| l.tenant.clone()))
        };
        if let (Some(hash), Some(tenant)) = (hash, tenant) {
            let books = match crate::books::by_hash(&self.env, &tenant, &hash).await {
                Ok(book) => match crate::books::active(&self.env, &tenant).await {
                    Ok(active) => Ok((book, active.book)),
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            };
            match books {
                Ok((book, active)) => {
                    if let Err(e) = self.catch_up(&book, &active, now()) {
                        console_error!("alarm: closing periods failed: {}", e.detail);
                    }
                }
                Err(e) => console_error!("alarm: no price book: {}", e.detail),
            }
        }
        if self.outbox.borrow_mut().start_flush() {
            let sent = outbox::flush(&self.env, &self.sql(), &self.outbox, true).await;
            self.outbox.borrow_mut().end_flush();
            if let Err(e) = sent {
                console_error!("alarm: {e}; retrying");
                self.state.storage().set_alarm(outbox::RETRY_MS).await?;
                return Response::ok("retry");
            }
        }
        self.arm_period_alarm().await;
        Response::ok("ok")
    }
}
