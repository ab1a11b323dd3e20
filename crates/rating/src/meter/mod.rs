//! Stateful rating of one customer's subscription (docs/metering.md), by
//! concept: `state` (what a meter holds), `record` (rating one event),
//! `receipt` and `dedup` (answers and repeats), `estimate` (an event's
//! receipt without recording it), `cycle` (subscribe, close,
//! change, cancel), `invoice` (invoice lines), `views` (read-only views),
//! `wallet` (credits), `usage` (a period's usage and its repricing),
//! `records` (the typed records a meter emits) and `alerts` (thresholds).
//!
//! A [`Meter`] is plain data (serializable, so a Durable Object or a JS
//! caller can keep it) and every operation takes the price book and the
//! time: the meter never reads a clock. Events are priced the moment they
//! are recorded: each receipt's amount is the exact change the event makes
//! to its line's charge for the period.

mod alerts;
mod cycle;
mod dedup;
mod estimate;
mod invoice;
mod receipt;
mod record;
mod records;
mod state;
mod usage;
mod views;
mod wallet;

pub use alerts::{Alerts, Fired};
pub use dedup::{
    key as dedup_key, window_start as dedup_window_start, Dedup, DedupKey, DedupStore, Seen, DEFAULT_MAX_ENTRIES,
};
pub use estimate::{CreditBalance, Estimate};
pub use receipt::{no_subscription, read_event, read_event_value, read_event_within, Counts, Receipt, Status};
pub use records::{Record, RecordHead, RecordKind};
pub use state::{
    Closed, Grant, Invoice, InvoiceLine, Meter, Mode, OpenPeriod, Paid, Pending, PendingKind, Span, Subscription,
    Wallet, DEFAULT_DEDUP_SECONDS, MAX_FUTURE_SECONDS,
};
pub use usage::{KeyState, ProductState};
pub use views::{AllowanceState, Dimension, Forecast, ForecastLine, PeriodView};

use crate::error::Error;
use crate::price_book::PriceBook;

/// Subscribes: validates the plan, add-ons and quantities, opens the first
/// period and issues the first invoice (setup fee, one-time items, and the
/// first period's recurring and seat charges unless it is a free trial).
pub fn subscribe(book: &PriceBook, sub: &Subscription) -> Result<Meter, Error> {
    cycle::subscribe(book, sub)
}
