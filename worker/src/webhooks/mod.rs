//! Webhooks (docs/webhooks.md): the `Webhooks` Durable Object, one per
//! tenant, keeps the tenant's endpoints and their deliveries, and
//! delivers records signed per Standard Webhooks 1.0 from its alarm.
//!
//! Records reach it from the customers' objects: a record is written to
//! the customer object's outbox in the same transaction as the change
//! that produced it, the Queue consumer hands it here (`POST /enqueue`)
//! before it reports the message logged, and this object keeps one
//! delivery per (endpoint, record) until the endpoint answers 2xx or the
//! retry schedule ends.

pub mod schedule;
pub mod sign;
pub mod target;

use crate::http::{json, query};
use crate::problem::ApiError;
use rating::meter::RecordKind;
use schedule::{Outcome, Schedule};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use wasm_bindgen::JsCast;
use worker::*;

/// Whether `s` names a record type an endpoint may ask for: the engine's
/// types (`RecordKind::ALL`, docs/webhooks.md).
fn is_record_type(s: &str) -> bool {
    RecordKind::ALL.iter().any(|k| k.as_str() == s)
}

/// Internal header naming the tenant.
pub const H_TENANT: &str = "x-rating-tenant";
/// How long a rotated-out secret still signs (24 h).
const PREVIOUS_SECRET_MS: i64 = 86_400_000;
/// Succeeded deliveries are kept this long (30 days), failed ones until
/// their endpoint is deleted.
const KEEP_SUCCEEDED_MS: i64 = 30 * 86_400_000;
/// Deliveries attempted at once per alarm round.
const ROUND: i64 = 25;
/// Most endpoints per tenant.
const MAX_ENDPOINTS: i64 = 20;

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS endpoints (id TEXT PRIMARY KEY, url TEXT NOT NULL, events TEXT, description TEXT, \
     secret TEXT NOT NULL, previous_secret TEXT, previous_until INTEGER, created_at TEXT NOT NULL, \
     disabled_at TEXT, disabled_reason TEXT)",
    "CREATE TABLE IF NOT EXISTS deliveries (id TEXT PRIMARY KEY, endpoint TEXT NOT NULL, webhook_id TEXT NOT NULL, \
     type TEXT NOT NULL, body TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL, next_at INTEGER, \
     last_attempt_at TEXT, last_status INTEGER, last_error TEXT, created_at TEXT NOT NULL, created_ms INTEGER NOT NULL, \
     UNIQUE (endpoint, webhook_id))",
    "CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (next_at) WHERE status = 'pending'",
    "CREATE INDEX IF NOT EXISTS deliveries_by_endpoint ON deliveries (endpoint, status, created_ms)",
];

/// One record to deliver, as the consumer hands it over.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Item {
    /// `webhook-id`: stable for the record, whatever redelivers it.
    pub id: String,
    /// Record type.
    #[serde(rename = "type")]
    pub kind: String,
    /// The request body: `{"type", "timestamp", "data"}` as JSON text.
    pub body: String,
}

/// The body of a record's delivery (docs/webhooks.md "Payload").
pub fn body(kind: &str, at: &str, record: &Value) -> String {
    json!({ "type": kind, "timestamp": at, "data": record }).to_string()
}

/// The `webhook-id` of the `i`-th record of a customer's outbox message
/// `n`: the same every time that message is written.
pub fn webhook_id(tenant: &str, customer: &str, n: i64, i: usize) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in [tenant, customer, &n.to_string(), &i.to_string()] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let hex: String = h.finalize().iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("msg_{hex}")
}

#[derive(Debug, Deserialize)]
struct EndpointRow {
    id: String,
    url: String,
    events: Option<String>,
    description: Option<String>,
    secret: String,
    previous_secret: Option<String>,
    previous_until: Option<i64>,
    created_at: String,
    disabled_at: Option<String>,
    disabled_reason: Option<String>,
}

impl EndpointRow {
    fn view(&self) -> Value {
        let mut v = json!({
            "id": self.id,
            "url": self.url,
            "events": self.events.as_deref().and_then(|e| serde_json::from_str::<Value>(e).ok()),
            "created_at": self.created_at,
            "enabled": self.disabled_at.is_none(),
        });
        if let Some(d) = &self.description {
            v["description"] = json!(d);
        }
        if let Some(d) = &self.disabled_at {
            v["disabled_at"] = json!(d);
            v["disabled_reason"] = json!(self.disabled_reason);
        }
        v
    }

