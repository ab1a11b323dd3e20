//! `POST /v1/events` in the front Worker: limits, content modes
//! (structured, batch, binary), one validation per event, then one call
//! per customer to the customer's Durable Object, whose receipts are put
//! back in input order.

use crate::auth::Caller;
use crate::binary::{self, Binary};
use crate::books;
use crate::clock;
use crate::customer::{H_BOOK, H_BOOK_FROM, H_CUSTOMER, H_TENANT};
use crate::http::{call, json_text, media_type, read_body, read_bytes};
use crate::problem::ApiError;
use futures_util::future::join_all;
use rating::meter::read_event_within;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::HashMap;
use worker::{Env, Method, Request, Response};

/// Most events in one request (docs/contract.md §6).
pub const MAX_EVENTS: usize = 1000;
/// Largest single event, as JSON: CloudEvents' 64 KiB, which also keeps
/// every event within one Queue message.
pub const MAX_EVENT_BYTES: usize = 64 * 1024;

/// How the body may be shaped, from its content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `application/cloudevents+json`: one event.
    Single,
    /// `application/cloudevents-batch+json`: an array.
    Batch,
    /// `application/json`: either.
    Either,
}

/// The body shape a content type allows; `None` when it is not accepted.
pub fn shape(content_type: &str) -> Option<Shape> {
    match content_type {
        "application/cloudevents+json" => Some(Shape::Single),
        "application/cloudevents-batch+json" => Some(Shape::Batch),
        "application/json" => Some(Shape::Either),
        _ => None,
    }
}

/// The events of a body, as raw JSON texts, or the request's one 400/413.
/// The body is not turned into values here: each event is parsed once, by
/// the customer's object that rates it.
pub fn events_of(shape: Shape, body: &str) -> Result<Vec<&RawValue>, ApiError> {
    let events: Vec<&RawValue> = match body.trim_start().as_bytes().first() {
        Some(b'[') if shape != Shape::Single => match serde_json::from_str(body) {
            Ok(v) => v,
            Err(_) => return Err(invalid_json(body)),
        },
        Some(b'{') if shape != Shape::Batch => match serde_json::from_str(body) {
            Ok(v) => vec![v],
            Err(_) => return Err(invalid_json(body)),
        },
        _ => {
            rating::json::parse_json(body).map_err(|p| ApiError::problem(400, p))?;
            let detail = match shape {
                Shape::Batch => "a CloudEvents batch is a JSON array of events",
                Shape::Single => "a structured CloudEvent is a JSON object",
                Shape::Either => "send one event (an object) or a batch (an array)",
            };
            return Err(ApiError::new(400, "invalid_body", detail));
        }
    };
    if events.len() > MAX_EVENTS {
        return Err(ApiError::new(
            413,
            "too_many_events",
            format!("{} events in one request; at most {MAX_EVENTS}", events.len()),
        ));
    }
    Ok(events)
}

/// The engine's own message for text that is not JSON.
pub(crate) fn invalid_json(body: &str) -> ApiError {
    match rating::json::parse_json(body) {
        Err(p) => ApiError::problem(400, p),
        Ok(_) => ApiError::new(400, "invalid_json", "not valid JSON"),
    }
}

/// Where an event goes: its `subject`, read without building the event.
#[derive(Deserialize)]
struct Route {
    subject: Option<String>,
}

/// An event's customer: its `subject`, read without building the event
/// when it is a plain object; otherwise (or when it is too large) its
/// rejected receipt, with the engine's first problem.
fn route(raw: &RawValue) -> Result<String, String> {
    let text = raw.get();
    let fast = text
        .starts_with('{')
        .then(|| serde_json::from_str::<Route>(text).ok())
        .flatten()
        .and_then(|r| r.subject)
        .filter(|s| !s.is_empty() && s.chars().count() <= rating::event::MAX_ID_LEN);
    let too_large = text.len() > MAX_EVENT_BYTES;
    if let (Some(s), false) = (&fast, too_large) {
        return Ok(s.clone());
    }
    // Text that is not JSON (nested too deep, a lone surrogate) or an
    // event refused (a repeated key, say) or too large: the engine's
    // rejected receipt.
    match read_event_within(text, MAX_EVENT_BYTES) {
        Ok(e) => Ok(e.customer.into()),
        Err(r) => Err(serde_json::to_string(&r).unwrap_or_else(|_| "null".into())),
    }
}

/// The name of a customer's Durable Object (tenants cannot contain `/`).
pub fn object_name(tenant: &str, customer: &str) -> String {
    format!("{tenant}/{customer}")
}

/// The receipts a customer's object answers, as raw JSON.
#[derive(Deserialize)]
struct Answer<'a> {
    #[serde(borrow)]
    results: Vec<&'a RawValue>,
}

