//! Usage events: CloudEvents 1.0 in structured JSON mode (SPEC §6).
//!
//! `type` is the product id, `subject` the customer, `time` the usage time
//! (absent: the receipt time). Extension attributes and unknown `data`
//! properties are allowed and kept.

use crate::error::{codes, Problem};
use crate::json::{join, type_name};
use crate::money::{parse_decimal_text, DecimalError};
use crate::period::{parse_timestamp, Timestamp};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

/// Longest `id` / `source`, in characters.
pub const MAX_ID_LEN: usize = 255;

/// A validated usage event.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageEvent {
    /// Event id (dedup key with `source`).
    pub id: String,
    /// Producer (dedup key with `id`).
    pub source: String,
    /// Product id.
    pub product: String,
    /// Customer id.
    pub customer: String,
    /// Usage time, when given.
    pub time: Option<Timestamp>,
    /// `data.quantity`, when given.
    pub quantity: Option<Decimal>,
    /// `data.amount`, when given.
    pub amount: Option<Decimal>,
    /// The whole `data` object (for price keys and unique counts).
    pub data: Map<String, Value>,
    /// A fingerprint of the whole event, to tell a conflicting duplicate.
    pub fingerprint: u64,
}

/// The id and source of an event, read as far as possible (for receipts of
/// events that fail validation).
pub fn ids_of(v: &Value) -> (String, String) {
    let get = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .map(|s| s.chars().take(MAX_ID_LEN).collect())
            .unwrap_or_default()
    };
    (get("id"), get("source"))
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A hash of a JSON value that ignores object key order and allocates
/// nothing: object entries are combined commutatively.
pub fn fingerprint(v: &Value) -> u64 {
    fn mix(h: u64) -> u64 {
        let mut z = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    match v {
        Value::Null => mix(1),
        Value::Bool(b) => mix(2 + u64::from(*b)),
        Value::Number(n) => mix(4 ^ fnv1a(n.to_string().as_bytes())),
        Value::String(s) => mix(5 ^ fnv1a(s.as_bytes())),
        Value::Array(a) => a.iter().fold(mix(6), |h, x| mix(h ^ fingerprint(x))),
        Value::Object(o) => {
            let sum = o.iter().fold(0u64, |acc, (k, x)| {
                acc.wrapping_add(mix(fnv1a(k.as_bytes()) ^ fingerprint(x).rotate_left(17)))
            });
            mix(7 ^ sum)
        }
    }
}

fn decimal_field(data: &Map<String, Value>, key: &str, path: &str) -> Result<Option<Decimal>, Problem> {
    let p = || join(path, key);
    let text = match data.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => {
            return Err(Problem::at(
                codes::INVALID_TYPE,
                p(),
                format!("expected a decimal string or number, found {}", type_name(other)),
            ))
        }
    };
    match parse_decimal_text(&text) {
        Ok(d) if d.is_sign_negative() && !d.is_zero() => {
            Err(Problem::at(codes::NEGATIVE_VALUE, p(), "must not be negative"))
        }
        Ok(d) => Ok(Some(d)),
        Err(DecimalError::NotANumber) => {
            let shown: String = text.chars().take(40).collect();
            Err(Problem::at(
                codes::INVALID_DECIMAL,
                p(),
                format!("{shown:?} is not a decimal number"),
            ))
        }
        Err(DecimalError::OutOfRange) => Err(Problem::at(
            codes::OUT_OF_RANGE,
            p(),
            "more than 28 significant digits or too large",
        )),
    }
}

fn text_attr(o: &Map<String, Value>, key: &str, max: usize) -> Result<String, Problem> {
    match o.get(key) {
        None | Some(Value::Null) => Err(Problem::at(codes::MISSING_FIELD, key, format!("{key} is required"))),
        Some(Value::String(s)) if s.is_empty() => Err(Problem::at(codes::INVALID_VALUE, key, "must not be empty")),
        Some(Value::String(s)) if s.chars().count() > max => Err(Problem::at(
            codes::INVALID_VALUE,
            key,
            format!("longer than {max} characters"),
        )),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(Problem::at(
            codes::INVALID_TYPE,
            key,
            format!("expected a string, found {}", type_name(other)),
        )),
    }
}

/// Validates one CloudEvent. The first problem found is returned; paths are
/// relative to the event (`data.quantity`).
pub fn parse_event(v: &Value) -> Result<UsageEvent, Problem> {
    let Value::Object(o) = v else {
        return Err(Problem::at(
            codes::INVALID_TYPE,
            "",
            format!("an event is a JSON object, found {}", type_name(v)),
        ));
    };
    match o.get("specversion") {
        Some(Value::String(s)) if s == "1.0" => {}
        None | Some(Value::Null) => {
            return Err(Problem::at(
                codes::MISSING_FIELD,
                "specversion",
                "specversion is required (\"1.0\")",
            ))
        }
        Some(_) => {
            return Err(Problem::at(
                codes::INVALID_VALUE,
                "specversion",
                "only CloudEvents specversion \"1.0\" is supported",
            ))
        }
    }
    let id = text_attr(o, "id", MAX_ID_LEN)?;
    let source = text_attr(o, "source", MAX_ID_LEN)?;
    let product = text_attr(o, "type", MAX_ID_LEN)?;
    let customer = text_attr(o, "subject", MAX_ID_LEN)?;
    let time = match o.get("time") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => match parse_timestamp(s) {
            Some(t) => Some(t),
            None => {
                return Err(Problem::at(
                    codes::INVALID_TIMESTAMP,
                    "time",
                    "time is not an RFC 3339 timestamp",
                ))
            }
        },
        Some(other) => {
            return Err(Problem::at(
                codes::INVALID_TYPE,
                "time",
                format!("expected an RFC 3339 string, found {}", type_name(other)),
            ))
        }
    };
    if let Some(ct) = o.get("datacontenttype") {
        match ct.as_str() {
            Some(s) if s.starts_with("application/json") => {}
            _ => {
                return Err(Problem::at(
                    codes::INVALID_VALUE,
                    "datacontenttype",
                    "data must be JSON (application/json)",
                ))
            }
        }
    }
    let data = match o.get("data") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(d)) => d.clone(),
        Some(other) => {
            return Err(Problem::at(
                codes::INVALID_TYPE,
                "data",
                format!("expected an object, found {}", type_name(other)),
            ))
        }
    };
    let quantity = decimal_field(&data, "quantity", "data")?;
    let amount = decimal_field(&data, "amount", "data")?;
    let fingerprint = fingerprint(v);
    Ok(UsageEvent {
        id,
        source,
        product,
        customer,
        time,
        quantity,
        amount,
        data,
        fingerprint,
    })
}

/// The price key of an event: the values of the label's properties joined
/// with `/`; `None` when one is missing or not a string or number.
pub fn price_key(data: &Map<String, Value>, properties: &[&str]) -> Option<String> {
    let mut key = String::new();
    for (i, p) in properties.iter().enumerate() {
        if i > 0 {
            key.push('/');
        }
        match data.get(*p)? {
            Value::String(s) => key.push_str(s),
            Value::Number(n) => key.push_str(&n.to_string()),
            _ => return None,
        }
    }
    Some(key)
}
