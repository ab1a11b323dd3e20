//! The typed records a meter emits for other systems (docs/metering.md
//! "Records", docs/contract.md §5 "Records"): one [`Record`] per notable
//! change, each naming the customer, the time and, where an event caused
//! it, that event. Webhooks, `rating replay`'s `records` and the npm
//! meter's `takeRecords()` all carry these.
//!
//! (Not to be confused with `record.rs`, which records a usage event.)

use super::state::{Meter, Mode, Span};
use crate::event::UsageEvent;
use crate::period::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The type of a [`Record`], as its `type` field spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RecordKind {
    /// An invoice was issued.
    #[serde(rename = "invoice.issued")]
    InvoiceIssued,
    /// Usage reached a percent of the period's allowance.
    #[serde(rename = "allowance.threshold_reached")]
    AllowanceThresholdReached,
    /// The period's usage charge reached an amount.
    #[serde(rename = "spend.threshold_reached")]
    SpendThresholdReached,
    /// Unused allowance carried into the next period.
    #[serde(rename = "allowance.rolled_over")]
    AllowanceRolledOver,
    /// The customer subscribed.
    #[serde(rename = "subscription.created")]
    SubscriptionCreated,
    /// The base plan changed.
    #[serde(rename = "subscription.plan_changed")]
    SubscriptionPlanChanged,
    /// The subscription was cancelled.
    #[serde(rename = "subscription.canceled")]
    SubscriptionCanceled,
    /// An event was accepted as `dropped` (its price key is unpriced under `drop`).
    #[serde(rename = "usage_event.dropped")]
    UsageEventDropped,
    /// The wallet's balance fell to or below a `low_balance`.
    #[serde(rename = "credits.low_balance")]
    CreditsLowBalance,
    /// Credits were bought (a pack, by hand or automatically).
    #[serde(rename = "credits.topped_up")]
    CreditsToppedUp,
    /// Unspent credits of a grant expired.
    #[serde(rename = "credits.expired")]
    CreditsExpired,
}

impl RecordKind {
    /// Every record type, in documentation order.
    pub const ALL: [RecordKind; 11] = [
        RecordKind::InvoiceIssued,
        RecordKind::AllowanceThresholdReached,
        RecordKind::SpendThresholdReached,
        RecordKind::AllowanceRolledOver,
        RecordKind::SubscriptionCreated,
        RecordKind::SubscriptionPlanChanged,
        RecordKind::SubscriptionCanceled,
        RecordKind::UsageEventDropped,
        RecordKind::CreditsLowBalance,
        RecordKind::CreditsToppedUp,
        RecordKind::CreditsExpired,
    ];

    /// The record type as JSON spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::InvoiceIssued => "invoice.issued",
            RecordKind::AllowanceThresholdReached => "allowance.threshold_reached",
            RecordKind::SpendThresholdReached => "spend.threshold_reached",
            RecordKind::AllowanceRolledOver => "allowance.rolled_over",
            RecordKind::SubscriptionCreated => "subscription.created",
            RecordKind::SubscriptionPlanChanged => "subscription.plan_changed",
            RecordKind::SubscriptionCanceled => "subscription.canceled",
            RecordKind::UsageEventDropped => "usage_event.dropped",
            RecordKind::CreditsLowBalance => "credits.low_balance",
            RecordKind::CreditsToppedUp => "credits.topped_up",
            RecordKind::CreditsExpired => "credits.expired",
        }
    }
}

/// What every record says: whose, when, and which event caused it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordHead {
    /// Customer.
    pub customer: String,
    /// When the change happened (RFC 3339): the event's time for a change
    /// an event caused, else the time of the operation or boundary.
    pub at: String,
    /// The id of the usage event that caused it, where one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// That event's `source` (with `event`, the event's dedup key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// A notable change, for webhooks and analytics: `{"type", "customer",
