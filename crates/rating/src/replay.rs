//! Replaying exported usage (SPEC §9 `rating replay`): subscriptions with
//! their changes, and a stream of CloudEvents fed in order to one meter per
//! customer. Pure: the caller streams events in and asks for the result.
//! Memory grows with customers (and their dedup windows), not with the
//! number of events replayed.

use crate::error::{codes, Error, Problem};
use crate::event::{ids_of, parse_event};
use crate::json::{index, join, Reader};
use crate::meter::{subscribe, Counts, Invoice, Meter, Receipt, Record, Status, Subscription};
use crate::money::fmt_money;
use crate::period::Timestamp;
use indexmap::IndexMap;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::VecDeque;

/// A change to a subscription at a point in time.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Change {
    /// When.
    pub at: Timestamp,
    /// New quantities.
    pub quantities: IndexMap<String, Decimal>,
    /// New plan.
    pub plan: Option<String>,
    /// Plan change takes effect now (default) or at period end.
    pub transition_immediate: bool,
    /// Cancel: `Some(true)` immediately, `Some(false)` at period end.
    pub cancel: Option<bool>,
    /// Credit pack to buy.
    pub purchase_credits: Option<String>,
}

/// A subscription to replay, with its changes in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionSpec {
    /// Subscription.
    pub subscription: Subscription,
    /// Changes, sorted by time.
    pub changes: Vec<Change>,
}

fn immediate_or_end(r: &mut Reader, v: &Value, path: &str) -> Option<bool> {
    r.choice(
        v,
        path,
        |s| match s {
            "immediate" => Some(true),
            "period_end" => Some(false),
            _ => None,
        },
        "immediate, period_end",
    )
}

fn read_quantities(r: &mut Reader, v: &Value, path: &str) -> IndexMap<String, Decimal> {
    let mut out = IndexMap::new();
    if let Some(o) = r.object(v, path) {
        for (k, v) in o.map() {
            if let Some(d) = r.amount(v, &join(path, k)) {
                out.insert(k.clone(), d);
            }
        }
    }
    out
}

/// Reads `SUBS.json`: a list of `{"customer", "plan", "start", "anchor"?,
/// "quantities"?, "addons"?, "changes"?}`.
pub fn read_subscriptions(v: &Value) -> Result<Vec<SubscriptionSpec>, Error> {
    let mut r = Reader::default();
    let mut out = Vec::new();
    if let Some(arr) = r.array(v, "") {
        for (i, e) in arr.iter().enumerate() {
            let p = index("", i);
            let Some(mut o) = r.object(e, &p) else { continue };
            let customer = o.req_string(&mut r, "customer");
            let plan = o.req_string(&mut r, "plan");
            let start = o.req(&mut r, "start").and_then(|v| r.timestamp(v, &join(&p, "start")));
            let anchor = o.opt_timestamp(&mut r, "anchor");
            let quantities = o
                .opt("quantities")
                .map(|v| read_quantities(&mut r, v, &join(&p, "quantities")))
                .unwrap_or_default();
            let addons = o
                .opt("addons")
                .and_then(|v| {
                    let ap = join(&p, "addons");
                    let a = r.array(v, &ap)?;
                    a.iter()
                        .enumerate()
                        .map(|(j, x)| r.string(x, &index(&ap, j)))
                        .collect::<Option<Vec<_>>>()
                })
                .unwrap_or_default();
            let mut changes = Vec::new();
            if let Some(cv) = o.opt("changes") {
                let cp = join(&p, "changes");
                if let Some(ca) = r.array(cv, &cp) {
                    for (j, c) in ca.iter().enumerate() {
                        let chp = index(&cp, j);
                        let Some(mut co) = r.object(c, &chp) else { continue };
                        let at = co.req(&mut r, "at").and_then(|v| r.timestamp(v, &join(&chp, "at")));
                        let quantities = co
                            .opt("quantities")
                            .map(|v| read_quantities(&mut r, v, &join(&chp, "quantities")))
                            .unwrap_or_default();
                        let plan = co.opt_string(&mut r, "plan");
                        let transition = co
                            .opt("transition")
                            .and_then(|v| immediate_or_end(&mut r, v, &join(&chp, "transition")));
                        let cancel = co
                            .opt("cancel")
                            .and_then(|v| immediate_or_end(&mut r, v, &join(&chp, "cancel")));
                        let purchase_credits = co.opt_string(&mut r, "purchase_credits");
                        co.finish(&mut r);
                        if let Some(at) = at {
                            changes.push(Change {
                                at,
                                quantities,
                                plan,
                                transition_immediate: transition.unwrap_or(true),
                                cancel,
                                purchase_credits,
                            });
                        }
                    }
                }
            }
            o.finish(&mut r);
            changes.sort_by_key(|c| c.at);
            if let (Some(customer), Some(plan), Some(start)) = (customer, plan, start) {
                out.push(SubscriptionSpec {
                    subscription: Subscription {
                        customer,
                        plan,
                        addons,
                        start: Some(start),
                        anchor,
                        quantities,
                    },
                    changes,
                });
            }
        }
    }
    if r.failed() {
        return Err(Error::many(codes::INVALID_REQUEST, "the subscriptions", r.problems));
    }
    Ok(out)
}

struct Run {
    meter: Meter,
    changes: VecDeque<Change>,
    invoices: Vec<Invoice>,
    records: Vec<Record>,
    errors: Vec<Problem>,
}

