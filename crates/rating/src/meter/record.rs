//! Recording one event: dedup, rating (price key, price, measure, cap,
//! allowance, repricing the line), the wallet, and the undo of a refused
//! event (docs/metering.md "Per-event amounts").

use super::cycle;
use super::dedup::{self, DedupKey, DedupStore, Seen};
use super::receipt::{self, Receipt, Status};
use super::records::Record;
use super::state::*;
use super::usage::{self, base_charge, percentage_fee, reprice, KeyState, LinePrice, ProductState};
use super::wallet::{self};
use crate::error::{codes, Problem};
use crate::event::{price_key, UsageEvent};
use crate::json::join;
use crate::money::{exact_text, fmt_qty};
use crate::period::Timestamp;
use crate::price::{add, Overflow};
use crate::price_book::{Aggregation, Plan, PlanItem, PriceBook, PriceModel, Product, ProductType};
use crate::resolve::{amounts_in, resolve, Resolution};
use crate::text::Text;
use rust_decimal::Decimal;

impl Meter {
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
    /// Rates an event at `at`: where it lands, its price key and price,
    /// then its usage and the change it makes to the line's charge.
    fn rate(&mut self, book: &PriceBook, ev: &UsageEvent, at: Timestamp) -> Result<Outcome, Problem> {
        let t = self.event_time(ev, at)?;
        let target = self.target(book, ev, t, at)?;
        self.expire_credits(book, at);
        let key = event_key(target.product, ev)?;
        let Some(priced) = price_for(book, &self.customer, &target, &key)? else {
            self.records.push(Record::UsageEventDropped {
                head: self.head(t, Some(ev)),
                product: target.product.id.clone(),
                price_key: key.clone(),
            });
            return Ok(Outcome {
                status: Status::Dropped,
                amount: None,
                unit: None,
                price_key: Some(key),
                remapped: false,
            });
        };
        let measure = measure(target.product, ev)?;
        let amount = self.book_usage(book, ev, &target, &key, &priced, &measure)?;
        if target.late {
            let (product, unit) = (target.product, priced.unit);
            cycle::add_late(self, target.item, product, &key, t, measure.quantity, amount, unit);
        } else {
            if target.product.aggregation() == Aggregation::Last {
                let reading = target.product.priced_quantity(measure.quantity).unwrap_or(Decimal::MAX);
                self.alerts.note_reading(&target.product.id, &key, reading);
            }
            self.usage_alerts(book, target.product, target.item, t, Some(ev));
        }
        Ok(Outcome {
            status: Status::Accepted,
            amount: Some((amount, book.scale_of(priced.unit).unwrap_or(2))),
            unit: (!crate::json::same_str(priced.unit, &book.doc().currency)).then(|| priced.unit.to_string()),
            price_key: target.product.price_key_label.is_some().then_some(key),
            remapped: priced.remapped,
        })
    }

    /// The event's usage time (its `time`, else the receipt time), at most
    /// 5 minutes after `at` and not before the subscription.
    fn event_time(&self, ev: &UsageEvent, at: Timestamp) -> Result<Timestamp, Problem> {
        let t = ev.time.unwrap_or(at);
        // `t > at + 5 minutes`, in whole seconds then nanoseconds (no
        // calendar arithmetic per event; only an event after its receipt
        // can be too far ahead, and the usual event is not).
        let ahead = if t > at {
            t.timestamp().saturating_sub(at.timestamp())
        } else {
            0
        };
        if ahead > MAX_FUTURE_SECONDS
            || (ahead == MAX_FUTURE_SECONDS && t.timestamp_subsec_nanos() > at.timestamp_subsec_nanos())
        {
            let msg = "time is more than 5 minutes after the time of receipt";
            return Err(problem(codes::EVENT_IN_FUTURE, "time", msg));
        }
        if t < self.start {
            return Err(problem(
                codes::EVENT_TOO_LATE,
                "time",
                "time is before the subscription started",
            ));
        }
        Ok(t)
    }

