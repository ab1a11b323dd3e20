//! The subscription's life: subscribe, period close (usage in arrears,
//! recurring and seats in advance, rollover), quantity changes with
//! proration, cancellation, late usage, and the read-only views.

use super::dedup::{Dedup, DEFAULT_MAX_ENTRIES};
use super::invoice::{
    advance_lines, factor, full_end, invoice, item_price, minimum_lines, money_line, plan_period, span, usage_lines,
};
use super::receipt::Counts;
use super::records::Record;
use super::state::*;
use super::usage::{self, KeyState, LinePrice, ProductState};
use super::wallet::Expiring;
use crate::entitlements;
use crate::error::{codes, Error};
use crate::json::join;
use crate::money::fmt_qty;
use crate::period::Period;
use crate::period::Timestamp;
use crate::price::{charge_quantity, mul, sub};
use crate::price_book::Proration;
use crate::price_book::{Plan, PlanItem, PriceBook, Product, ProductType};
use crate::quote::LineKind;
use crate::resolve::{amounts_in, resolve, Resolution};
use chrono::Duration;
use indexmap::IndexMap;
use rust_decimal::Decimal;
use std::collections::VecDeque;

/// The cap on `product`'s usage for the meter's plans (docs/metering.md
/// "Entitlements").
pub(crate) fn usage_cap(
    m: &Meter,
    book: &PriceBook,
    product: &Product,
    (plan, item): (&Plan, &PlanItem),
) -> Option<Decimal> {
    if m.addons.is_empty() {
        // The usual meter: the item's plan is the base plan, no look-up.
        let base = if plan.id == m.plan {
            Some(plan)
        } else {
            book.plan(&m.plan)
        };
        return base.and_then(|b| entitlements::usage_cap(&[b], &product.id, item));
    }
    entitlements::usage_cap(&m.plans(book), &product.id, item)
}

/// Opens usage state for a period: allowances from the plan (per seat with
/// the seat quantity at the period start), rollover carried in, and the
/// zero-usage charge of unkeyed items.
fn open_products(
    m: &Meter,
    book: &PriceBook,
    rolled: &IndexMap<String, Decimal>,
) -> IndexMap<String, ProductState, rustc_hash::FxBuildHasher> {
    let mut out: IndexMap<String, ProductState, rustc_hash::FxBuildHasher> = IndexMap::default();
    for plan in m.plans(book) {
        let seats = entitlements::seats(book, plan, |p| m.quantities.get(p).copied());
        for item in &plan.items {
            let Some(product) = book.product(&item.product) else {
                continue;
            };
            if product.kind != ProductType::Metered || out.contains_key(&product.id) {
                continue;
            }
            let allowance = entitlements::allowance(item, seats).unwrap_or(Some(Decimal::MAX));
            let mut ps = ProductState {
                included: allowance.unwrap_or(Decimal::ZERO),
                rolled_over: rolled.get(&product.id).copied().unwrap_or(Decimal::ZERO),
                has_allowance: allowance.is_some(),
                keys: Default::default(),
            };
            if product.price_key_label.is_none() && !m.period.trial {
                if let Resolution::Priced { price, remapped, .. } =
                    resolve(book, product, item, None, Some(&m.customer), Some(m.period.start))
                {
                    if let Some((a, unit)) = amounts_in(book, price, &book.doc().currency) {
                        let base = usage::base_charge(LinePrice {
                            model: price.model,
                            amounts: a,
                        })
                        .unwrap_or(Decimal::ZERO);
                        // The one line of an unkeyed product (a replay holds
                        // one such map per product per customer).
                        ps.keys.reserve_exact(1);
                        ps.keys.insert_sorted(
                            String::new(),
                            KeyState {
                                exact: base,
                                unit: unit.to_string(),
                                remapped,
                                ..Default::default()
                            },
                        );
                    }
                }
            }
            out.insert(product.id.clone(), ps);
        }
    }
    out.shrink_to_fit();
    out
}

