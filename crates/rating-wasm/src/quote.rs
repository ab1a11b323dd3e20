//! Quotes and plan comparisons (docs/contract.md §4, `docs/quote.md`).
//!
//! The engine's typed `Quote` and `Comparison` are written straight to
//! JSON text by `rating::quote_json` (the bytes `serde_json` writes for
//! them, without serde's machinery in the bundle): the same bytes as the
//! CLI, which the package's vector tests check.

use crate::convert::json_in;
use crate::error;
use crate::price_book::PriceBook;
use rating::quote::{compare, quote, read_request};
use serde_json::Value;
use wasm_bindgen::prelude::*;

/// The quote of a request value, as JSON text.
fn quote_text(book: &rating::PriceBook, request: &Value) -> Result<String, JsValue> {
    let req = read_request(book, request, true).map_err(|e| error::to_js(&e))?;
    let q = quote(book, &req).map_err(|e| error::to_js(&e))?;
    Ok(rating::quote_json::quote_text(&q))
}

/// The comparison for a request value, as JSON text.
fn compare_text(book: &rating::PriceBook, request: &Value) -> Result<String, JsValue> {
    let req = read_request(book, request, false).map_err(|e| error::to_js(&e))?;
    let c = compare(book, &req).map_err(|e| error::to_js(&e))?;
    Ok(rating::quote_json::compare_text(&c))
}

#[wasm_bindgen]
impl PriceBook {
    /// Prices one period of a plan (and its add-ons) for the given
    /// quantities and usage, or `periods` paid ahead. Every line is rounded
    /// once to the currency's minor unit; `total` is the sum of the lines.
    /// Money and quantities are decimal strings. Throws a `RatingError`
    /// for a request the book cannot price (`unknown_plan`,
    /// `limit_exceeded`, `currency_unavailable`, ...).
    #[wasm_bindgen(unchecked_return_type = "Quote")]
    pub fn quote(
        &self,
        #[wasm_bindgen(
            unchecked_param_type = "QuoteRequest | string",
            param_description = "the request: JSON text or an object; decimals as strings or numbers"
        )]
        request: JsValue,
    ) -> Result<JsValue, JsValue> {
        let req = json_in(&request, "the request")?;
        js_sys::JSON::parse(&quote_text(&self.book, &req)?)
    }

    /// Prices the same usage on every base plan: priced plans cheapest
    /// first (ties in book order), then the plans the usage cannot be
    /// quoted on, each with its `error`. `cheapest` is null when no plan
    /// could be priced.
    #[wasm_bindgen(unchecked_return_type = "Comparison")]
    pub fn compare(
        &self,
        #[wasm_bindgen(
            unchecked_param_type = "CompareRequest | string",
            param_description = "a quote request without `plan`: JSON text or an object"
        )]
        usage: JsValue,
    ) -> Result<JsValue, JsValue> {
        let req = json_in(&usage, "the usage")?;
        js_sys::JSON::parse(&compare_text(&self.book, &req)?)
    }

    /// `quote` on JSON text, returning the engine's JSON text untouched
    /// (compact): the exact bytes, for callers that store or forward them.
    #[wasm_bindgen(js_name = quoteJson)]
    pub fn quote_json(
        &self,
        #[wasm_bindgen(param_description = "the request as JSON text")] request: &str,
    ) -> Result<String, JsValue> {
        let req = rating::json::parse_json(request).map_err(error::problem_to_js)?;
        quote_text(&self.book, &req)
    }

    /// `compare` on JSON text, returning the engine's JSON text (compact).
    #[wasm_bindgen(js_name = compareJson)]
    pub fn compare_json(
        &self,
        #[wasm_bindgen(param_description = "the usage as JSON text")] usage: &str,
    ) -> Result<String, JsValue> {
        let req = rating::json::parse_json(usage).map_err(error::problem_to_js)?;
        compare_text(&self.book, &req)
    }
}