    /// Where an event at `t` lands: its metered product, the item that
    /// prices it (the base plan's first, then the add-ons' in order, as
    /// `item_for`), and whether it is late for a closed period still kept.
    /// Closes the periods that ended by `t` (or `at`) first.
    fn target<'b>(
        &mut self,
        book: &'b PriceBook,
        ev: &UsageEvent,
        t: Timestamp,
        at: Timestamp,
    ) -> Result<Target<'b>, Problem> {
        let (index, product, placements) = book
            .product_items(&ev.product)
            .ok_or_else(|| problem(codes::UNKNOWN_PRODUCT, "type", format!("no product {:?}", ev.product)))?;
        if product.kind != ProductType::Metered {
            let msg = format!("{:?} is not a metered product", product.id);
            return Err(problem(codes::INVALID_USAGE, "type", msg));
        }
        if self.period.end <= t.max(at) {
            self.advance_to(book, t.max(at))
                .map_err(|e| problem(e.code, e.path.as_deref().unwrap_or(""), e.message))?;
        }
        if self.ended_at.is_some_and(|end| t >= end) {
            return Err(problem(codes::SUBSCRIPTION_ENDED, "time", "the subscription has ended"));
        }
        let in_plan = |id: &str| placements.clone().find(|(p, _)| p.id == id);
        let found = in_plan(&self.plan).or_else(|| self.addons.iter().find_map(|a| in_plan(a)));
        let (plan, item) = found.ok_or_else(|| {
            let msg = format!("{:?} is not in the customer's plan", product.id);
            problem(codes::PRODUCT_NOT_IN_PLAN, "type", msg)
        })?;
        let late = t < self.period.start;
        if late {
            let earliest = book
                .doc()
                .late_event_grace
                .and_then(|g| g.boundary(self.period.start, -1))
                .unwrap_or(self.period.start);
            if t < earliest || !self.closed.iter().any(|c| c.start <= t && t < c.end) {
                let msg = "the event's period is closed and past the late-event grace";
                return Err(problem(codes::EVENT_TOO_LATE, "time", msg));
            }
        }
        Ok(Target {
            index,
            product,
            plan,
            item,
            t,
            late,
        })
    }

    /// Adds the event's usage to its line and prices the change: the
    /// amount of its receipt. A refused event (over a cap, out of the
    /// decimal range, or not covered by the wallet) changes nothing.
    fn book_usage(
        &mut self,
        book: &PriceBook,
        ev: &UsageEvent,
        target: &Target,
        key: &str,
        priced: &Priced,
        measure: &Measure,
    ) -> Result<Decimal, Problem> {
        let cap = cycle::usage_cap(self, book, target.product, (target.plan, target.item));
        let trial = !target.late && self.period.trial;
        let credit_priced = book.is_custom_unit(priced.unit);
        let customer = self.customer.as_str();
        let state = usage_state(&mut self.products, &mut self.slots, &mut self.closed, target)?;
        let snapshot = credit_priced.then(|| state.clone());
        let (idx, existed, undo) = add_usage(state, ev, target, key, priced, measure, cap)?;
        let amount = if trial {
            // Trial usage counts toward the allowance state but is free.
            Decimal::ZERO
        } else {
            let reprice_key = |k: &str| price_of(book, customer, target, k);
            match price_change(state, idx, existed, key, priced, measure, reprice_key) {
                Ok(a) => a,
                Err(Overflow) => {
                    undo.restore(state, key, existed, measure);
                    return Err(overflow());
                }
            }
        };
        if credit_priced && !trial && !amount.is_zero() {
            if let Err(p) = wallet::spend(self, book, target.product, priced.unit, amount, target.t, Some(ev)) {
                // Put the usage back as it was: a refused event changes nothing.
                if let Some(snap) = snapshot {
                    self.put_back(target, snap);
                }
                return Err(p);
            }
        }
        Ok(amount)
    }

    /// Restores a product's usage as it was before a refused event.
    fn put_back(&mut self, target: &Target, snap: ProductState) {
        let t = target.t;
        let products = if target.late {
            self.closed
                .iter_mut()
                .find(|c| c.start <= t && t < c.end)
                .map(|c| &mut c.products)
        } else {
            Some(&mut self.products)
        };
        if let Some(products) = products {
            products.insert(target.product.id.clone(), snap);
        }
    }
}

