//! Conversions shared by the bindings: JSON in and out as text, times and
//! decimals from JS arguments. Errors are engine problems, so a bad
//! argument is reported like a bad field (`code`, `path`).

use crate::error;
use rating::error::{codes, Problem};
use rating::json::parse_json;
#[cfg(feature = "meter")]
use rating::json::Reader;
#[cfg(feature = "meter")]
use rating::period::{parse_timestamp, Timestamp};
#[cfg(feature = "meter")]
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;
use wasm_bindgen::prelude::*;
#[cfg(feature = "meter")]
use wasm_bindgen::JsCast;

/// Reads a JS argument as JSON: a string is JSON text, any other value
/// goes through `JSON.stringify` (numbers keep their shortest round-trip
/// text). `what` names the argument in messages.
pub fn json_in(v: &JsValue, what: &str) -> Result<Value, JsValue> {
    let text = match v.as_string() {
        Some(text) => text,
        None => {
            if v.is_undefined() || v.is_null() || v.is_function() || v.is_symbol() {
                return Err(error::problem_to_js(Problem::general(
                    codes::INVALID_TYPE,
                    format!("{what} must be a JSON value or JSON text"),
                )));
            }
            js_sys::JSON::stringify(v)
                .ok()
                .and_then(|s| s.as_string())
                .ok_or_else(|| {
                    error::problem_to_js(Problem::general(
                        codes::INVALID_JSON,
                        format!("{what} cannot be written as JSON (a BigInt or a cycle?)"),
                    ))
                })?
        }
    };
    parse_json(&text).map_err(error::problem_to_js)
}

/// Serializes an engine result to JSON text and parses it in JS.
pub fn json_out<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, JsValue> {
    let text = text_out(value)?;
    js_sys::JSON::parse(&text)
}

/// Serializes an engine result to JSON text.
pub fn text_out<T: Serialize + ?Sized>(value: &T) -> Result<String, JsValue> {
    serde_json::to_string(value).map_err(|e| {
        error::problem_to_js(Problem::general(
            codes::INVALID_VALUE,
            format!("cannot serialize the result: {e}"),
        ))
    })
}

/// Reads a time argument: an RFC 3339 string or a JS `Date`.
#[cfg(feature = "meter")]
pub fn time_in(v: &JsValue, path: &str) -> Result<Timestamp, JsValue> {
    let text = if let Some(date) = v.dyn_ref::<js_sys::Date>() {
        if date.get_time().is_nan() {
            return Err(error::problem_to_js(Problem::at(
                codes::INVALID_TIMESTAMP,
                path,
                "an invalid Date",
            )));
        }
        String::from(date.to_iso_string())
    } else if let Some(s) = v.as_string() {
        s
    } else {
        return Err(error::problem_to_js(Problem::at(
            codes::INVALID_TYPE,
            path,
            "expected an RFC 3339 timestamp string or a Date",
        )));
    };
    parse_timestamp(&text).ok_or_else(|| {
        let shown: String = text.chars().take(40).collect();
        error::problem_to_js(Problem::at(
            codes::INVALID_TIMESTAMP,
            path,
            format!("{shown:?} is not an RFC 3339 timestamp"),
        ))
    })
}

/// Reads an optional time argument; absent (`undefined`/`null`) is "now",
/// read from the JS clock (the engine itself never reads one).
#[cfg(feature = "meter")]
pub fn time_or_now(v: &JsValue, path: &str) -> Result<Timestamp, JsValue> {
    if v.is_undefined() || v.is_null() {
        time_in(&js_sys::Date::new_0().into(), path)
    } else {
        time_in(v, path)
    }
}

/// Reads a non-negative decimal argument (a decimal string or a JS number).
#[cfg(feature = "meter")]
pub fn amount_in(v: &JsValue, path: &str) -> Result<Decimal, JsValue> {
    let value = if let Some(s) = v.as_string() {
        Value::String(s)
    } else if v.as_f64().is_some() {
        json_in(v, path)?
    } else {
        let shown = if v.is_undefined() {
            "undefined"
        } else {
            "not a string or number"
        };
        return Err(error::problem_to_js(Problem::at(
            codes::INVALID_TYPE,
            path,
            format!("expected a decimal string or number, found {shown}"),
        )));
    };
    if value.is_null() {
        // JSON.stringify(NaN) and of infinities is `null`.
        return Err(error::problem_to_js(Problem::at(
            codes::INVALID_DECIMAL,
            path,
            "not a finite number",
        )));
    }
    let mut r = Reader::default();
    match r.amount(&value, path) {
        Some(d) if !r.failed() => Ok(d),
        _ => Err(error::to_js(&rating::Error::many(
            codes::INVALID_REQUEST,
            path,
            r.problems,
        ))),
    }
}

/// Reads a string argument (an id).
#[cfg(feature = "meter")]
pub fn string_in(v: &JsValue, path: &str) -> Result<String, JsValue> {
    v.as_string().ok_or_else(|| {
        let found = match v.js_typeof().as_string() {
            Some(t) => t,
            None => "a value".to_string(),
        };
        error::problem_to_js(Problem::at(
            codes::INVALID_TYPE,
            path,
            format!("expected a string, found {found}"),
        ))
    })
}
