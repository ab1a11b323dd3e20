//! CloudEvents' binary content mode over HTTP (CloudEvents HTTP protocol
//! binding 1.0, §3.1), as the CloudEvents SDKs send by default: the
//! attributes in `ce-*` headers, `data` in the body, its media type in
//! `Content-Type` (docs/worker.md, "Binary mode"; docs/contract.md §6).
//!
//! The event is assembled here into its structured JSON form, which then
//! goes the way of every other event: the engine reads it and the event
//! log keeps it as received.

use crate::problem::ApiError;
use base64::Engine as _;
use rating::error::codes;
use rating::event::{is_json_media_type, MAX_ID_LEN};
use rating::meter::Receipt;
use rating::Problem;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// The header whose presence makes a request binary.
pub const SPECVERSION: &str = "ce-specversion";
/// The prefix of the attribute headers.
const PREFIX: &str = "ce-";
/// The attributes a usage event needs, in the order the engine checks them.
const REQUIRED: [&str; 4] = ["id", "source", "type", "subject"];
/// Where the standard attributes go in the assembled event; extension
/// attributes follow them in header order, then `datacontenttype` and
/// `data`.
const ORDER: [&str; 7] = ["specversion", "id", "source", "type", "subject", "time", "dataschema"];

/// Whether a request is in binary mode: it has a `ce-specversion` header
/// and its media type is not one of the structured ones
/// (`application/cloudevents...`, which decide the mode whatever the
/// headers say, as the HTTP binding has it).
pub fn is_binary(media_type: &str, has_specversion: bool) -> bool {
    has_specversion && !media_type.starts_with("application/cloudevents")
}

/// The event of a binary-mode request.
#[derive(Debug)]
pub enum Binary {
    /// The event in structured JSON form.
    Event(String),
    /// Its rejected receipt: an attribute header is missing or wrong.
    Rejected(Box<Receipt>),
}

/// Assembles the event of a binary-mode request from its headers (names
/// in lower case, as the runtime gives them), its `Content-Type` and its
/// body:
///
/// - each `ce-<name>` header is the attribute `<name>`, its value
///   percent-decoded (the binding percent-encodes what is not printable
///   ASCII, a space, `"` and `%`) and read as UTF-8;
/// - `Content-Type` is `datacontenttype`; the body is `data`: parsed when
///   its media type is JSON (`application/json`, a `+json` type, or none
///   given), else a string, or `data_base64` when it is not UTF-8 (the
///   CloudEvents JSON format's field for binary data); an empty body is
///   an event without data.
///
/// A missing `ce-id`, `ce-source`, `ce-type` or `ce-subject`, a
/// specversion other than `1.0` or a header that cannot be an attribute is
/// the event's rejected receipt, naming the header. The other rules are
/// the engine's, applied to the assembled event. `Err`: the request's 400,
/// a JSON body that is not JSON.
pub fn event(headers: &[(String, String)], content_type: Option<&str>, body: &[u8]) -> Result<Binary, ApiError> {
    let (attrs, problem) = attributes(headers);
    if let Some(p) = problem.or_else(|| required(&attrs)) {
        return Ok(rejected(&attrs, p));
    }
    let mut event = Map::new();
    for name in ORDER {
        if let Some(v) = attrs.get(name) {
            event.insert(name.into(), v.clone());
        }
    }
    for (name, v) in &attrs {
        if !ORDER.contains(&name.as_str()) {
            event.insert(name.clone(), v.clone());
        }
    }
    if body.is_empty() {
        return Ok(Binary::Event(Value::Object(event).to_string()));
    }
    let content_type = content_type.map(str::trim).filter(|c| !c.is_empty());
    if let Some(ct) = content_type {
        event.insert("datacontenttype".into(), Value::String(ct.into()));
    }
    if content_type.is_none_or(is_json_media_type) {
        let text = std::str::from_utf8(body).map_err(|_| {
            ApiError::new(
                400,
                "invalid_json",
                "the body is JSON by its content type but not UTF-8 text",
            )
        })?;
        let data: &RawValue = serde_json::from_str(text).map_err(|_| crate::ingest::invalid_json(text))?;
        // The body's JSON as it was sent (its numbers as written, a repeated
        // key for the engine to refuse), after the attributes.
        let mut out = Value::Object(event).to_string();
        out.pop();
        out.push_str(",\"data\":");
        out.push_str(data.get());
        out.push('}');
        return Ok(Binary::Event(out));
    }
    match std::str::from_utf8(body) {
        Ok(text) => event.insert("data".into(), Value::String(text.into())),
        Err(_) => event.insert(
            "data_base64".into(),
            Value::String(base64::engine::general_purpose::STANDARD.encode(body)),
        ),
    };
    Ok(Binary::Event(Value::Object(event).to_string()))
}