/// Where an event lands (see [`Meter::target`]).
struct Target<'b> {
    /// The product's position in the book.
    index: usize,
    product: &'b Product,
    plan: &'b Plan,
    item: &'b PlanItem,
    /// The usage time.
    t: Timestamp,
    /// For a closed period kept for late events.
    late: bool,
}

/// The price of an event's line.
struct Priced<'b> {
    line: LinePrice<'b>,
    /// The unit its amounts are in (the book's currency or a credit unit).
    unit: &'b str,
    /// Priced at the default key under `use_default`.
    remapped: bool,
}

/// The event's price key: the label's properties joined with `/`, or ""
/// for an unkeyed product.
fn event_key(product: &Product, ev: &UsageEvent) -> Result<String, Problem> {
    let Some(label) = &product.price_key_label else {
        return Ok(String::new());
    };
    let props = label.properties();
    price_key(&ev.data, &props).ok_or_else(|| {
        problem(
            codes::MISSING_FIELD,
            &join("data", props.first().copied().unwrap_or("")),
            format!("the price key ({}) is missing", props.join("/")),
        )
    })
}

/// The price of `key` for the event; `None` when the key is dropped.
fn price_for<'b>(
    book: &'b PriceBook,
    customer: &str,
    target: &Target<'b>,
    key: &str,
) -> Result<Option<Priced<'b>>, Problem> {
    let product = target.product;
    let keyed = product.price_key_label.is_some();
    let (price, remapped) = match resolve(
        book,
        product,
        target.item,
        keyed.then_some(key),
        Some(customer),
        Some(target.t),
    ) {
        Resolution::Priced { price, remapped, .. } => (price, remapped),
        Resolution::Dropped => return Ok(None),
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
        let msg = format!("{:?} has no price in {currency}", product.id);
        problem(codes::CURRENCY_UNAVAILABLE, "type", msg)
    })?;
    let line = LinePrice {
        model: price.model,
        amounts,
    };
    Ok(Some(Priced { line, unit, remapped }))
}

/// The price of another key of the same product, for repricing the lines
/// an event moves the allowance between.
fn price_of<'b>(book: &'b PriceBook, customer: &str, target: &Target<'b>, key: &str) -> Option<LinePrice<'b>> {
    let keyed = target.product.price_key_label.is_some();
    match resolve(
        book,
        target.product,
        target.item,
        keyed.then_some(key),
        Some(customer),
        Some(target.t),
    ) {
        Resolution::Priced { price, .. } => {
            amounts_in(book, price, book.doc().currency.as_str()).map(|(a, _)| LinePrice {
                model: price.model,
                amounts: a,
            })
        }
        _ => None,
    }
}

/// The usage state the event adds to: the open period's, or a closed
/// period's for a late event.
fn usage_state<'m>(
    products: &'m mut ProductMap,
    slots: &mut Slots,
    closed: &'m mut std::collections::VecDeque<Closed>,
    target: &Target,
) -> Result<&'m mut ProductState, Problem> {
    let id = &target.product.id;
    if target.late {
        let t = target.t;
        let c = closed
            .iter_mut()
            .find(|c| c.start <= t && t < c.end)
            .ok_or_else(|| problem(codes::EVENT_TOO_LATE, "time", "period not kept"))?;
        return Ok(c.products.entry(id.clone()).or_default());
    }
    let at = slots.find(products, target.index, id);
    products.get_index_mut(at).map(|(_, s)| s).ok_or_else(overflow)
}

