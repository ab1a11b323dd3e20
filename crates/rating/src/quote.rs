//! Quotes and plan comparisons (SPEC §4, docs/quote.md).

use crate::error::{Error, Problem};
use crate::price_book::PriceBook;
use serde_json::Value;

/// Quotes a request given as JSON (docs/quote.md) and returns the quote as JSON.
pub fn quote_value(_book: &PriceBook, _request: &Value) -> Result<Value, Error> {
    Err(Error::one(Problem::general("not_implemented", "quote is being written")))
}

/// Compares every base plan for the usage given as JSON.
pub fn compare_value(_book: &PriceBook, _request: &Value) -> Result<Value, Error> {
    Err(Error::one(Problem::general("not_implemented", "compare is being written")))
}