    fn wants(&self, kind: &str) -> bool {
        match self
            .events
            .as_deref()
            .and_then(|e| serde_json::from_str::<Vec<String>>(e).ok())
        {
            Some(list) => list.iter().any(|t| t == kind),
            None => true,
        }
    }

    fn secrets(&self, now_ms: i64) -> Vec<&str> {
        let mut s = vec![self.secret.as_str()];
        if let (Some(p), Some(until)) = (&self.previous_secret, self.previous_until) {
            if now_ms < until {
                s.push(p);
            }
        }
        s
    }
}

#[derive(Debug, Deserialize)]
struct DeliveryRow {
    id: String,
    endpoint: String,
    webhook_id: String,
    #[serde(rename = "type")]
    kind: String,
    body: String,
    status: String,
    attempts: i64,
    next_at: Option<i64>,
    last_attempt_at: Option<String>,
    last_status: Option<i64>,
    last_error: Option<String>,
    created_at: String,
}

impl DeliveryRow {
    fn view(&self) -> Value {
        json!({
            "id": self.id,
            "endpoint": self.endpoint,
            "webhook_id": self.webhook_id,
            "type": self.kind,
            "status": self.status,
            "attempts": self.attempts,
            "next_attempt_at": self.next_at.map(fmt_ms),
            "last_attempt_at": self.last_attempt_at,
            "last_status": self.last_status,
            "last_error": self.last_error,
            "created_at": self.created_at,
        })
    }
}

fn fmt_ms(ms: i64) -> String {
    use chrono::TimeZone;
    chrono::Utc
        .timestamp_millis_opt(ms)
        .single()
        .map(rating::period::fmt_timestamp)
        .unwrap_or_default()
}

fn now_ms() -> i64 {
    Date::now().as_millis() as i64
}

/// Random bytes from the runtime's `crypto.getRandomValues`.
fn random(n: usize) -> std::result::Result<Vec<u8>, ApiError> {
    let crypto = js_sys::Reflect::get(&js_sys::global(), &"crypto".into())
        .map_err(|_| ApiError::unavailable("crypto", "no crypto"))?;
    let f: js_sys::Function = js_sys::Reflect::get(&crypto, &"getRandomValues".into())
        .ok()
        .and_then(|f| f.dyn_into().ok())
        .ok_or_else(|| ApiError::unavailable("crypto", "no getRandomValues"))?;
    let buf = js_sys::Uint8Array::new_with_length(n as u32);
    f.call1(&crypto, &buf)
        .map_err(|_| ApiError::unavailable("crypto", "getRandomValues failed"))?;
    Ok(buf.to_vec())
}

fn random_id(prefix: &str) -> std::result::Result<String, ApiError> {
    let hex: String = random(12)?.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("{prefix}{hex}"))
}

/// What `POST /v1/webhook-endpoints` takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewEndpoint {
    url: Value,
    #[serde(default)]
    events: Option<Value>,
    #[serde(default)]
    description: Option<Value>,
}

fn invalid(path: &str, detail: impl Into<String>) -> ApiError {
    let mut e = ApiError::new(422, "invalid_value", detail);
    e.path = Some(path.into());
    e
}

/// A new endpoint, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Where deliveries go.
    pub url: String,
    /// Record types delivered; `None`: all.
    pub events: Option<Vec<String>>,
    /// The tenant's note.
    pub description: Option<String>,
}