/// Adds the event's measure to its key's line (made if new), refusing it
/// when the product's usage would pass its cap. Answers the line's
/// position, whether it existed, and how to undo the addition.
fn add_usage(
    state: &mut ProductState,
    ev: &UsageEvent,
    target: &Target,
    key: &str,
    priced: &Priced,
    measure: &Measure,
    cap: Option<Decimal>,
) -> Result<(usize, bool, Undo), Problem> {
    let used_before = if cap.is_some() { state.used() } else { Decimal::ZERO };
    let found = state.keys.get_index_of(key);
    let existed = found.is_some();
    let idx = match found {
        Some(i) => i,
        None => {
            let ks = KeyState {
                unit: priced.unit.to_string(),
                remapped: priced.remapped,
                ..Default::default()
            };
            state.keys.insert_sorted(key.to_string(), ks).0
        }
    };
    let product = target.product;
    let Some((_, ks)) = state.keys.get_index_mut(idx) else {
        return Err(overflow());
    };
    let undo = Undo::of(ks, product.aggregation());
    if apply(ks, product, ev, target.t, measure).is_err() {
        undo.restore(state, key, existed, measure);
        return Err(overflow());
    }
    if let Some(cap) = cap {
        let new_q = state.keys.get_index(idx).map_or(Decimal::ZERO, |(_, k)| k.quantity);
        let after = used_before
            .checked_sub(undo.quantity)
            .and_then(|u| crate::money::checked_add(u, new_q));
        if after.is_none_or(|u| u > cap) {
            undo.restore(state, key, existed, measure);
            let msg = format!("usage of {:?} would pass its limit of {}", product.id, fmt_qty(cap));
            return Err(problem(codes::LIMIT_EXCEEDED, "data.quantity", msg));
        }
    }
    Ok((idx, existed, undo))
}

/// The change the event makes to its product's charge: a new line's
/// charge at zero usage, a percentage fee, and the repricing of the lines
/// whose billable quantity moved.
fn price_change<'b>(
    state: &mut ProductState,
    idx: usize,
    existed: bool,
    key: &str,
    priced: &Priced<'b>,
    measure: &Measure,
    price_of: impl Fn(&str) -> Option<LinePrice<'b>>,
) -> Result<Decimal, Overflow> {
    let line = priced.line;
    let (_, ks) = state.keys.get_index_mut(idx).ok_or(Overflow)?;
    let mut amount = Decimal::ZERO;
    if !existed {
        ks.exact = base_charge(line)?;
        amount = ks.exact;
    }
    if line.model == PriceModel::Percentage {
        let fee = percentage_fee(line, measure.amount)?;
        ks.exact = add(ks.exact, fee)?;
        amount = add(amount, fee)?;
    }
    if state.keys.len() == 1 {
        // The one line is this event's.
        return usage::add_to(amount, usage::reprice_one(state, line)?);
    }
    let mut price_of = |k: &str| if k == key { Some(line) } else { price_of(k) };
    let changes = reprice(state, &mut price_of)?;
    usage::add_to(amount, usage::commit(state, changes)?)
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
    raw: Option<Decimal>,
    events: u64,
    last: Option<Box<(Timestamp, String)>>,
    billable: Decimal,
    exact: Decimal,
}

impl Undo {
    fn of(ks: &KeyState, agg: Aggregation) -> Undo {
        Undo {
            quantity: ks.quantity,
            raw: ks.raw,
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
                .is_some_and(|u| u.len() as u64 == Self::count(self.raw.unwrap_or(self.quantity)));
            if let (Some(u), Some(set)) = (&m.unique, ks.uniques.as_mut()) {
                if !had_unique {
                    set.remove(u);
                }
            }
            ks.quantity = self.quantity;
            ks.raw = self.raw;
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
    overflow_problem()
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
    let Some(conversion) = &product.unit_conversion else {
        return aggregate(ks, product, ev, t, m);
    };
    // Aggregation runs on the raw quantity; the line's quantity is its
    // conversion (docs/metering.md "Unit conversion").
    let converted = ks.quantity;
    ks.quantity = ks.raw.unwrap_or(Decimal::ZERO);
    let aggregated = aggregate(ks, product, ev, t, m);
    let raw = ks.quantity;
    ks.raw = Some(raw);
    ks.quantity = converted;
    aggregated?;
    ks.quantity = conversion.apply(raw).ok_or(Overflow)?;
    Ok(())
}

/// Adds the event's measure to the line's (raw) quantity under the
/// product's aggregation.
fn aggregate(ks: &mut KeyState, product: &Product, ev: &UsageEvent, t: Timestamp, m: &Measure) -> Result<(), Overflow> {
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
