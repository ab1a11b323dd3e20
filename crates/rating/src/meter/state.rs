//! A meter's state: what one customer's subscription holds between
//! operations (plan, periods, usage, pending lines, dedup keys, wallet),
//! as plain serializable data.

use super::alerts::Alerts;
use super::dedup::Dedup;
use super::receipt::Counts;
use super::records::Record;
use super::usage::ProductState;
use crate::error::{codes, Error, Problem};
use crate::period::{fmt_timestamp, Timestamp};
use crate::price_book::{Plan, PlanItem, PriceBook};
use crate::quote::{LineKind, TierLine};
use indexmap::IndexMap;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

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
    /// The subscription's own spend alert thresholds, besides its plans'.
    pub spend_alert_thresholds: Vec<Decimal>,
}

/// When a plan change or a cancellation takes effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// At the request's time, with proration.
    #[default]
    Immediate,
    /// At the end of the open period.
    PeriodEnd,
}

impl Mode {
    /// The mode of a plan change that names none.
    pub const DEFAULT_TRANSITION: Mode = Mode::Immediate;
    /// The mode of `meter.cancel(at)` without a mode (npm, docs/subscriptions.md):
    /// stop renewing, which is what a customer cancelling usually means.
    pub const DEFAULT_CANCEL: Mode = Mode::PeriodEnd;
    /// The modes, as an error message lists them.
    pub const ALLOWED: &'static str = "immediate, period_end";

    /// `"immediate"` or `"period_end"`.
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "immediate" => Some(Mode::Immediate),
            "period_end" => Some(Mode::PeriodEnd),
            _ => None,
        }
    }

    /// Like [`Mode::parse`], with the problem at `path` when `s` is neither.
    pub fn parse_at(s: &str, path: &str) -> Result<Mode, Problem> {
        Mode::parse(s).ok_or_else(|| Problem::at(codes::INVALID_VALUE, path, Mode::must_be()))
    }

    fn must_be() -> String {
        format!("must be one of {}", Mode::ALLOWED)
    }

    /// Whether the change takes effect at once.
    pub fn is_immediate(self) -> bool {
        self == Mode::Immediate
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
    /// The subscription's own spend alert thresholds (besides its plans').
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spend_alert_thresholds: Vec<Decimal>,
    /// What the alerts have said (thresholds reached, readings kept).
    #[serde(default, skip_serializing_if = "Alerts::is_empty")]
    pub alerts: Alerts,
    /// Keeps the price book version it is on when a newer one becomes
    /// active (grandfathered), until it is moved explicitly
    /// (docs/metering.md "Price book versions").
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pin_price_book: bool,
    /// Records not yet taken.
    #[serde(default, deserialize_with = "super::records::read_untaken")]
    pub records: Vec<Record>,
    /// Invoices issued and not yet taken.
    #[serde(skip)]
    pub issued: Vec<Invoice>,
    /// Where each of the book's products sits in `products`.
    #[serde(skip)]
    pub(super) slots: Slots,
}

/// Per product of the book (by position), its position in
/// [`Meter::products`] when last seen: a hint checked against the key on
/// use, so a stale one costs one ordinary look-up and never picks a wrong
/// line. Not state: meters compare equal whatever their hints.
#[derive(Debug, Clone, Default)]
pub(super) struct Slots(Vec<u32>);

/// A period's usage by product id.
pub type ProductMap = IndexMap<String, ProductState, rustc_hash::FxBuildHasher>;

impl PartialEq for Slots {
    fn eq(&self, _: &Slots) -> bool {
        true
    }
}

impl Slots {
    /// The position of product `id` (the book's `index`-th) in `products`,
    /// added (empty) if it is not there.
    pub(super) fn find(
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
        let plans = std::iter::once(self.plan.as_str()).chain(self.addons.iter().map(String::as_str));
        crate::entitlements::item_for(book, plans, product)
    }

    /// Takes the invoices issued since the last call.
    pub fn take_invoices(&mut self) -> Vec<Invoice> {
        std::mem::take(&mut self.issued)
    }

    /// Takes the records made since the last call.
    pub fn take_records(&mut self) -> Vec<Record> {
        std::mem::take(&mut self.records)
    }
}

/// Credits granted at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grant {
    /// Where they came from: a pack id, `included` or `auto_top_up:<pack>`.
    pub source: String,
    /// Unit (custom unit code).
    pub unit: String,
    /// Credits granted.
    pub granted: Decimal,
    /// Credits left.
    pub remaining: Decimal,
    /// Drawdown priority (0-100, lower first).
    pub priority: u32,
    /// When they were granted.
    pub granted_at: Timestamp,
    /// When they expire (exclusive), if they do.
    pub expires_at: Option<Timestamp>,
    /// Grant order, for the oldest-first rule.
    pub seq: u64,
    /// Its expiry has been recorded (`credits.expired`); never spent after.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expired: bool,
}

/// A customer's credit grants.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Wallet {
    /// Grants, in grant order.
    pub grants: Vec<Grant>,
    pub(super) next_seq: u64,
}

/// A `[start, end)` period, printed as RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    /// Start (inclusive).
    pub start: String,
    /// End (exclusive).
    pub end: String,
}

/// One invoice line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InvoiceLine {
    /// Plan the line comes from.
    pub plan: String,
    /// Product id (plan id for setup fees).
    pub product: String,
    /// Price key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_key: Option<String>,
    /// What the line is.
    pub kind: LineKind,
    /// For people.
    pub description: String,
    /// The period the line pays for.
    pub period: Span,
    /// Quantity (of a product with `unit_conversion`: the converted one).
    pub quantity: String,
    /// Products with `unit_conversion`: the quantity before conversion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_quantity: Option<String>,
    /// Products with `unit_conversion`: its `display_unit`, the unit of `quantity`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Transactions (amount-aggregated usage).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transactions: Option<String>,
    /// Allowance applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub included: Option<String>,
    /// Quantity priced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billable: Option<String>,
    /// Rounded amount.
    pub amount: String,
    /// Unit, when not the invoice currency (credits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Tier breakdown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tiers: Option<Vec<TierLine>>,
    /// Rounded amount as a decimal.
    #[serde(skip)]
    pub value: Decimal,
}

/// An invoice.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Invoice {
    /// Customer.
    pub customer: String,
    /// When it was issued.
    pub issued_at: String,
    /// The period whose usage it bills in arrears (for the first invoice, the first period).
    pub period: Span,
    /// Currency.
    pub currency: String,
    /// Lines.
    pub lines: Vec<InvoiceLine>,
    /// Sum of the money lines.
    pub total: String,
    /// Hash of the price book.
    pub price_book: String,
    /// Total as a decimal.
    #[serde(skip)]
    pub total_value: Decimal,
}

/// Formats a timestamp for documents.
pub(crate) fn ts(t: Timestamp) -> String {
    fmt_timestamp(t)
}

pub(crate) fn err(code: crate::error::Code, path: &str, message: impl Into<String>) -> Error {
    Error::one(Problem::at(code, path, message))
}

/// The problem of an event whose amounts leave the exact decimal range.
pub(crate) fn overflow_problem() -> Problem {
    problem(
        codes::ARITHMETIC_OVERFLOW,
        "data",
        "the amount exceeds the exact decimal range",
    )
}

pub(crate) fn overflow_err() -> Error {
    err(
        codes::ARITHMETIC_OVERFLOW,
        "",
        "an amount exceeds the exact decimal range",
    )
}