impl Run {
    fn collect(&mut self) {
        self.invoices.extend(self.meter.take_invoices());
        self.records.extend(self.meter.take_records());
    }

    fn apply_changes_until(&mut self, book: &crate::PriceBook, t: Timestamp) {
        while self.changes.front().is_some_and(|c| c.at <= t) {
            let Some(c) = self.changes.pop_front() else { break };
            let at = c.at;
            let mut results: Vec<Result<(), Error>> = Vec::new();
            if let Some(plan) = &c.plan {
                results.push(self.meter.transition_plan(book, plan, at, c.transition_immediate));
            }
            for (p, q) in &c.quantities {
                results.push(self.meter.change_quantity(book, p, *q, at));
            }
            if let Some(pack) = &c.purchase_credits {
                results.push(self.meter.purchase_credits(book, pack, at));
            }
            if let Some(immediate) = c.cancel {
                results.push(self.meter.cancel(book, at, immediate));
            }
            for r in results {
                if let Err(e) = r {
                    self.errors.push(Problem::at(
                        e.code,
                        "changes",
                        format!("at {}: {}", crate::period::fmt_timestamp(at), e.message),
                    ));
                }
            }
            self.collect();
        }
    }
}

/// A replay in progress.
pub struct Replay<'b> {
    book: &'b crate::PriceBook,
    runs: IndexMap<String, Run>,
    counts: Counts,
}

impl<'b> Replay<'b> {
    /// Subscribes every customer.
    pub fn new(book: &'b crate::PriceBook, subs: &[SubscriptionSpec]) -> Result<Replay<'b>, Error> {
        let mut runs = IndexMap::new();
        for (i, s) in subs.iter().enumerate() {
            let meter = subscribe(book, &s.subscription).map_err(|e| {
                let path = format!("[{i}].{}", e.path.clone().unwrap_or_default());
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
                meter,
                changes: s.changes.clone().into(),
                invoices: Vec::new(),
                records: Vec::new(),
                errors: Vec::new(),
            };
            run.collect();
            runs.insert(s.subscription.customer.clone(), run);
        }
        Ok(Replay {
            book,
            runs,
            counts: Counts::default(),
        })
    }

    /// Feeds one event (a parsed JSON value) received at `at` (its own time
    /// when it has one).
    pub fn feed(&mut self, event: &Value, at: Timestamp) -> Receipt {
        let receipt = self.feed_inner(event, at);
        match receipt.status {
            Status::Accepted => self.counts.accepted += 1,
            Status::Duplicate => self.counts.duplicate += 1,
            Status::Rejected => self.counts.rejected += 1,
            Status::Dropped => self.counts.dropped += 1,
        }
        receipt
    }

    fn feed_inner(&mut self, event: &Value, at: Timestamp) -> Receipt {
        let ev = match parse_event(event) {
            Ok(e) => e,
            Err(p) => {
                let (id, source) = ids_of(event);
                return Receipt::rejected(&id, &source, p);
            }
        };
        let Some(run) = self.runs.get_mut(&ev.customer) else {
            return Receipt::rejected(
                &ev.id,
                &ev.source,
                Problem::at(
                    "unknown_customer",
                    "subject",
                    format!("no subscription for {:?}", ev.customer),
                ),
            );
        };
        let t = ev.time.unwrap_or(at);
        run.apply_changes_until(self.book, t);
        let r = run.meter.record(self.book, &ev, t.min(at));
        run.collect();
        r
    }

    /// Applies the remaining changes up to `at`, closes every period that
    /// ended by then, and returns the SPEC §9 document.
    pub fn finish(mut self, at: Timestamp) -> Result<Value, Error> {
        let book = self.book;
        let scale = book.scale_of(&book.doc().currency).unwrap_or(2);
        let mut customers = Vec::new();
        let (mut invoiced, mut open) = (Decimal::ZERO, Decimal::ZERO);
        for (customer, run) in self.runs.iter_mut() {
            run.apply_changes_until(book, at);
            run.meter.advance_to(book, at)?;
            run.collect();
            let issued: Vec<&Invoice> = run
                .invoices
                .iter()
                .filter(|i| crate::period::parse_timestamp(&i.issued_at).is_some_and(|t| t <= at))
                .collect();
            for i in &issued {
                invoiced = invoiced.checked_add(i.total_value).unwrap_or(invoiced);
            }
            let mut c = json!({"customer": customer, "invoices": issued});
            if run.meter.ended_at.is_none() {
                let preview = run.meter.preview_invoice(book, at)?;
                open = open.checked_add(preview.total_value).unwrap_or(open);
                c["open_period"] = serde_json::to_value(&preview).unwrap_or(Value::Null);
            }
            if !run.records.is_empty() {
                c["records"] = serde_json::to_value(&run.records).unwrap_or(Value::Null);
            }
            if !run.errors.is_empty() {
                c["errors"] = serde_json::to_value(&run.errors).unwrap_or(Value::Null);
            }
            customers.push(c);
        }
        Ok(json!({
            "customers": customers,
            "totals": {
                "currency": book.doc().currency,
                "invoiced": fmt_money(invoiced, scale),
                "open": fmt_money(open, scale),
                "total": fmt_money(invoiced + open, scale),
            },
            "receipts": self.counts,
            "price_book": book.hash(),
        }))
    }
}
