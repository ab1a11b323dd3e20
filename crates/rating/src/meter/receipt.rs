//! Receipts: the answer to each event (docs/metering.md, "Per-event
//! amounts" and "Deduplication"), and the counts of them a meter keeps.
//!
//! Every receipt is built here or in [`Meter::record`](super::Meter::record):
//! callers that cannot even reach a meter (an event that does not read, a
//! customer without a subscription) get theirs from [`read_event`] and
//! [`no_subscription`], so the CLI, the npm package and the Worker answer
//! alike.

use super::dedup::{Seen, SeenExtra, NO_AMOUNT};
use crate::error::{codes, Problem};
use crate::event::{ids_of_text, parse_event_text, UsageEvent};
use crate::money::exact_text;
use crate::text::Text;
use serde::{Deserialize, Serialize};

/// Status of an event's receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Rated and counted.
    Accepted,
    /// Seen before: nothing changed.
    Duplicate,
    /// Refused; see `error`.
    Rejected,
    /// Unmatched key under `drop`: accepted, not billed.
    Dropped,
}

/// The answer to one event (docs/metering.md).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Receipt {
    /// Event id.
    pub id: Text,
    /// Event source.
    pub source: Text,
    /// Outcome.
    pub status: Status,
    /// Exact change to the period's charge.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<Text>,
    /// Currency (or credit unit) of `amount`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<Text>,
    /// Price key used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_key: Option<Text>,
    /// Priced at the default key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_key_remapped: Option<bool>,
    /// Price book hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_book: Option<Text>,
    /// A duplicate whose payload differs from the first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conflict: Option<bool>,
    /// Why it was rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Problem>,
}

impl Receipt {
    /// A rejection.
    pub fn rejected(id: &str, source: &str, problem: Problem) -> Receipt {
        Receipt {
            id: id.into(),
            source: source.into(),
            status: Status::Rejected,
            amount: None,
            currency: None,
            price_key: None,
            price_key_remapped: None,
            price_book: None,
            conflict: None,
            error: Some(problem),
        }
    }
}

/// Counts of receipts by status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Counts {
    /// Accepted.
    pub accepted: u64,
    /// Duplicates.
    pub duplicate: u64,
    /// Rejected.
    pub rejected: u64,
    /// Dropped.
    pub dropped: u64,
}

impl Status {
    /// The JSON name (`accepted`, `duplicate`, `rejected`, `dropped`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Accepted => "accepted",
            Status::Duplicate => "duplicate",
            Status::Rejected => "rejected",
            Status::Dropped => "dropped",
        }
    }
}

impl Counts {
    /// Counts one receipt.
    #[inline]
    pub fn add(&mut self, status: Status) {
        match status {
            Status::Accepted => self.accepted += 1,
            Status::Duplicate => self.duplicate += 1,
            Status::Rejected => self.rejected += 1,
            Status::Dropped => self.dropped += 1,
        }
    }
}

/// Reads one event from its JSON text, or answers its rejected receipt
/// (with the id and source read as far as the text allows; boxed, as a
/// receipt is larger than the event it answers).
pub fn read_event(text: &str) -> Result<UsageEvent, Box<Receipt>> {
    parse_event_text(text).map_err(|p| {
        let (id, source) = ids_of_text(text);
        Box::new(Receipt::rejected(&id, &source, p))
    })
}

/// [`read_event`] for an event already parsed as JSON.
pub fn read_event_value(v: &serde_json::Value) -> Result<UsageEvent, Box<Receipt>> {
    crate::event::parse_event(v).map_err(|p| {
        let (id, source) = crate::event::ids_of(v);
        Box::new(Receipt::rejected(&id, &source, p))
    })
}

/// [`read_event`] for a caller that takes events of at most `max_bytes`
/// of JSON: a larger one that reads is rejected with `event_too_large`.
pub fn read_event_within(text: &str, max_bytes: usize) -> Result<UsageEvent, Box<Receipt>> {
    let ev = read_event(text)?;
    if text.len() > max_bytes {
        let p = Problem::general(
            codes::EVENT_TOO_LARGE,
            format!("an event is at most {max_bytes} bytes of JSON"),
        );
        return Err(Box::new(Receipt::rejected(&ev.id, &ev.source, p)));
    }
    Ok(ev)
}

/// The receipt of an event sent where `customer` has no subscription:
/// rejected, `unknown_customer` (or `invalid_value` when the event names
/// another customer). Nothing is counted: there is no meter to count in.
pub fn no_subscription(ev: &UsageEvent, customer: &str) -> Receipt {
    let p = if *ev.customer != *customer {
        wrong_subject(ev, customer)
    } else {
        Problem::at(
            codes::UNKNOWN_CUSTOMER,
            "subject",
            format!("no subscription for {customer:?}"),
        )
    };
    Receipt::rejected(&ev.id, &ev.source, p)
}

/// The problem of an event whose `subject` is not the meter's customer.
pub(crate) fn wrong_subject(ev: &UsageEvent, customer: &str) -> Problem {
    Problem::at(
        codes::INVALID_VALUE,
        "subject",
        format!("the event is for {:?}, not {customer:?}", ev.customer),
    )
}

/// The receipt of a duplicate: the first receipt's amount, currency and
/// price key, with `conflict` when the payload differs. `currency`: the
/// book's, for a first receipt that named none.
pub(crate) fn duplicate(ev: &UsageEvent, seen: &Seen, currency: impl Fn() -> Text, book_hash: Text) -> Receipt {
    let has_amount = seen.scale != NO_AMOUNT;
    let extra: Option<&SeenExtra> = seen.extra.as_deref();
    Receipt {
        id: ev.id.clone(),
        source: ev.source.clone(),
        status: Status::Duplicate,
        amount: has_amount.then(|| exact_text(seen.amount, u32::from(seen.scale))),
        currency: has_amount.then(|| extra.and_then(|x| x.unit.as_deref()).map_or_else(currency, Text::from)),
        price_key: extra.and_then(|x| x.price_key.as_deref()).map(Text::from),
        price_key_remapped: None,
        price_book: Some(book_hash),
        conflict: (seen.fingerprint != ev.fingerprint).then_some(true),
        error: None,
    }
}
