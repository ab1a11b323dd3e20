//! Stateful rating of one customer's subscription (SPEC §5-6).
//!
//! A [`Meter`] is plain data (serializable, so a Durable Object or a JS
//! caller can keep it) and every operation takes the price book and the
//! time: the meter never reads a clock. Events are priced the moment they
//! are recorded: each receipt's amount is the exact change the event makes
//! to its line's charge for the period.

mod cycle;
mod dedup;
mod invoice;
mod receipt;
mod usage;
mod views;
mod wallet;

pub use dedup::{
    key as dedup_key, window_start as dedup_window_start, Dedup, DedupKey, DedupStore, Seen, DEFAULT_MAX_ENTRIES,
};
pub use invoice::{Invoice, InvoiceLine, Span};
pub use receipt::{no_subscription, read_event, read_event_value, read_event_within, Counts, Receipt, Status};
pub use usage::{KeyState, ProductState};
pub use views::{AllowanceState, Dimension, Forecast, ForecastLine, PeriodView};
pub use wallet::{Grant, Wallet};

use crate::error::{codes, Error, Problem};
use crate::event::{price_key, UsageEvent};
use crate::json::join;
use crate::money::{exact_text, fmt_qty};
use crate::period::{fmt_timestamp, Timestamp};
use crate::price::{add, Overflow};
use crate::price_book::{Aggregation, Plan, PlanItem, PriceBook, PriceModel, Product, ProductType};
use crate::resolve::{amounts_in, resolve, Resolution};
use crate::text::Text;
use chrono::Duration;
use indexmap::IndexMap;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use usage::{base_charge, percentage_fee, reprice, LinePrice};

/// How far in the future an event's time may be.
pub const MAX_FUTURE_SECONDS: i64 = 300;
/// Default dedup window: 35 days.
pub const DEFAULT_DEDUP_SECONDS: i64 = 35 * 86_400;

/// What a subscription starts with.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Subscription {
    /// Customer id.
    pub customer: String,
    /// Base plan id.
    pub plan: String,
    /// Add-on plan ids.
    pub addons: Vec<String>,
    /// When it starts.
    pub start: Option<Timestamp>,
    /// Period anchor; default the start (after any trial).
    pub anchor: Option<Timestamp>,
    /// Seat and recurring quantities.
    pub quantities: IndexMap<String, Decimal>,
}

/// The type of a [`Record`], as its `type` field spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecordKind {
    /// Unused allowance carried into the next period.
    #[serde(rename = "allowance.rolled_over")]
    AllowanceRolledOver,
    /// The base plan changed.
    #[serde(rename = "subscription.plan_changed")]
    SubscriptionPlanChanged,
    /// A credit pack was bought.
    #[serde(rename = "credits.purchased")]
    CreditsPurchased,
}

impl RecordKind {
    /// The record type as JSON spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::AllowanceRolledOver => "allowance.rolled_over",
            RecordKind::SubscriptionPlanChanged => "subscription.plan_changed",
            RecordKind::CreditsPurchased => "credits.purchased",
        }
    }
}

/// What a [`Pending`] line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PendingKind {
    /// A quantity or plan change within the period.
    Proration,
    /// Late usage of a closed period.
    Late,
    /// Usage priced in credits beyond the wallet, charged at the overage rate.
    CreditOverage,
    /// A credit pack bought.
    CreditPack,
}

impl PendingKind {
    /// The kind of invoice line it becomes.
    pub fn line_kind(self) -> crate::quote::LineKind {
        use crate::quote::LineKind;
        match self {
            PendingKind::Proration => LineKind::Proration,
            PendingKind::CreditPack => LineKind::Credit,
            PendingKind::Late | PendingKind::CreditOverage => LineKind::Usage,
        }
    }
}

/// A notable change, for webhooks and analytics (`allowance.rolled_over`,
/// `subscription.plan_changed`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Record type.
    #[serde(rename = "type")]
    pub kind: RecordKind,
    /// When.
    pub at: String,
    /// Product concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// Quantity concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<String>,
    /// Previous value (plan id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// New value (plan id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