/// The attributes of the `ce-*` headers, decoded, and the problem of the
/// first header that cannot be one.
fn attributes(headers: &[(String, String)]) -> (Map<String, Value>, Option<Problem>) {
    let mut attrs = Map::new();
    let mut problem = None;
    for (header, value) in headers {
        let Some(name) = header.strip_prefix(PREFIX) else {
            continue;
        };
        let bad = |msg: String| Problem::at(codes::INVALID_VALUE, header.as_str(), msg);
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()) {
            problem.get_or_insert_with(|| {
                bad(format!(
                    "{header}: a CloudEvents attribute name is lower-case letters and digits"
                ))
            });
            continue;
        }
        if name == "data" || name == "datacontenttype" {
            problem.get_or_insert_with(|| {
                bad(format!(
                    "{header}: in binary mode the body is the data and Content-Type its datacontenttype"
                ))
            });
            continue;
        }
        match decode(value) {
            Some(v) => {
                attrs.insert(name.to_string(), Value::String(v));
            }
            None => {
                problem.get_or_insert_with(|| bad(format!("{header} is not UTF-8 text once percent-decoded")));
            }
        }
    }
    (attrs, problem)
}

/// The first required attribute that is missing, or a specversion that is
/// not `1.0`.
fn required(attrs: &Map<String, Value>) -> Option<Problem> {
    match attrs.get("specversion").and_then(Value::as_str) {
        Some("1.0") => {}
        v => {
            let shown = v.unwrap_or("").chars().take(40).collect::<String>();
            return Some(Problem::at(
                codes::INVALID_VALUE,
                SPECVERSION,
                format!("{SPECVERSION} {shown:?}: only CloudEvents specversion \"1.0\" is supported"),
            ));
        }
    }
    REQUIRED.iter().find(|a| !attrs.contains_key(**a)).map(|a| {
        Problem::at(
            codes::MISSING_FIELD,
            format!("{PREFIX}{a}"),
            format!("the {PREFIX}{a} header (the event's {a}) is required in binary mode"),
        )
    })
}

/// The rejected receipt of a binary event, with the id and source its
/// headers give.
fn rejected(attrs: &Map<String, Value>, p: Problem) -> Binary {
    let get = |k: &str| -> String {
        attrs
            .get(k)
            .and_then(Value::as_str)
            .map(|s| s.chars().take(MAX_ID_LEN).collect())
            .unwrap_or_default()
    };
    Binary::Rejected(Box::new(Receipt::rejected(&get("id"), &get("source"), p)))
}

