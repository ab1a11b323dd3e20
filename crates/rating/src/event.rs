//! Usage events: CloudEvents 1.0 in structured JSON mode (docs/contract.md §6).
//!
//! `type` is the product id, `subject` the customer, `time` the usage time
//! (absent: the receipt time). Extension attributes and unknown `data`
//! properties are allowed and kept.

use crate::error::{codes, Problem};
use crate::json::{join, type_name};
use crate::money::{parse_decimal_text, DecimalError};
use crate::period::{parse_timestamp, Timestamp};
use rust_decimal::Decimal;
use serde::de::{Deserializer as _, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;

mod fast;

/// Longest `id` / `source`, in characters.
pub const MAX_ID_LEN: usize = 255;

/// A validated usage event.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageEvent {
    /// Event id (dedup key with `source`).
    pub id: crate::text::Text,
    /// Producer (dedup key with `id`).
    pub source: crate::text::Text,
    /// Product id.
    pub product: crate::text::Text,
    /// Customer id.
    pub customer: crate::text::Text,
    /// Usage time, when given.
    pub time: Option<Timestamp>,
    /// `data.quantity`, when given.
    pub quantity: Option<Decimal>,
    /// `data.amount`, when given.
    pub amount: Option<Decimal>,
    /// The whole `data` object (for price keys and unique counts).
    pub data: Data,
    /// A fingerprint of the whole event, to tell a conflicting duplicate.
    pub fingerprint: u64,
    /// When the Worker received it: the `ratingreceived` extension
    /// attribute of an event log line (docs/event-log.md). Replay rates
    /// such a line at that time; live ingest uses its own clock.
    pub received: Option<Timestamp>,
}

/// The extension attribute of an event log line that holds its receipt
/// time (docs/event-log.md).
pub const RECEIVED_ATTR: &str = "ratingreceived";

/// The `data` object of an event, kept as its JSON text: only keyed and
/// unique-count products look inside it, so the common event carries one
/// string instead of a map of allocated keys and values. Two `Data` are
/// equal when their objects are (duplicate keys: the last one counts, as
/// everywhere else).
#[derive(Debug, Clone, Default)]
pub struct Data {
    /// Compact or as-received JSON object text; empty for no data.
    text: crate::text::Text,
}

/// A property of `data`, as price keys and unique counts read it.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar<'a> {
    /// A string (unescaped).
    Str(Cow<'a, str>),
    /// A number, as written.
    Num(&'a str),
    /// `null`, a boolean, an array or an object.
    Other,
}

impl<'a> Scalar<'a> {
    /// The text of a string or number.
    pub fn text(&self) -> Option<&str> {
        match self {
            Scalar::Str(s) => Some(s),
            Scalar::Num(n) => Some(n),
            Scalar::Other => None,
        }
    }

    fn of(raw: &'a RawValue) -> Scalar<'a> {
        let s = raw.get();
        match s.as_bytes().first() {
            Some(b'"') => match unquoted(s) {
                Some(t) => Scalar::Str(Cow::Borrowed(t)),
                None => serde_json::from_str::<String>(s).map_or(Scalar::Other, |t| Scalar::Str(Cow::Owned(t))),
            },
            Some(b'-' | b'0'..=b'9') => Scalar::Num(s),
            _ => Scalar::Other,
        }
    }
}

/// The content of a JSON string literal without escapes.
fn unquoted(s: &str) -> Option<&str> {
    let inner = s.strip_prefix('"')?.strip_suffix('"')?;
    (!inner.contains('\\')).then_some(inner)
}

impl Data {
    /// The data of an object.
    pub fn from_map(m: &Map<String, Value>) -> Data {
        if m.is_empty() {
            return Data::default();
        }
        Data {
            text: serde_json::to_string(m).unwrap_or_default().into(),
        }
    }

    /// The JSON text of the object (`""` when there is no data).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The object as a map.
    pub fn to_map(&self) -> Map<String, Value> {
        if self.text.is_empty() {
            return Map::new();
        }
        serde_json::from_str(&self.text).unwrap_or_default()
    }

    /// A property (the last one, if the key is repeated).
    pub fn get(&self, key: &str) -> Option<Scalar<'_>> {
        if self.text.is_empty() {
            return None;
        }
        let mut de = serde_json::Deserializer::from_str(&self.text);
        de.deserialize_map(Find { key }).ok().flatten()
    }
}

impl PartialEq for Data {
    fn eq(&self, other: &Data) -> bool {
        self.text == other.text || self.to_map() == other.to_map()
    }
}

/// A key borrowed from the text when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

struct Find<'k> {
    key: &'k str,
}

