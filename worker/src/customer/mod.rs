//! The `Customer` Durable Object: one per (tenant, customer). It owns the
//! customer's meter and is the only writer of its state, so events are
//! rated one request at a time, in arrival order.
//!
//! An ingest request is handled synchronously from the dedup look-up to
//! the commit (no `await` in between), and the commit (events, their dedup
//! keys, invoices and the meter) is one `transactionSync`. The runtime's
//! output gate holds the answer until that write is durable, so a receipt
//! is only ever sent for a stored event. Accepted and dropped events then
//! wait in the outbox until the event log has them ([`outbox`]); the
//! object's alarm sends again what the log has not confirmed.

pub mod keys;
pub mod outbox;
pub mod store;
pub mod subscription;

use crate::http::{json, json_text, millis, now, query_time};
use crate::problem::ApiError;
use outbox::Outbox;
use rating::event::UsageEvent;
use rating::meter::{dedup_window_start, no_subscription, read_event, read_event_within, Estimate, Meter, Receipt};
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

/// Internal request headers from the front Worker.
pub const H_TENANT: &str = "x-rating-tenant";
/// The customer id.
pub const H_CUSTOMER: &str = "x-rating-customer";
/// Hash of the price book to use.
pub const H_BOOK: &str = "x-rating-book";
/// When the version [`H_BOOK`] names became active (RFC 3339): the
/// period boundaries before it stay on the version they had.
pub const H_BOOK_FROM: &str = "x-rating-book-from";

/// What the object keeps in memory between requests.
#[derive(Default)]
struct Loaded {
    meter: Option<Meter>,
    next_seq: i64,
    /// The `meta` values as stored, to write only what changes.
    tenant: Option<String>,
    customer: Option<String>,
    book: Option<String>,
    /// The dedup key tables.
    keys: keys::Tables,
    /// Accepted and dropped events stored, and rows written, since this
    /// instance loaded (`GET /v1/stats`).
    events_stored: i64,
    rows_written: i64,
}

/// The last sequence number and outbox message number used (`meta`
/// `next`).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Next {
    seq: i64,
    n: i64,
}

