//! Errors: every problem has a stable machine `code`, a human message and,
//! where it concerns an input field, the JSON `path` of that field.
//!
//! The codes are part of the public contract; `docs/errors.md` lists them.

use serde::Serialize;
use std::fmt;

/// One problem with an input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Stable machine-readable code, e.g. `unknown_field`.
    pub code: Code,
    /// What is wrong, for a person.
    pub message: String,
    /// JSON path of the offending field (`plans[0].items[2].price.tiers[1].up_to`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

impl Problem {
    /// A problem at `path`.
    pub fn at(code: Code, path: impl Into<String>, message: impl Into<String>) -> Problem {
        let path = path.into();
        Problem {
            code,
            message: message.into(),
            path: if path.is_empty() { None } else { Some(path) },
        }
    }

    /// A problem that concerns no particular field.
    pub fn general(code: Code, message: impl Into<String>) -> Problem {
        Problem {
            code,
            message: message.into(),
            path: None,
        }
    }
}

/// The error every fallible engine operation returns: the first problem's
/// `code`, `message` and `path`, plus every problem found (`errors`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
pub struct Error {
    /// Code of the first problem (or `invalid_price_book` / `invalid_request`
    /// when several problems were found).
    pub code: Code,
    /// Summary for a person.
    pub message: String,
    /// Path of the first problem, when there is exactly one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Every problem found, in document order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<Problem>,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(p) => write!(f, "{} at {}: {}", self.code, p, self.message),
            None => write!(f, "{}: {}", self.code, self.message),
        }
    }
}

impl Error {
    /// An error made of one problem.
    pub fn one(p: Problem) -> Error {
        Error {
            code: p.code,
            message: p.message.clone(),
            path: p.path.clone(),
            errors: vec![p],
        }
    }

    /// An error from several problems; `summary_code` is used when there is
    /// more than one.
    pub fn many(summary_code: Code, what: &str, mut problems: Vec<Problem>) -> Error {
        if problems.len() == 1 {
            return Error::one(problems.remove(0));
        }
        // When every problem is of one kind, that kind is the error's code.
        let code = match problems.first() {
            Some(first) if problems.iter().all(|p| p.code == first.code) => first.code,
            _ => summary_code,
        };
        Error {
            code,
            message: format!("{} has {} problems", what, problems.len()),
            path: None,
            errors: problems,
        }
    }
}

impl From<Problem> for Error {
    fn from(p: Problem) -> Error {
        Error::one(p)
    }
}

/// A stable error code (docs/errors.md): typed in the engine, a
/// `snake_case` string in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Code {
    /// Input is not valid JSON.
    InvalidJson,
    /// An object has the same key twice (ambiguous: parsers disagree on
    /// which one counts).
    DuplicateKey,
    /// A value has the wrong JSON type.
    InvalidType,
    /// A required field is absent.
    MissingField,
    /// A field that the format does not define.
    UnknownField,
    /// A field that this price model or product type does not take.
    FieldNotAllowed,
    /// Not a decimal number.
    InvalidDecimal,
    /// A number beyond 28 significant digits, or otherwise too large.
    OutOfRange,
    /// A negative amount or quantity.
    NegativeValue,
    /// A value outside its allowed set or range.
    InvalidValue,
    /// Not a known ISO 4217 code nor a declared custom unit.
    UnknownCurrency,
    /// `format` is not `price-book/v1`.
    UnsupportedFormat,
    /// Two entries share an id.
    DuplicateId,
    /// A list names the same value twice (alert thresholds).
    DuplicateValue,
    /// A reference to a product that does not exist.
    UnknownProduct,
    /// A reference to a plan that does not exist.
    UnknownPlan,
    /// A reference to a credit pack that does not exist.
    UnknownPack,
    /// Tier bounds not strictly ascending.
    TiersOutOfOrder,
    /// An open tier (`up_to: null`) that is not the last one.
    OpenTierNotLast,
    /// The last tier has a bound; it must be open.
    LastTierNotOpen,
    /// A keyed product's item has no `prices`, or an unkeyed one has `prices`.
    PricesMismatch,
    /// An item has neither `price` nor `prices`, or both.
    MissingPrice,
    /// A timestamp that is not RFC 3339.
    InvalidTimestamp,
    /// A lower bound above an upper bound (`min_quantity` > `max_quantity`, `from` ≥ `until`).
    InvalidRange,
    /// A price book with more than one problem.
    InvalidPriceBook,
    /// A request with more than one problem.
    InvalidRequest,
    /// A price key that the item does not price, under the `reject` policy.
    UnknownPriceKey,
    /// The plan named is an add-on (or an add-on named is a base plan).
    WrongPlanKind,
    /// A quantity or usage for a product that the plan does not contain.
    ProductNotInPlan,
    /// Below an item's `min_quantity`.
    BelowMinQuantity,
    /// Above an item's `max_quantity`.
    AboveMaxQuantity,
    /// Usage above a hard `limit`.
    LimitExceeded,
    /// A price has no option in the requested currency.
    CurrencyUnavailable,
    /// A per-transaction min/max needs the list of transaction amounts.
    AmountsRequired,
    /// A usage shape that does not fit the product (keyed map for an unkeyed product, ...).
    InvalidUsage,
    /// A computed amount overflowed the exact decimal range.
    ArithmeticOverflow,
    /// A subscription request changes what cannot change (`start`, `anchor`).
    ImmutableField,
    /// A subscription request changes what cannot change yet (`addons`).
    UnsupportedChange,
    /// An operation on a subscription that has ended.
    SubscriptionEnded,
    /// The event's time is before the subscription or past the late-event grace.
    EventTooLate,
    /// The event's time is more than 5 minutes after the time of receipt.
    EventInFuture,
    /// No subscription for the event's customer.
    UnknownCustomer,
    /// The wallet is too small under `credit_overage: reject`.
    InsufficientCredits,
    /// A file cannot be read or written (CLI).
    IoError,
    /// One event of a batch is over the size limit (64 KiB).
    EventTooLarge,
    /// A state the engine should never reach; reported, never a panic.
    Internal,
}