/// The open period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenPeriod {
    /// Start (inclusive).
    pub start: Timestamp,
    /// End (exclusive).
    pub end: Timestamp,
    /// Start of the full anchor-aligned period it belongs to.
    pub full_start: Timestamp,
    /// Whether it is the free trial.
    pub trial: bool,
}

/// An advance charge paid for the open period (credited pro rata on cancel).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paid {
    /// Plan.
    pub plan: String,
    /// Product.
    pub product: String,
    /// Exact amount paid for the open period.
    pub exact: Decimal,
}

/// A line waiting for the next invoice (prorations, late usage).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    /// Plan.
    pub plan: String,
    /// Product.
    pub product: String,
    /// Price key.
    pub price_key: Option<String>,
    /// What the line is.
    pub kind: PendingKind,
    /// Description.
    pub description: String,
    /// Period paid for.
    pub start: Timestamp,
    /// Period end.
    pub end: Timestamp,
    /// Quantity.
    pub quantity: Decimal,
    /// Exact amount.
    pub exact: Decimal,
    /// Unit.
    pub unit: String,
}

/// A closed period kept for late events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Closed {
    /// Start.
    pub start: Timestamp,
    /// End.
    pub end: Timestamp,
    /// Usage as closed (late events keep adding to it).
    pub products: IndexMap<String, ProductState, rustc_hash::FxBuildHasher>,
}

/// One customer's subscription state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meter {
    /// Customer.
    pub customer: String,
    /// Base plan.
    pub plan: String,
    /// Add-ons.
    pub addons: Vec<String>,
    /// Subscription start.
    pub start: Timestamp,
    /// Period anchor.
    pub anchor: Timestamp,
    /// End of the free trial.
    pub trial_end: Option<Timestamp>,
    /// The open period.
    pub period: OpenPeriod,
    /// Seat and recurring quantities.
    pub quantities: IndexMap<String, Decimal>,
    /// Metered usage of the open period.
    pub products: IndexMap<String, ProductState, rustc_hash::FxBuildHasher>,
    /// Advance charges paid for the open period.
    pub paid: Vec<Paid>,
    /// Lines for the next invoice.
    pub pending: Vec<Pending>,
    /// Recently closed periods, for late events.
    pub closed: VecDeque<Closed>,
    /// Dedup window.
    pub dedup: Dedup,
    /// Stops renewing at the end of the open period.
    pub cancel_at_period_end: bool,
    /// Plan to switch to at the end of the open period.
    pub transition_at_period_end: Option<String>,
    /// When it ended, if it has.
    pub ended_at: Option<Timestamp>,
    /// Receipt counts.
    pub counts: Counts,
    /// Prepaid credits.
    #[serde(default)]
    pub wallet: Wallet,
    /// Records not yet taken.
    #[serde(default)]
    pub records: Vec<Record>,
    /// Invoices issued and not yet taken.
    #[serde(skip)]
    pub issued: Vec<Invoice>,
    /// Where each of the book's products sits in `products`.
    #[serde(skip)]
    slots: Slots,
}

/// Per product of the book (by position), its position in
/// [`Meter::products`] when last seen: a hint checked against the key on
/// use, so a stale one costs one ordinary look-up and never picks a wrong
/// line. Not state: meters compare equal whatever their hints.
#[derive(Debug, Clone, Default)]
struct Slots(Vec<u32>);

impl PartialEq for Slots {
    fn eq(&self, _: &Slots) -> bool {
        true
    }
}

impl Slots {
    /// The position of product `id` (the book's `index`-th) in `products`,
    /// added (empty) if it is not there.
    fn find(
        &mut self,
        products: &mut IndexMap<String, ProductState, rustc_hash::FxBuildHasher>,
        index: usize,
        id: &str,
    ) -> usize {
        if let Some(&hint) = self.0.get(index) {
            let hint = hint as usize;
            if products.get_index(hint).is_some_and(|(k, _)| k == id) {
                return hint;
            }
        }
        let at = match products.get_index_of(id) {
            Some(i) => i,
            None => products.insert_full(id.to_string(), ProductState::default()).0,
        };
        if self.0.len() <= index {
            self.0.resize(index + 1, u32::MAX);
        }
        if let (Some(slot), Ok(at32)) = (self.0.get_mut(index), u32::try_from(at)) {
            *slot = at32;
        }
        at
    }
}

