//! Estimates: what recording an event would do now, without doing it
//! (docs/metering.md, "Estimates").
//!
//! An estimate rates the event on a copy of the meter, through the same
//! path as [`Meter::record`], with a dedup store that reads the real keys
//! and remembers nothing. So an estimate is, by construction, the receipt
//! the same event would get if it were recorded next at the same time;
//! the meter, its keys, its counts and its records are untouched.

use super::dedup::{DedupKey, DedupStore, Seen};
use super::receipt::{Receipt, Status};
use super::state::Meter;
use super::views::Dimension;
use crate::error::{Error, Problem};
use crate::event::UsageEvent;
use crate::money::exact_text;
use crate::period::Timestamp;
use crate::price_book::PriceBook;
use rust_decimal::Decimal;
use serde::Serialize;

/// What an event would do if recorded now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    /// The status its receipt would have: `accepted`, `duplicate`,
    /// `rejected` or `dropped`.
    pub would_be: Status,
    /// The error it would get, when `rejected`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Problem>,
    /// The receipt it would get.
    pub receipt: Receipt,
    /// The allowance of the event's product after it (absent when the
    /// event names no metered product of the customer's plans).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowance: Option<Dimension>,
    /// The credits left after it, per credit unit the customer holds, in
    /// the order the units were first granted.
    pub credits: Vec<CreditBalance>,
}

/// The balance of one credit unit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreditBalance {
    /// Credit unit.
    pub unit: String,
    /// Credits left (unexpired), exact.
    pub balance: String,
}

/// A dedup store that answers from the caller's keys and keeps nothing.
struct Peek<'a, S: DedupStore + ?Sized>(&'a S);

impl Estimate {
    /// The estimate of an event refused before any meter is reached (it
    /// does not read, or its customer has no subscription): its
    /// `rejected` receipt, no allowance, no credits.
    pub fn refused(receipt: Receipt) -> Estimate {
        Estimate {
            would_be: receipt.status,
            error: receipt.error.clone(),
            allowance: None,
            credits: Vec::new(),
            receipt,
        }
    }
}

impl<S: DedupStore + ?Sized> DedupStore for Peek<'_, S> {
    fn get(&self, key: DedupKey) -> Option<&Seen> {
        self.0.get(key)
    }

    fn put(&mut self, _: DedupKey, _: Seen) {}
}

impl Meter {
    /// What recording `ev` at `at` would do, with the meter's own dedup
    /// keys: the receipt it would get, and the allowance and credits left
    /// after it. Changes nothing.
    pub fn estimate(&self, book: &PriceBook, ev: &UsageEvent, at: Timestamp) -> Result<Estimate, Error> {
        self.estimate_with(book, ev, at, &self.dedup)
    }

    /// Like [`Meter::estimate`], with the dedup keys kept by the caller
    /// (as for [`Meter::record_with`]; `keys` is only read).
    pub fn estimate_with<S: DedupStore + ?Sized>(
        &self,
        book: &PriceBook,
        ev: &UsageEvent,
        at: Timestamp,
        keys: &S,
    ) -> Result<Estimate, Error> {
        let mut m = self.copy_without_keys();
        let receipt = m.record_with(book, ev, at, &mut Peek(keys));
        // The copy, as recording left it (a refused event changes nothing
        // but the time: a period that ended by `at` is closed in both).
        let allowance = m.product_allowance(book, &ev.product, at)?;
        Ok(Estimate {
            would_be: receipt.status,
            error: receipt.error.clone(),
            credits: m.credits(at),
            allowance,
            receipt,
        })
    }

    /// The estimate of an event that does not even read (its `rejected`
    /// receipt from [`read_event`](super::read_event)): recording it would
    /// change nothing, so it shows the credits as they are.
    pub fn estimate_unread(&self, receipt: Receipt, at: Timestamp) -> Estimate {
        Estimate {
            would_be: receipt.status,
            error: receipt.error.clone(),
            allowance: None,
            credits: self.credits(at),
            receipt,
        }
    }

    /// The meter without its dedup keys (which an estimate only reads),
    /// so an estimate costs the meter's size, not its window's.
    fn copy_without_keys(&self) -> Meter {
        // Every field, so a field added to `Meter` must be decided here.
        let Meter {
            customer,
            plan,
            addons,
            start,
            anchor,
            trial_end,
            period,
            quantities,
            products,
            paid,
            pending,
            closed,
            dedup: _,
            cancel_at_period_end,
            transition_at_period_end,
            ended_at,
            counts,
            wallet,
            spend_alert_thresholds,
            alerts,
            pin_price_book,
            records: _,
            issued: _,
            slots,
        } = self;
        Meter {
            customer: customer.clone(),
            plan: plan.clone(),
            addons: addons.clone(),
            start: *start,
            anchor: *anchor,
            trial_end: *trial_end,
            period: period.clone(),
            quantities: quantities.clone(),
            products: products.clone(),
            paid: paid.clone(),
            pending: pending.clone(),
            closed: closed.clone(),
            dedup: super::Dedup::new(0, 0),
            cancel_at_period_end: *cancel_at_period_end,
            transition_at_period_end: transition_at_period_end.clone(),
            ended_at: *ended_at,
            counts: *counts,
            wallet: wallet.clone(),
            spend_alert_thresholds: spend_alert_thresholds.clone(),
            alerts: alerts.clone(),
            pin_price_book: *pin_price_book,
            records: Vec::new(),
            issued: Vec::new(),
            slots: slots.clone(),
        }
    }

    /// The allowance of `product` at `at`, if the meter meters it.
    fn product_allowance(&self, book: &PriceBook, product: &str, at: Timestamp) -> Result<Option<Dimension>, Error> {
        let state = self.allowance_state(book, at)?;
        Ok(state.dimensions.into_iter().find(|d| d.product == product))
    }

    /// The credits left at `at` (unexpired), per credit unit the meter
    /// has been granted, in the order the units were first granted.
    pub fn credits(&self, at: Timestamp) -> Vec<CreditBalance> {
        let mut units: Vec<&str> = Vec::new();
        for g in &self.wallet.grants {
            if !units.contains(&g.unit.as_str()) {
                units.push(&g.unit);
            }
        }
        units
            .into_iter()
            .map(|unit| {
                let balance: Decimal = self.wallet.balance(unit, at);
                CreditBalance {
                    unit: unit.to_string(),
                    balance: exact_text(balance, balance.scale()).to_string(),
                }
            })
            .collect()
    }
}
