//! Invoices issued by a meter (SPEC §9): usage in arrears, recurring and
//! seat charges in advance, each line naming the period it pays for.

use crate::quote::{LineKind, TierLine};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

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
    /// Quantity.
    pub quantity: String,
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
