//! Replaying exported usage (docs/contract.md §9 `rating replay`): subscriptions with
//! their changes, and a stream of CloudEvents fed in order to one meter per
//! customer. Pure: the caller streams events in and asks for the result.
//! Memory grows with customers (and their dedup windows), not with the
//! number of events replayed.

use crate::error::{codes, Error, Problem};
use crate::event::{ids_of, parse_event};
use crate::json::{index, join, Reader};
use crate::meter::{Counts, Invoice, Meter, Receipt, Record, Status};
use crate::money::fmt_money;
use crate::period::Timestamp;
use crate::subscription::{self, Document, Need, Request};
use indexmap::IndexMap;
use rust_decimal::Decimal;
use serde_json::Value;
use std::collections::VecDeque;

/// A change to a subscription at a point in time: a subscription request
/// (docs/subscriptions.md) with its `at`.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// When.
    pub at: Timestamp,
    /// Position in the subscription's `changes` (for error paths).
    pub index: usize,
    /// What changes.
    pub request: Request,
}

/// An event's usage time and the time replay receives it, given `--at`:
/// a line of the event log is received when the Worker received it
/// (docs/event-log.md); any other event when its usage time says. Neither
/// is after `at`.
fn times(ev: &crate::event::UsageEvent, at: Timestamp) -> (Timestamp, Timestamp) {
    let t = ev.time.or(ev.received).unwrap_or(at);
    (t, ev.received.unwrap_or(t).min(at))
}

/// A subscription to replay, with its changes in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionSpec {
    /// The subscription document (its first request).
    pub subscription: Document,
    /// Changes, sorted by time.
    pub changes: Vec<Change>,
}

/// Reads `SUBS.json`: a list of subscription documents (`{"customer",
/// "plan", "start", ...}`, docs/subscriptions.md), each with its
/// `changes`: requests with their `at`.
pub fn read_subscriptions(v: &Value) -> Result<Vec<SubscriptionSpec>, Error> {
    let mut r = Reader::default();
    let mut out = Vec::new();
    if let Some(arr) = r.array(v, "") {
        for (i, e) in arr.iter().enumerate() {
            let p = index("", i);
            let Some(mut o) = r.object(e, &p) else { continue };
            let subscription = Document::read_fields(&mut r, &mut o);
            let mut changes = Vec::new();
            if let Some(cv) = o.opt("changes") {
                let cp = join(&p, "changes");
                if let Some(ca) = r.array(cv, &cp) {
                    for (j, c) in ca.iter().enumerate() {
                        let Some(mut co) = r.object(c, &index(&cp, j)) else {
                            continue;
                        };
                        let at = co.req(&mut r, "at").and_then(|v| r.timestamp(v, &co.path("at")));
                        let request = Request::read_fields(&mut r, &mut co, Need::Request);
                        co.finish(&mut r);
                        if let Some(at) = at {
                            changes.push(Change { at, index: j, request });
                        }
                    }
                }
            }
            o.finish(&mut r);
            changes.sort_by_key(|c| c.at);
            if let Some(subscription) = subscription {
                out.push(SubscriptionSpec { subscription, changes });
            }
        }
    }
    if r.failed() {
        return Err(Error::many(codes::INVALID_REQUEST, "the subscriptions", r.problems));
    }
    Ok(out)
}

struct Run {
    /// Position in the subscriptions file (customers print in that order).
    order: usize,
    meter: Meter,
    changes: VecDeque<Change>,
    invoices: Vec<Stored>,
    records: StoredRecords,
    errors: Vec<Problem>,
    preview: Option<Stored>,
}

impl Run {
    fn collect(&mut self) {
        // The records of these invoices name them by position.
        let mut next = self.invoices.len();
        for inv in self.meter.take_invoices() {
            self.invoices.push(Stored::of(&inv));
        }
        for r in self.meter.take_records() {
            if let Record::InvoiceIssued { .. } = r {
                self.records.push_invoice(&r, next);
                next += 1;
            } else {
                self.records.push(&r);
            }
        }
    }