pub(crate) fn problem(code: crate::error::Code, path: &str, message: impl Into<String>) -> Problem {
    Problem::at(code, path, message)
}

impl Meter {
    /// The plans in force: base then add-ons.
    pub(crate) fn plans<'b>(&self, book: &'b PriceBook) -> Vec<&'b Plan> {
        std::iter::once(&self.plan)
            .chain(self.addons.iter())
            .filter_map(|id| book.plan(id))
            .collect()
    }

    /// The item (and its plan) that prices a product.
    pub(crate) fn item_for<'b>(&self, book: &'b PriceBook, product: &str) -> Option<(&'b Plan, &'b PlanItem)> {
        book.plan_item(&self.plan, product)
            .or_else(|| self.addons.iter().find_map(|a| book.plan_item(a, product)))
    }

    /// Takes the invoices issued since the last call.
    pub fn take_invoices(&mut self) -> Vec<Invoice> {
        std::mem::take(&mut self.issued)
    }

    /// Takes the records made since the last call.
    pub fn take_records(&mut self) -> Vec<Record> {
        std::mem::take(&mut self.records)
    }

    /// Rates one validated event received at `at`. Never fails: problems
    /// are rejected receipts, and a rejected event changes nothing. The
    /// meter's own [`Dedup`] keeps the dedup keys.
    pub fn record(&mut self, book: &PriceBook, ev: &UsageEvent, at: Timestamp) -> Receipt {
        receipt_or_internal(ev, self.record_inner(book, ev, at, &mut Own, true))
    }

    /// Rates an event like [`Meter::record`], with the dedup keys kept by
    /// the caller in `keys` (the meter's own window is not used). The
    /// engine still decides everything: a key found in `keys` makes the
    /// event a duplicate only while inside the book's window
    /// ([`dedup_window_start`]); the receipt (accepted, duplicate,
    /// conflict, rejected, dropped) is built and counted in
    /// [`Meter::counts`] here; and a new event rated `accepted` or
    /// `dropped` is handed to [`DedupStore::put`], which the caller stores
    /// with the event.
    pub fn record_with<S: DedupStore>(
        &mut self,
        book: &PriceBook,
        ev: &UsageEvent,
        at: Timestamp,
        keys: &mut S,
    ) -> Receipt {
        receipt_or_internal(ev, self.record_inner(book, ev, at, &mut Lent(keys), true))
    }

    /// Rates an event like [`Meter::record`] but returns only its status,
    /// without building the receipt (replay counts receipts, it need not
    /// print them).
    pub fn record_status(&mut self, book: &PriceBook, ev: &UsageEvent, at: Timestamp) -> Status {
        self.record_inner(book, ev, at, &mut Own, false).0
    }

    fn record_inner<K: Keys>(
        &mut self,
        book: &PriceBook,
        ev: &UsageEvent,
        at: Timestamp,
        keys: &mut K,
        want: bool,
    ) -> (Status, Option<Receipt>) {
        // An event for another customer is refused before its key is
        // looked up: the keys are this customer's.
        if *ev.customer != *self.customer {
            self.counts.add(Status::Rejected);
            let p = receipt::wrong_subject(ev, &self.customer);
            return (Status::Rejected, want.then(|| Receipt::rejected(&ev.id, &ev.source, p)));
        }
        let currency = || book.currency_text();
        let dedup_key = dedup::key(&ev.source, &ev.id);
        if let Some(seen) = keys.get(self, dedup_key) {
            // Only a hit costs the window's date arithmetic.
            if seen.at >= dedup::window_start(book, at) {
                let receipt = want.then(|| receipt::duplicate(ev, seen, currency, book.hash_text()));
                self.counts.add(Status::Duplicate);
                return (Status::Duplicate, receipt);
            }
        }
        match self.rate(book, ev, at) {
            Ok(o) => {
                let dropped = o.status == Status::Dropped;
                self.counts.add(o.status);
                let receipt = want.then(|| Receipt {
                    id: ev.id.clone(),
                    source: ev.source.clone(),
                    status: o.status,
                    amount: o.amount.map(|(a, scale)| exact_text(a, scale)),
                    currency: o.amount.map(|_| o.unit.as_deref().map_or_else(currency, Text::from)),
                    price_key: o.price_key.as_deref().map(Text::from),
                    price_key_remapped: o.remapped.then_some(true),
                    price_book: Some(book.hash_text()),
                    conflict: None,
                    error: None,
                });
                let extra = (o.unit.is_some() || o.price_key.is_some()).then(|| {
                    Box::new(dedup::SeenExtra {
                        unit: o.unit,
                        price_key: o.price_key,
                    })
                });
                let (amount, scale) = o
                    .amount
                    .map_or((Decimal::ZERO, dedup::NO_AMOUNT), |(a, s)| (a, s.min(254) as u8));
                let seen = Seen {
                    fingerprint: ev.fingerprint,
                    at: at.timestamp(),
                    amount,
                    scale,
                    dropped,
                    extra,
                };
                keys.put(self, dedup_key, seen);
                (o.status, receipt)
            }
            Err(p) => {
                self.counts.add(Status::Rejected);
                (Status::Rejected, want.then(|| Receipt::rejected(&ev.id, &ev.source, p)))
            }
        }
    }

    /// Rates an event for this meter's customer (checked by the caller).
    fn rate(&mut self, book: &PriceBook, ev: &UsageEvent, at: Timestamp) -> Result<Outcome, Problem> {
        let t = ev.time.unwrap_or(at);
        // `t > at + 5 minutes`, in whole seconds then nanoseconds (no
        // calendar arithmetic per event).
        // (Only an event after its receipt can be too far ahead: the usual
        // event is not, and costs no timestamp arithmetic.)
        let ahead = if t > at {
            t.timestamp().saturating_sub(at.timestamp())
        } else {
            0
        };
        if ahead > MAX_FUTURE_SECONDS
            || (ahead == MAX_FUTURE_SECONDS && t.timestamp_subsec_nanos() > at.timestamp_subsec_nanos())
        {
            return Err(problem(
                codes::EVENT_IN_FUTURE,
                "time",
                "time is more than 5 minutes after the time of receipt",
            ));
        }
        if t < self.start {
            return Err(problem(
                codes::EVENT_TOO_LATE,
                "time",
                "time is before the subscription started",
            ));
        }
        let (product_index, product, placements) = book
            .product_items(&ev.product)
            .ok_or_else(|| problem(codes::UNKNOWN_PRODUCT, "type", format!("no product {:?}", ev.product)))?;
        if product.kind != ProductType::Metered {
            return Err(problem(
                codes::INVALID_USAGE,
                "type",
                format!("{:?} is not a metered product", product.id),
            ));
        }
        // Bring the meter up to the event's time, closing periods that ended.
        if self.period.end <= t.max(at) {
            self.advance_to(book, t.max(at))
                .map_err(|e| problem(e.code, e.path.as_deref().unwrap_or(""), e.message))?;
        }
        if self.ended_at.is_some_and(|end| t >= end) {
            return Err(problem(codes::SUBSCRIPTION_ENDED, "time", "the subscription has ended"));
        }
        // The base plan's item first, then the add-ons' in order (as `item_for`).
        let in_plan = |id: &str| placements.clone().find(|(p, _)| p.id == id);
        let found = in_plan(&self.plan).or_else(|| self.addons.iter().find_map(|a| in_plan(a)));
        let (item_plan, item) = found.ok_or_else(|| {
            problem(
                codes::PRODUCT_NOT_IN_PLAN,
                "type",
                format!("{:?} is not in the customer's plan", product.id),
            )
        })?;
        let late = t < self.period.start;
        if late {
            let earliest = book
                .doc()
                .late_event_grace
                .and_then(|g| g.boundary(self.period.start, -1))
                .unwrap_or(self.period.start);
            if t < earliest || !self.closed.iter().any(|c| c.start <= t && t < c.end) {
                return Err(problem(
                    codes::EVENT_TOO_LATE,
                    "time",
                    "the event's period is closed and past the late-event grace",
                ));
            }
        }
        let keyed = product.price_key_label.is_some();
        let key = match &product.price_key_label {
            None => String::new(),
            Some(label) => {
                let props = label.properties();
                price_key(&ev.data, &props).ok_or_else(|| {
                    problem(
                        codes::MISSING_FIELD,
                        &join("data", props.first().copied().unwrap_or("")),
                        format!("the price key ({}) is missing", props.join("/")),
                    )
                })?
            }
        };
        let (price, remapped) = match resolve(
            book,
            product,
            item,
            keyed.then_some(key.as_str()),
            Some(&self.customer),
            Some(t),
        ) {
            Resolution::Priced { price, remapped, .. } => (price, remapped),
            Resolution::Dropped => {
                return Ok(Outcome {
                    status: Status::Dropped,
                    amount: None,
                    unit: None,
                    price_key: Some(key),
                    remapped: false,
                });
            }
            Resolution::Rejected => {
                let label = product
                    .price_key_label
                    .as_ref()
                    .map(|l| l.properties().join("/"))
                    .unwrap_or_default();
                let msg = format!("{:?} has no price for {key:?}", product.id);
                return Err(problem(codes::UNKNOWN_PRICE_KEY, &join("data", &label), msg));
            }
        };
        let currency = book.doc().currency.as_str();
        let (amounts, unit) = amounts_in(book, price, currency).ok_or_else(|| {
            problem(
                codes::CURRENCY_UNAVAILABLE,
                "type",
                format!("{:?} has no price in {currency}", product.id),
            )
        })?;
        let line_price = LinePrice {
            model: price.model,
            amounts,
        };
        let measure = measure(product, ev)?;
        let cap = cycle::usage_cap(self, book, product, (item_plan, item));
        let trial = !late && self.period.trial;
        let credit_priced = book.is_custom_unit(unit);
        let customer = &self.customer;
        let state: &mut ProductState = if late {
            let c = self
                .closed
                .iter_mut()
                .find(|c| c.start <= t && t < c.end)
                .ok_or_else(|| problem(codes::EVENT_TOO_LATE, "time", "period not kept"))?;
            c.products.entry(product.id.clone()).or_default()
        } else {
            let at = self.slots.find(&mut self.products, product_index, &product.id);
            match self.products.get_index_mut(at) {
                Some((_, s)) => s,
                None => return Err(overflow()),
            }
        };
        let snapshot = credit_priced.then(|| state.clone());
        let used_before = if cap.is_some() { state.used() } else { Decimal::ZERO };
        let found = state.keys.get_index_of(&key);
        let existed = found.is_some();
        let idx = match found {
            Some(i) => i,
            None => {
                let ks = KeyState {
                    unit: unit.to_string(),
                    remapped,
                    ..Default::default()
                };
                state.keys.insert_sorted(key.clone(), ks).0
            }
        };
        let Some((_, ks)) = state.keys.get_index_mut(idx) else {
            return Err(overflow());
        };
        let undo = Undo::of(ks, product.aggregation());
        if apply(ks, product, ev, t, &measure).is_err() {
            undo.restore(state, &key, existed, &measure);
            return Err(overflow());
        }
        if let Some(cap) = cap {
            let old_q = undo.quantity;
            let new_q = state.keys.get_index(idx).map_or(Decimal::ZERO, |(_, k)| k.quantity);
            let after = used_before.checked_sub(old_q).and_then(|u| u.checked_add(new_q));
            if after.is_none_or(|u| u > cap) {
                undo.restore(state, &key, existed, &measure);
                let msg = format!("usage of {:?} would pass its limit of {}", product.id, fmt_qty(cap));
                return Err(problem(codes::LIMIT_EXCEEDED, "data.quantity", msg));
            }
        }
        let amount = if trial {
            // Trial usage counts toward the allowance state but is free.
            Decimal::ZERO
        } else {
            let priced = (|| -> Result<Decimal, Overflow> {
                let (_, ks) = state.keys.get_index_mut(idx).ok_or(Overflow)?;
                let mut amount = Decimal::ZERO;
                if !existed {
                    ks.exact = base_charge(line_price)?;
                    amount = ks.exact;
                }
                if price.model == PriceModel::Percentage {
                    let fee = percentage_fee(line_price, measure.amount)?;
                    ks.exact = add(ks.exact, fee)?;
                    amount = add(amount, fee)?;
                }
                if state.keys.len() == 1 {
                    // The one line is this event's.
                    return usage::add_to(amount, usage::reprice_one(state, line_price)?);
                }
                let mut price_of = |k: &str| -> Option<LinePrice> {
                    if k == key {
                        return Some(line_price);
                    }
                    match resolve(book, product, item, keyed.then_some(k), Some(customer), Some(t)) {
                        Resolution::Priced { price, .. } => amounts_in(book, price, currency).map(|(a, _)| LinePrice {
                            model: price.model,
                            amounts: a,
                        }),
                        _ => None,
                    }
                };
                let changes = reprice(state, &mut price_of)?;
                usage::add_to(amount, usage::commit(state, changes)?)
            })();
            match priced {
                Ok(a) => a,
                Err(_) => {
                    undo.restore(state, &key, existed, &measure);
                    return Err(overflow());
                }
            }
        };
        let scale = book.scale_of(unit).unwrap_or(2);
        if credit_priced && !trial && !amount.is_zero() {
            if let Err(p) = wallet::spend(self, book, product, unit, amount, t) {
                // Put the usage back as it was: a refused event changes nothing.
                if let Some(snap) = snapshot {
                    let target = if late {
                        self.closed
                            .iter_mut()
                            .find(|c| c.start <= t && t < c.end)
                            .map(|c| &mut c.products)
                    } else {
                        Some(&mut self.products)
                    };
                    if let Some(products) = target {
                        products.insert(product.id.clone(), snap);
                    }
                }
                return Err(p);
            }
        }
        if late {
            cycle::add_late(self, item, product, &key, t, measure.quantity, amount, unit);
        }
        Ok(Outcome {
            status: Status::Accepted,
            amount: Some((amount, scale)),
            unit: (!crate::json::same_str(unit, &book.doc().currency)).then(|| unit.to_string()),
            price_key: keyed.then_some(key),
            remapped,
        })
    }
}