/// One customer's meter, events and invoices.
#[durable_object]
pub struct Customer {
    state: State,
    env: Env,
    cache: RefCell<Option<Loaded>>,
    outbox: Rc<RefCell<Outbox>>,
    /// When the alarm is set for, as far as this instance knows.
    alarm_at: Rc<Cell<Option<i64>>>,
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
        if store::needs_upgrade(&sql)? {
            let c = Commit {
                upgrade: true,
                ..Commit::default()
            };
            store::transaction(&self.state.storage(), sql.clone(), Rc::new(c))
                .map_err(|e| ApiError::unavailable("upgrading the stored tables", e))?;
        }
        let next: Next = store::meta(&sql, "next")?
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        let tenant = store::meta(&sql, "tenant")?;
        let customer = store::meta(&sql, "customer")?;
        let book = store::meta(&sql, "book")?;
        let pending = store::outbox_index(&sql)?;
        let any_pending = !pending.is_empty();
        self.outbox.borrow_mut().reset(pending, next.n);
        *self.cache.borrow_mut() = Some(Loaded {
            meter,
            next_seq: next.seq + 1,
            tenant,
            customer,
            book,
            keys: store::key_tables(&sql)?,
            events_stored: 0,
            rows_written: 0,
        });
        // Messages the log had not confirmed when the object last stopped
        // (sent or not, nothing here knows): send them now.
        if any_pending {
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
    /// New events, invoices and records go into the commit as outbox messages
    /// (numbered after the last; the numbers are stored with it), which
    /// are sent once it is durable.
    fn commit(&self, mut c: Commit) -> std::result::Result<(), ApiError> {
        if c.is_empty() {
            return Ok(());
        }
        let names = self
            .cache
            .borrow()
            .as_ref()
            .and_then(|l| Some((l.tenant.clone()?, l.customer.clone()?, l.next_seq)));
        let any = !c.events.is_empty() || !c.invoices.is_empty() || !c.records.is_empty();
        if let Some((tenant, customer, next_seq)) = names.filter(|_| any) {
            let mut o = self.outbox.borrow_mut();
            c.outbox = o.messages(&tenant, &customer, &c.events);
            if !c.invoices.is_empty() || !c.records.is_empty() {
                let invoices: Vec<&str> = c.invoices.iter().map(|(_, text)| text.as_str()).collect();
                let records: Vec<&str> = c.records.iter().map(String::as_str).collect();
                c.outbox
                    .push(o.documents_message(&tenant, &customer, &invoices, &records, next_seq));
            }
            let next = Next {
                seq: next_seq - 1,
                n: o.last_n(),
            };
            c.meta.push(("next", to_text(&next)?));
        }
        let events = c.events.len() as i64;
        let c = Rc::new(c);
        let written = match store::transaction(&self.state.storage(), self.sql(), c.clone()) {
            Ok(n) => n,
            Err(e) => {
                self.forget();
                return Err(ApiError::unavailable("committing to storage", e));
            }
        };
        if let Some(l) = self.cache.borrow_mut().as_mut() {
            l.events_stored += events;
            l.rows_written += written;
            l.keys.apply(&c.create, &c.drop);
        }
        let messages = Rc::try_unwrap(c).map(|c| c.outbox).unwrap_or_default();
        if !messages.is_empty() {
            self.outbox.borrow_mut().push(messages);
            self.flush_later();
        }
        Ok(())
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
    fn catch_up(
        &self,
        book: &PriceBook,
        active: &PriceBook,
        active_from: Timestamp,
        now: Timestamp,
    ) -> std::result::Result<bool, ApiError> {
        self.load()?;
        let mut c = Commit::default();
        let moved = {
            let mut cache = self.cache.borrow_mut();
            let Some(l) = cache.as_mut() else { return Ok(false) };
            let Some(m) = l.meter.as_mut() else { return Ok(false) };
            if m.period.end > now || m.ended_at.is_some() {
                return Ok(false);
            }
            let moved = m.advance_across(book, active, active_from, now)?;
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

    /// What one event (CloudEvents JSON) would do now: the engine rates it
    /// against a copy of the meter, with the event's stored dedup key
    /// (docs/worker.md "Estimates"). Nothing is written.
    fn estimate(
        &self,
        book: &PriceBook,
        body: &str,
        now: Timestamp,
        customer: &str,
    ) -> std::result::Result<String, ApiError> {
        self.load()?;
        let ev = match read_event_within(body, crate::ingest::MAX_EVENT_BYTES) {
            Ok(ev) => ev,
            Err(r) => return to_text(&Estimate::refused(*r)),
        };
        let since = dedup_window_start(book, now).saturating_mul(1000);
        let tables = self.cache.borrow().as_ref().map(|l| l.keys.clone()).unwrap_or_default();
        let keys = store::batch_keys(&self.sql(), &tables, &[(ev.source.as_str(), ev.id.as_str())], since)?;
        let cache = self.cache.borrow();
        let Some(meter) = cache.as_ref().and_then(|l| l.meter.as_ref()) else {
            return to_text(&Estimate::refused(no_subscription(&ev, customer)));
        };
        to_text(&meter.estimate_with(book, &ev, now, &keys)?)
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
        let tables = self.cache.borrow().as_ref().map(|l| l.keys.clone()).unwrap_or_default();
        let mut keys = store::batch_keys(&sql, &tables, &keys, since)?;
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
        // Keys go to the tables of their arrival slices; tables whose keys
        // all left the window go.
        c.key_width = keys::width(now_ms.saturating_sub(since));
        c.create = store::tables_of(&c.events, c.key_width)
            .into_iter()
            .filter(|t| !loaded.keys.has(t))
            .collect();
        c.drop = loaded.keys.expired(since);
        drop(cache);
        self.commit(c)?;
        Ok(results)
    }

    /// Sends the outbox's due messages to the Queue in the background
    /// (one flush at a time), then keeps the alarm no later than the
    /// first resend; on failure the alarm retries.
    fn flush_later(&self) {
        if !self.outbox.borrow_mut().start_flush() {
            return;
        }
        let outbox = self.outbox.clone();
        let sql = self.sql();
        let storage = self.state.storage();
        let env = self.env.clone();
        let alarm_at = self.alarm_at.clone();
        self.state.wait_until(async move {
            let now_ms = worker::Date::now().as_millis() as i64;
            let sent = outbox::flush(&env, &sql, &outbox, now_ms).await;
            outbox.borrow_mut().end_flush();
            let due = match sent {
                Ok(()) => outbox.borrow().next_due(),
                Err(e) => {
                    console_error!("outbox: {e}; retrying in {} ms", outbox::RETRY_MS);
                    Some(now_ms + outbox::RETRY_MS)
                }
            };
            if let Some(due) = due {
                if alarm_at.get().is_none_or(|t| t > due) {
                    alarm_at.set(Some(due));
                    if let Err(e) = storage.set_alarm(due - now_ms).await {
                        console_error!("outbox: cannot set the alarm: {e}");
                    }
                }
            }
        });
    }

    /// `POST /logged`: the Queue consumer reports outbox messages that the
    /// log and the rollups have; they leave the object.
    fn logged(&self, body: &str) -> std::result::Result<Response, ApiError> {
        let ns: Vec<i64> = serde_json::from_str(body)
            .map_err(|_| ApiError::new(400, "invalid_request", "logged: an array of message numbers"))?;
        self.load()?;
        let written = store::outbox_delete(&self.sql(), &ns)?;
        self.outbox.borrow_mut().confirmed(&ns);
        if let Some(l) = self.cache.borrow_mut().as_mut() {
            l.rows_written += written;
        }
        Ok(json(200, &json!({ "deleted": written }))?)
    }

    /// `GET /storage`: what the object holds and has written
    /// (`GET /v1/stats`).
    fn storage_stats(&self) -> std::result::Result<Response, ApiError> {
        self.load()?;
        let tables = self.cache.borrow().as_ref().map(|l| l.keys.clone()).unwrap_or_default();
        let (messages, events, seen) = store::sizes(&self.sql(), &tables)?;
        let cache = self.cache.borrow();
        let (stored, written) = cache.as_ref().map_or((0, 0), |l| (l.events_stored, l.rows_written));
        Ok(json(
            200,
            &json!({
                "outbox_messages": messages,
                "outbox_events": events,
                "dedup_keys": seen,
                "events_stored": stored,
                "rows_written": written,
            }),
        )?)
    }

    /// Keeps the alarm no later than the end of the open period (so that
    /// periods close, and invoices are issued, without waiting for the
    /// next request) and the outbox's first resend. An alarm that fires
    /// early finds nothing due and sets the next one.
    async fn arm_period_alarm(&self) {
        let end = self
            .cache
            .borrow()
            .as_ref()
            .and_then(|l| l.meter.as_ref())
            .filter(|m| m.ended_at.is_none())
            .map(|m| millis(m.period.end));
        let due = self.outbox.borrow().next_due();
        let want = match (end, due) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => match a.or(b) {
                Some(t) => t,
                None => return,
            },
        };
        if self.alarm_at.get().is_none_or(|t| want < t) {
            self.alarm_at.set(Some(want));
            if let Err(e) = self
                .state
                .storage()
                .set_alarm(want - worker::Date::now().as_millis() as i64)
                .await
            {
                console_error!("cannot set the alarm: {e}");
            }
        }
    }

    async fn book(&self, req: &Request) -> std::result::Result<(Rc<PriceBook>, Timestamp, String, String), ApiError> {
        let h = |n: &str| req.headers().get(n).ok().flatten().unwrap_or_default();
        let (tenant, customer, hash) = (h(H_TENANT), h(H_CUSTOMER), h(H_BOOK));
        // Without the header (a caller that predates it): active all along.
        let from = rating::period::parse_timestamp(&h(H_BOOK_FROM)).unwrap_or_default();
        if tenant.is_empty() || customer.is_empty() || hash.is_empty() {
            return Err(ApiError::new(
                400,
                "invalid_request",
                "internal call without tenant, customer or book",
            ));
        }
        let book = crate::books::by_hash(&self.env, &tenant, &hash).await?;
        Ok((book, from, tenant, customer))
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
        // The consumer's report and the counters need no price book.
        match (req.method(), req.path().as_str()) {
            (Method::Post, "/logged") => return self.logged(&req.text().await?),
            (Method::Get, "/storage") => return self.storage_stats(),
            _ => {}
        }
        let (active, active_from, tenant, customer) = self.book(&req).await?;
        // The runtime's clock, or the dev clock where allowed (crate::clock).
        let now = crate::clock::request_time(&self.env, &req)?;
        let path = req.path();
        let method = req.method();
        // A new version applies from the next period: the open period keeps
        // the version its receipts named.
        let mut book = self.period_book(&tenant, &active).await?;
        if self.catch_up(&book, &active, active_from, now)? {
            book = active.clone();
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
                    let (created, moved) = subscription::apply(&book, &active, &customer, &mut l.meter, &r, now)?;
                    // After a move the open period is priced with the active version.
                    let book = if moved { &active } else { &book };
                    let Some(m) = l.meter.as_mut() else {
                        return Err(ApiError::unavailable("applying the subscription", "no meter"));
                    };
                    let issued = m.take_invoices();
                    for inv in &issued {
                        c.invoices.push((inv.issued_at.clone(), to_text(inv)?));
                    }
                    let mut view = subscription::view(m, book);
                    view["invoices"] = serde_json::to_value(&issued).unwrap_or(Value::Null);
                    Self::meter_commit(l, book, Some((&tenant, &customer)), &mut c)?;
                    (view, created)
                };
                self.commit(c)?;
                json(if created { 201 } else { 200 }, &view)?
            }
            (Method::Post, "/estimate") => {
                let body = req.text().await?;
                json_text(200, self.estimate(&book, &body, now, &customer)?)?
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
            alarm_at: Rc::new(Cell::new(None)),
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
                    Ok(active) => Ok((book, active)),
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            };
            match books {
                Ok((book, active)) => {
                    if let Err(e) = self.catch_up(&book, &active.book, active.effective_from, now()) {
                        console_error!("alarm: closing periods failed: {}", e.detail);
                    }
                }
                Err(e) => console_error!("alarm: no price book: {}", e.detail),
            }
        }
        if self.outbox.borrow_mut().start_flush() {
            let now_ms = worker::Date::now().as_millis() as i64;
            let sent = outbox::flush(&self.env, &self.sql(), &self.outbox, now_ms).await;
            self.outbox.borrow_mut().end_flush();
            if let Err(e) = sent {
                console_error!("alarm: {e}; retrying");
                self.alarm_at.set(Some(now_ms + outbox::RETRY_MS));
                self.state.storage().set_alarm(outbox::RETRY_MS).await?;
                return Response::ok("retry");
            }
        }
        self.arm_period_alarm().await;
        Response::ok("ok")
    }
}
