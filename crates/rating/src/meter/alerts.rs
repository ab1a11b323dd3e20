//! Alerts (docs/metering.md "Records"): allowance and spend thresholds,
//! each recorded once per period at the event whose usage reaches it, and
//! low-balance thresholds on credits, recorded once until the balance
//! rises above them again. What has fired is part of the meter's state.
//!
//! A period's thresholds must fire the same whatever order its events
//! arrive in, so they are measured on quantities that only grow with the
//! period's events and do not depend on their order:
//! - usage is the product's usage, except that a `last` product counts
//!   each key's highest reading of the period;
//! - spend is the exact charge of the period's usage in the book's
//!   currency, except that a volume-priced line counts the highest charge
//!   at any quantity up to its own (a volume charge falls where a cheaper
//!   tier starts), and a `last` product is priced at its highest readings.

use super::records::{exact, qty, Cause, Record};
use super::state::{Meter, Span};
use super::usage::ProductState;
use crate::period::Timestamp;
use crate::price::{add, charge_quantity, sub, volume_peak, Overflow};
use crate::price_book::{Aggregation, Plan, PlanItem, PriceBook, PriceModel, Product};
use crate::resolve::{amounts_in, resolve, Resolution};
use indexmap::IndexMap;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// What the alerts have said (see [`Fired`]), boxed: most meters have
/// none, and a replay holds a meter per customer. Kept in the meter's
/// JSON, so a meter stored between requests never says the same thing
/// twice.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Alerts(Option<Box<Fired>>);

/// The thresholds reached (allowance and spend in the open period, low
/// balances until re-armed) and the readings the measures need.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Fired {
    /// Allowance thresholds reached in the open period, by product.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub allowance: IndexMap<String, Vec<Decimal>>,
    /// Spend thresholds reached in the open period.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spend: Vec<Decimal>,
    /// The highest reading of each key of `last` products in the open period.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub peaks: IndexMap<String, IndexMap<String, Decimal>>,
    /// Low-balance thresholds reached and not re-armed, by credit unit.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub low: IndexMap<String, Vec<Decimal>>,
    /// The `low_balance` of each pack bought, by credit unit.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub packs: IndexMap<String, Vec<Decimal>>,
}

impl Fired {
    fn is_empty(&self) -> bool {
        self.allowance.is_empty()
            && self.spend.is_empty()
            && self.peaks.is_empty()
            && self.low.is_empty()
            && self.packs.is_empty()
    }
}

impl Alerts {
    /// Nothing to remember.
    pub fn is_empty(&self) -> bool {
        self.0.as_ref().is_none_or(|f| f.is_empty())
    }

    /// What has fired, if anything.
    pub fn fired(&self) -> Option<&Fired> {
        self.0.as_deref()
    }

    fn fired_mut(&mut self) -> &mut Fired {
        self.0.get_or_insert_with(Default::default)
    }

    /// A new period (or a new segment after an immediate plan change):
    /// its usage starts over, and so do its allowance and spend alerts.
    pub(crate) fn new_period(&mut self) {
        if let Some(f) = self.0.as_mut() {
            f.allowance.clear();
            f.spend.clear();
            f.peaks.clear();
        }
    }

    /// Notes a reading of a `last` product's key.
    pub(crate) fn note_reading(&mut self, product: &str, key: &str, reading: Decimal) {
        let peaks = &mut self.fired_mut().peaks;
        let keys = match peaks.get_mut(product) {
            Some(k) => k,
            None => peaks.entry(product.to_string()).or_default(),
        };
        match keys.get_mut(key) {
            Some(p) if *p >= reading => {}
            Some(p) => *p = reading,
            None => {
                keys.insert(key.to_string(), reading);
            }
        }
    }

    /// Adds a pack's `low_balance` to those that watch `unit`.
    pub(crate) fn watch(&mut self, unit: &str, threshold: Decimal) {
        let list = self.fired_mut().packs.entry(unit.to_string()).or_default();
        if !list.contains(&threshold) {
            list.push(threshold);
        }
    }

    fn peaks(&self, product: &str) -> Option<&IndexMap<String, Decimal>> {
        self.fired().and_then(|f| f.peaks.get(product))
    }
}

/// Whether `used` is at least `percent` % of `limit` (exactly: `used ×
/// 100 ≥ percent × limit`).
fn reached(used: Decimal, limit: Decimal, percent: Decimal) -> bool {
    match (
        crate::money::checked_mul(used, Decimal::ONE_HUNDRED),
        crate::money::checked_mul(percent, limit),
    ) {
        (Some(a), Some(b)) => a >= b,
        // Beyond the decimal range: compare the ratio instead.
        _ => used
            .checked_div(limit)
            .and_then(|r| crate::money::checked_mul(r, Decimal::ONE_HUNDRED))
            .is_none_or(|p| p >= percent),
    }
}