/// The receipt `record_inner` built (it always builds one when asked).
fn receipt_or_internal(ev: &UsageEvent, r: (Status, Option<Receipt>)) -> Receipt {
    match r {
        (_, Some(r)) => r,
        (status, None) => Receipt::rejected(
            &ev.id,
            &ev.source,
            Problem::general(codes::INTERNAL, format!("{status:?}")),
        ),
    }
}

/// Where `record_inner` finds the dedup keys: the meter's own [`Dedup`]
/// or a store the caller lends. Resolved at compile time (no `dyn` on the
/// path of every event).
trait Keys {
    fn get<'a>(&'a self, m: &'a Meter, key: DedupKey) -> Option<&'a Seen>;
    fn put(&mut self, m: &mut Meter, key: DedupKey, seen: Seen);
}

/// The meter's own [`Dedup`].
struct Own;

impl Keys for Own {
    #[inline(always)]
    fn get<'a>(&'a self, m: &'a Meter, key: DedupKey) -> Option<&'a Seen> {
        DedupStore::get(&m.dedup, key)
    }

    #[inline(always)]
    fn put(&mut self, m: &mut Meter, key: DedupKey, seen: Seen) {
        DedupStore::put(&mut m.dedup, key, seen)
    }
}

/// A caller's store.
struct Lent<'s, S: DedupStore>(&'s mut S);