pub(crate) fn subscribe(book: &PriceBook, sub: &Subscription) -> Result<Meter, Error> {
    let start = sub
        .start
        .ok_or_else(|| err(codes::MISSING_FIELD, "start", "start is required"))?;
    let base = subscribed_plans(book, sub)?;
    let trial_end = base
        .trial_days
        .filter(|d| *d > 0)
        .map(|d| start + Duration::days(i64::from(d)));
    let first = trial_end.unwrap_or(start);
    let anchor = sub.anchor.unwrap_or(first);
    let window = super::dedup::longest_seconds(super::dedup::window(book));
    let period = match trial_end {
        Some(te) => OpenPeriod {
            start,
            end: te,
            full_start: start,
            trial: true,
        },
        None => first_paid(base.period, anchor, first)?,
    };
    let mut m = Meter {
        customer: sub.customer.clone(),
        plan: sub.plan.clone(),
        addons: sub.addons.clone(),
        start,
        anchor,
        trial_end,
        period,
        quantities: IndexMap::new(),
        products: IndexMap::default(),
        paid: Vec::new(),
        pending: Vec::new(),
        closed: VecDeque::new(),
        dedup: Dedup::new(window, DEFAULT_MAX_ENTRIES),
        cancel_at_period_end: false,
        transition_at_period_end: None,
        ended_at: None,
        counts: Counts::default(),
        wallet: Default::default(),
        spend_alert_thresholds: sub.spend_alert_thresholds.clone(),
        alerts: Default::default(),
        pin_price_book: false,
        records: Vec::new(),
        issued: Vec::new(),
        slots: Default::default(),
    };
    subscribed_quantities(&mut m, book, sub)?;
    m.products = open_products(&m, book, &IndexMap::new());
    m.records.push(Record::SubscriptionCreated {
        head: m.head(start, None),
        plan: m.plan.clone(),
        addons: m.addons.clone(),
    });
    grant_included(&mut m, book);
    let mut lines = setup_lines(&m, book, start)?;
    if !m.period.trial {
        advance_lines(&mut m, book, &mut lines)?;
    }
    let inv = invoice(&m, book, start, span(m.period.start, m.period.end), lines);
    m.issue(inv);
    m.spend_alerts(book, start, None);
    Ok(m)
}

/// The subscription's base plan, after checking it and its add-ons.
fn subscribed_plans<'b>(book: &'b PriceBook, sub: &Subscription) -> Result<&'b Plan, Error> {
    let base = match book.plan(&sub.plan) {
        None => return Err(err(codes::UNKNOWN_PLAN, "plan", format!("no plan {:?}", sub.plan))),
        Some(p) if p.addon => {
            let msg = format!("{:?} is an add-on", sub.plan);
            return Err(err(codes::WRONG_PLAN_KIND, "plan", msg));
        }
        Some(p) => p,
    };
    for (i, a) in sub.addons.iter().enumerate() {
        match book.plan(a) {
            Some(p) if p.addon && !sub.addons[..i].contains(a) => {}
            _ => {
                let msg = format!("{a:?} is not an add-on of this book (or is listed twice)");
                return Err(err(codes::WRONG_PLAN_KIND, &crate::json::index("addons", i), msg));
            }
        }
    }
    Ok(base)
}

/// Quantities: every seat/recurring item gets one (a seat its
/// `min_quantity`, else 0); given ones are checked against the item.
fn subscribed_quantities(m: &mut Meter, book: &PriceBook, sub: &Subscription) -> Result<(), Error> {
    for (k, q) in &sub.quantities {
        let path = join("quantities", k);
        match m.item_for(book, k) {
            Some((_, it)) if book.product(k).is_some_and(|p| p.kind != ProductType::Metered) => {
                check_bounds(it, *q, &path)?
            }
            _ => {
                let msg = format!("{k:?} is not a seat, recurring or one-time item of the plan");
                return Err(err(codes::PRODUCT_NOT_IN_PLAN, &path, msg));
            }
        }
        m.quantities.insert(k.clone(), *q);
    }
    m.default_seats(book);
    Ok(())
}