    /// Applies the changes due by `t`, each all or nothing; a change that
    /// fails is listed in the customer's `errors` at `changes[j].<path>`.
    fn apply_changes_until(&mut self, book: &crate::PriceBook, t: Timestamp) {
        while self.changes.front().is_some_and(|c| c.at <= t) {
            let Some(c) = self.changes.pop_front() else { break };
            if let Err(e) = subscription::change(book, &mut self.meter, &c.request, c.at) {
                let base = index("changes", c.index);
                let path = match &e.path {
                    Some(p) => join_path(&base, p),
                    None => base,
                };
                let message = format!("at {}: {}", crate::period::fmt_timestamp(c.at), e.message);
                self.errors.push(Problem::at(e.code, path, message));
            }
            self.collect();
        }
    }
}

/// `base` followed by a path relative to it (`quantities.seats`, `addons[0]`).
fn join_path(base: &str, rel: &str) -> String {
    if rel.starts_with('[') {
        format!("{base}{rel}")
    } else {
        format!("{base}.{rel}")
    }
}

/// A replay in progress.
///
/// Customers' meters are independent, so a replay can be [split](Replay::split)
/// into shards over disjoint customers, each fed its customers' events (in
/// file order) on its own thread and [settled](Replay::settle) there, then
/// [joined](Replay::join) back: the result is the same as one replay's.
pub struct Replay<'b> {
    book: &'b crate::PriceBook,
    runs: IndexMap<String, Box<Run>, rustc_hash::FxBuildHasher>,
    counts: Counts,
    /// The time this replay was settled at, or its first error (the
    /// subscription's position and the error).
    settled: Option<(Timestamp, Settled)>,
}

/// How settling went: the first failure's subscription position and error.
type Settled = Result<(), (usize, Error)>;

impl<'b> Replay<'b> {
    /// Subscribes every customer.
    pub fn new(book: &'b crate::PriceBook, subs: &[SubscriptionSpec]) -> Result<Replay<'b>, Error> {
        let mut runs = IndexMap::default();
        for (i, s) in subs.iter().enumerate() {
            let meter = s.subscription.subscribe(book).map_err(|e| {
                let at = index("", i);
                let path = e.path.as_deref().map_or_else(|| at.clone(), |p| join_path(&at, p));
                Error::one(Problem::at(e.code, path, e.message))
            })?;
            if runs.contains_key(&s.subscription.customer) {
                return Err(Error::one(Problem::at(
                    codes::DUPLICATE_ID,
                    format!("[{i}].customer"),
                    "customer listed twice",
                )));
            }
            let mut run = Run {
                order: i,
                meter,
                changes: s.changes.clone().into(),
                invoices: Vec::new(),
                records: StoredRecords::default(),
                errors: Vec::new(),
                preview: None,
            };
            run.collect();
            runs.insert(s.subscription.customer.clone(), Box::new(run));
        }
        Ok(Replay {
            book,
            runs,
            counts: Counts::default(),
            settled: None,
        })
    }

    /// Which of `n` shards the events of `customer` go to (as
    /// [`Replay::split`] deals the customers).
    pub fn shard_of(customer: &str, n: usize) -> usize {
        if n <= 1 {
            return 0;
        }
        // `n` is a thread count: the remainder fits in usize.
        (crate::event::fnv1a(customer.as_bytes()) % n as u64) as usize
    }

    /// Deals the customers over `n` replays (customer `c` to shard
    /// [`Replay::shard_of`]`(c, n)`), to be fed on `n` threads.
    pub fn split(self, n: usize) -> Vec<Replay<'b>> {
        let n = n.max(1);
        let mut shards: Vec<Replay<'b>> = (0..n)
            .map(|_| Replay {
                book: self.book,
                runs: IndexMap::default(),
                counts: Counts::default(),
                settled: None,
            })
            .collect();
        if let Some(first) = shards.first_mut() {
            first.counts = self.counts;
        }
        for (customer, run) in self.runs {
            let k = Replay::shard_of(&customer, n);
            if let Some(shard) = shards.get_mut(k) {
                shard.runs.insert(customer, run);
            }
        }
        shards
    }

