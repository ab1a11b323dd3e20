//! `POST /v1/events` in the front Worker: limits, content types, one
//! validation per event, then one call per customer to the customer's
//! Durable Object, whose receipts are put back in input order.

use crate::auth::Caller;
use crate::books;
use crate::customer::{H_BOOK, H_CUSTOMER, H_TENANT};
use crate::http::{call, json, media_type, read_body};
use crate::problem::ApiError;
use futures_util::future::join_all;
use rating::event::{ids_of, parse_event};
use rating::meter::Receipt;
use rating::Problem;
use serde_json::{json, Value};
use std::collections::HashMap;
use worker::{Env, Method, Request, Response};

/// Most events in one request (SPEC §6).
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

/// The events of a parsed body, or the request's one 400/413.
pub fn events_of(shape: Shape, v: Value) -> Result<Vec<Value>, ApiError> {
    let events = match (shape, v) {
        (Shape::Batch | Shape::Either, Value::Array(a)) => a,
        (Shape::Single | Shape::Either, v @ Value::Object(_)) => vec![v],
        (Shape::Batch, _) => {
            return Err(ApiError::new(
                400,
                "invalid_body",
                "a CloudEvents batch is a JSON array of events",
            ))
        }
        (Shape::Single, _) => {
            return Err(ApiError::new(
                400,
                "invalid_body",
                "a structured CloudEvent is a JSON object",
            ))
        }
        (Shape::Either, _) => {
            return Err(ApiError::new(
                400,
                "invalid_body",
                "send one event (an object) or a batch (an array)",
            ))
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

fn rejected(v: &Value, p: Problem) -> Value {
    let (id, source) = ids_of(v);
    serde_json::to_value(Receipt::rejected(&id, &source, p)).unwrap_or(Value::Null)
}

/// The name of a customer's Durable Object (tenants cannot contain `/`).
pub fn object_name(tenant: &str, customer: &str) -> String {
    format!("{tenant}/{customer}")
}

/// Handles `POST /v1/events`.
pub async fn post(env: &Env, caller: &Caller, req: &mut Request) -> Result<Response, ApiError> {
    let ct = media_type(req.headers().get("content-type").ok().flatten().as_deref());
    let Some(shape) = shape(&ct) else {
        return Err(ApiError::new(
            400,
            "unsupported_content_type",
            format!(
                "content type {ct:?}: use application/cloudevents+json, application/cloudevents-batch+json or application/json"
            ),
        ));
    };
    let body = read_body(req).await?;
    let value = rating::json::parse_json(&body).map_err(|p| ApiError::problem(400, p))?;
    let events = events_of(shape, value)?;
    let active = books::active(env, &caller.tenant).await?;

    let mut results: Vec<Value> = vec![Value::Null; events.len()];
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    let mut group_of: HashMap<String, usize> = HashMap::new();
    for (i, ev) in events.iter().enumerate() {
        match parse_event(ev) {
            Err(p) => results[i] = rejected(ev, p),
            Ok(e) => {
                if ev.to_string().len() > MAX_EVENT_BYTES {
                    let p = Problem::general(
                        "event_too_large",
                        format!("an event is at most {MAX_EVENT_BYTES} bytes of JSON"),
                    );
                    results[i] = rejected(ev, p);
                    continue;
                }
                let g = *group_of.entry(e.customer.clone()).or_insert_with(|| {
                    groups.push((e.customer.clone(), Vec::new()));
                    groups.len() - 1
                });
                groups[g].1.push(i);
            }
        }
    }

    let ns = env.durable_object("CUSTOMER")?;
    let mut calls = Vec::with_capacity(groups.len());
    for (customer, idx) in &groups {
        let stub = ns.id_from_name(&object_name(&caller.tenant, customer))?.get_stub()?;
        let batch: Vec<&Value> = idx.iter().map(|&i| &events[i]).collect();
        let body = serde_json::to_string(&batch).map_err(|e| ApiError::unavailable("serializing", e))?;
        let headers = [
            (H_TENANT, caller.tenant.as_str()),
            (H_CUSTOMER, customer.as_str()),
            (H_BOOK, active.hash.as_str()),
        ];
        calls.push(async move { call(&stub, Method::Post, "/ingest", &headers, Some(body)).await });
    }
    let answers = join_all(calls).await;
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
        let v = rating::json::parse_json(&text).map_err(|p| ApiError::unavailable("reading receipts", p.message))?;
        let Some(rs) = v
            .get("results")
            .and_then(Value::as_array)
            .filter(|a| a.len() == idx.len())
        else {
            return Err(ApiError::unavailable("reading receipts", "wrong count"));
        };
        for (&i, r) in idx.iter().zip(rs) {
            results[i] = r.clone();
        }
    }
    Ok(json(200, &json!({ "results": results }))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_and_shapes() {
        assert_eq!(shape("application/cloudevents-batch+json"), Some(Shape::Batch));
        assert_eq!(shape("text/plain"), None);
        assert_eq!(events_of(Shape::Either, json!({"a": 1})).unwrap().len(), 1);
        assert_eq!(events_of(Shape::Either, json!([{}, {}])).unwrap().len(), 2);
        assert_eq!(events_of(Shape::Batch, json!({})).unwrap_err().status, 400);
        assert_eq!(events_of(Shape::Single, json!([])).unwrap_err().status, 400);
        assert_eq!(events_of(Shape::Either, json!("x")).unwrap_err().status, 400);
        let many = Value::Array(vec![json!({}); MAX_EVENTS + 1]);
        assert_eq!(events_of(Shape::Batch, many).unwrap_err().status, 413);
    }
}