impl<'de> Visitor<'de> for Find<'_> {
    type Value = Option<Scalar<'de>>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(k) = m.next_key::<Key<'de>>()? {
            let v: &'de RawValue = m.next_value()?;
            if k.0 == self.key {
                found = Some(Scalar::of(v));
            }
        }
        Ok(found)
    }
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

pub(crate) const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    h
}

/// [`ids_of`] an event's text, read as far as it can be: an event refused
/// for a repeated key still names its id and source.
pub fn ids_of_text(text: &str) -> (String, String) {
    serde_json::from_str::<Value>(text)
        .map(|v| ids_of(&v))
        .unwrap_or_default()
}

/// A hash of a JSON value that ignores object key order and allocates
/// nothing: object entries are combined commutatively.
pub fn fingerprint(v: &Value) -> u64 {
    match v {
        Value::Null => mix(1),
        Value::Bool(b) => mix(2 + u64::from(*b)),
        Value::Number(n) => mix(4 ^ fnv1a(n.to_string().as_bytes())),
        Value::String(s) => mix(5 ^ fnv1a(s.as_bytes())),
        Value::Array(a) => a.iter().fold(mix(6), |h, x| mix(h ^ fingerprint(x))),
        Value::Object(o) => object_fingerprint(o),
    }
}

fn object_fingerprint(o: &Map<String, Value>) -> u64 {
    let sum = o.iter().fold(0u64, |acc, (k, x)| {
        acc.wrapping_add(mix(fnv1a(k.as_bytes()) ^ fingerprint(x).rotate_left(17)))
    });
    mix(7 ^ sum)
}

fn mix(h: u64) -> u64 {
    let mut z = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn decimal_field(data: &Map<String, Value>, key: &str, path: &str) -> Result<Option<Decimal>, Problem> {
    let p = || join(path, key);
    let text: Cow<str> = match data.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => Cow::Borrowed(s),
        Some(Value::Number(n)) => Cow::Owned(n.to_string()),
        Some(other) => {
            return Err(Problem::at(
                codes::INVALID_TYPE,
                p(),
                format!("expected a decimal string or number, found {}", type_name(other)),
            ))
        }
    };
    decimal_of(&text, p)
}

