//! Recording one event: dedup, rating (price key, price, measure, cap,
//! allowance, repricing the line), the wallet, and the undo of a refused
//! event (docs/metering.md "Per-event amounts").

use super::cycle;
use super::dedup::{self, DedupKey, DedupStore, Seen};
use super::receipt::{self, Receipt, Status};
use super::state::*;
use super::usage::{self, base_charge, percentage_fee, reprice, KeyState, LinePrice, ProductState};
use super::wallet::{self};
use crate::error::{codes, Problem};
use crate::event::{price_key, UsageEvent};
use crate::json::join;
use crate::money::{exact_text, fmt_qty};
use crate::period::Timestamp;
use crate::price::{add, Overflow};
use crate::price_book::{Aggregation, PriceBook, PriceModel, Product, ProductType};
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