/// Reads and checks a new endpoint.
pub fn read_endpoint(body: &str, allow_local_http: bool) -> std::result::Result<Endpoint, ApiError> {
    let v: Value = rating::json::parse_json(body).map_err(|p| ApiError::problem(400, p))?;
    let n: NewEndpoint = serde_json::from_value(v).map_err(|e| {
        let mut err = ApiError::new(400, "invalid_body", format!("a webhook endpoint: {e}"));
        err.path = None;
        err
    })?;
    let url = n.url.as_str().ok_or_else(|| invalid("url", "url must be a string"))?;
    let url = target::check(url, allow_local_http).map_err(|r| invalid("url", r.0))?;
    let events = match n.events {
        None | Some(Value::Null) => None,
        Some(Value::Array(list)) => {
            if list.is_empty() {
                return Err(invalid("events", "events, when given, names at least one record type"));
            }
            let mut out = Vec::new();
            for (i, t) in list.iter().enumerate() {
                match t.as_str() {
                    Some(s) if is_record_type(s) => {
                        if !out.iter().any(|o: &String| o == s) {
                            out.push(s.to_string());
                        }
                    }
                    _ => {
                        return Err(invalid(
                            &format!("events[{i}]"),
                            format!(
                                "not a record type; one of {}",
                                RecordKind::ALL.map(RecordKind::as_str).join(", ")
                            ),
                        ))
                    }
                }
            }
            Some(out)
        }
        Some(_) => return Err(invalid("events", "events must be an array of record types")),
    };
    let description = match n.description {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.chars().count() <= 500 => Some(s),
        Some(_) => {
            return Err(invalid(
                "description",
                "description must be a string of at most 500 characters",
            ))
        }
    };
    Ok(Endpoint {
        url,
        events,
        description,
    })
}

/// Whether `http://127.0.0.1` endpoints are allowed (the dev variable).
pub fn allow_local_http(env: &Env) -> bool {
    env.var("WEBHOOK_ALLOW_LOCALHOST")
        .map(|v| v.to_string() == "allow")
        .unwrap_or(false)
}

/// One tenant's endpoints and deliveries.
#[durable_object]
pub struct Webhooks {
    state: State,
    env: Env,
}

impl Webhooks {
    fn sql(&self) -> SqlStorage {
        self.state.storage().sql()
    }

    fn endpoint(&self, id: &str) -> std::result::Result<EndpointRow, ApiError> {
        let rows: Vec<EndpointRow> = self
            .sql()
            .exec("SELECT * FROM endpoints WHERE id = ?", vec![id.into()])?
            .to_array()?;
        rows.into_iter().next().ok_or_else(|| {
            let mut e = ApiError::new(404, "unknown_endpoint", format!("no webhook endpoint {id:?}"));
            e.path = Some("id".into());
            e
        })
    }

    fn endpoints(&self) -> std::result::Result<Vec<EndpointRow>, ApiError> {
        Ok(self
            .sql()
            .exec("SELECT * FROM endpoints ORDER BY created_at, id", None)?
            .to_array()?)
    }

    async fn wake(&self, at_ms: i64) -> std::result::Result<(), ApiError> {
        let storage = self.state.storage();
        let current = storage.get_alarm().await.ok().flatten();
        if current.is_none_or(|t| t > at_ms) {
            storage
                .set_alarm((at_ms - now_ms()).max(0))
                .await
                .map_err(|e| ApiError::unavailable("setting the delivery alarm", e))?;
        }
        Ok(())
    }

