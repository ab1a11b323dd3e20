//! Read-only views of a meter at a time: the invoice preview, the
//! allowance state and the forecast (docs/metering.md "Allowance state").
//! Each works on a copy brought up to `at`; the meter itself never changes.

use super::invoice::{invoice, minimum_lines, span, usage_lines};
use super::{Invoice, Meter};
use crate::error::Error;
use crate::period::Timestamp;
use crate::price::charge_quantity;
use crate::price_book::{Aggregation, PriceBook};
use crate::quote::{Money, Qty, Ts};
use crate::resolve::{amounts_in, resolve, Resolution};
use rust_decimal::Decimal;
use serde::Serialize;

/// A `[start, end)` period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PeriodView {
    /// Start (inclusive).
    pub start: Ts,
    /// End (exclusive).
    pub end: Ts,
}

/// The allowance of one metered product in the open period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dimension {
    /// Product id.
    pub product: String,
    /// The plan's allowance for the period (per seat at its start).
    pub included: Qty,
    /// Carried in from the previous period.
    pub rolled_over: Qty,
    /// Usage so far.
    pub used: Qty,
    /// `max(0, included + rolled_over − used)`.
    pub remaining: Qty,
    /// `max(0, used − included − rolled_over)`.
    pub billable_usage: Qty,
    /// The product's charge so far, rounded.
    pub overage_amount: Money,
    /// `used / (included + rolled_over) × 100` to 2 places (0 without an allowance).
    pub percent_used: Qty,
}

/// The allowance state of a meter at a time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AllowanceState {
    /// Customer.
    pub customer: String,
    /// The open period.
    pub period: PeriodView,
    /// One per metered product of the plans.
    pub dimensions: Vec<Dimension>,
    /// Hash of the price book.
    pub price_book: String,
}

/// One (product, price key) of a forecast.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ForecastLine {
    /// Product id.
    pub product: String,
    /// Price key (keyed products).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_key: Option<String>,
    /// Usage so far.
    pub quantity: Qty,
    /// Usage projected to the period's end (`sum`, `count` and `amount`
    /// scale with the elapsed share of the period; others stay).
    pub projected_quantity: Qty,
    /// The projected usage priced, rounded.
    pub projected_amount: Money,
    /// The unit, when not the book's currency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

/// The open period's usage projected linearly to its end, priced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Forecast {
    /// Customer.
    pub customer: String,
    /// When the projection was made.
    pub at: Ts,
    /// The open period.
    pub period: PeriodView,
    /// One per (product, price key) with usage.
    pub dimensions: Vec<ForecastLine>,
    /// Sum of the projected money amounts.
    pub projected_usage_total: Money,
    /// Currency of the total.
    pub currency: String,
    /// Hash of the price book.
    pub price_book: String,
}

impl Meter {
    fn at(&self, book: &PriceBook, at: Timestamp) -> Result<Meter, Error> {
        let mut m = self.clone();
        m.advance_to(book, at)?;
        Ok(m)
    }

    fn period_view(&self) -> PeriodView {
        PeriodView {
            start: Ts(self.period.start),
            end: Ts(self.period.end),
        }
    }

    /// The invoice the open period would get if it closed at `at`: usage so
    /// far and pending lines (advance charges for the next period excluded).
    pub fn preview_invoice(&self, book: &PriceBook, at: Timestamp) -> Result<Invoice, Error> {
        let m = self.at(book, at)?;
        let mut lines = Vec::new();
        usage_lines(&m, book, at.min(m.period.end), &mut lines);
        // The period's minimums against what it charged so far.
        minimum_lines(&m, book, m.period.end, &mut lines)?;
        Ok(invoice(&m, book, at, span(m.period.start, m.period.end), lines))
    }