impl<S: DedupStore> Keys for Lent<'_, S> {
    #[inline(always)]
    fn get<'a>(&'a self, _: &'a Meter, key: DedupKey) -> Option<&'a Seen> {
        self.0.get(key)
    }

    #[inline(always)]
    fn put(&mut self, _: &mut Meter, key: DedupKey, seen: Seen) {
        self.0.put(key, seen)
    }
}

/// What rating an event did, before it becomes a receipt.
struct Outcome {
    status: Status,
    amount: Option<(Decimal, u32)>,
    /// The unit, when not the book's currency.
    unit: Option<String>,
    price_key: Option<String>,
    remapped: bool,
}

/// What `apply` changed on a line, to put it back when the event is refused.
struct Undo {
    quantity: Decimal,
    events: u64,
    last: Option<Box<(Timestamp, String)>>,
    billable: Decimal,
    exact: Decimal,
}

impl Undo {
    fn of(ks: &KeyState, agg: Aggregation) -> Undo {
        Undo {
            quantity: ks.quantity,
            events: ks.events,
            last: if agg == Aggregation::Last {
                ks.last.clone()
            } else {
                None
            },
            billable: ks.billable,
            exact: ks.exact,
        }
    }

    fn restore(self, state: &mut ProductState, key: &str, existed: bool, m: &Measure) {
        if !existed {
            state.keys.shift_remove(key);
            return;
        }
        if let Some(ks) = state.keys.get_mut(key) {
            let had_unique = ks
                .uniques
                .as_ref()
                .is_some_and(|u| u.len() as u64 == Self::count(self.quantity));
            if let (Some(u), Some(set)) = (&m.unique, ks.uniques.as_mut()) {
                if !had_unique {
                    set.remove(u);
                }
            }
            ks.quantity = self.quantity;
            ks.events = self.events;
            if self.last.is_some() {
                ks.last = self.last;
            }
            ks.billable = self.billable;
            ks.exact = self.exact;
        }
    }