/// A product's usage as alerts measure it: a `last` product counts each
/// key's highest reading of the period.
fn alert_usage(ps: &ProductState, peaks: Option<&IndexMap<String, Decimal>>) -> Decimal {
    let Some(peaks) = peaks else { return ps.used() };
    ps.keys.iter().fold(Decimal::ZERO, |s, (k, ks)| {
        let q = peaks.get(k).map_or(ks.quantity, |p| (*p).max(ks.quantity));
        crate::money::checked_add(s, q).unwrap_or(Decimal::MAX)
    })
}

impl Meter {
    /// The alerts of an accepted event of the open period on `product`
    /// (metered by `item`, priced in the book's currency or not): its
    /// allowance thresholds, then the period's spend thresholds.
    #[inline]
    pub(crate) fn usage_alerts(
        &mut self,
        book: &PriceBook,
        product: &Product,
        item: &PlanItem,
        t: Timestamp,
        cause: Cause,
    ) {
        if !item.alert_thresholds.is_empty() {
            self.allowance_alerts(product, item, t, cause);
        }
        if book.has_spend_alerts() || !self.spend_alert_thresholds.is_empty() {
            self.spend_alerts(book, t, cause);
        }
    }

    fn allowance_alerts(&mut self, product: &Product, item: &PlanItem, t: Timestamp, cause: Cause) {
        let Some(ps) = self.products.get(&product.id) else {
            return;
        };
        let limit = ps.allowance();
        if !ps.has_allowance || limit <= Decimal::ZERO {
            // No allowance this period: nothing to be a percent of.
            return;
        }
        let peaks = (product.aggregation() == Aggregation::Last)
            .then(|| self.alerts.peaks(&product.id))
            .flatten();
        let used = alert_usage(ps, peaks);
        let fired = self.alerts.fired().and_then(|f| f.allowance.get(&product.id));
        let mut due: Vec<Decimal> = item
            .alert_thresholds
            .iter()
            .filter(|th| !fired.is_some_and(|f| f.contains(th)) && reached(used, limit, **th))
            .copied()
            .collect();
        if due.is_empty() {
            return;
        }
        due.sort();
        let period = self.period_span();
        for threshold in due {
            self.alerts
                .fired_mut()
                .allowance
                .entry(product.id.clone())
                .or_default()
                .push(threshold);
            self.records.push(Record::AllowanceThresholdReached {
                head: self.head(t, cause),
                product: product.id.clone(),
                threshold,
                used: qty(used),
                limit: qty(limit),
                period: period.clone(),
            });
        }
    }

    /// The spend thresholds in force: the plans' (base, then add-ons) and
    /// the subscription's own, each once.
    fn spend_thresholds(&self, book: &PriceBook) -> Vec<Decimal> {
        let mut out: Vec<Decimal> = Vec::new();
        let plans = std::iter::once(&self.plan)
            .chain(self.addons.iter())
            .filter_map(|id| book.plan(id));
        let lists = plans
            .map(|p: &Plan| p.spend_alert_thresholds.as_slice())
            .chain(std::iter::once(self.spend_alert_thresholds.as_slice()));
        for th in lists.flatten() {
            if !out.contains(th) {
                out.push(*th);
            }
        }
        out
    }

    /// Records the spend thresholds the open period's usage charge has
    /// reached and that have not fired yet in the period.
    pub(crate) fn spend_alerts(&mut self, book: &PriceBook, t: Timestamp, cause: Cause) {
        if self.period.trial || self.ended_at.is_some() {
            return;
        }
        if !book.has_spend_alerts() && self.spend_alert_thresholds.is_empty() {
            // The usual meter: no spend alerts at all.
            return;
        }
        let mut due = self.spend_thresholds(book);
        if let Some(f) = self.alerts.fired() {
            due.retain(|th| !f.spend.contains(th));
        }
        if due.is_empty() {
            return;
        }
        let Ok(amount) = self.alert_spend(book, t) else { return };
        due.retain(|th| *th <= amount);
        due.sort();
        let scale = book.scale_of(&book.doc().currency).unwrap_or(2);
        let period = self.period_span();
        for threshold in due {
            self.alerts.fired_mut().spend.push(threshold);
            self.records.push(Record::SpendThresholdReached {
                head: self.head(t, cause),
                threshold,
                amount: exact(amount, scale),
                currency: book.doc().currency.clone(),
                period: period.clone(),
            });
        }
    }