/// "at", "event"?, "source"?, ...}` with the fields of its type. Decimals
/// are strings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Record {
    /// An invoice was issued (subscription, period close, immediate plan
    /// change or cancellation, credit pack bought).
    #[serde(rename = "invoice.issued")]
    InvoiceIssued {
        /// Whose, when.
        #[serde(flatten)]
        head: RecordHead,
        /// The invoice's `issued_at`.
        issued_at: String,
        /// The invoice's `period`.
        period: Span,
        /// The invoice's `total`.
        total: String,
        /// The invoice's `currency`.
        currency: String,
    },
    /// Usage of a product reached `threshold` percent of the period's
    /// allowance, at the event that made it.
    #[serde(rename = "allowance.threshold_reached")]
    AllowanceThresholdReached {
        /// Whose, when, which event.
        #[serde(flatten)]
        head: RecordHead,
        /// Product.
        product: String,
        /// The threshold, a percent, as the price book writes it.
        threshold: Decimal,
        /// Usage of the period after the event.
        used: Decimal,
        /// The period's allowance: included plus rolled over.
        limit: Decimal,
        /// The period (segment) the usage counts in.
        period: Span,
    },
    /// The period's usage charge reached `threshold`, at the event that made it.
    #[serde(rename = "spend.threshold_reached")]
    SpendThresholdReached {
        /// Whose, when, which event (absent when a subscription's new
        /// threshold was already passed).
        #[serde(flatten)]
        head: RecordHead,
        /// The threshold, in `currency`.
        threshold: Decimal,
        /// The period's usage charge after the event, exact.
        amount: Decimal,
        /// The book's currency.
        currency: String,
        /// The period (segment) the charge belongs to.
        period: Span,
    },
    /// Unused allowance carried into the next period.
    #[serde(rename = "allowance.rolled_over")]
    AllowanceRolledOver {
        /// Whose, when (the period end).
        #[serde(flatten)]
        head: RecordHead,
        /// Product.
        product: String,
        /// Quantity carried.
        quantity: Decimal,
    },
    /// The customer subscribed.
    #[serde(rename = "subscription.created")]
    SubscriptionCreated {
        /// Whose, when (the start).
        #[serde(flatten)]
        head: RecordHead,
        /// Base plan.
        plan: String,
        /// Add-on plans.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        addons: Vec<String>,
    },
    /// The base plan changed (immediately, or at the period end it was due).
    #[serde(rename = "subscription.plan_changed")]
    SubscriptionPlanChanged {
        /// Whose, when it took effect.
        #[serde(flatten)]
        head: RecordHead,
        /// Previous plan.
        from: String,
        /// New plan.
        to: String,
    },
    /// The subscription was cancelled.
    #[serde(rename = "subscription.canceled")]
    SubscriptionCanceled {
        /// Whose, when it was asked.
        #[serde(flatten)]
        head: RecordHead,
        /// `immediate` or `period_end`.
        mode: Mode,
        /// When it ends (or ended).
        ends_at: String,
    },
    /// An event was accepted as `dropped`: its price key is unpriced and
    /// the product's policy is `drop`.
    #[serde(rename = "usage_event.dropped")]
    UsageEventDropped {
        /// Whose, when, which event.
        #[serde(flatten)]
        head: RecordHead,
        /// Product.
        product: String,
        /// The unpriced key.
        price_key: String,
    },
    /// The wallet's balance in `unit` fell to or below `threshold`.
    #[serde(rename = "credits.low_balance")]
    CreditsLowBalance {
        /// Whose, when, which event (absent when credits expired).
        #[serde(flatten)]
        head: RecordHead,
        /// Credit unit.
        unit: String,
        /// Balance after the change.
        balance: Decimal,
        /// The `low_balance` reached.
        threshold: Decimal,
    },
    /// A credit pack was bought.
    #[serde(rename = "credits.topped_up")]
    CreditsToppedUp {
        /// Whose, when, which event (an automatic top-up).
        #[serde(flatten)]
        head: RecordHead,
        /// Pack.
        pack: String,
        /// Credit unit.
        unit: String,
        /// Credits granted (bonus included, times the packs bought).
        credits: Decimal,
        /// Balance once the operation that bought it is done (for an
        /// automatic top-up, after the event's credits are drawn).
        balance: Decimal,
        /// Bought automatically (`auto_top_up`).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        automatic: bool,
    },
    /// Unspent credits of a grant expired.
    #[serde(rename = "credits.expired")]
    CreditsExpired {
        /// Whose, when (the grant's expiry).
        #[serde(flatten)]
        head: RecordHead,
        /// Credit unit.
        unit: String,
        /// Credits that expired.
        credits: Decimal,
        /// Where they came from: a pack id, `included` or `auto_top_up:<pack>`.
        grant: String,
        /// Balance after the expiry.
        balance: Decimal,
    },
}

