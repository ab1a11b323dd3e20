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
    pub code: &'static str,
    /// What is wrong, for a person.
    pub message: String,
    /// JSON path of the offending field (`plans[0].items[2].price.tiers[1].up_to`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

impl Problem {
    /// A problem at `path`.
    pub fn at(code: &'static str, path: impl Into<String>, message: impl Into<String>) -> Problem {
        let path = path.into();
        Problem {
            code,
            message: message.into(),
            path: if path.is_empty() { None } else { Some(path) },
        }
    }

    /// A problem that concerns no particular field.
    pub fn general(code: &'static str, message: impl Into<String>) -> Problem {
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
    pub code: &'static str,
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
    pub fn many(summary_code: &'static str, what: &str, mut problems: Vec<Problem>) -> Error {
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

/// The stable error codes.
pub mod codes {
    /// Input is not valid JSON.
    pub const INVALID_JSON: &str = "invalid_json";
    /// An object has the same key twice (ambiguous: parsers disagree on
    /// which one counts).
    pub const DUPLICATE_KEY: &str = "duplicate_key";
    /// A value has the wrong JSON type.
    pub const INVALID_TYPE: &str = "invalid_type";
    /// A required field is absent.
    pub const MISSING_FIELD: &str = "missing_field";
    /// A field that the format does not define.
    pub const UNKNOWN_FIELD: &str = "unknown_field";
    /// A field that this price model or product type does not take.
    pub const FIELD_NOT_ALLOWED: &str = "field_not_allowed";
    /// Not a decimal number.
    pub const INVALID_DECIMAL: &str = "invalid_decimal";
    /// A number beyond 28 significant digits, or otherwise too large.
    pub const OUT_OF_RANGE: &str = "out_of_range";
    /// A negative amount or quantity.
    pub const NEGATIVE_VALUE: &str = "negative_value";
    /// A value outside its allowed set or range.
    pub const INVALID_VALUE: &str = "invalid_value";
    /// Not a known ISO 4217 code nor a declared custom unit.
    pub const UNKNOWN_CURRENCY: &str = "unknown_currency";
    /// `format` is not `price-book/v1`.
    pub const UNSUPPORTED_FORMAT: &str = "unsupported_format";
    /// Two entries share an id.
    pub const DUPLICATE_ID: &str = "duplicate_id";
    /// A reference to a product that does not exist.
    pub const UNKNOWN_PRODUCT: &str = "unknown_product";
    /// A reference to a plan that does not exist.
    pub const UNKNOWN_PLAN: &str = "unknown_plan";
    /// A reference to a credit pack that does not exist.
    pub const UNKNOWN_PACK: &str = "unknown_pack";
    /// Tier bounds not strictly ascending.
    pub const TIERS_OUT_OF_ORDER: &str = "tiers_out_of_order";
    /// An open tier (`up_to: null`) that is not the last one.
    pub const OPEN_TIER_NOT_LAST: &str = "open_tier_not_last";
    /// The last tier has a bound; it must be open.
    pub const LAST_TIER_NOT_OPEN: &str = "last_tier_not_open";
    /// A keyed product's item has no `prices`, or an unkeyed one has `prices`.
    pub const PRICES_MISMATCH: &str = "prices_mismatch";
    /// An item has neither `price` nor `prices`, or both.
    pub const MISSING_PRICE: &str = "missing_price";
    /// A timestamp that is not RFC 3339.
    pub const INVALID_TIMESTAMP: &str = "invalid_timestamp";
    /// A lower bound above an upper bound (`min_quantity` > `max_quantity`, `from` ≥ `until`).
    pub const INVALID_RANGE: &str = "invalid_range";
    /// A price book with more than one problem.
    pub const INVALID_PRICE_BOOK: &str = "invalid_price_book";
    /// A request with more than one problem.
    pub const INVALID_REQUEST: &str = "invalid_request";
    /// A price key that the item does not price, under the `reject` policy.
    pub const UNKNOWN_PRICE_KEY: &str = "unknown_price_key";
    /// The plan named is an add-on (or an add-on named is a base plan).
    pub const WRONG_PLAN_KIND: &str = "wrong_plan_kind";
    /// A quantity or usage for a product that the plan does not contain.
    pub const PRODUCT_NOT_IN_PLAN: &str = "product_not_in_plan";
    /// Below an item's `min_quantity`.
    pub const BELOW_MIN_QUANTITY: &str = "below_min_quantity";
    /// Above an item's `max_quantity`.
    pub const ABOVE_MAX_QUANTITY: &str = "above_max_quantity";
    /// Usage above a hard `limit`.
    pub const LIMIT_EXCEEDED: &str = "limit_exceeded";
    /// A price has no option in the requested currency.
    pub const CURRENCY_UNAVAILABLE: &str = "currency_unavailable";
    /// A per-transaction min/max needs the list of transaction amounts.
    pub const AMOUNTS_REQUIRED: &str = "amounts_required";
    /// A usage shape that does not fit the product (keyed map for an unkeyed product, ...).
    pub const INVALID_USAGE: &str = "invalid_usage";
    /// A computed amount overflowed the exact decimal range.
    pub const ARITHMETIC_OVERFLOW: &str = "arithmetic_overflow";
    /// A subscription request changes what cannot change (`start`, `anchor`).
    pub const IMMUTABLE_FIELD: &str = "immutable_field";
    /// A subscription request changes what cannot change yet (`addons`).
    pub const UNSUPPORTED_CHANGE: &str = "unsupported_change";
    /// An operation on a subscription that has ended.
    pub const SUBSCRIPTION_ENDED: &str = "subscription_ended";
}