    /// Joins shards made by [`Replay::split`] (and possibly settled) back
    /// into one replay, customers in their original order.
    pub fn join(shards: Vec<Replay<'b>>) -> Option<Replay<'b>> {
        let mut shards = shards.into_iter();
        let mut out = shards.next()?;
        let mut runs: Vec<(String, Box<Run>)> = std::mem::take(&mut out.runs).into_iter().collect();
        for s in shards {
            out.counts.accepted += s.counts.accepted;
            out.counts.duplicate += s.counts.duplicate;
            out.counts.rejected += s.counts.rejected;
            out.counts.dropped += s.counts.dropped;
            out.settled = match (out.settled, s.settled) {
                (Some((a, ra)), Some((b, rb))) if a == b => Some((
                    a,
                    match (ra, rb) {
                        (Err(x), Err(y)) => Err(if y.0 < x.0 { y } else { x }),
                        (Err(x), Ok(())) | (Ok(()), Err(x)) => Err(x),
                        (Ok(()), Ok(())) => Ok(()),
                    },
                )),
                _ => None,
            };
            runs.extend(s.runs);
        }
        runs.sort_unstable_by_key(|(_, r)| r.order);
        out.runs = runs.into_iter().collect();
        Some(out)
    }

    /// Feeds one event (a parsed JSON value) received at `at` (its own time
    /// when it has one).
    pub fn feed(&mut self, event: &Value, at: Timestamp) -> Receipt {
        let receipt = self.feed_inner(event, at);
        self.count(&receipt);
        receipt
    }

    /// Feeds one event given as JSON text (one NDJSON line).
    pub fn feed_text(&mut self, text: &str, at: Timestamp) -> Receipt {
        let receipt = match crate::event::parse_event_text(text) {
            Ok(ev) => self.rate(ev, at),
            Err(p) => {
                let (id, source) = crate::event::ids_of_text(text);
                Receipt::rejected(&id, &source, p)
            }
        };
        self.count(&receipt);
        receipt
    }

    fn count(&mut self, receipt: &Receipt) {
        self.count_status(receipt.status);
    }

    fn count_status(&mut self, status: Status) {
        match status {
            Status::Accepted => self.counts.accepted += 1,
            Status::Duplicate => self.counts.duplicate += 1,
            Status::Rejected => self.counts.rejected += 1,
            Status::Dropped => self.counts.dropped += 1,
        }
    }

    fn feed_inner(&mut self, event: &Value, at: Timestamp) -> Receipt {
        let ev = match parse_event(event) {
            Ok(e) => e,
            Err(p) => {
                let (id, source) = ids_of(event);
                return Receipt::rejected(&id, &source, p);
            }
        };
        self.rate(ev, at)
    }

    fn rate(&mut self, ev: crate::event::UsageEvent, at: Timestamp) -> Receipt {
        let Some(run) = self.runs.get_mut(&*ev.customer) else {
            return crate::meter::no_subscription(&ev, &ev.customer);
        };
        let (t, received) = times(&ev, at);
        run.apply_changes_until(self.book, t);
        let r = run.meter.record(self.book, &ev, received);
        run.collect();
        r
    }

    /// Feeds one event given as JSON text and returns only its status (no
    /// receipt is built): the fast path when receipts are not kept.
    pub fn feed_text_status(&mut self, text: &str, at: Timestamp) -> Status {
        self.feed_parsed_status(&crate::event::parse_event_text(text), at)
    }

    /// Feeds an event already read with [`crate::event::parse_event_text`]
    /// (so reading can run on another thread) and returns only its status.
    pub fn feed_parsed_status(&mut self, parsed: &Result<crate::event::UsageEvent, Problem>, at: Timestamp) -> Status {
        let status = match parsed {
            Ok(ev) => match self.runs.get_mut(&*ev.customer) {
                None => Status::Rejected,
                Some(run) => {
                    let (t, received) = times(ev, at);
                    run.apply_changes_until(self.book, t);
                    let s = run.meter.record_status(self.book, ev, received);
                    run.collect();
                    s
                }
            },
            Err(_) => Status::Rejected,
        };
        self.count_status(status);
        status
    }

    /// Applies the remaining changes up to `at`, closes every period that
    /// ended by then, and returns the document of docs/contract.md §9.
    pub fn finish(self, at: Timestamp) -> Result<Value, Error> {
        let done = self.close(at)?;
        serde_json::to_value(&done).map_err(|e| Error::one(Problem::general(codes::ARITHMETIC_OVERFLOW, e.to_string())))
    }

    /// Like [`Replay::finish`], but writes the document to `out` as it is
    /// produced (pretty-printed with two spaces when `pretty`), so that a
    /// replay of many customers never holds the whole output in memory.
    pub fn finish_to(self, at: Timestamp, out: &mut dyn std::io::Write, pretty: bool) -> Result<(), Error> {
        let done = self.close(at)?;
        let io = |e: serde_json::Error| {
            Error::one(Problem::general(
                codes::IO_ERROR,
                format!("cannot write the result: {e}"),
            ))
        };
        if pretty {
            let mut chunk = Vec::new();
            done.render_customers(0..done.customer_count(), &mut chunk);
            done.write_pretty(&mut *out, std::iter::once(chunk)).map_err(|e| {
                Error::one(Problem::general(
                    codes::IO_ERROR,
                    format!("cannot write the result: {e}"),
                ))
            })?;
        } else {
            serde_json::to_writer(&mut *out, &done).map_err(io)?;
        }
        Ok(())
    }

    /// Applies the remaining changes up to `at`, closes every period that
    /// ended by then and previews the open ones: the per-customer part of
    /// [`Replay::close`], which shards can do on their own threads.
    pub fn settle(&mut self, at: Timestamp) {
        if matches!(self.settled, Some((t, _)) if t == at) {
            return;
        }
        let book = self.book;
        let mut result = Ok(());
        for run in self.runs.values_mut() {
            run.apply_changes_until(book, at);
            let settled = run.meter.advance_to(book, at).and_then(|()| {
                run.collect();
                run.records.retain_until(at, &run.invoices);
                run.invoices.retain(|i| i.issued_at <= at);
                run.preview = None;
                if run.meter.ended_at.is_none() {
                    run.preview = Some(Stored::of(&run.meter.preview_invoice(book, at)?));
                }
                Ok(())
            });
            if let Err(e) = settled {
                result = Err((run.order, e));
                break;
            }
        }
        self.settled = Some((at, result));
    }

    /// Closes every customer's periods up to `at` and computes the totals.
    pub fn close(mut self, at: Timestamp) -> Result<Finished<'b>, Error> {
        self.settle(at);
        if let Some((_, Err((_, e)))) = self.settled.take() {
            return Err(e);
        }
        let book = self.book;
        let scale = book.scale_of(&book.doc().currency).unwrap_or(2);
        let (mut invoiced, mut open) = (Decimal::ZERO, Decimal::ZERO);
        for run in self.runs.values() {
            for i in &run.invoices {
                invoiced = crate::money::checked_add(invoiced, i.total).unwrap_or(invoiced);
            }
            if let Some(p) = &run.preview {
                open = crate::money::checked_add(open, p.total).unwrap_or(open);
            }
        }
        let totals = Totals {
            currency: book.doc().currency.clone(),
            invoiced: fmt_money(invoiced, scale),
            open: fmt_money(open, scale),
            total: fmt_money(crate::money::checked_add(invoiced, open).unwrap_or(invoiced), scale),
        };
        Ok(Finished {
            customers: Customers(self.runs),
            totals,
            receipts: self.counts,
            price_book: book.hash().to_string(),
            _book: std::marker::PhantomData,
        })
    }
}