    async fn create(&self, body: &str) -> std::result::Result<Response, ApiError> {
        let Endpoint {
            url,
            events,
            description,
        } = read_endpoint(body, allow_local_http(&self.env))?;
        let count: Vec<Value> = self
            .sql()
            .exec("SELECT COUNT(*) AS n FROM endpoints", None)?
            .to_array()?;
        if count.first().and_then(|v| v["n"].as_i64()).unwrap_or(0) >= MAX_ENDPOINTS {
            return Err(ApiError::new(
                409,
                "too_many_endpoints",
                format!("a tenant has at most {MAX_ENDPOINTS} webhook endpoints"),
            ));
        }
        let id = random_id("ep_")?;
        let secret = sign::secret(&random(sign::KEY_BYTES)?);
        let created = fmt_ms(now_ms());
        let events_text = events.as_ref().map(|e| serde_json::to_string(e).unwrap_or_default());
        self.sql().exec(
            "INSERT INTO endpoints (id, url, events, description, secret, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            vec![
                id.as_str().into(),
                url.as_str().into(),
                events_text.into(),
                description.clone().into(),
                secret.as_str().into(),
                created.as_str().into(),
            ],
        )?;
        let mut v = self.endpoint(&id)?.view();
        // The secret is shown this once.
        v["secret"] = json!(secret);
        Ok(json(201, &v)?)
    }

    fn rotate(&self, id: &str) -> std::result::Result<Response, ApiError> {
        let e = self.endpoint(id)?;
        let secret = sign::secret(&random(sign::KEY_BYTES)?);
        let until = now_ms() + PREVIOUS_SECRET_MS;
        self.sql().exec(
            "UPDATE endpoints SET secret = ?, previous_secret = ?, previous_until = ? WHERE id = ?",
            vec![
                secret.as_str().into(),
                e.secret.as_str().into(),
                until.into(),
                id.into(),
            ],
        )?;
        let mut v = self.endpoint(id)?.view();
        v["secret"] = json!(secret);
        v["previous_secret_expires_at"] = json!(fmt_ms(until));
        Ok(json(200, &v)?)
    }

    fn delete(&self, id: &str) -> std::result::Result<Response, ApiError> {
        self.endpoint(id)?;
        self.sql()
            .exec("DELETE FROM deliveries WHERE endpoint = ?", vec![id.into()])?;
        self.sql().exec("DELETE FROM endpoints WHERE id = ?", vec![id.into()])?;
        Ok(json(200, &json!({ "id": id, "deleted": true }))?)
    }

    fn deliveries(&self, id: &str, req: &Request) -> std::result::Result<Response, ApiError> {
        self.endpoint(id)?;
        let status = query(req, "status");
        if let Some(s) = &status {
            if !["pending", "succeeded", "failed"].contains(&s.as_str()) {
                let mut e = ApiError::new(400, "invalid_value", "status is pending, succeeded or failed");
                e.path = Some("status".into());
                return Err(e);
            }
        }
        let limit = query(req, "limit")
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(100)
            .clamp(1, 1000);
        let rows: Vec<DeliveryRow> = self
            .sql()
            .exec(
                "SELECT * FROM deliveries WHERE endpoint = ? AND (? = '' OR status = ?) \
                 ORDER BY created_ms DESC, id LIMIT ?",
                vec![
                    id.into(),
                    status.clone().unwrap_or_default().into(),
                    status.unwrap_or_default().into(),
                    limit.into(),
                ],
            )?
            .to_array()?;
        let items: Vec<Value> = rows.iter().map(DeliveryRow::view).collect();
        Ok(json(200, &json!({ "deliveries": items }))?)
    }

    async fn retry(&self, id: &str, delivery: &str) -> std::result::Result<Response, ApiError> {
        let e = self.endpoint(id)?;
        if e.disabled_at.is_some() {
            return Err(ApiError::new(
                409,
                "endpoint_disabled",
                "the endpoint is disabled (it answered 410); create it again to receive deliveries",
            ));
        }
        let now = now_ms();
        let c = self.sql().exec(
            "UPDATE deliveries SET status = 'pending', attempts = 0, next_at = ? WHERE id = ? AND endpoint = ? \
             AND status = 'failed'",
            vec![now.into(), delivery.into(), id.into()],
        )?;
        if c.rows_written() == 0 {
            let rows: Vec<DeliveryRow> = self
                .sql()
                .exec(
                    "SELECT * FROM deliveries WHERE id = ? AND endpoint = ?",
                    vec![delivery.into(), id.into()],
                )?
                .to_array()?;
            let Some(d) = rows.into_iter().next() else {
                let mut e = ApiError::new(404, "unknown_delivery", format!("no delivery {delivery:?}"));
                e.path = Some("delivery".into());
                return Err(e);
            };
            return Err(ApiError::new(
                409,
                "delivery_not_failed",
                format!("the delivery is {}; only a failed delivery is sent again", d.status),
            ));
        }
        self.wake(now).await?;
        let rows: Vec<DeliveryRow> = self
            .sql()
            .exec("SELECT * FROM deliveries WHERE id = ?", vec![delivery.into()])?
            .to_array()?;
        let v = rows.first().map(DeliveryRow::view).unwrap_or(Value::Null);
        Ok(json(202, &v)?)
    }

    /// Takes records from the consumer: one delivery per enabled endpoint
    /// that wants the type, once per (endpoint, webhook id).
    async fn enqueue(&self, body: &str) -> std::result::Result<Response, ApiError> {
        let items: Vec<Item> =
            serde_json::from_str(body).map_err(|e| ApiError::new(400, "invalid_body", format!("enqueue: {e}")))?;
        let endpoints: Vec<EndpointRow> = self
            .endpoints()?
            .into_iter()
            .filter(|e| e.disabled_at.is_none())
            .collect();
        let now = now_ms();
        let created = fmt_ms(now);
        let mut added = 0;
        for item in &items {
            for e in endpoints.iter().filter(|e| e.wants(&item.kind)) {
                let c = self.sql().exec(
                    "INSERT OR IGNORE INTO deliveries (id, endpoint, webhook_id, type, body, status, attempts, next_at, \
                     created_at, created_ms) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)",
                    vec![
                        random_id("dlv_")?.into(),
                        e.id.as_str().into(),
                        item.id.as_str().into(),
                        item.kind.as_str().into(),
                        item.body.as_str().into(),
                        now.into(),
                        created.as_str().into(),
                        now.into(),
                    ],
                )?;
                added += c.rows_written() as i64;
            }
        }
        if added > 0 {
            self.wake(now).await?;
        }
        Ok(json(200, &json!({ "deliveries": added }))?)
    }

    /// One attempt of one delivery; updates its row.
    async fn attempt(
        &self,
        d: &DeliveryRow,
        e: &EndpointRow,
        schedule: &Schedule,
    ) -> std::result::Result<(), ApiError> {
        let now = now_ms();
        let ts = now / 1000;
        let signature = sign::header(&e.secrets(now), &d.webhook_id, ts, &d.body);
        let outcome = schedule::send(&e.url, &d.webhook_id, ts, &signature, &d.body, schedule.timeout_ms).await;
        let attempts = d.attempts + 1;
        let (status, next_at) = match &outcome {
            Outcome::Delivered(_) => ("succeeded", None),
            Outcome::Gone => ("failed", None),
            Outcome::Failed { retry_after_ms, .. } => match schedule.next_delay(attempts, *retry_after_ms) {
                Some(delay) => ("pending", Some(now + delay)),
                None => ("failed", None),
            },
        };
        let (last_status, last_error) = outcome.describe();
        self.sql().exec(
            "UPDATE deliveries SET status = ?, attempts = ?, next_at = ?, last_attempt_at = ?, last_status = ?, \
             last_error = ? WHERE id = ?",
            vec![
                status.into(),
                attempts.into(),
                next_at.into(),
                fmt_ms(now).into(),
                last_status.into(),
                last_error.into(),
                d.id.as_str().into(),
            ],
        )?;
        if matches!(outcome, Outcome::Gone) {
            // 410: the receiver says the endpoint is gone for good.
            self.sql().exec(
                "UPDATE endpoints SET disabled_at = ?, disabled_reason = ? WHERE id = ?",
                vec![
                    fmt_ms(now).into(),
                    "the endpoint answered 410 Gone".into(),
                    e.id.as_str().into(),
                ],
            )?;
            self.sql().exec(
                "UPDATE deliveries SET status = 'failed', next_at = NULL, last_error = 'endpoint disabled (410)' \
                 WHERE endpoint = ? AND status = 'pending'",
                vec![e.id.as_str().into()],
            )?;
        }
        Ok(())
    }

    /// Delivers what is due, in rounds, then sets the alarm for the next.
    async fn deliver_due(&self) -> std::result::Result<(), ApiError> {
        let schedule = Schedule::from_env(&self.env);
        loop {
            let now = now_ms();
            let due: Vec<DeliveryRow> = self
                .sql()
                .exec(
                    "SELECT * FROM deliveries WHERE status = 'pending' AND next_at <= ? ORDER BY next_at LIMIT ?",
                    vec![now.into(), ROUND.into()],
                )?
                .to_array()?;
            if due.is_empty() {
                break;
            }
            let endpoints = self.endpoints()?;
            let tries = due.iter().filter_map(|d| {
                let e = endpoints.iter().find(|e| e.id == d.endpoint)?;
                Some(self.attempt(d, e, &schedule))
            });
            for r in futures_util::future::join_all(tries).await {
                if let Err(e) = r {
                    console_error!("webhooks: {}", e.detail);
                }
            }
        }
        self.sql().exec(
            "DELETE FROM deliveries WHERE status = 'succeeded' AND created_ms < ?",
            vec![(now_ms() - KEEP_SUCCEEDED_MS).into()],
        )?;
        let next: Vec<Value> = self
            .sql()
            .exec(
                "SELECT MIN(next_at) AS t FROM deliveries WHERE status = 'pending'",
                None,
            )?
            .to_array()?;
        if let Some(t) = next.first().and_then(|v| v["t"].as_i64()) {
            self.wake(t).await?;
        }
        Ok(())
    }

    async fn handle(&self, mut req: Request) -> std::result::Result<Response, ApiError> {
        let path = req.path();
        let decoded: Vec<String> = path
            .trim_start_matches('/')
            .split('/')
            .map(|p| crate::http::decode_segment(p).unwrap_or_default())
            .collect();
        let parts: Vec<&str> = decoded.iter().map(String::as_str).collect();
        match (req.method(), parts.as_slice()) {
            (Method::Post, ["enqueue"]) => self.enqueue(&req.text().await?).await,
            (Method::Post, ["endpoints"]) => self.create(&req.text().await?).await,
            (Method::Get, ["endpoints"]) => {
                let list: Vec<Value> = self.endpoints()?.iter().map(EndpointRow::view).collect();
                Ok(json(200, &json!({ "webhook_endpoints": list }))?)
            }
            (Method::Delete, ["endpoints", id]) => self.delete(id),
            (Method::Post, ["endpoints", id, "rotate"]) => self.rotate(id),
            (Method::Get, ["endpoints", id, "deliveries"]) => self.deliveries(id, &req),
            (Method::Post, ["endpoints", id, "deliveries", d, "retry"]) => self.retry(id, d).await,
            _ => Err(ApiError::new(404, "not_found", "no such internal route")),
        }
    }
}