fn decimal_of(text: &str, p: impl Fn() -> String) -> Result<Option<Decimal>, Problem> {
    match parse_decimal_text(text) {
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
    check_specversion(match o.get("specversion") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_str().unwrap_or("")),
    })?;
    let id = text_attr(o, "id", MAX_ID_LEN)?;
    let source = text_attr(o, "source", MAX_ID_LEN)?;
    let product = text_attr(o, "type", MAX_ID_LEN)?;
    let customer = text_attr(o, "subject", MAX_ID_LEN)?;
    let time = match o.get("time") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(event_time(s)?),
        Some(other) => {
            return Err(Problem::at(
                codes::INVALID_TYPE,
                "time",
                format!("expected an RFC 3339 string, found {}", type_name(other)),
            ))
        }
    };
    if let Some(ct) = o.get("datacontenttype") {
        check_content_type(ct.as_str())?;
    }
    let empty = Map::new();
    let data = match o.get("data") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(d)) => d,
        Some(other) => {
            return Err(Problem::at(
                codes::INVALID_TYPE,
                "data",
                format!("expected an object, found {}", type_name(other)),
            ))
        }
    };
    let quantity = decimal_field(data, "quantity", "data")?;
    let amount = decimal_field(data, "amount", "data")?;
    let received = match o.get(RECEIVED_ATTR) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(parse_timestamp(s).ok_or_else(|| {
            let msg = format!("{RECEIVED_ATTR} is not an RFC 3339 timestamp");
            Problem::at(codes::INVALID_TIMESTAMP, RECEIVED_ATTR, msg)
        })?),
        Some(other) => {
            let msg = format!("expected an RFC 3339 string, found {}", type_name(other));
            return Err(Problem::at(codes::INVALID_TYPE, RECEIVED_ATTR, msg));
        }
    };
    let fingerprint = fingerprint(v);
    Ok(UsageEvent {
        id: id.into(),
        source: source.into(),
        product: product.into(),
        customer: customer.into(),
        time,
        quantity,
        amount,
        data: Data::from_map(data),
        fingerprint,
        received,
    })
}

/// The price key of an event: the values of the label's properties joined
/// with `/`; `None` when one is missing or not a string or number.
pub fn price_key(data: &Data, properties: &[&str]) -> Option<String> {
    let mut key = String::new();
    for (i, p) in properties.iter().enumerate() {
        if i > 0 {
            key.push('/');
        }
        key.push_str(data.get(p)?.text()?);
    }
    Some(key)
}

/// A field that remembers whether it was present (even as `null`), so the
/// fast path fingerprints exactly like the general one.
#[derive(Default)]
enum Field<T> {
    #[default]
    Absent,
    Present(T),
}

impl<T> Field<Option<T>> {
    fn get(&self) -> Option<&T> {
        match self {
            Field::Present(Some(t)) => Some(t),
            _ => None,
        }
    }
}

/// A string attribute, borrowed from the text (an escaped string makes the
/// fast path give way to the general one).
type Text<'a> = Field<Option<&'a str>>;

/// Parses and validates one event from JSON text. Events made only of the
/// standard attributes are read straight into place (no intermediate JSON
/// value), which is what makes replaying millions of events fast; anything
/// else (extension attributes, wrong types, malformed JSON) goes through
/// [`parse_event`], so the result, errors and fingerprint are the same.
pub fn parse_event_text(text: &str) -> Result<UsageEvent, Problem> {
    let general = || crate::json::parse_json(text).and_then(|v| parse_event(&v));
    let Some(w) = fast::read(text) else {
        return general();
    };
    let attr = |v: &Text, key: &'static str| -> Result<crate::text::Text, Problem> {
        match v.get().copied() {
            None => Err(Problem::at(codes::MISSING_FIELD, key, format!("{key} is required"))),
            Some("") => Err(Problem::at(codes::INVALID_VALUE, key, "must not be empty")),
            Some(s) if s.len() > MAX_ID_LEN && s.chars().count() > MAX_ID_LEN => Err(Problem::at(
                codes::INVALID_VALUE,
                key,
                format!("longer than {MAX_ID_LEN} characters"),
            )),
            Some(s) => Ok(s.into()),
        }
    };
    check_specversion(w.specversion.get().copied())?;
    let id = attr(&w.id, "id")?;
    let source = attr(&w.source, "source")?;
    let product = attr(&w.kind, "type")?;
    let customer = attr(&w.subject, "subject")?;
    let time = w.time.get().map(|s| event_time(s)).transpose()?;
    if let Field::Present(ct) = &w.datacontenttype {
        check_content_type(*ct)?;
    }
    let (data, quantity, amount, fingerprint) = fast_rest(w);
    let quantity = quantity.map_or(Ok(None), |q| decimal_of(q, || join("data", "quantity")))?;
    let amount = amount.map_or(Ok(None), |a| decimal_of(a, || join("data", "amount")))?;
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
        received: None,
    })
}