/// A header value, percent-decoded and read as UTF-8 (the runtime hands
/// a header over already read as UTF-8, so UTF-8 sent unencoded reads
/// too).
fn decode(value: &str) -> Option<String> {
    percent_encoding::percent_decode_str(value)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    const BASE: [(&str, &str); 5] = [
        ("ce-specversion", "1.0"),
        ("ce-id", "e1"),
        ("ce-source", "app"),
        ("ce-type", "sms"),
        ("ce-subject", "cus_1"),
    ];

    fn with(extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut h = headers(&BASE);
        h.extend(headers(extra));
        h
    }

    fn text(b: Binary) -> String {
        match b {
            Binary::Event(t) => t,
            Binary::Rejected(r) => panic!("rejected: {r:?}"),
        }
    }

    fn problem(b: Binary) -> (String, String, Problem) {
        match b {
            Binary::Rejected(r) => (r.id.to_string(), r.source.to_string(), r.error.unwrap()),
            Binary::Event(t) => panic!("not rejected: {t}"),
        }
    }

    #[test]
    fn mode() {
        assert!(is_binary("application/json", true));
        assert!(is_binary("", true));
        assert!(is_binary("text/plain", true));
        assert!(!is_binary("application/json", false));
        assert!(!is_binary("application/cloudevents+json", true));
        assert!(!is_binary("application/cloudevents-batch+json", true));
    }

    #[test]
    fn json_data_is_kept_as_sent_after_the_attributes() {
        let h = with(&[("ce-time", "2026-11-23T10:00:00Z"), ("content-type", "ignored")]);
        let body = br#" {"quantity": 12.50, "country": "US"} "#;
        let t = text(event(&h, Some("application/json; charset=utf-8"), body).unwrap());
        assert_eq!(
            t,
            r#"{"specversion":"1.0","id":"e1","source":"app","type":"sms","subject":"cus_1","time":"2026-11-23T10:00:00Z","datacontenttype":"application/json; charset=utf-8","data":{"quantity": 12.50, "country": "US"}}"#
        );
        let ev = rating::meter::read_event(&t).unwrap();
        assert_eq!(ev.quantity.unwrap().to_string(), "12.50");
        assert_eq!(ev.customer.to_string(), "cus_1");
    }

    #[test]
    fn json_media_types_and_no_content_type() {
        for ct in [None, Some("application/vnd.acme+json"), Some("Application/JSON")] {
            let t = text(event(&with(&[]), ct, br#"{"quantity":"1"}"#).unwrap());
            let ev = rating::meter::read_event(&t).unwrap();
            assert_eq!(ev.quantity.unwrap().to_string(), "1", "{ct:?}");
        }
    }

    #[test]
    fn extensions_are_kept_as_strings() {
        let h = with(&[("ce-country", "GB"), ("ce-priority", "7")]);
        let t = text(event(&h, Some("application/json"), br#"{"quantity":"2","country":"US"}"#).unwrap());
        let v: Value = serde_json::from_str(&t).unwrap();
        assert_eq!(v["country"], "GB");
        assert_eq!(v["priority"], "7");
        assert_eq!(v["data"]["country"], "US");
        // The price key is read from data, not from the extension.
        let ev = rating::meter::read_event(&t).unwrap();
        assert_eq!(rating::event::price_key(&ev.data, &["country"]).as_deref(), Some("US"));
    }

    #[test]
    fn header_values_are_percent_decoded() {
        let h = headers(&[
            ("ce-specversion", "1.0"),
            ("ce-id", "e%201"),
            ("ce-source", "app%2Feu"),
            ("ce-type", "sms"),
            ("ce-subject", "cus%20%E2%82%AC"),
            ("ce-note", "caf%C3%A9 50%25, 100% sure"),
        ]);
        let v: Value = serde_json::from_str(&text(event(&h, None, b"").unwrap())).unwrap();
        assert_eq!(v["id"], "e 1");
        assert_eq!(v["source"], "app/eu");
        assert_eq!(v["subject"], "cus €");
        // A `%` not followed by two hex digits is itself.
        assert_eq!(v["note"], "café 50%, 100% sure");
        // UTF-8 sent unencoded, as the runtime hands it over.
        let v: Value = serde_json::from_str(&text(event(&with(&[("ce-note", "café")]), None, b"").unwrap())).unwrap();
        assert_eq!(v["note"], "café");
    }

    #[test]
    fn no_body_is_no_data() {
        let t = text(event(&with(&[]), Some("application/x-www-form-urlencoded"), b"").unwrap());
        assert_eq!(
            t,
            r#"{"specversion":"1.0","id":"e1","source":"app","type":"sms","subject":"cus_1"}"#
        );
        assert!(rating::meter::read_event(&t).is_ok());
    }

    #[test]
    fn other_media_types_are_text_or_base64_and_the_engine_refuses_them() {
        let t = text(event(&with(&[]), Some("text/plain"), b"12.5").unwrap());
        let v: Value = serde_json::from_str(&t).unwrap();
        assert_eq!(v["data"], "12.5");
        assert_eq!(v["datacontenttype"], "text/plain");
        let r = rating::meter::read_event(&t).unwrap_err();
        let p = r.error.unwrap();
        assert_eq!(
            (p.code, p.path.as_deref()),
            (codes::INVALID_VALUE, Some("datacontenttype"))
        );
        assert!(p.message.contains("text/plain"), "{}", p.message);

        let t = text(event(&with(&[]), Some("application/octet-stream"), &[0xff, 0xfe, 0]).unwrap());
        let v: Value = serde_json::from_str(&t).unwrap();
        assert_eq!(v["data_base64"], "//4A");
        assert!(v.get("data").is_none());
        assert!(rating::meter::read_event(&t).is_err());
    }

    #[test]
    fn a_json_body_that_is_not_json_is_the_requests_400() {
        for body in [
            &b"{quantity: 2"[..],
            &b"{} {}"[..],
            &b"1, \"subject\": \"x\""[..],
            &[0xff, b'{', b'}'][..],
        ] {
            let e = event(&with(&[]), Some("application/json"), body).unwrap_err();
            assert_eq!((e.status, e.code.as_str()), (400, "invalid_json"), "{body:?}");
        }
    }

    #[test]
    fn a_missing_header_is_a_rejected_receipt_naming_it() {
        for missing in ["ce-id", "ce-source", "ce-type", "ce-subject"] {
            let h: Vec<_> = with(&[]).into_iter().filter(|(k, _)| k != missing).collect();
            let (id, source, p) = problem(event(&h, Some("application/json"), b"{}").unwrap());
            assert_eq!(p.code, codes::MISSING_FIELD);
            assert_eq!(p.path.as_deref(), Some(missing));
            assert!(p.message.contains(missing), "{}", p.message);
            assert_eq!(id, if missing == "ce-id" { "" } else { "e1" });
            assert_eq!(source, if missing == "ce-source" { "" } else { "app" });
        }
    }

    #[test]
    fn another_specversion_is_rejected() {
        let mut h = with(&[]);
        h[0].1 = "0.3".into();
        let (id, _, p) = problem(event(&h, None, b"").unwrap());
        assert_eq!(id, "e1");
        assert_eq!((p.code, p.path.as_deref()), (codes::INVALID_VALUE, Some(SPECVERSION)));
        assert!(p.message.contains("0.3"), "{}", p.message);
    }

    #[test]
    fn headers_that_cannot_be_attributes_are_rejected() {
        for (header, value) in [
            ("ce-trace-id", "x"),
            ("ce-data", "{}"),
            ("ce-datacontenttype", "application/json"),
            ("ce-note", "%FF"),
        ] {
            let (id, _, p) = problem(event(&with(&[(header, value)]), None, b"").unwrap());
            assert_eq!(id, "e1");
            assert_eq!((p.code, p.path.as_deref()), (codes::INVALID_VALUE, Some(header)));
        }
    }

    #[test]
    fn the_engine_judges_the_rest_of_the_event() {
        let t = text(event(&with(&[("ce-time", "yesterday")]), None, br#"{"quantity":"-1"}"#).unwrap());
        let p = rating::meter::read_event(&t).unwrap_err().error.unwrap();
        assert_eq!(p.path.as_deref(), Some("time"));
        let t = text(event(&with(&[]), None, br#"{"quantity":"1","quantity":"2"}"#).unwrap());
        assert!(rating::meter::read_event(&t).is_err());
    }
}
