//! A strict reader over parsed JSON that collects every problem with its
//! path instead of stopping at the first one. Price books, requests and
//! events are all read through it, so their errors look the same.

use crate::error::{codes, Problem};
use crate::money::{parse_decimal_text, DecimalError};
use crate::period::{parse_timestamp, Period, PeriodUnit, Timestamp, MAX_PERIOD_LENGTH};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

/// Appends an object key to a JSON path: `a.b`, or `a[".com"]` for keys
/// that are not plain identifiers.
pub fn join(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if plain {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    } else {
        let quoted = serde_json::to_string(key).unwrap_or_default();
        format!("{path}[{quoted}]")
    }
}

/// Appends an array index to a JSON path: `a[3]`.
pub fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// The JSON type of a value, for messages.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Collects problems while reading.
#[derive(Default)]
pub struct Reader {
    /// Every problem so far, in reading order.
    pub problems: Vec<Problem>,
    /// How many list entries were left out because they had a problem.
    pub dropped: usize,
}

/// An object being read: fields taken are remembered so that the rest can
/// be reported as unknown.
pub struct Obj<'v> {
    map: &'v Map<String, Value>,
    /// Path of this object.
    pub path: String,
    taken: Vec<&'static str>,
}

impl Reader {
    /// Records a problem.
    pub fn err(&mut self, code: crate::error::Code, path: &str, message: impl Into<String>) {
        self.problems.push(Problem::at(code, path, message));
    }

    /// Whether any problem was recorded.
    pub fn failed(&self) -> bool {
        !self.problems.is_empty()
    }

    /// Reads an object, or records `invalid_type`.
    pub fn object<'v>(&mut self, v: &'v Value, path: &str) -> Option<Obj<'v>> {
        match v {
            Value::Object(map) => Some(Obj {
                map,
                path: path.to_string(),
                taken: Vec::new(),
            }),
            other => {
                self.err(
                    codes::INVALID_TYPE,
                    path,
                    format!("expected an object, found {}", type_name(other)),
                );
                None
            }
        }
    }

    /// Reads an array, or records `invalid_type`.
    pub fn array<'v>(&mut self, v: &'v Value, path: &str) -> Option<&'v Vec<Value>> {
        match v {
            Value::Array(a) => Some(a),
            other => {
                self.err(
                    codes::INVALID_TYPE,
                    path,
                    format!("expected an array, found {}", type_name(other)),
                );
                None
            }
        }
    }

    /// Reads a non-empty string of at most `max` characters.
    pub fn string(&mut self, v: &Value, path: &str) -> Option<String> {
        match v {
            Value::String(s) if s.is_empty() => {
                self.err(codes::INVALID_VALUE, path, "must not be empty");
                None
            }
            Value::String(s) if s.chars().count() > 1000 => {
                self.err(codes::INVALID_VALUE, path, "longer than 1000 characters");
                None
            }
            Value::String(s) => Some(s.clone()),
            other => {
                self.err(
                    codes::INVALID_TYPE,
                    path,
                    format!("expected a string, found {}", type_name(other)),
                );
                None
            }
        }
    }

    /// Reads a boolean.
    pub fn boolean(&mut self, v: &Value, path: &str) -> Option<bool> {
        match v {
            Value::Bool(b) => Some(*b),
            other => {
                self.err(
                    codes::INVALID_TYPE,
                    path,
                    format!("expected true or false, found {}", type_name(other)),
                );
                None
            }
        }
    }

    /// Reads an exact decimal from a string or a JSON number (by its literal text).
    pub fn decimal(&mut self, v: &Value, path: &str) -> Option<Decimal> {
        let text = match v {
            Value::String(s) => s.as_str(),
            Value::Number(n) => return self.decimal_text(&n.to_string(), path),
            other => {
                self.err(
                    codes::INVALID_TYPE,
                    path,
                    format!("expected a decimal string or number, found {}", type_name(other)),
                );
                return None;
            }
        };
        self.decimal_text(text, path)
    }

    fn decimal_text(&mut self, text: &str, path: &str) -> Option<Decimal> {
        match parse_decimal_text(text) {
            Ok(d) => Some(d),
            Err(DecimalError::NotANumber) => {
                let shown: String = text.chars().take(40).collect();
                self.err(
                    codes::INVALID_DECIMAL,
                    path,
                    format!("{shown:?} is not a decimal number"),
                );
                None
            }
            Err(DecimalError::OutOfRange) => {
                self.err(
                    codes::OUT_OF_RANGE,
                    path,
                    "more than 28 significant digits or too large to hold exactly",
                );
                None
            }
        }
    }

    /// Reads a decimal that must not be negative (amounts, quantities).
    pub fn amount(&mut self, v: &Value, path: &str) -> Option<Decimal> {
        let d = self.decimal(v, path)?;
        if d.is_sign_negative() && !d.is_zero() {
            self.err(codes::NEGATIVE_VALUE, path, "must not be negative");
            return None;
        }
        Some(d)
    }

    /// Reads a whole number in `[min, max]`.
    pub fn integer(&mut self, v: &Value, path: &str, min: u32, max: u32) -> Option<u32> {
        let d = self.decimal(v, path)?;
        if d != d.trunc() || d < Decimal::from(min) || d > Decimal::from(max) {
            self.err(
                codes::INVALID_VALUE,
                path,
                format!("must be a whole number from {min} to {max}"),
            );
            return None;
        }
        u32::try_from(d.normalize().mantissa()).ok()
    }

    /// Reads an RFC 3339 timestamp.
    pub fn timestamp(&mut self, v: &Value, path: &str) -> Option<Timestamp> {
        let s = match v {
            Value::String(s) => s,
            other => {
                self.err(
                    codes::INVALID_TYPE,
                    path,
                    format!("expected an RFC 3339 timestamp, found {}", type_name(other)),
                );
                return None;
            }
        };
        match parse_timestamp(s) {
            Some(t) => Some(t),
            None => {
                let shown: String = s.chars().take(40).collect();
                self.err(
                    codes::INVALID_TIMESTAMP,
                    path,
                    format!("{shown:?} is not an RFC 3339 timestamp"),
                );
                None
            }
        }
    }

    /// Reads `{"unit", "length"}`.
    pub fn period(&mut self, v: &Value, path: &str) -> Option<Period> {
        let mut o = self.object(v, path)?;
        let unit = o
            .req(self, "unit")
            .and_then(|v| match v.as_str().and_then(PeriodUnit::parse) {
                Some(u) => Some(u),
                None => {
                    let p = o.path("unit");
                    self.err(codes::INVALID_VALUE, &p, "must be one of hour, day, week, month, year");
                    None
                }
            });
        let length = match o.opt("length") {
            Some(v) => {
                let p = o.path("length");
                self.integer(v, &p, 1, MAX_PERIOD_LENGTH)
            }
            None => Some(1),
        };
        o.finish(self);
        Some(Period::new(unit?, length?))
    }

    /// Reads one of a fixed set of strings.
    pub fn choice<T>(&mut self, v: &Value, path: &str, parse: impl Fn(&str) -> Option<T>, allowed: &str) -> Option<T> {
        match v.as_str().and_then(parse) {
            Some(t) => Some(t),
            None => {
                self.err(codes::INVALID_VALUE, path, format!("must be one of {allowed}"));
                None
            }
        }
    }
}

