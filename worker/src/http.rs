//! Small HTTP helpers shared by the front Worker and the Durable Objects.

use crate::problem::ApiError;
use chrono::{TimeZone, Utc};
use rating::period::Timestamp;
use serde_json::Value;
use worker::{Headers, Method, Request, RequestInit, Response, Stub};

/// Largest request body: 1 MiB (docs/contract.md §6).
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// "Now", from the runtime's clock (the engine never reads one).
pub fn now() -> Timestamp {
    let ms = worker::Date::now().as_millis();
    Utc.timestamp_millis_opt(i64::try_from(ms).unwrap_or(i64::MAX))
        .single()
        .unwrap_or_default()
}

/// Milliseconds since the epoch of a timestamp.
pub fn millis(t: Timestamp) -> i64 {
    t.timestamp_millis()
}

/// A JSON answer.
pub fn json_text(status: u16, body: String) -> worker::Result<Response> {
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    Ok(Response::ok(body)?.with_status(status).with_headers(headers))
}

/// A JSON answer from a value.
pub fn json(status: u16, v: &Value) -> worker::Result<Response> {
    json_text(status, v.to_string())
}

/// The media type of a `Content-Type` header, lower-cased, without parameters.
pub fn media_type(header: Option<&str>) -> String {
    header
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Reads a request body of at most [`MAX_BODY_BYTES`] as UTF-8 text:
/// 413 when larger (checked on `Content-Length` first, then on the bytes).
pub async fn read_body(req: &mut Request) -> Result<String, ApiError> {
    let bytes = read_bytes(req).await?;
    String::from_utf8(bytes).map_err(|_| ApiError::new(400, "invalid_json", "the body is not UTF-8 text"))
}

/// Reads a request body of at most [`MAX_BODY_BYTES`], whatever it holds:
/// 413 when larger (checked on `Content-Length` first, then on the bytes).
pub async fn read_bytes(req: &mut Request) -> Result<Vec<u8>, ApiError> {
    let too_large = || {
        ApiError::new(
            413,
            "payload_too_large",
            format!("the body is larger than {MAX_BODY_BYTES} bytes (1 MiB)"),
        )
    };
    if let Ok(Some(len)) = req.headers().get("content-length") {
        if len.trim().parse::<u64>().is_ok_and(|n| n > MAX_BODY_BYTES as u64) {
            return Err(too_large());
        }
    }
    let bytes = req
        .bytes()
        .await
        .map_err(|e| ApiError::new(400, "invalid_body", format!("cannot read the body: {e}")))?;
    if bytes.len() > MAX_BODY_BYTES {
        return Err(too_large());
    }
    Ok(bytes)
}

/// Checks that a request body is JSON by its content type (none, or any
/// JSON type): 400 `unsupported_content_type` otherwise.
pub fn json_type(req: &Request) -> Result<(), ApiError> {
    let ct = media_type(req.headers().get("content-type").ok().flatten().as_deref());
    if !(ct.is_empty() || ct == "application/json" || ct.ends_with("+json")) {
        return Err(ApiError::new(
            400,
            "unsupported_content_type",
            format!("expected application/json, got {ct:?}"),
        ));
    }
    Ok(())
}

/// Reads a JSON request body (any JSON content type): 400 for anything
/// that is not JSON.
pub async fn read_json(req: &mut Request) -> Result<Value, ApiError> {
    json_type(req)?;
    let text = read_body(req).await?;
    rating::json::parse_json(&text).map_err(|p| ApiError::problem(400, p))
}

/// A query parameter of the request URL.
pub fn query(req: &Request, name: &str) -> Option<String> {
    let url = req.url().ok()?;
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// Reads an optional `at` query parameter (RFC 3339).
pub fn query_time(req: &Request, name: &str) -> Result<Option<Timestamp>, ApiError> {
    match query(req, name) {
        None => Ok(None),
        Some(s) => rating::period::parse_timestamp(&s).map(Some).ok_or_else(|| {
            let mut e = ApiError::new(400, "invalid_timestamp", format!("{name} is not an RFC 3339 timestamp"));
            e.path = Some(name.to_string());
            e
        }),
    }
}

/// Calls a Durable Object: `method` on `https://do{path}` with an optional
/// JSON body and headers. Answers the status and the body text.
pub async fn call(
    stub: &Stub,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<String>,
) -> Result<(u16, String), ApiError> {
    let h = Headers::new();
    for (k, v) in headers {
        h.set(k, v)?;
    }
    if body.is_some() {
        h.set("content-type", "application/json")?;
    }
    let mut init = RequestInit::new();
    init.with_method(method).with_headers(h);
    if let Some(b) = body {
        init.with_body(Some(b.into()));
    }
    let req = Request::new_with_init(&format!("https://do{path}"), &init)?;
    let mut resp = stub
        .fetch_with_request(req)
        .await
        .map_err(|e| ApiError::unavailable("a Durable Object call", e))?;
    let status = resp.status_code();
    let text = resp
        .text()
        .await
        .map_err(|e| ApiError::unavailable("reading a Durable Object's answer", e))?;
    Ok((status, text))
}

/// Passes a Durable Object's answer on: JSON on success, its problem
/// document otherwise.
pub fn relay(status: u16, text: String) -> worker::Result<Response> {
    let headers = Headers::new();
    let ct = if status >= 400 {
        "application/problem+json"
    } else {
        "application/json"
    };
    headers.set("content-type", ct)?;
    Ok(Response::ok(text)?.with_status(status).with_headers(headers))
}

/// Percent-decodes one path segment.
pub fn decode_segment(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// Percent-encodes a value for a URL query.
pub fn encode_query(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types() {
        assert_eq!(
            media_type(Some("Application/CloudEvents-Batch+JSON; charset=utf-8")),
            "application/cloudevents-batch+json"
        );
        assert_eq!(media_type(None), "");
    }

    #[test]
    fn segments() {
        assert_eq!(decode_segment("cus%2F42").as_deref(), Some("cus/42"));
        assert_eq!(decode_segment("%FF"), None);
        assert_eq!(encode_query("a b/c"), "a%20b%2Fc");
    }
}