impl Code {
    /// The code as JSON spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Code::InvalidJson => "invalid_json",
            Code::DuplicateKey => "duplicate_key",
            Code::InvalidType => "invalid_type",
            Code::MissingField => "missing_field",
            Code::UnknownField => "unknown_field",
            Code::FieldNotAllowed => "field_not_allowed",
            Code::InvalidDecimal => "invalid_decimal",
            Code::OutOfRange => "out_of_range",
            Code::NegativeValue => "negative_value",
            Code::InvalidValue => "invalid_value",
            Code::UnknownCurrency => "unknown_currency",
            Code::UnsupportedFormat => "unsupported_format",
            Code::DuplicateId => "duplicate_id",
            Code::DuplicateValue => "duplicate_value",
            Code::UnknownProduct => "unknown_product",
            Code::UnknownPlan => "unknown_plan",
            Code::UnknownPack => "unknown_pack",
            Code::TiersOutOfOrder => "tiers_out_of_order",
            Code::OpenTierNotLast => "open_tier_not_last",
            Code::LastTierNotOpen => "last_tier_not_open",
            Code::PricesMismatch => "prices_mismatch",
            Code::MissingPrice => "missing_price",
            Code::InvalidTimestamp => "invalid_timestamp",
            Code::InvalidRange => "invalid_range",
            Code::InvalidPriceBook => "invalid_price_book",
            Code::InvalidRequest => "invalid_request",
            Code::UnknownPriceKey => "unknown_price_key",
            Code::WrongPlanKind => "wrong_plan_kind",
            Code::ProductNotInPlan => "product_not_in_plan",
            Code::BelowMinQuantity => "below_min_quantity",
            Code::AboveMaxQuantity => "above_max_quantity",
            Code::LimitExceeded => "limit_exceeded",
            Code::CurrencyUnavailable => "currency_unavailable",
            Code::AmountsRequired => "amounts_required",
            Code::InvalidUsage => "invalid_usage",
            Code::ArithmeticOverflow => "arithmetic_overflow",
            Code::ImmutableField => "immutable_field",
            Code::UnsupportedChange => "unsupported_change",
            Code::SubscriptionEnded => "subscription_ended",
            Code::EventTooLate => "event_too_late",
            Code::EventInFuture => "event_in_future",
            Code::UnknownCustomer => "unknown_customer",
            Code::Internal => "internal",
            Code::IoError => "io_error",
            Code::EventTooLarge => "event_too_large",
            Code::InsufficientCredits => "insufficient_credits",
        }
    }

    /// Every code, in documentation order.
    pub const ALL: &'static [Code] = &[
        Code::InvalidJson,
        Code::DuplicateKey,
        Code::InvalidType,
        Code::MissingField,
        Code::UnknownField,
        Code::FieldNotAllowed,
        Code::InvalidDecimal,
        Code::OutOfRange,
        Code::NegativeValue,
        Code::InvalidValue,
        Code::UnknownCurrency,
        Code::UnsupportedFormat,
        Code::DuplicateId,
        Code::DuplicateValue,
        Code::UnknownProduct,
        Code::UnknownPlan,
        Code::UnknownPack,
        Code::TiersOutOfOrder,
        Code::OpenTierNotLast,
        Code::LastTierNotOpen,
        Code::PricesMismatch,
        Code::MissingPrice,
        Code::InvalidTimestamp,
        Code::InvalidRange,
        Code::InvalidPriceBook,
        Code::InvalidRequest,
        Code::UnknownPriceKey,
        Code::WrongPlanKind,
        Code::ProductNotInPlan,
        Code::BelowMinQuantity,
        Code::AboveMaxQuantity,
        Code::LimitExceeded,
        Code::CurrencyUnavailable,
        Code::AmountsRequired,
        Code::InvalidUsage,
        Code::ArithmeticOverflow,
        Code::ImmutableField,
        Code::UnsupportedChange,
        Code::SubscriptionEnded,
        Code::EventTooLate,
        Code::EventInFuture,
        Code::UnknownCustomer,
        Code::Internal,
        Code::IoError,
        Code::EventTooLarge,
        Code::InsufficientCredits,
    ];
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl PartialEq<str> for Code {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<Code> for &str {
    fn eq(&self, other: &Code) -> bool {
        *self == other.as_str()
    }
}

impl std::ops::Deref for Code {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

/// The stable error codes, by name.
pub mod codes {
    use super::Code;
    /// Input is not valid JSON.
    pub const INVALID_JSON: Code = Code::InvalidJson;
    /// An object has the same key twice (ambiguous: parsers disagree on
    /// which one counts).
    pub const DUPLICATE_KEY: Code = Code::DuplicateKey;
    /// A value has the wrong JSON type.
    pub const INVALID_TYPE: Code = Code::InvalidType;
    /// A required field is absent.
    pub const MISSING_FIELD: Code = Code::MissingField;
    /// A field that the format does not define.
    pub const UNKNOWN_FIELD: Code = Code::UnknownField;
    /// A field that this price model or product type does not take.
    pub const FIELD_NOT_ALLOWED: Code = Code::FieldNotAllowed;
    /// Not a decimal number.
    pub const INVALID_DECIMAL: Code = Code::InvalidDecimal;
    /// A number beyond 28 significant digits, or otherwise too large.
    pub const OUT_OF_RANGE: Code = Code::OutOfRange;
    /// A negative amount or quantity.
    pub const NEGATIVE_VALUE: Code = Code::NegativeValue;
    /// A value outside its allowed set or range.
    pub const INVALID_VALUE: Code = Code::InvalidValue;
    /// Not a known ISO 4217 code nor a declared custom unit.
    pub const UNKNOWN_CURRENCY: Code = Code::UnknownCurrency;
    /// `format` is not `price-book/v1`.
    pub const UNSUPPORTED_FORMAT: Code = Code::UnsupportedFormat;
    /// Two entries share an id.
    pub const DUPLICATE_ID: Code = Code::DuplicateId;
    /// A list names the same value twice (alert thresholds).
    pub const DUPLICATE_VALUE: Code = Code::DuplicateValue;
    /// A reference to a product that does not exist.
    pub const UNKNOWN_PRODUCT: Code = Code::UnknownProduct;
    /// A reference to a plan that does not exist.
    pub const UNKNOWN_PLAN: Code = Code::UnknownPlan;
    /// A reference to a credit pack that does not exist.
    pub const UNKNOWN_PACK: Code = Code::UnknownPack;
    /// Tier bounds not strictly ascending.
    pub const TIERS_OUT_OF_ORDER: Code = Code::TiersOutOfOrder;
    /// An open tier (`up_to: null`) that is not the last one.
    pub const OPEN_TIER_NOT_LAST: Code = Code::OpenTierNotLast;
    /// The last tier has a bound; it must be open.
    pub const LAST_TIER_NOT_OPEN: Code = Code::LastTierNotOpen;
    /// A keyed product's item has no `prices`, or an unkeyed one has `prices`.
    pub const PRICES_MISMATCH: Code = Code::PricesMismatch;
    /// An item has neither `price` nor `prices`, or both.
    pub const MISSING_PRICE: Code = Code::MissingPrice;
    /// A timestamp that is not RFC 3339.
    pub const INVALID_TIMESTAMP: Code = Code::InvalidTimestamp;
    /// A lower bound above an upper bound (`min_quantity` > `max_quantity`, `from` ≥ `until`).
    pub const INVALID_RANGE: Code = Code::InvalidRange;
    /// A price book with more than one problem.
    pub const INVALID_PRICE_BOOK: Code = Code::InvalidPriceBook;
    /// A request with more than one problem.
    pub const INVALID_REQUEST: Code = Code::InvalidRequest;
    /// A price key that the item does not price, under the `reject` policy.
    pub const UNKNOWN_PRICE_KEY: Code = Code::UnknownPriceKey;
    /// The plan named is an add-on (or an add-on named is a base plan).
    pub const WRONG_PLAN_KIND: Code = Code::WrongPlanKind;
    /// A quantity or usage for a product that the plan does not contain.
    pub const PRODUCT_NOT_IN_PLAN: Code = Code::ProductNotInPlan;
    /// Below an item's `min_quantity`.
    pub const BELOW_MIN_QUANTITY: Code = Code::BelowMinQuantity;
    /// Above an item's `max_quantity`.
    pub const ABOVE_MAX_QUANTITY: Code = Code::AboveMaxQuantity;
    /// Usage above a hard `limit`.
    pub const LIMIT_EXCEEDED: Code = Code::LimitExceeded;
    /// A price has no option in the requested currency.
    pub const CURRENCY_UNAVAILABLE: Code = Code::CurrencyUnavailable;
    /// A per-transaction min/max needs the list of transaction amounts.
    pub const AMOUNTS_REQUIRED: Code = Code::AmountsRequired;
    /// A usage shape that does not fit the product (keyed map for an unkeyed product, ...).
    pub const INVALID_USAGE: Code = Code::InvalidUsage;
    /// A computed amount overflowed the exact decimal range.
    pub const ARITHMETIC_OVERFLOW: Code = Code::ArithmeticOverflow;
    /// A subscription request changes what cannot change (`start`, `anchor`).
    pub const IMMUTABLE_FIELD: Code = Code::ImmutableField;
    /// A subscription request changes what cannot change yet (`addons`).
    pub const UNSUPPORTED_CHANGE: Code = Code::UnsupportedChange;
    /// An operation on a subscription that has ended.
    pub const SUBSCRIPTION_ENDED: Code = Code::SubscriptionEnded;
    /// The event's time is before the subscription or past the late-event grace.
    pub const EVENT_TOO_LATE: Code = Code::EventTooLate;
    /// The event's time is more than 5 minutes after the time of receipt.
    pub const EVENT_IN_FUTURE: Code = Code::EventInFuture;
    /// No subscription for the event's customer.
    pub const UNKNOWN_CUSTOMER: Code = Code::UnknownCustomer;
    /// A state the engine should never reach; reported, never a panic.
    pub const INTERNAL: Code = Code::Internal;
    /// A file cannot be read or written (CLI).
    pub const IO_ERROR: Code = Code::IoError;
    /// One event of a batch is over the size limit (64 KiB).
    pub const EVENT_TOO_LARGE: Code = Code::EventTooLarge;
    /// The wallet is too small under `credit_overage: reject`.
    pub const INSUFFICIENT_CREDITS: Code = Code::InsufficientCredits;
}

#[cfg(test)]
mod tests {
    use super::Code;

    /// docs/errors.md lists every code the engine can give, and no other.
    #[test]
    fn every_code_is_documented() {
        let doc = include_str!("../../../docs/errors.md");
        let table: Vec<&str> = doc
            .lines()
            .filter(|l| l.starts_with("| `"))
            .flat_map(|l| l.split('|').nth(1).unwrap_or("").split('/'))
            .map(|c| c.trim().trim_matches('`'))
            .collect();
        for code in Code::ALL {
            assert!(table.contains(&code.as_str()), "{code} is not in docs/errors.md");
        }
        for name in &table {
            assert!(
                Code::ALL.iter().any(|c| c == name),
                "docs/errors.md lists {name}, which is no Code"
            );
        }
    }
}