/// The totals of a replay.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Totals {
    /// Currency.
    pub currency: String,
    /// Sum of the invoices issued.
    pub invoiced: String,
    /// Sum of the open periods' previews.
    pub open: String,
    /// `invoiced` + `open`.
    pub total: String,
}

/// A finished replay, serialized as the document of docs/contract.md §9.
#[derive(serde::Serialize)]
pub struct Finished<'b> {
    customers: Customers,
    /// Totals.
    pub totals: Totals,
    /// Receipt counts.
    pub receipts: Counts,
    /// Price book hash.
    pub price_book: String,
    #[serde(skip)]
    _book: std::marker::PhantomData<&'b ()>,
}

struct Customers(IndexMap<String, Box<Run>, rustc_hash::FxBuildHasher>);

impl Customers {
    fn out(&self, i: usize) -> Option<CustomerOut<'_>> {
        self.0.get_index(i).map(|(customer, run)| CustomerOut {
            customer,
            invoices: &run.invoices,
            open_period: run.preview.as_ref(),
            records: RecordsOut {
                records: &run.records,
                invoices: &run.invoices,
            },
            errors: &run.errors,
        })
    }
}

impl Finished<'_> {
    /// Number of customers in the document.
    pub fn customer_count(&self) -> usize {
        self.customers.0.len()
    }

    /// Appends the customers `range` of the pretty document to `out`, each
    /// with the separator and indentation that precede it there. Ranges can
    /// be rendered on several threads and written with
    /// [`Finished::write_pretty`].
    pub fn render_customers(&self, range: std::ops::Range<usize>, out: &mut Vec<u8>) {
        use serde::Serialize;
        for i in range {
            let Some(c) = self.customers.out(i) else { break };
            out.extend_from_slice(if i == 0 { b"\n    " } else { b",\n    " });
            let mut ser = serde_json::Serializer::with_formatter(&mut *out, crate::pretty::RawPretty::at_depth(2));
            // Writing to a Vec cannot fail, nor can these values.
            let _ = c.serialize(&mut ser);
        }
    }

    /// Writes the document pretty-printed (serde_json's layout, two
    /// spaces), the customers taken from `chunks`: renderings of
    /// consecutive ranges by [`Finished::render_customers`], in order,
    /// covering every customer.
    pub fn write_pretty(
        &self,
        out: &mut dyn std::io::Write,
        chunks: impl IntoIterator<Item = Vec<u8>>,
    ) -> std::io::Result<()> {
        out.write_all(b"{\n  \"customers\": [")?;
        for c in chunks {
            out.write_all(&c)?;
        }
        out.write_all(if self.customer_count() == 0 { b"]" } else { b"\n  ]" })?;
        let rest = [
            ("totals", serde_json::to_vec(&self.totals)),
            ("receipts", serde_json::to_vec(&self.receipts)),
            ("price_book", serde_json::to_vec(&self.price_book)),
        ];
        let mut buf = Vec::new();
        for (key, value) in rest {
            buf.clear();
            buf.extend_from_slice(b",\n  \"");
            buf.extend_from_slice(key.as_bytes());
            buf.extend_from_slice(b"\": ");
            crate::pretty::reindent(&value.map_err(std::io::Error::other)?, 1, &mut buf);
            out.write_all(&buf)?;
        }
        out.write_all(b"\n}")
    }
}