    fn count(q: Decimal) -> u64 {
        u64::try_from(q.trunc().mantissa().max(0)).unwrap_or(0)
    }
}

fn overflow() -> Problem {
    problem(
        codes::ARITHMETIC_OVERFLOW,
        "data",
        "the amount exceeds the exact decimal range",
    )
}

/// What an event contributes under its product's aggregation.
pub(crate) struct Measure {
    pub quantity: Decimal,
    pub amount: Decimal,
    pub unique: Option<String>,
}

fn measure(product: &Product, ev: &UsageEvent) -> Result<Measure, Problem> {
    let need_quantity = || {
        ev.quantity
            .ok_or_else(|| problem(codes::MISSING_FIELD, "data.quantity", "data.quantity is required"))
    };
    Ok(match product.aggregation() {
        Aggregation::Sum | Aggregation::Max | Aggregation::Last => Measure {
            quantity: need_quantity()?,
            amount: Decimal::ZERO,
            unique: None,
        },
        Aggregation::Count => Measure {
            quantity: Decimal::ONE,
            amount: Decimal::ZERO,
            unique: None,
        },
        Aggregation::Amount => {
            let a = ev
                .amount
                .ok_or_else(|| problem(codes::MISSING_FIELD, "data.amount", "data.amount is required"))?;
            Measure {
                quantity: a,
                amount: a,
                unique: None,
            }
        }
        Aggregation::UniqueCount => {
            let prop = product.property.as_deref().unwrap_or("");
            let path = join("data", prop);
            let v = match ev.data.get(prop).as_ref().and_then(|s| s.text()) {
                Some(s) => s.to_string(),
                None => {
                    return Err(problem(
                        codes::MISSING_FIELD,
                        &path,
                        format!("data.{prop} (a string or number) is required"),
                    ))
                }
            };
            Measure {
                quantity: Decimal::ONE,
                amount: Decimal::ZERO,
                unique: Some(v),
            }
        }
    })
}