    /// The open period's usage charge in the book's currency, as spend
    /// alerts measure it (see the module's docs).
    fn alert_spend(&self, book: &PriceBook, t: Timestamp) -> Result<Decimal, Overflow> {
        let currency = book.doc().currency.as_str();
        let mut total = Decimal::ZERO;
        for (pid, ps) in &self.products {
            let Some(product) = book.product(pid) else { continue };
            let item = self.item_for(book, pid).map(|(_, it)| it);
            let last = product.aggregation() == Aggregation::Last;
            let volume = item.is_some_and(|it| may_be_volume(book, &self.customer, product, it));
            if !last && !volume {
                for ks in ps.keys.values().filter(|ks| ks.unit == currency) {
                    total = add(total, ks.exact)?;
                }
                continue;
            }
            let Some(item) = item else { continue };
            let peaks = if last { self.alerts.peaks(pid) } else { None };
            let mut remaining = if ps.has_allowance {
                ps.allowance()
            } else {
                Decimal::ZERO
            };
            for (key, ks) in &ps.keys {
                // A `last` line at its highest reading, its allowance drawn
                // in key order as the meter draws it.
                let billable = match peaks {
                    None => ks.billable,
                    Some(p) => {
                        let q = p.get(key).map_or(ks.quantity, |r| (*r).max(ks.quantity));
                        let included = if ps.has_allowance {
                            q.min(remaining)
                        } else {
                            Decimal::ZERO
                        };
                        remaining -= included;
                        q - included
                    }
                };
                if ks.unit != currency {
                    continue;
                }
                let keyed = product.price_key_label.as_ref().map(|_| key.as_str());
                let price = match resolve(book, product, item, keyed, Some(&self.customer), Some(t)) {
                    Resolution::Priced { price, .. } => {
                        amounts_in(book, price, currency).map(|(a, _)| (price.model, a))
                    }
                    _ => None,
                };
                let Some((model, amounts)) = price else {
                    total = add(total, ks.exact)?;
                    continue;
                };
                let line = match (model, last) {
                    (PriceModel::Volume, false) => {
                        // The exact charge, plus what the charge was above
                        // it at a smaller quantity.
                        let now = charge_quantity(model, amounts, billable, false)?.amount;
                        let peak = volume_peak(amounts.tiers.as_deref().unwrap_or(&[]), billable)?;
                        add(ks.exact, sub(peak, now)?)?
                    }
                    (PriceModel::Volume, true) => volume_peak(amounts.tiers.as_deref().unwrap_or(&[]), billable)?,
                    (PriceModel::Percentage, _) => ks.exact,
                    _ => charge_quantity(model, amounts, billable, false)?.amount,
                };
                total = add(total, line)?;
            }
        }
        Ok(total)
    }

    /// Sets the subscription's own spend thresholds at `at`; those the
    /// open period's usage charge has already reached are recorded now.
    pub fn set_spend_alert_thresholds(&mut self, book: &PriceBook, thresholds: Vec<Decimal>, at: Timestamp) {
        if self.spend_alert_thresholds == thresholds {
            return;
        }
        self.spend_alert_thresholds = thresholds;
        self.spend_alerts(book, at, None);
    }

    /// The open period as records name it.
    pub(crate) fn period_span(&self) -> Span {
        super::invoice::span(self.period.start, self.period.end)
    }

    /// The `low_balance` thresholds that watch `unit`: the plans in
    /// force's (for the plans' credit unit) and those of the packs bought.
    fn low_thresholds(&self, book: &PriceBook, unit: &str) -> Vec<Decimal> {
        let mut out: Vec<Decimal> = Vec::new();
        if super::wallet::plan_unit(book).as_deref() == Some(unit) {
            out.extend(self.plans(book).iter().filter_map(|p| p.low_balance));
        }
        if let Some(packs) = self.alerts.fired().and_then(|f| f.packs.get(unit)) {
            out.extend(packs.iter().copied());
        }
        out.sort_by(|a, b| b.cmp(a));
        out.dedup();
        out
    }

    /// Looks at the balance of `unit` at `at` after a change: each
    /// threshold at or above it is recorded if the balance `fell` (a draw
    /// or an expiry) and it has not fired since the balance was last above
    /// it; each threshold below it is re-armed.
    pub(crate) fn low_balance_alerts(&mut self, book: &PriceBook, unit: &str, at: Timestamp, cause: Cause, fell: bool) {
        if self.alerts.fired().is_none_or(|f| f.low.is_empty()) && !fell {
            // Nothing to re-arm.
            return;
        }
        let thresholds = self.low_thresholds(book, unit);
        if thresholds.is_empty() {
            return;
        }
        let balance = self.wallet.balance(unit, at);
        for threshold in thresholds {
            let low = &mut self.alerts.fired_mut().low;
            let fired = low.get(unit).is_some_and(|l| l.contains(&threshold));
            if balance > threshold {
                if let Some(list) = low.get_mut(unit) {
                    list.retain(|x| *x != threshold);
                    if list.is_empty() {
                        low.shift_remove(unit);
                    }
                }
            } else if fell && !fired {
                low.entry(unit.to_string()).or_default().push(threshold);
                self.records.push(Record::CreditsLowBalance {
                    head: self.head(at, cause),
                    unit: unit.to_string(),
                    balance: qty(balance),
                    threshold,
                });
            }
        }
    }
}

/// Whether any price that can apply to `product` in `item` (its price,
/// its keyed prices, the customer's overrides) is a volume price: only
/// then can its charge fall as usage grows.
fn may_be_volume(book: &PriceBook, customer: &str, product: &Product, item: &PlanItem) -> bool {
    let volume = |model: PriceModel| model == PriceModel::Volume;
    item.price.as_ref().is_some_and(|p| volume(p.model))
        || item.prices.iter().flat_map(|m| m.values()).any(|p| volume(p.model))
        || book
            .doc()
            .overrides
            .iter()
            .any(|o| o.customer == customer && o.product == product.id && volume(o.price.model))
}