impl<'v> Obj<'v> {
    /// Path of a field of this object.
    pub fn path(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// Takes an optional field; `null` counts as absent.
    pub fn opt(&mut self, key: &'static str) -> Option<&'v Value> {
        self.taken.push(key);
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    /// Takes a field, `null` included (for fields where null means something).
    pub fn raw(&mut self, key: &'static str) -> Option<&'v Value> {
        self.taken.push(key);
        self.map.get(key)
    }

    /// Takes a required field, or records `missing_field`.
    pub fn req(&mut self, r: &mut Reader, key: &'static str) -> Option<&'v Value> {
        let v = self.opt(key);
        if v.is_none() {
            r.err(codes::MISSING_FIELD, &self.path(key), format!("{key} is required"));
        }
        v
    }

    /// Whether the object has the field (not null).
    pub fn has(&self, key: &str) -> bool {
        !matches!(self.map.get(key), None | Some(Value::Null))
    }

    /// Takes an optional string field.
    pub fn opt_string(&mut self, r: &mut Reader, key: &'static str) -> Option<String> {
        let v = self.opt(key)?;
        r.string(v, &self.path(key))
    }

    /// Takes a required string field.
    pub fn req_string(&mut self, r: &mut Reader, key: &'static str) -> Option<String> {
        let v = self.req(r, key)?;
        r.string(v, &self.path(key))
    }

    /// Takes an optional non-negative decimal field.
    pub fn opt_amount(&mut self, r: &mut Reader, key: &'static str) -> Option<Decimal> {
        let v = self.opt(key)?;
        r.amount(v, &self.path(key))
    }

    /// Takes an optional boolean field.
    pub fn opt_bool(&mut self, r: &mut Reader, key: &'static str) -> Option<bool> {
        let v = self.opt(key)?;
        r.boolean(v, &self.path(key))
    }

    /// Takes an optional timestamp field.
    pub fn opt_timestamp(&mut self, r: &mut Reader, key: &'static str) -> Option<Timestamp> {
        let v = self.opt(key)?;
        r.timestamp(v, &self.path(key))
    }

    /// The underlying map (for maps of user-chosen keys).
    pub fn map(&self) -> &'v Map<String, Value> {
        self.map
    }

    /// Records every field not taken as `unknown_field`.
    pub fn finish(self, r: &mut Reader) {
        for key in self.map.keys() {
            if !self.taken.contains(&key.as_str()) {
                r.err(
                    codes::UNKNOWN_FIELD,
                    &join(&self.path, key),
                    format!("unknown field {key:?}"),
                );
            }
        }
    }

    /// Records every field not taken as unknown, except those `allow` accepts.
    pub fn finish_allowing(self, r: &mut Reader, allow: impl Fn(&str) -> bool) {
        for key in self.map.keys() {
            if !self.taken.contains(&key.as_str()) && !allow(key) {
                r.err(
                    codes::UNKNOWN_FIELD,
                    &join(&self.path, key),
                    format!("unknown field {key:?}"),
                );
            }
        }
    }
}

/// Parses JSON text into a value, reading numbers by their literal text.
/// A leading byte order mark is refused (RFC 8259 §8.1: JSON text must not
/// start with one), with a message that says so.
pub fn parse_json(text: &str) -> Result<Value, Problem> {
    if text.starts_with('\u{feff}') {
        return Err(Problem::general(
            codes::INVALID_JSON,
            "not valid JSON: the text starts with a byte order mark (U+FEFF); send it without one",
        ));
    }
    let v = serde_json::from_str(text)
        .map_err(|e| Problem::general(codes::INVALID_JSON, format!("not valid JSON: {e}")))?;
    match duplicate_key(text) {
        Some(p) => Err(p),
        None => Ok(v),
    }
}

/// The first object key that appears twice in its object, as a problem
/// naming it (`duplicate_key` at the repeated key's path). `text` is JSON
/// that parsed (so nesting is at most serde_json's 128 levels).
pub(crate) fn duplicate_key(text: &str) -> Option<Problem> {
    // A quick pass finds whether any object repeats a key; only then is
    // the text walked again, keeping the path, to name it.
    if !has_duplicate(text.as_bytes()) {
        return None;
    }
    let mut s = Scan {
        b: text.as_bytes(),
        s: text,
        i: 0,
        path: Vec::new(),
    };
    s.value().err()
}

/// Where a JSON string's plain run stops: the first `"` or `\\` at or
/// after `from` (with `controls`, also the first byte below 0x20, which a
/// string may not hold raw), or `b.len()`. Eight bytes at a time: the
/// readers of event text, JSON keys and stored invoices all scan strings.
pub(crate) fn string_stop(b: &[u8], from: usize, controls: bool) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut i = from;
    while let Some(chunk) = b.get(i..i + 8) {
        let Ok(bytes) = <[u8; 8]>::try_from(chunk) else { break };
        let w = u64::from_le_bytes(bytes);
        let q = w ^ (LO * u64::from(b'"'));
        let s = w ^ (LO * u64::from(b'\\'));
        // A byte is flagged when it is zero in `q` or `s`, or below 0x20 in
        // `w` (with `controls`); the lowest flagged byte is always a true one.
        let low = if controls { w.wrapping_sub(LO * 0x20) & !w } else { 0 };
        let hit = ((q.wrapping_sub(LO) & !q) | (s.wrapping_sub(LO) & !s) | low) & HI;
        if hit != 0 {
            return i + (hit.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if c == b'"' || c == b'\\' || (controls && c < 0x20) {
            return i;
        }
        i += 1;
    }
    i
}

/// Whether some object in the (valid JSON) text has a key twice. Keys are
/// compared as written; an object with an escaped key is left to the
/// careful walk (it answers `true` so that walk decides).
fn has_duplicate(b: &[u8]) -> bool {
    // Keys of the open objects, one after another; `starts` marks where
    // each open object's keys begin (`usize::MAX` for an open array).
    let mut keys: Vec<&[u8]> = Vec::new();
    let mut starts: Vec<usize> = Vec::new();
    let mut i = 0;
    // Whether the next string is a key.
    let mut want_key = false;
    while i < b.len() {
        match b[i] {
            b'"' => {
                let end = string_stop(b, i + 1, false);
                if b.get(end) == Some(&b'\\') {
                    if want_key {
                        return true;
                    }
                    // Skip the escaped string the slow way.
                    let mut j = end;
                    while let Some(&c) = b.get(j) {
                        match c {
                            b'\\' => j += 2,
                            b'"' => break,
                            _ => j += 1,
                        }
                    }
                    i = j + 1;
                    continue;
                }
                if want_key {
                    let key = &b[i + 1..end.min(b.len())];
                    let from = starts.last().copied().unwrap_or(0);
                    if keys.get(from..).is_some_and(|k| k.len() < 16 && k.contains(&key)) {
                        return true;
                    }
                    keys.push(key);
                    want_key = false;
                }
                i = end + 1;
            }
            b'{' => {
                starts.push(keys.len());
                want_key = true;
                i += 1;
            }
            b'[' => {
                starts.push(usize::MAX);
                i += 1;
            }
            b',' => {
                want_key = starts.last().is_some_and(|&s| s != usize::MAX);
                i += 1;
            }
            b'}' => {
                if let Some(from) = starts.pop() {
                    if let Some(obj) = keys.get_mut(from..) {
                        if obj.len() >= 16 {
                            obj.sort_unstable();
                            if obj.windows(2).any(|w| w[0] == w[1]) {
                                return true;
                            }
                        }
                    }
                    keys.truncate(from);
                }
                want_key = false;
                i += 1;
            }
            b']' => {
                starts.pop();
                i += 1;
            }
            _ => i += 1,
        }
    }
    false
}

enum Seg<'a> {
    Key(std::borrow::Cow<'a, str>),
    Index(usize),
}

struct Scan<'a> {
    b: &'a [u8],
    s: &'a str,
    i: usize,
    path: Vec<Seg<'a>>,
}

impl<'a> Scan<'a> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    /// A string's content, unescaped when it has escapes.
    fn string(&mut self) -> std::borrow::Cow<'a, str> {
        let start = self.i + 1;
        let mut j = start;
        let mut escaped = false;
        loop {
            j = string_stop(self.b, j, false);
            match self.b.get(j) {
                Some(b'\\') => {
                    escaped = true;
                    j += 2;
                }
                _ => break,
            }
        }
        self.i = j + 1;
        let raw = self.s.get(start..j.min(self.b.len())).unwrap_or_default();
        if escaped {
            let quoted = self.s.get(start - 1..self.i.min(self.b.len())).unwrap_or_default();
            // Read as a `Value`, the parser `parse_json` already uses, not a
            // second one for `String`.
            match serde_json::from_str::<Value>(quoted) {
                Ok(Value::String(s)) => std::borrow::Cow::Owned(s),
                _ => std::borrow::Cow::Borrowed(raw),
            }
        } else {
            std::borrow::Cow::Borrowed(raw)
        }
    }

    fn problem(&self, key: &str) -> Problem {
        let mut path = String::new();
        for seg in &self.path {
            path = match seg {
                Seg::Key(k) => join(&path, k),
                Seg::Index(i) => index(&path, *i),
            };
        }
        Problem::at(
            codes::DUPLICATE_KEY,
            join(&path, key),
            format!("the key {key:?} appears twice in the same object"),
        )
    }

    fn value(&mut self) -> Result<(), Problem> {
        self.ws();
        match self.b.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                let mut keys: Vec<std::borrow::Cow<'a, str>> = Vec::new();
                let mut many: Option<std::collections::HashSet<std::borrow::Cow<'a, str>, rustc_hash::FxBuildHasher>> =
                    None;
                loop {
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b'}') | None => {
                            self.i += 1;
                            return Ok(());
                        }
                        Some(b',') => {
                            self.i += 1;
                            continue;
                        }
                        _ => {}
                    }
                    let key = self.string();
                    let seen = match many.as_mut() {
                        Some(set) => !set.insert(key.clone()),
                        None => {
                            let seen = keys.contains(&key);
                            keys.push(key.clone());
                            if keys.len() > 16 {
                                many = Some(keys.drain(..).collect());
                            }
                            seen
                        }
                    };
                    if seen {
                        return Err(self.problem(&key));
                    }
                    self.ws();
                    self.i += 1; // ':'
                    self.path.push(Seg::Key(key));
                    self.value()?;
                    self.path.pop();
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut n = 0;
                loop {
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b']') | None => {
                            self.i += 1;
                            return Ok(());
                        }
                        Some(b',') => {
                            self.i += 1;
                            continue;
                        }
                        _ => {}
                    }
                    self.path.push(Seg::Index(n));
                    self.value()?;
                    self.path.pop();
                    n += 1;
                }
            }
            Some(b'"') => {
                self.string();
                Ok(())
            }
            _ => {
                while let Some(c) = self.b.get(self.i) {
                    if matches!(c, b',' | b']' | b'}' | b' ' | b'\n' | b'\r' | b'\t') {
                        break;
                    }
                    self.i += 1;
                }
                Ok(())
            }
        }
    }
}

/// `a == b`, answered at once when both are the same string (a book's
/// currency code handed around by reference, say).
#[inline]
pub(crate) fn same_str(a: &str, b: &str) -> bool {
    std::ptr::eq(a, b) || a == b
}