/// An issued invoice kept as compact JSON until it is printed: a replay of
/// many customers holds every invoice, and text is a quarter of the size
/// of the structure.
struct Stored {
    issued_at: Timestamp,
    total: Decimal,
    /// `None` only if the invoice could not be serialized (it always can).
    json: Option<Box<serde_json::value::RawValue>>,
}

impl Stored {
    fn of(inv: &Invoice) -> Stored {
        Stored {
            issued_at: crate::period::parse_timestamp(&inv.issued_at).unwrap_or_default(),
            total: inv.total_value,
            json: serde_json::value::to_raw_value(inv).ok(),
        }
    }
}

/// A customer's records, kept compact until they are printed (as
/// [`Stored`] keeps invoices): their JSON one after another in one buffer,
/// except `invoice.issued`, which names its invoice and is written from
/// it when printed (those are most of a replay's records, and the invoice
/// already holds what they say).
#[derive(Default)]
struct StoredRecords {
    json: Vec<u8>,
    /// Each record's time and what it is.
    items: Vec<(Timestamp, Item)>,
}

#[derive(Clone, Copy)]
enum Item {
    /// JSON in `json`, up to this end (from the previous `Text`'s end).
    Text(u32),
    /// `invoice.issued` for the customer's invoice at this position.
    Invoice(u32),
}

impl StoredRecords {
    fn push(&mut self, r: &Record) {
        let at = crate::period::parse_timestamp(&r.head().at).unwrap_or_default();
        // Never `Err`: a record always serializes, and a customer's
        // records stay far below 4 GB.
        let Ok(text) = serde_json::to_vec(r) else { return };
        let Ok(end) = u32::try_from(self.json.len() + text.len()) else {
            return;
        };
        // Exactly the room needed: a customer gains a record or two a
        // period, and doubling would waste a third of what a replay holds.
        self.json.reserve_exact(text.len());
        self.json.extend_from_slice(&text);
        self.items.reserve_exact(1);
        self.items.push((at, Item::Text(end)));
    }

    fn push_invoice(&mut self, r: &Record, index: usize) {
        let at = crate::period::parse_timestamp(&r.head().at).unwrap_or_default();
        let Ok(index) = u32::try_from(index) else { return };
        self.items.reserve_exact(1);
        self.items.push((at, Item::Invoice(index)));
    }

