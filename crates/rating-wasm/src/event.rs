//! `validateEvent`: checks a usage event without rating it.

use crate::convert::{json_in, json_out};
use crate::error;
use rating::money::fmt_qty;
use rating::period::fmt_timestamp;
use serde_json::{Map, Value};
use wasm_bindgen::prelude::*;

/// Validates one usage event (CloudEvents 1.0, structured JSON: docs/contract.md §6)
/// without rating it, and returns what the engine read from it: `id`,
/// `source`, `product` (the `type`), `customer` (the `subject`), and
/// `time`, `quantity`, `amount` when given. Throws a `RatingError` with
/// the first problem, its `path` relative to the event (`data.quantity`).
#[wasm_bindgen(js_name = validateEvent, unchecked_return_type = "ValidatedEvent")]
pub fn validate_event(
    #[wasm_bindgen(unchecked_param_type = "UsageEvent | string")] event: JsValue,
) -> Result<JsValue, JsValue> {
    let value = json_in(&event, "the event")?;
    let ev = rating::event::parse_event(&value).map_err(error::problem_to_js)?;
    let mut out = Map::new();
    out.insert("id".into(), Value::String(ev.id.into()));
    out.insert("source".into(), Value::String(ev.source.into()));
    out.insert("product".into(), Value::String(ev.product.into()));
    out.insert("customer".into(), Value::String(ev.customer.into()));
    if let Some(t) = ev.time {
        out.insert("time".into(), Value::String(fmt_timestamp(t)));
    }
    if let Some(q) = ev.quantity {
        out.insert("quantity".into(), Value::String(fmt_qty(q)));
    }
    if let Some(a) = ev.amount {
        out.insert("amount".into(), Value::String(fmt_qty(a)));
    }
    json_out(&out)
}