/// The first invoice's setup fees and one-time items.
fn setup_lines(m: &Meter, book: &PriceBook, start: Timestamp) -> Result<Vec<InvoiceLine>, Error> {
    let mut lines = Vec::new();
    let period = || span(start, m.period.end);
    for plan in m.plans(book) {
        if let Some(fee) = plan.setup_fee {
            let name = format!("{} setup fee", plan.name);
            lines.push(money_line(
                book,
                plan,
                &plan.id,
                LineKind::Setup,
                name,
                period(),
                Decimal::ONE,
                fee,
                None,
            ));
        }
        for it in &plan.items {
            let Some(p) = book.product(&it.product).filter(|p| p.kind == ProductType::OneTime) else {
                continue;
            };
            let q = m.quantities.get(&p.id).copied().unwrap_or(Decimal::ONE);
            if let Some((model, a)) = item_price(m, book, p, it, start) {
                let exact = charge_quantity(model, a, q, false).map_err(|_| overflow_err())?.amount;
                lines.push(money_line(
                    book,
                    plan,
                    &p.id,
                    LineKind::Setup,
                    p.name.clone(),
                    period(),
                    q,
                    exact,
                    None,
                ));
            }
        }
    }
    Ok(lines)
}

fn check_bounds(it: &PlanItem, q: Decimal, path: &str) -> Result<(), Error> {
    if let Some(min) = it.min_quantity {
        if q < min {
            return Err(err(
                codes::BELOW_MIN_QUANTITY,
                path,
                format!("at least {} required", fmt_qty(min)),
            ));
        }
    }
    if let Some(max) = it.max_quantity {
        if q > max {
            return Err(err(
                codes::ABOVE_MAX_QUANTITY,
                path,
                format!("at most {} allowed", fmt_qty(max)),
            ));
        }
    }
    Ok(())
}