/// Handles `POST /v1/events`.
pub async fn post(env: &Env, caller: &Caller, req: &mut Request) -> Result<Response, ApiError> {
    let content_type = req.headers().get("content-type").ok().flatten();
    let ct = media_type(content_type.as_deref());
    let is_binary = binary::is_binary(&ct, req.headers().has(binary::SPECVERSION).unwrap_or(false));
    let shape = if is_binary {
        Shape::Single
    } else {
        shape(&ct).ok_or_else(|| {
            ApiError::new(
                400,
                "unsupported_content_type",
                format!(
                    "content type {ct:?}: use application/cloudevents+json, application/cloudevents-batch+json or application/json, or send one event in binary mode (ce-* headers)"
                ),
            )
        })?
    };
    let dev_now = clock::forwarded(env, req)?;
    let body = if is_binary {
        // Binary mode: the event is assembled from the headers and the
        // body, then goes the way of a structured one.
        let data = read_bytes(req).await?;
        let headers: Vec<(String, String)> = req.headers().entries().collect();
        match binary::event(&headers, content_type.as_deref(), &data)? {
            Binary::Event(text) => text,
            Binary::Rejected(receipt) => {
                // As for any event that cannot be routed: its receipt, once
                // the tenant has a book.
                books::active(env, &caller.tenant).await?;
                let r = serde_json::to_string(&receipt).unwrap_or_else(|_| "null".into());
                return Ok(json_text(200, format!("{{\"results\":[{r}]}}"))?);
            }
        }
    } else {
        read_body(req).await?
    };
    let events = events_of(shape, &body)?;
    let active = books::active_at(env, &caller.tenant, clock::dev_time(env, req)?).await?;
    let active_from = rating::period::fmt_timestamp(active.effective_from);

    // Route each event by its subject; an event that cannot be routed (or
    // is too large) gets its rejection here, with the engine's problem.
    let mut results: Vec<Option<String>> = vec![None; events.len()];
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    let mut group_of: HashMap<String, usize> = HashMap::new();
    for (i, raw) in events.iter().enumerate() {
        let subject = match route(raw) {
            Ok(s) => s,
            Err(receipt) => {
                results[i] = Some(receipt);
                continue;
            }
        };
        let g = match group_of.get(&subject) {
            Some(&g) => g,
            None => {
                groups.push((subject.clone(), Vec::new()));
                group_of.insert(subject, groups.len() - 1);
                groups.len() - 1
            }
        };
        groups[g].1.push(i);
    }

    let ns = env.durable_object("CUSTOMER")?;
    let mut calls = Vec::with_capacity(groups.len());
    for (customer, idx) in &groups {
        let stub = ns.id_from_name(&object_name(&caller.tenant, customer))?.get_stub()?;
        let mut body = String::with_capacity(idx.iter().map(|&i| events[i].get().len() + 1).sum::<usize>() + 2);
        body.push('[');
        for (n, &i) in idx.iter().enumerate() {
            if n > 0 {
                body.push(',');
            }
            body.push_str(events[i].get());
        }
        body.push(']');
        let mut headers = vec![
            (H_TENANT, caller.tenant.as_str()),
            (H_CUSTOMER, customer.as_str()),
            (H_BOOK, active.hash.as_str()),
            (H_BOOK_FROM, active_from.as_str()),
        ];
        if let Some(t) = &dev_now {
            headers.push((clock::H_NOW, t.as_str()));
        }
        calls.push(async move { call(&stub, Method::Post, "/ingest", &headers, Some(body)).await });
    }
    let answers = join_all(calls).await;
    // Every event went to one customer: its object's answer is already the
    // request's, receipts in input order.
    let whole = groups.len() == 1 && groups[0].1.len() == events.len();
    for ((_, idx), answer) in groups.iter().zip(answers) {
        let (status, text) = answer?;
        if status != 200 {
            // The object could not commit: nothing of this group is stored
            // (or, after a lost answer, all of it is); retrying the request
            // is safe either way because the ids deduplicate.
            return Err(ApiError::unavailable(
                "a customer's Durable Object",
                format!("status {status}: {text}"),
            ));
        }
        if whole {
            return Ok(json_text(200, text)?);
        }
        let a: Answer = serde_json::from_str(&text).map_err(|e| ApiError::unavailable("reading receipts", e))?;
        if a.results.len() != idx.len() {
            return Err(ApiError::unavailable("reading receipts", "wrong count"));
        }
        for (&i, r) in idx.iter().zip(a.results) {
            results[i] = Some(r.get().to_string());
        }
    }
    let mut out = String::with_capacity(
        results
            .iter()
            .map(|r| r.as_ref().map_or(4, String::len) + 1)
            .sum::<usize>()
            + 16,
    );
    out.push_str("{\"results\":[");
    for (n, r) in results.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push_str(r.as_deref().unwrap_or("null"));
    }
    out.push_str("]}");
    Ok(json_text(200, out)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_and_shapes() {
        assert_eq!(shape("application/cloudevents-batch+json"), Some(Shape::Batch));
        assert_eq!(shape("text/plain"), None);
        assert_eq!(events_of(Shape::Either, r#"{"a": 1}"#).unwrap().len(), 1);
        assert_eq!(events_of(Shape::Either, " [{}, {}]").unwrap().len(), 2);
        assert_eq!(events_of(Shape::Batch, "{}").unwrap_err().code, "invalid_body");
        assert_eq!(events_of(Shape::Single, "[]").unwrap_err().code, "invalid_body");
        assert_eq!(events_of(Shape::Either, "\"x\"").unwrap_err().code, "invalid_body");
        assert_eq!(events_of(Shape::Either, "[{").unwrap_err().code, "invalid_json");
        assert_eq!(events_of(Shape::Either, "nope").unwrap_err().code, "invalid_json");
        let many = format!("[{}]", vec!["{}"; MAX_EVENTS + 1].join(","));
        assert_eq!(events_of(Shape::Batch, &many).unwrap_err().status, 413);
    }
}