    /// Allowance state per metered product at `at`.
    pub fn allowance_state(&self, book: &PriceBook, at: Timestamp) -> Result<AllowanceState, Error> {
        let m = self.at(book, at)?;
        let scale = book.scale_of(&book.doc().currency).unwrap_or(2);
        let dimensions = m
            .products
            .iter()
            .map(|(pid, ps)| {
                let total = ps.allowance();
                let used = ps.used();
                let remaining = if total > used { total - used } else { Decimal::ZERO };
                let billable = if used > total { used - total } else { Decimal::ZERO };
                let percent = if total.is_zero() {
                    Decimal::ZERO
                } else {
                    // used / total first: used × 100 could leave the decimal range.
                    crate::money::checked_div(used, total)
                        .and_then(|r| crate::money::checked_mul(r, Decimal::ONE_HUNDRED))
                        .unwrap_or(Decimal::MAX)
                        .round_dp(2)
                };
                Dimension {
                    product: pid.clone(),
                    included: Qty(ps.included),
                    rolled_over: Qty(ps.rolled_over),
                    used: Qty(used),
                    remaining: Qty(remaining),
                    billable_usage: Qty(billable),
                    overage_amount: Money {
                        value: book.doc().rounding.round(ps.exact(), scale),
                        scale,
                    },
                    percent_used: Qty(percent),
                }
            })
            .collect();
        Ok(AllowanceState {
            customer: m.customer.clone(),
            period: m.period_view(),
            dimensions,
            price_book: book.hash().to_string(),
        })
    }

    /// Projects the open period's usage linearly to its end and prices it.
    pub fn forecast(&self, book: &PriceBook, at: Timestamp) -> Result<Forecast, Error> {
        let m = self.at(book, at)?;
        let currency = book.doc().currency.as_str();
        let scale = book.scale_of(currency).unwrap_or(2);
        let elapsed = (at.min(m.period.end) - m.period.start).num_seconds().max(0);
        let length = (m.period.end - m.period.start).num_seconds().max(1);
        let ratio = if elapsed == 0 {
            Decimal::ONE
        } else {
            Decimal::from(length) / Decimal::from(elapsed)
        };
        let mut dimensions = Vec::new();
        let mut total = Decimal::ZERO;
        for (pid, ps) in &m.products {
            let Some(product) = book.product(pid) else { continue };
            let Some((_, item)) = m.item_for(book, pid) else {
                continue;
            };
            let scales = matches!(
                product.aggregation(),
                Aggregation::Sum | Aggregation::Count | Aggregation::Amount
            );
            let keyed = product.price_key_label.is_some();
            let mut remaining = ps.allowance();
            for (key, ks) in &ps.keys {
                let projected = if scales {
                    crate::money::checked_mul(ks.quantity, ratio)
                        .unwrap_or(ks.quantity)
                        .round_dp(6)
                } else {
                    ks.quantity
                };
                let included = if ps.has_allowance {
                    projected.min(remaining)
                } else {
                    Decimal::ZERO
                };
                remaining -= included;
                let key_of = keyed.then_some(key.as_str());
                let amount = match resolve(book, product, item, key_of, Some(&m.customer), Some(at)) {
                    Resolution::Priced { price, .. } => amounts_in(book, price, currency)
                        .and_then(|(a, _)| charge_quantity(price.model, a, projected - included, false).ok())
                        .map_or(Decimal::ZERO, |c| c.amount),
                    _ => Decimal::ZERO,
                };
                let unit_scale = book.scale_of(&ks.unit).unwrap_or(scale);
                let rounded = book.doc().rounding.round(amount, unit_scale);
                if !book.is_custom_unit(&ks.unit) {
                    total = crate::money::checked_add(total, rounded).unwrap_or(total);
                }
                dimensions.push(ForecastLine {
                    product: pid.clone(),
                    price_key: keyed.then(|| key.clone()),
                    quantity: Qty(ks.quantity),
                    projected_quantity: Qty(projected),
                    projected_amount: Money {
                        value: rounded,
                        scale: unit_scale,
                    },
                    currency: (ks.unit != currency).then(|| ks.unit.clone()),
                });
            }
        }
        Ok(Forecast {
            customer: m.customer.clone(),
            at: Ts(at),
            period: m.period_view(),
            dimensions,
            projected_usage_total: Money { value: total, scale },
            currency: currency.to_string(),
            price_book: book.hash().to_string(),
        })
    }
}