    /// The records' times with their texts (`Ok`) or invoice positions (`Err`).
    fn iter(&self) -> impl Iterator<Item = (Timestamp, Result<&[u8], usize>)> {
        let mut start = 0usize;
        self.items.iter().map(move |&(at, item)| match item {
            Item::Text(end) => {
                let text = self.json.get(start..end as usize).unwrap_or_default();
                start = end as usize;
                (at, Ok(text))
            }
            Item::Invoice(i) => (at, Err(i as usize)),
        })
    }

    /// Keeps the records made at or before `at`, and renumbers those of
    /// `invoices` for when the invoices issued after `at` are left out.
    fn retain_until(&mut self, at: Timestamp, invoices: &[Stored]) {
        if self.items.iter().all(|(t, _)| *t <= at) && invoices.iter().all(|i| i.issued_at <= at) {
            return;
        }
        let mut position = Vec::with_capacity(invoices.len());
        let mut kept_invoices = 0usize;
        for i in invoices {
            position.push(kept_invoices);
            if i.issued_at <= at {
                kept_invoices += 1;
            }
        }
        let mut kept = StoredRecords::default();
        for (t, item) in self.iter() {
            if t > at {
                continue;
            }
            match item {
                Ok(text) => {
                    kept.json.extend_from_slice(text);
                    if let Ok(end) = u32::try_from(kept.json.len()) {
                        kept.items.push((t, Item::Text(end)));
                    }
                }
                Err(i) => {
                    let moved = position.get(i).and_then(|p| u32::try_from(*p).ok());
                    if let Some(p) = moved {
                        kept.items.push((t, Item::Invoice(p)));
                    }
                }
            }
        }
        *self = kept;
    }
}

/// What `invoice.issued` repeats of its invoice.
#[derive(serde::Deserialize)]
struct IssuedFields {
    customer: String,
    issued_at: String,
    period: crate::meter::Span,
    total: String,
    currency: String,
}

/// A customer's records as printed: stored JSON, and `invoice.issued`
/// written from its invoice (the same type as the meter's, so the same
/// text).
struct RecordsOut<'a> {
    records: &'a StoredRecords,
    invoices: &'a [Stored],
}

impl serde::Serialize for RecordsOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeSeq};
        let mut seq = s.serialize_seq(Some(self.records.items.len()))?;
        for (_, item) in self.records.iter() {
            match item {
                Ok(text) => {
                    let raw = std::str::from_utf8(text)
                        .ok()
                        .and_then(|t| serde_json::from_str::<&serde_json::value::RawValue>(t).ok())
                        .ok_or_else(|| S::Error::custom("a stored record is not JSON"))?;
                    seq.serialize_element(raw)?;
                }
                Err(i) => {
                    let fields: IssuedFields = self
                        .invoices
                        .get(i)
                        .and_then(|inv| inv.json.as_ref())
                        .and_then(|json| serde_json::from_str(json.get()).ok())
                        .ok_or_else(|| S::Error::custom("a recorded invoice is missing"))?;
                    seq.serialize_element(&Record::InvoiceIssued {
                        head: crate::meter::RecordHead {
                            customer: fields.customer,
                            at: fields.issued_at.clone(),
                            event: None,
                            source: None,
                        },
                        issued_at: fields.issued_at,
                        period: fields.period,
                        total: fields.total,
                        currency: fields.currency,
                    })?;
                }
            }
        }
        seq.end()
    }
}

impl serde::Serialize for Stored {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.json.serialize(s)
    }
}

impl serde::Serialize for Customers {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|(customer, run)| CustomerOut {
            customer,
            invoices: &run.invoices,
            open_period: run.preview.as_ref(),
            records: RecordsOut {
                records: &run.records,
                invoices: &run.invoices,
            },
            errors: &run.errors,
        }))
    }
}

#[derive(serde::Serialize)]
struct CustomerOut<'a> {
    customer: &'a str,
    invoices: &'a [Stored],
    #[serde(skip_serializing_if = "Option::is_none")]
    open_period: Option<&'a Stored>,
    records: RecordsOut<'a>,
    #[serde(skip_serializing_if = "<[Problem]>::is_empty")]
    errors: &'a [Problem],
}