fn apply(ks: &mut KeyState, product: &Product, ev: &UsageEvent, t: Timestamp, m: &Measure) -> Result<(), Overflow> {
    ks.events += 1;
    match product.aggregation() {
        Aggregation::Sum | Aggregation::Count | Aggregation::Amount => ks.quantity = add(ks.quantity, m.quantity)?,
        Aggregation::Max => ks.quantity = ks.quantity.max(m.quantity),
        Aggregation::Last => {
            let newer = ks
                .last
                .as_ref()
                .is_none_or(|l| (t, ev.id.as_str()) >= (l.0, l.1.as_str()));
            if newer {
                ks.quantity = m.quantity;
                ks.last = Some(Box::new((t, ev.id.to_string())));
            }
        }
        Aggregation::UniqueCount => {
            let set = ks.uniques.get_or_insert_with(Default::default);
            if let Some(u) = &m.unique {
                set.insert(u.clone());
            }
            ks.quantity = Decimal::from(set.len());
        }
    }
    Ok(())
}

/// Subscribes: validates the plan, add-ons and quantities, opens the first
/// period and issues the first invoice (setup fee, one-time items, and the
/// first period's recurring and seat charges unless it is a free trial).
pub fn subscribe(book: &PriceBook, sub: &Subscription) -> Result<Meter, Error> {
    cycle::subscribe(book, sub)
}

/// Formats a timestamp for documents.
pub(crate) fn ts(t: Timestamp) -> String {
    fmt_timestamp(t)
}