impl DurableObject for Webhooks {
    fn new(state: State, env: Env) -> Self {
        let sql = state.storage().sql();
        for stmt in SCHEMA {
            if let Err(e) = sql.exec(stmt, None) {
                console_error!("webhooks schema: {e}");
            }
        }
        Webhooks { state, env }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        match self.handle(req).await {
            Ok(r) => Ok(r),
            Err(e) => e.into_response(),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        if let Err(e) = self.deliver_due().await {
            console_error!("webhooks: delivering failed: {}", e.detail);
            self.state.storage().set_alarm(5_000).await?;
        }
        Response::ok("ok")
    }
}

/// The tenant's `Webhooks` object.
pub fn stub(env: &Env, tenant: &str) -> Result<Stub> {
    env.durable_object("WEBHOOKS")?.id_from_name(tenant)?.get_stub()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_read_strictly() {
        let ok = read_endpoint(
            r#"{"url": "https://hooks.example.com/r", "events": ["invoice.issued", "invoice.issued"], "description": "billing"}"#,
            false,
        )
        .unwrap();
        assert_eq!(ok.events, Some(vec!["invoice.issued".to_string()]));
        let code = |b: &str| read_endpoint(b, false).unwrap_err();
        assert_eq!(
            code(r#"{"url": "http://hooks.example.com"}"#).path.as_deref(),
            Some("url")
        );
        assert_eq!(
            code(r#"{"url": "https://x.example.com", "events": ["nope"]}"#)
                .path
                .as_deref(),
            Some("events[0]")
        );
        assert_eq!(
            code(r#"{"url": "https://x.example.com", "events": []}"#)
                .path
                .as_deref(),
            Some("events")
        );
        assert_eq!(
            code(r#"{"url": "https://x.example.com", "extra": 1}"#).code,
            "invalid_body"
        );
        assert_eq!(code(r#"{"url": 5}"#).path.as_deref(), Some("url"));
        assert!(read_endpoint(r#"{"url": "http://127.0.0.1:9/x"}"#, true).is_ok());
    }

    #[test]
    fn webhook_ids_are_stable_and_distinct() {
        assert_eq!(webhook_id("t", "c", 3, 0), webhook_id("t", "c", 3, 0));
        assert_ne!(webhook_id("t", "c", 3, 0), webhook_id("t", "c", 3, 1));
        assert_ne!(webhook_id("t", "c", 3, 0), webhook_id("t", "c3", 0, 0));
        assert!(webhook_id("t", "c", 3, 0).starts_with("msg_"));
    }
}