/// `specversion` must be `"1.0"` (`None`: absent or null).
fn check_specversion(v: Option<&str>) -> Result<(), Problem> {
    match v {
        Some("1.0") => Ok(()),
        None => Err(Problem::at(
            codes::MISSING_FIELD,
            "specversion",
            "specversion is required (\"1.0\")",
        )),
        Some(_) => Err(Problem::at(
            codes::INVALID_VALUE,
            "specversion",
            "only CloudEvents specversion \"1.0\" is supported",
        )),
    }
}

fn event_time(s: &str) -> Result<Timestamp, Problem> {
    parse_timestamp(s).ok_or_else(|| Problem::at(codes::INVALID_TIMESTAMP, "time", "time is not an RFC 3339 timestamp"))
}

/// `datacontenttype`, when given, must be a JSON media type (`None`: not
/// a string).
fn check_content_type(ct: Option<&str>) -> Result<(), Problem> {
    match ct {
        Some(c) if is_json_media_type(c) => Ok(()),
        Some(c) => {
            let shown: String = c.chars().take(80).collect();
            Err(Problem::at(
                codes::INVALID_VALUE,
                "datacontenttype",
                format!("datacontenttype {shown:?}: usage data must be JSON (application/json or a +json type)"),
            ))
        }
        None => Err(Problem::at(
            codes::INVALID_VALUE,
            "datacontenttype",
            "datacontenttype must be a media type string, such as application/json",
        )),
    }
}

/// Whether a media type (parameters allowed, any case) is JSON:
/// `application/json` or a structured-syntax `+json` type.
pub fn is_json_media_type(media_type: &str) -> bool {
    let m = media_type.split(';').next().unwrap_or("").trim().as_bytes();
    m.eq_ignore_ascii_case(b"application/json")
        || (m.len() > 5 && m.contains(&b'/') && m[m.len() - 5..].eq_ignore_ascii_case(b"+json"))
}

/// The fast path's `data` (with its quantity and amount text) and the
/// event's fingerprint: the same one `fingerprint(&Value)` gives the whole
/// event (the attribute names' hashes are constants).
fn fast_rest<'a>(w: fast::Wire<'a>) -> (Data, Option<&'a str>, Option<&'a str>, u64) {
    let entry = |k: u64, fp: u64| mix(k ^ fp.rotate_left(17));
    let text_fp = |v: &Text| match v.get() {
        Some(s) => mix(5 ^ fnv1a(s.as_bytes())),
        None => mix(1),
    };
    const NAMES: [u64; 8] = [
        fnv1a(b"specversion"),
        fnv1a(b"id"),
        fnv1a(b"source"),
        fnv1a(b"type"),
        fnv1a(b"subject"),
        fnv1a(b"time"),
        fnv1a(b"datacontenttype"),
        fnv1a(b"data"),
    ];
    let mut sum = 0u64;
    for (k, v) in [
        (NAMES[0], &w.specversion),
        (NAMES[1], &w.id),
        (NAMES[2], &w.source),
        (NAMES[3], &w.kind),
        (NAMES[4], &w.subject),
        (NAMES[5], &w.time),
        (NAMES[6], &w.datacontenttype),
    ] {
        if let Field::Present(_) = v {
            sum = sum.wrapping_add(entry(k, text_fp(v)));
        }
    }
    let (data, quantity, amount) = match w.data {
        Field::Absent => (Data::default(), None, None),
        Field::Present(None) => {
            sum = sum.wrapping_add(entry(NAMES[7], mix(1)));
            (Data::default(), None, None)
        }
        Field::Present(Some(d)) => {
            sum = sum.wrapping_add(entry(NAMES[7], mix(7 ^ d.sum)));
            let data = if d.entries == 0 {
                Data::default()
            } else {
                Data { text: d.text.into() }
            };
            (data, d.quantity, d.amount)
        }
    };
    (data, quantity, amount, mix(7 ^ sum))
}