impl Record {
    /// The record's type.
    pub fn kind(&self) -> RecordKind {
        match self {
            Record::InvoiceIssued { .. } => RecordKind::InvoiceIssued,
            Record::AllowanceThresholdReached { .. } => RecordKind::AllowanceThresholdReached,
            Record::SpendThresholdReached { .. } => RecordKind::SpendThresholdReached,
            Record::AllowanceRolledOver { .. } => RecordKind::AllowanceRolledOver,
            Record::SubscriptionCreated { .. } => RecordKind::SubscriptionCreated,
            Record::SubscriptionPlanChanged { .. } => RecordKind::SubscriptionPlanChanged,
            Record::SubscriptionCanceled { .. } => RecordKind::SubscriptionCanceled,
            Record::UsageEventDropped { .. } => RecordKind::UsageEventDropped,
            Record::CreditsLowBalance { .. } => RecordKind::CreditsLowBalance,
            Record::CreditsToppedUp { .. } => RecordKind::CreditsToppedUp,
            Record::CreditsExpired { .. } => RecordKind::CreditsExpired,
        }
    }

    /// Whose, when, which event.
    pub fn head(&self) -> &RecordHead {
        match self {
            Record::InvoiceIssued { head, .. }
            | Record::AllowanceThresholdReached { head, .. }
            | Record::SpendThresholdReached { head, .. }
            | Record::AllowanceRolledOver { head, .. }
            | Record::SubscriptionCreated { head, .. }
            | Record::SubscriptionPlanChanged { head, .. }
            | Record::SubscriptionCanceled { head, .. }
            | Record::UsageEventDropped { head, .. }
            | Record::CreditsLowBalance { head, .. }
            | Record::CreditsToppedUp { head, .. }
            | Record::CreditsExpired { head, .. } => head,
        }
    }
}

/// The usage event behind a change, if any.
pub(crate) type Cause<'e> = Option<&'e UsageEvent>;

impl Meter {
    /// The head of a record of this meter's customer at `at`, caused by `cause`.
    pub(crate) fn head(&self, at: Timestamp, cause: Cause) -> RecordHead {
        RecordHead {
            customer: self.customer.clone(),
            at: super::state::ts(at),
            event: cause.map(|e| e.id.to_string()),
            source: cause.map(|e| e.source.to_string()),
        }
    }
}

/// A quantity as records print it: trailing zeros dropped.
pub(crate) fn qty(d: Decimal) -> Decimal {
    d.normalize()
}

/// An exact amount as records print it: trailing zeros dropped, at least
/// `scale` digits (as receipts print amounts).
pub(crate) fn exact(d: Decimal, scale: u32) -> Decimal {
    let mut n = d.normalize();
    if n.scale() < scale {
        n.rescale(scale);
    }
    n
}

/// Reads a stored meter's untaken records. A meter saved before records
/// took their present shapes (`credits.purchased`, records without a
/// `customer`) still restores: those it cannot read are left out.
pub(crate) fn read_untaken<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Record>, D::Error> {
    let values: Vec<serde_json::Value> = Deserialize::deserialize(d)?;
    Ok(values
        .into_iter()
        .filter_map(|v| serde_json::from_value(v).ok())
        .collect())
}