/// The first paid period: from `first` to the next anchor boundary.
fn first_paid(period: Period, anchor: Timestamp, first: Timestamp) -> Result<OpenPeriod, Error> {
    let (_, s, e) = period
        .containing(anchor, first)
        .ok_or_else(|| err(codes::OUT_OF_RANGE, "anchor", "the period falls outside the calendar"))?;
    Ok(OpenPeriod {
        start: first,
        end: e,
        full_start: s,
        trial: false,
    })
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn add_late(
    m: &mut Meter,
    item: &PlanItem,
    product: &Product,
    key: &str,
    t: Timestamp,
    qty: Decimal,
    amount: Decimal,
    unit: &str,
) {
    let Some(c) = m.closed.iter().find(|c| c.start <= t && t < c.end) else {
        return;
    };
    let (start, end) = (c.start, c.end);
    let plan = m.item_for_plan_id(item);
    let price_key = product.price_key_label.as_ref().map(|_| key.to_string());
    if let Some(p) = m.pending.iter_mut().find(|p| {
        p.kind == PendingKind::Late && p.product == product.id && p.price_key == price_key && p.start == start
    }) {
        p.quantity = crate::money::checked_add(p.quantity, qty).unwrap_or(p.quantity);
        p.exact = crate::money::checked_add(p.exact, amount).unwrap_or(p.exact);
        return;
    }
    m.pending.push(Pending {
        plan,
        product: product.id.clone(),
        price_key,
        kind: PendingKind::Late,
        description: format!("Late usage of {} for {} – {}", product.name, ts(start), ts(end)),
        start,
        end,
        quantity: qty,
        exact: amount,
        unit: unit.to_string(),
    });
}

impl Meter {
    fn item_for_plan_id(&self, _item: &PlanItem) -> String {
        self.plan.clone()
    }

    /// Closes every period that ends at or before `t`, issuing its
    /// invoice, and records the credits that expired by `t`.
    pub fn advance_to(&mut self, book: &PriceBook, t: Timestamp) -> Result<(), Error> {
        let mut guard = 0u32;
        while self.ended_at.is_none() && self.period.end <= t {
            self.close_open_period(book, book)?;
            guard += 1;
            if guard > 100_000 {
                return Err(err(codes::OUT_OF_RANGE, "at", "too many periods to close at once"));
            }
        }
        self.expire_credits(book, t);
        Ok(())
    }

    /// Records the credits that expired by `t` (and the low balances they
    /// leave).
    #[inline]
    pub(crate) fn expire_credits(&mut self, book: &PriceBook, t: Timestamp) {
        if !self.wallet.grants.is_empty() {
            super::wallet::expire(self, book, Expiring::By(t), true);
        }
    }

    /// Whether the subscription can move to `book` at a period start: its
    /// plan, add-ons and any plan it is due to switch to are all there
    /// (docs/metering.md "Price book versions").
    pub fn fits(&self, book: &PriceBook) -> bool {
        let base = |id: &str| book.plan(id).is_some_and(|p| !p.addon);
        base(&self.plan)
            && self.addons.iter().all(|a| book.plan(a).is_some_and(|p| p.addon))
            && self.transition_at_period_end.as_deref().is_none_or(base)
    }

    /// Closes every period that ends at or before `t` when a new version
    /// of the price book, `new`, became active at `new_from`: periods that
    /// ended before `new_from` are closed and renewed with `old`; the open
    /// period at `new_from` is closed (its usage invoiced) with `old`, the
    /// version its receipts named, and the periods after it are opened and
    /// billed with `new`. Answers whether the meter moved to `new`: it does not
    /// when no period ends by `t`, when the subscription is pinned to its
    /// version, or when `new` lacks the subscription's plans (it then
    /// stays on `old`).
    pub fn advance_across(
        &mut self,
        old: &PriceBook,
        new: &PriceBook,
        new_from: Timestamp,
        t: Timestamp,
    ) -> Result<bool, Error> {
        // Periods that ended before `new` became active stay with `old`.
        if new_from > self.period.end {
            let before = new_from - chrono::Duration::nanoseconds(1);
            self.advance_to(old, t.min(before))?;
        }
        if self.ended_at.is_some() || self.period.end > t {
            return Ok(false);
        }
        if self.pin_price_book || !self.fits(new) {
            self.advance_to(old, t)?;
            return Ok(false);
        }
        self.close_open_period(old, new)?;
        self.advance_to(new, t)?;
        Ok(true)
    }

    /// Closes the open period with `closing` (its usage in arrears,
    /// rollover, the late-event window) and opens the next with `opening`
    /// (its period, allowances, included credits and advance charges); the
    /// two differ only when a new price book version takes over.
    fn close_open_period(&mut self, closing: &PriceBook, opening: &PriceBook) -> Result<(), Error> {
        let book = closing;
        let end = self.period.end;
        // Credits that expired during the period, and the balance they left.
        if !self.wallet.grants.is_empty() {
            super::wallet::expire(self, book, Expiring::Before(end), true);
        }
        let mut lines = Vec::new();
        usage_lines(self, book, end, &mut lines);
        minimum_lines(self, book, end, &mut lines)?;
        self.pending.clear();
        let rolled = self.roll_over(book, end);
        let closed_span = span(self.period.start, end);
        self.keep_for_late_events(book, end);
        self.alerts.new_period();
        if self.cancel_at_period_end {
            self.ended_at = Some(end);
            let inv = invoice(self, book, end, closed_span, lines);
            self.issue(inv);
            return Ok(());
        }
        if let Some(next) = self.transition_at_period_end.take() {
            plan_changed(self, end, &next);
            self.default_seats(opening);
        }
        let book = opening;
        self.period = self.next_period(book, end)?;
        self.products = open_products(self, book, &rolled);
        // Credits that expire with the period are recorded before the
        // period's own are granted, and the balance is judged after both.
        let before = balances(self, end);
        super::wallet::expire(self, book, Expiring::By(end), false);
        grant_included(self, book);
        for (unit, was) in before {
            let fell = self.wallet.balance(&unit, end) < was;
            self.low_balance_alerts(book, &unit, end, None, fell);
        }
        advance_lines(self, book, &mut lines)?;
        // The invoice names the version that priced the usage it bills.
        let inv = invoice(self, closing, end, closed_span, lines);
        self.issue(inv);
        self.spend_alerts(book, end, None);
        Ok(())
    }

    /// The unused allowance of items with `rollover`, carried into the
    /// next period only (a trial rolls nothing over).
    fn roll_over(&mut self, book: &PriceBook, end: Timestamp) -> IndexMap<String, Decimal> {
        let mut rolled = IndexMap::new();
        if self.period.trial {
            return rolled;
        }
        for (pid, ps) in &self.products {
            if !self.item_for(book, pid).is_some_and(|(_, item)| item.rollover) {
                continue;
            }
            let left = entitlements::rollover_left(ps.included, ps.rolled_over, ps.used());
            if left > Decimal::ZERO {
                rolled.insert(pid.clone(), left);
            }
        }
        for (pid, left) in &rolled {
            self.records.push(Record::AllowanceRolledOver {
                head: self.head(end, None),
                product: pid.clone(),
                quantity: super::records::qty(*left),
            });
        }
        rolled
    }

    /// Keeps the closing period's usage for late events, and only the
    /// periods still within the late-event grace of the next one.
    fn keep_for_late_events(&mut self, book: &PriceBook, end: Timestamp) {
        let Some(g) = book.doc().late_event_grace else {
            return;
        };
        self.closed.push_back(Closed {
            start: self.period.start,
            end,
            products: std::mem::take(&mut self.products),
        });
        while let Some(c) = self.closed.front() {
            if g.boundary(c.end, 1).is_some_and(|limit| limit <= end) && self.closed.len() > 1 {
                self.closed.pop_front();
            } else {
                break;
            }
        }
    }

    /// The period after the one ending at `end`: the first paid one after
    /// a trial, else the next anchor-aligned period of the plan.
    fn next_period(&self, book: &PriceBook, end: Timestamp) -> Result<OpenPeriod, Error> {
        let period = plan_period(book, &self.plan);
        if self.period.trial {
            return first_paid(period, self.anchor, end);
        }
        let next_end = period
            .containing(self.anchor, end)
            .map(|(_, _, e)| e)
            .ok_or_else(|| err(codes::OUT_OF_RANGE, "at", "period outside the calendar"))?;
        Ok(OpenPeriod {
            start: end,
            end: next_end,
            full_start: end,
            trial: false,
        })
    }

    /// Changes a seat (or recurring) quantity at `at`; the difference for
    /// the rest of the period is prorated onto the next invoice.
    pub fn change_quantity(
        &mut self,
        book: &PriceBook,
        product: &str,
        quantity: Decimal,
        at: Timestamp,
    ) -> Result<(), Error> {
        self.advance_to(book, at)?;
        if self.ended_at.is_some() {
            return Err(err(codes::SUBSCRIPTION_ENDED, "at", "the subscription has ended"));
        }
        let path = join("quantities", product);
        let p = book
            .product(product)
            .ok_or_else(|| err(codes::UNKNOWN_PRODUCT, &path, format!("no product {product:?}")))?;
        let (plan, item) = self.item_for(book, product).ok_or_else(|| {
            err(
                codes::PRODUCT_NOT_IN_PLAN,
                &path,
                format!("{product:?} is not in the plan"),
            )
        })?;
        if !matches!(p.kind, ProductType::Seat | ProductType::Recurring) {
            return Err(err(
                codes::INVALID_USAGE,
                &path,
                "only seat and recurring quantities can change",
            ));
        }
        check_bounds(item, quantity, &path)?;
        let old = self.quantities.get(product).copied().unwrap_or(Decimal::ZERO);
        if old == quantity {
            return Ok(());
        }
        self.quantities.insert(product.to_string(), quantity);
        if self.period.trial {
            return Ok(());
        }
        self.prorate_change(book, (plan, p, item), old, quantity, at)
    }

    /// The proration of a quantity change from `old` to `quantity` at `at`
    /// for the rest of the period, as a pending line (a decrease credits
    /// nothing under `proration: none`).
    fn prorate_change(
        &mut self,
        book: &PriceBook,
        (plan, p, item): (&Plan, &Product, &PlanItem),
        old: Decimal,
        quantity: Decimal,
        at: Timestamp,
    ) -> Result<(), Error> {
        let Some((model, a)) = item_price(self, book, p, item, at) else {
            return Ok(());
        };
        let diff = sub(
            charge_quantity(model, a, quantity, false)
                .map_err(|_| overflow_err())?
                .amount,
            charge_quantity(model, a, old, false)
                .map_err(|_| overflow_err())?
                .amount,
        )
        .map_err(|_| overflow_err())?;
        let full_end = full_end(self, book);
        let mode = book.doc().proration;
        let f = factor(mode, at, self.period.end, self.period.full_start, full_end);
        if mode == Proration::None && diff < Decimal::ZERO {
            return Ok(());
        }
        let exact = mul(diff, f).map_err(|_| overflow_err())?;
        if let Some(paid) = self.paid.iter_mut().find(|x| x.product == p.id) {
            paid.exact = crate::money::checked_add(paid.exact, exact).unwrap_or(paid.exact);
        }
        self.pending.push(Pending {
            plan: plan.id.clone(),
            product: p.id.clone(),
            price_key: None,
            kind: PendingKind::Proration,
            description: format!(
                "{} {} → {}, prorated {}",
                p.name,
                fmt_qty(old),
                fmt_qty(quantity),
                fmt_qty(f.round_dp(6))
            ),
            start: at,
            end: self.period.end,
            quantity: quantity - old,
            exact,
            unit: book.doc().currency.clone(),
        });
        Ok(())
    }

    /// Cancels: `immediate` issues a final invoice at `at` (usage so far,
    /// pending lines, and a credit for the unused part of what was paid in
    /// advance); `period_end` stops renewing.
    pub fn cancel(&mut self, book: &PriceBook, at: Timestamp, immediate: bool) -> Result<(), Error> {
        self.advance_to(book, at)?;
        if self.ended_at.is_some() {
            return Err(err(
                codes::SUBSCRIPTION_ENDED,
                "at",
                "the subscription has already ended",
            ));
        }
        if !immediate && self.cancel_at_period_end {
            // Already stopping at the period end: no change, no record.
            return Ok(());
        }
        let mode = if immediate { Mode::Immediate } else { Mode::PeriodEnd };
        self.records.push(Record::SubscriptionCanceled {
            head: self.head(at, None),
            mode,
            ends_at: ts(if immediate { at } else { self.period.end }),
        });
        if !immediate {
            self.cancel_at_period_end = true;
            return Ok(());
        }
        let mut lines = Vec::new();
        usage_lines(self, book, at, &mut lines);
        self.pending.clear();
        let full_end = full_end(self, book);
        // The unused share of what was paid for [period.start, period.end).
        let paid_factor_den = factor(
            book.doc().proration,
            self.period.start,
            self.period.end,
            self.period.full_start,
            full_end,
        );
        let unused = factor(
            book.doc().proration,
            at,
            self.period.end,
            self.period.full_start,
            full_end,
        );
        if book.doc().proration != Proration::None && !paid_factor_den.is_zero() {
            let share = unused
                .checked_div(paid_factor_den)
                .unwrap_or(Decimal::ZERO)
                .min(Decimal::ONE);
            for paid in self.paid.clone() {
                let Some(plan) = book.plan(&paid.plan) else { continue };
                let name = book
                    .product(&paid.product)
                    .map_or(paid.product.clone(), |p| p.name.clone());
                let exact = -mul(paid.exact, share).map_err(|_| overflow_err())?;
                lines.push(money_line(
                    book,
                    plan,
                    &paid.product,
                    LineKind::Credit,
                    format!("Unused {} (cancelled)", name),
                    span(at, self.period.end),
                    Decimal::ONE,
                    exact,
                    None,
                ));
            }
        }
        minimum_lines(self, book, at, &mut lines)?;
        self.ended_at = Some(at);
        let inv = invoice(self, book, at, span(self.period.start, at), lines);
        self.issue(inv);
        Ok(())
    }
}

/// Grants the plan's included credits for the open period (they expire at its end).
fn grant_included(m: &mut Meter, book: &PriceBook) {
    if m.period.trial {
        return;
    }
    let Some(credits) = book.plan(&m.plan).and_then(|p| p.included_credits) else {
        return;
    };
    let Some(unit) = super::wallet::plan_unit(book) else {
        return;
    };
    m.wallet.prune(m.period.start);
    m.wallet
        .grant("included", &unit, credits, 50, m.period.start, Some(m.period.end));
}

/// Moves the meter to plan `to` at `at` and records it.
fn plan_changed(m: &mut Meter, at: Timestamp, to: &str) {
    m.records.push(Record::SubscriptionPlanChanged {
        head: m.head(at, None),
        from: m.plan.clone(),
        to: to.to_string(),
    });
    m.plan = to.to_string();
}

/// The wallet's balance just before `at` in each unit it holds.
fn balances(m: &Meter, at: Timestamp) -> Vec<(String, Decimal)> {
    let mut out: Vec<(String, Decimal)> = Vec::new();
    for g in &m.wallet.grants {
        if !out.iter().any(|(u, _)| *u == g.unit) {
            out.push((g.unit.clone(), m.wallet.balance_before(&g.unit, at)));
        }
    }
    out
}

impl Meter {
    /// Gives every seat item of the plans in force a quantity (its
    /// `min_quantity`, else 0) if it has none yet.
    fn default_seats(&mut self, book: &PriceBook) {
        for plan in self.plans(book) {
            for it in &plan.items {
                if book.product(&it.product).is_some_and(|p| p.kind == ProductType::Seat)
                    && !self.quantities.contains_key(&it.product)
                {
                    self.quantities
                        .insert(it.product.clone(), it.min_quantity.unwrap_or(Decimal::ZERO));
                }
            }
        }
    }

    /// Buys a credit pack at `at` (docs/contract.md §5 `purchase_credits`).
    pub fn purchase_credits(&mut self, book: &PriceBook, pack: &str, at: Timestamp) -> Result<(), Error> {
        super::wallet::purchase(self, book, pack, at)
    }

    /// Credit lines for the unused `share` of what was paid in advance,
    /// on a change to `plan` at `at`.
    fn unused_credits(
        &self,
        book: &PriceBook,
        plan: &str,
        share: Decimal,
        at: Timestamp,
        lines: &mut Vec<InvoiceLine>,
    ) -> Result<(), Error> {
        for paid in &self.paid {
            let Some(p) = book.plan(&paid.plan) else { continue };
            let name = book
                .product(&paid.product)
                .map_or(paid.product.clone(), |x| x.name.clone());
            let exact = -mul(paid.exact, share).map_err(|_| overflow_err())?;
            let description = format!("Unused {name} ({} → {plan})", self.plan);
            let period = span(at, self.period.end);
            let (one, kind) = (Decimal::ONE, LineKind::Credit);
            lines.push(money_line(
                book,
                p,
                &paid.product,
                kind,
                description,
                period,
                one,
                exact,
                None,
            ));
        }
        Ok(())
    }

    /// The allowance left unused in the open period, per product.
    fn allowance_left(&self) -> IndexMap<String, Decimal> {
        let mut left = IndexMap::new();
        for (pid, ps) in &self.products {
            let (used, total) = (ps.used(), ps.allowance());
            if ps.has_allowance && total > used {
                left.insert(pid.clone(), total - used);
            }
        }
        left
    }

    /// The usage state for the rest of the period on a new plan: its
    /// allowance pro rata (`f_new`) plus what was `left` of the old one.
    fn switched_products(
        &self,
        book: &PriceBook,
        f_new: Decimal,
        left: &IndexMap<String, Decimal>,
    ) -> Result<ProductMap, Error> {
        let mut products = open_products(self, book, &IndexMap::new());
        for (pid, ps) in products.iter_mut() {
            let pro_rata = mul(ps.included, f_new).map_err(|_| overflow_err())?;
            let carried = left.get(pid).copied().unwrap_or(Decimal::ZERO);
            ps.included = crate::money::checked_add(pro_rata, carried).ok_or_else(overflow_err)?;
            ps.has_allowance = ps.has_allowance || left.contains_key(pid);
        }
        Ok(products)
    }

    /// Moves the subscription to another base plan. `immediate`: usage so
    /// far is billed under the old plan, the unused part of what was paid
    /// in advance is credited, the rest of the period is charged on the new
    /// plan, and the new plan's allowance is added pro rata to what is left
    /// of the old one. Otherwise the change happens at the period end.
    pub fn transition_plan(
        &mut self,
        book: &PriceBook,
        plan: &str,
        at: Timestamp,
        immediate: bool,
    ) -> Result<(), Error> {
        self.advance_to(book, at)?;
        if self.ended_at.is_some() {
            return Err(err(codes::SUBSCRIPTION_ENDED, "at", "the subscription has ended"));
        }
        match book.plan(plan) {
            None => return Err(err(codes::UNKNOWN_PLAN, "plan", format!("no plan {plan:?}"))),
            Some(p) if p.addon => return Err(err(codes::WRONG_PLAN_KIND, "plan", format!("{plan:?} is an add-on"))),
            Some(_) if plan == self.plan => return Ok(()),
            Some(_) => {}
        }
        if self.period.trial {
            plan_changed(self, at, plan);
            return Ok(());
        }
        if !immediate {
            self.transition_at_period_end = Some(plan.to_string());
            return Ok(());
        }
        // Usage so far, credits and minimums under the old plan.
        let mut lines = Vec::new();
        let (left, full_end) = self.end_segment(book, at, plan, &mut lines)?;
        plan_changed(self, at, plan);
        self.default_seats(book);
        // The rest of the period on the new plan, on the same invoice.
        self.start_segment(book, at, full_end, &left, lines)
    }

    /// Ends the open period's segment at `at` under `book` (a plan change
    /// or a version migration at once): its usage so far, the unused part
    /// of what was paid in advance credited (`to` names where it goes) and
    /// its minimums, into `lines`; its usage is kept for late events.
    /// Answers what is left of its allowances and the full period's end.
    fn end_segment(
        &mut self,
        book: &PriceBook,
        at: Timestamp,
        to: &str,
        lines: &mut Vec<InvoiceLine>,
    ) -> Result<(IndexMap<String, Decimal>, Timestamp), Error> {
        let full_end = full_end(self, book);
        let mode = book.doc().proration;
        let paid_f = factor(
            mode,
            self.period.start,
            self.period.end,
            self.period.full_start,
            full_end,
        );
        let unused = factor(mode, at, self.period.end, self.period.full_start, full_end);
        usage_lines(self, book, at, lines);
        self.pending.clear();
        if mode != Proration::None && !paid_f.is_zero() {
            let share = crate::money::checked_div(unused, paid_f)
                .unwrap_or(Decimal::ZERO)
                .min(Decimal::ONE);
            self.unused_credits(book, to, share, at, lines)?;
        }
        // The minimums, for the part of the period the segment ran.
        minimum_lines(self, book, at, lines)?;
        let left = self.allowance_left();
        let old_products = std::mem::take(&mut self.products);
        if book.doc().late_event_grace.is_some() {
            self.closed.push_back(Closed {
                start: self.period.start,
                end: at,
                products: old_products,
            });
        }
        Ok((left, full_end))
    }

    /// Opens the rest of the period from `at` under `book`: allowances
    /// pro rata plus what was `left`, advance charges pro rata, added to
    /// `lines` and issued as one invoice.
    fn start_segment(
        &mut self,
        book: &PriceBook,
        at: Timestamp,
        full_end: Timestamp,
        left: &IndexMap<String, Decimal>,
        mut lines: Vec<InvoiceLine>,
    ) -> Result<(), Error> {
        let (end, full_start) = (self.period.end, self.period.full_start);
        self.period = OpenPeriod {
            start: at,
            end,
            full_start,
            trial: false,
        };
        let f_new = factor(book.doc().proration, at, end, full_start, full_end);
        self.products = self.switched_products(book, f_new, left)?;
        // A new segment: its usage, allowance and alerts start afresh.
        self.alerts.new_period();
        advance_lines(self, book, &mut lines)?;
        let inv = invoice(self, book, at, span(at, end), lines);
        self.issue(inv);
        self.spend_alerts(book, at, None);
        Ok(())
    }

    /// Moves the subscription from version `old` of the price book to
    /// `new` at `at`, with proration (docs/metering.md "Price book
    /// versions"): the open period's usage so far is invoiced under `old`,
    /// the version its receipts named, with the unused part of what was
    /// paid in advance credited; the rest of the period is opened and
    /// charged under `new`, its allowances pro rata plus what is left of
    /// the old ones. Two invoices, one per version. A trial has nothing to
    /// prorate: it moves when it ends. Answers whether it moved now.
    pub fn migrate(&mut self, old: &PriceBook, new: &PriceBook, at: Timestamp) -> Result<bool, Error> {
        self.advance_to(old, at)?;
        if self.ended_at.is_some() {
            return Err(err(codes::SUBSCRIPTION_ENDED, "at", "the subscription has ended"));
        }
        if !self.fits(new) {
            let message = format!(
                "the latest price book version lacks plan {:?}, one of its add-ons or the plan it switches to",
                self.plan
            );
            return Err(err(codes::UNKNOWN_PLAN, "price_book", message));
        }
        if self.period.trial || old.hash() == new.hash() {
            return Ok(false);
        }
        // Two invoices, so that each names the version that priced it.
        let mut lines = Vec::new();
        let to = format!("{}, price book {}", self.plan, new.hash());
        let (left, full_end) = self.end_segment(old, at, &to, &mut lines)?;
        let inv = invoice(self, old, at, span(self.period.start, at), lines);
        self.issue(inv);
        self.start_segment(new, at, full_end, &left, Vec::new())?;
        Ok(true)
    }
}
