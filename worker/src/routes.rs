//! The HTTP API (docs/contract.md §7). [`ROUTES`] is the one list of routes: the
//! router matches it, and a test checks that `worker/openapi.json`
//! documents exactly these.

use crate::auth::{authorize, keys, Caller, Role};
use crate::books;
use crate::customer::{H_BOOK, H_BOOK_FROM, H_CUSTOMER, H_TENANT};
use crate::http::{call, decode_segment, json, json_type, query, read_body, read_json, relay};
use crate::ingest;
use crate::problem::ApiError;
use rating::period::{fmt_timestamp, Timestamp};
use serde_json::json;
use worker::{Env, Headers, Method, Request, Response};

/// What a route does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// The pricing page.
    Home,
    /// Liveness.
    Healthz,
    /// The OpenAPI document.
    OpenApi,
    /// Ingest.
    Events,
    /// Active (or a given) price-book version.
    GetPriceBook,
    /// New price-book version.
    PutPriceBook,
    /// Stateless quote.
    Quote,
    /// Stateless comparison.
    Compare,
    /// Dropped-events audit.
    DroppedEvents,
    /// Removed: raw events left D1 (answers 410).
    UsageEvents,
    /// Rows written and held (consumer, customer object).
    Stats,
    /// Issued invoices across customers (D1).
    TenantInvoices,
    /// New webhook endpoint.
    CreateEndpoint,
    /// The tenant's webhook endpoints.
    ListEndpoints,
    /// Delete a webhook endpoint.
    DeleteEndpoint,
    /// New secret for a webhook endpoint.
    RotateEndpoint,
    /// An endpoint's deliveries.
    ListDeliveries,
    /// Send a failed delivery again.
    RetryDelivery,
    /// Subscribe or change.
    PutSubscription,
    /// Current subscription.
    GetSubscription,
    /// Allowance state.
    AllowanceState,
    /// Invoice preview.
    InvoicePreview,
    /// Issued invoices.
    Invoices,
    /// What an event would do now, without doing it.
    Estimate,
    /// The tenant's event log (R2) as NDJSON.
    Export,
    /// A customer's usage by hour or day, from the rollups (D1).
    Usage,
}

/// One route.
#[derive(Debug, Clone)]
pub struct Route {
    /// HTTP method.
    pub method: Method,
    /// Path template; `{customer}` is one path segment.
    pub path: &'static str,
    /// Role needed; `None` for public routes.
    pub role: Option<Role>,
    /// Handler.
    pub op: Op,
}

const fn r(method: Method, path: &'static str, role: Option<Role>, op: Op) -> Route {
    Route { method, path, role, op }
}

/// Every route of the API.
pub const ROUTES: &[Route] = &[
    r(Method::Get, "/", None, Op::Home),
    r(Method::Get, "/healthz", None, Op::Healthz),
    r(Method::Get, "/openapi.json", None, Op::OpenApi),
    r(Method::Post, "/v1/events", Some(Role::Ingest), Op::Events),
    r(Method::Get, "/v1/price-book", Some(Role::Admin), Op::GetPriceBook),
    r(Method::Put, "/v1/price-book", Some(Role::Admin), Op::PutPriceBook),
    r(Method::Post, "/v1/quote", Some(Role::Read), Op::Quote),
    r(Method::Post, "/v1/compare", Some(Role::Read), Op::Compare),
    r(Method::Get, "/v1/dropped-events", Some(Role::Read), Op::DroppedEvents),
    r(Method::Get, "/v1/usage-events", Some(Role::Read), Op::UsageEvents),
    r(Method::Get, "/v1/export", Some(Role::Admin), Op::Export),
    r(Method::Get, "/v1/usage", Some(Role::Read), Op::Usage),
    r(Method::Get, "/v1/stats", Some(Role::Admin), Op::Stats),
    r(Method::Get, "/v1/invoices", Some(Role::Read), Op::TenantInvoices),
    r(
        Method::Post,
        "/v1/webhook-endpoints",
        Some(Role::Admin),
        Op::CreateEndpoint,
    ),
    r(
        Method::Get,
        "/v1/webhook-endpoints",
        Some(Role::Admin),
        Op::ListEndpoints,
    ),
    r(
        Method::Delete,
        "/v1/webhook-endpoints/{id}",
        Some(Role::Admin),
        Op::DeleteEndpoint,
    ),
    r(
        Method::Post,
        "/v1/webhook-endpoints/{id}/rotate",
        Some(Role::Admin),
        Op::RotateEndpoint,
    ),
    r(
        Method::Get,
        "/v1/webhook-endpoints/{id}/deliveries",
        Some(Role::Admin),
        Op::ListDeliveries,
    ),
    r(
        Method::Post,
        "/v1/webhook-endpoints/{id}/deliveries/{delivery}/retry",
        Some(Role::Admin),
        Op::RetryDelivery,
    ),
    r(
        Method::Put,
        "/v1/customers/{customer}/subscription",
        Some(Role::Admin),
        Op::PutSubscription,
    ),
    r(
        Method::Get,
        "/v1/customers/{customer}/subscription",
        Some(Role::Read),
        Op::GetSubscription,
    ),
    r(
        Method::Get,
        "/v1/customers/{customer}/allowance-state",
        Some(Role::Read),
        Op::AllowanceState,
    ),
    r(
        Method::Get,
        "/v1/customers/{customer}/invoice-preview",
        Some(Role::Read),
        Op::InvoicePreview,
    ),
    r(
        Method::Get,
        "/v1/customers/{customer}/invoices",
        Some(Role::Read),
        Op::Invoices,
    ),
    r(
        Method::Post,
        "/v1/customers/{customer}/estimate",
        Some(Role::Read),
        Op::Estimate,
    ),
];

/// The OpenAPI 3.1 document, kept in the repository.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// Matches a path against a template; answers its `{...}` segments
/// (decoded), in order.
pub fn matches(template: &str, path: &str) -> Option<Vec<String>> {
    let t: Vec<&str> = template.split('/').collect();
    let p: Vec<&str> = path.split('/').collect();
    if t.len() != p.len() {
        return None;
    }
    let mut params = Vec::new();
    for (a, b) in t.iter().zip(&p) {
        if a.starts_with('{') && a.ends_with('}') {
            params.push(decode_segment(b)?);
        } else if a != b {
            return None;
        }
    }
    Some(params)
}

/// Finds the route of a request: `Err` is the 404 or 405 to answer.
pub fn route(method: &Method, path: &str) -> Result<(&'static Route, Vec<String>), ApiError> {
    let mut allowed: Vec<&str> = Vec::new();
    for rt in ROUTES {
        if let Some(c) = matches(rt.path, path) {
            if rt.method == *method || (*method == Method::Head && rt.method == Method::Get) {
                return Ok((rt, c));
            }
            allowed.push(rt.method.as_ref());
        }
    }
    if allowed.is_empty() {
        Err(ApiError::new(
            404,
            "not_found",
            format!("no route {path}; see /openapi.json"),
        ))
    } else {
        let mut e = ApiError::new(
            405,
            "method_not_allowed",
            format!("{path} allows {}", allowed.join(", ")),
        );
        e.path = None;
        Err(e)
    }
}

fn with_cors(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    let _ = h.set("access-control-allow-origin", "*");
    let _ = h.set("access-control-expose-headers", "content-type");
    resp
}

fn preflight() -> worker::Result<Response> {
    let h = Headers::new();
    h.set("access-control-allow-origin", "*")?;
    h.set("access-control-allow-methods", "GET, PUT, POST, DELETE, OPTIONS")?;
    h.set("access-control-allow-headers", "authorization, content-type")?;
    h.set("access-control-max-age", "86400")?;
    Ok(Response::empty()?.with_status(204).with_headers(h))
}

/// The Worker's `fetch`.
pub async fn handle(mut req: Request, env: Env) -> worker::Result<Response> {
    if req.method() == Method::Options {
        return preflight();
    }
    let resp = match dispatch(&mut req, &env).await {
        Ok(r) => r,
        Err(e) => {
            let allow = (e.status == 405).then(|| e.detail.clone());
            let mut resp = e.into_response()?;
            if let Some(detail) = allow {
                if let Some((_, methods)) = detail.split_once(" allows ") {
                    resp.headers_mut().set("allow", methods)?;
                }
            }
            resp
        }
    };
    Ok(with_cors(resp))
}

/// The webhook routes: the tenant's `Webhooks` object answers them.
async fn webhook_route(
    env: &Env,
    tenant: &str,
    op: Op,
    params: &[String],
    req: &mut Request,
) -> Result<Response, ApiError> {
    let segment = |i: usize| params.get(i).map(|p| crate::http::encode_query(p)).unwrap_or_default();
    let (method, path, body) = match op {
        Op::CreateEndpoint => {
            json_type(req)?;
            (Method::Post, "/endpoints".to_string(), Some(read_body(req).await?))
        }
        Op::ListEndpoints => (Method::Get, "/endpoints".to_string(), None),
        Op::DeleteEndpoint => (Method::Delete, format!("/endpoints/{}", segment(0)), None),
        Op::RotateEndpoint => (Method::Post, format!("/endpoints/{}/rotate", segment(0)), None),
        Op::ListDeliveries => (
            Method::Get,
            with_query(
                req,
                &format!("/endpoints/{}/deliveries", segment(0)),
                &["status", "limit"],
            ),
            None,
        ),
        _ => (
            Method::Post,
            format!("/endpoints/{}/deliveries/{}/retry", segment(0), segment(1)),
            None,
        ),
    };
    let stub = crate::webhooks::stub(env, tenant)?;
    let (status, text) = call(&stub, method, &path, &[], body).await?;
    Ok(relay(status, text)?)
}

/// `GET /v1/stats`: the consumer's counters for the tenant, and with
/// `?customer=` what that customer's object holds and has written since
/// it last loaded.
async fn stats(env: &Env, tenant: &str, customer: Option<String>) -> Result<Response, ApiError> {
    let written = crate::stats::read(env, tenant).await?;
    let mut v = json!({ "consumer": written });
    if let Some(customer) = customer {
        let customer = customer_id(Some(customer))?;
        let stub = env
            .durable_object("CUSTOMER")?
            .id_from_name(&ingest::object_name(tenant, &customer))?
            .get_stub()?;
        let (status, text) = call(&stub, Method::Get, "/storage", &[], None).await?;
        if status != 200 {
            return Ok(relay(status, text)?);
        }
        v["customer"] = rating::json::parse_json(&text).unwrap_or(serde_json::Value::Null);
    }
    Ok(json(200, &v)?)
}

fn customer_id(c: Option<String>) -> Result<String, ApiError> {
    let c = c.unwrap_or_default();
    if c.is_empty() || c.chars().count() > rating::event::MAX_ID_LEN {
        let mut e = ApiError::new(400, "invalid_value", "a customer id is 1-255 characters");
        e.path = Some("customer".into());
        return Err(e);
    }
    Ok(c)
}

/// Calls a customer's object with the price book version active at the
/// request's time; the dev clock, where set, is passed on.
async fn to_customer(
    env: &Env,
    dev: Option<Timestamp>,
    caller: &Caller,
    customer: &str,
    method: Method,
    path: &str,
    body: Option<String>,
) -> Result<Response, ApiError> {
    let active = books::active_at(env, &caller.tenant, dev).await?;
    let dev_text = dev.map(fmt_timestamp);
    let from = fmt_timestamp(active.effective_from);
    let stub = env
        .durable_object("CUSTOMER")?
        .id_from_name(&ingest::object_name(&caller.tenant, customer))?
        .get_stub()?;
    let mut headers = vec![
        (H_TENANT, caller.tenant.as_str()),
        (H_CUSTOMER, customer),
        (H_BOOK, active.hash.as_str()),
        (H_BOOK_FROM, from.as_str()),
    ];
    if let Some(t) = &dev_text {
        headers.push((crate::clock::H_NOW, t.as_str()));
    }
    let (status, text) = call(&stub, method, path, &headers, body).await?;
    Ok(relay(status, text)?)
}

fn with_query(req: &Request, path: &str, names: &[&str]) -> String {
    let q: Vec<String> = names
        .iter()
        .filter_map(|n| query(req, n).map(|v| format!("{n}={}", crate::http::encode_query(&v))))
        .collect();
    if q.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", q.join("&"))
    }
}

fn page(req: &Request) -> (i64, i64) {
    let limit = query(req, "limit")
        .and_then(|s| s.parse().ok())
        .unwrap_or(100i64)
        .clamp(1, 1000);
    let offset = query(req, "offset").and_then(|s| s.parse().ok()).unwrap_or(0i64).max(0);
    (offset, limit)
}

async fn dispatch(req: &mut Request, env: &Env) -> Result<Response, ApiError> {
    let method = req.method();
    let path = req.path();
    let (rt, params) = route(&method, &path)?;
    let customer = params.first().cloned();
    let caller = match rt.role {
        None => None,
        Some(role) => {
            let auth = req.headers().get("authorization").ok().flatten();
            Some(authorize(&keys(env)?, auth.as_deref(), role)?)
        }
    };
    let caller = caller.as_ref();
    let tenant = || caller.ok_or_else(|| ApiError::new(401, "unauthorized", "no key"));
    // The dev clock (crate::clock), where allowed: which price book version
    // is active, and the customer objects' time, follow it.
    let dev = crate::clock::dev_time(env, req)?;
    match rt.op {
        Op::Home => Ok(Response::from_html(HOME)?),
        Op::Healthz => Ok(json(200, &json!({"status": "ok"}))?),
        Op::OpenApi => Ok(crate::http::json_text(200, OPENAPI.to_string())?),
        Op::Events => ingest::post(env, tenant()?, req).await,
        Op::GetPriceBook => {
            let which = books::Which::of(req, dev)?;
            books::get(env, &tenant()?.tenant, which).await
        }
        Op::PutPriceBook => {
            let effective_from = books::effective_from(req, dev)?;
            json_type(req)?;
            let body = read_body(req).await?;
            books::put(env, &tenant()?.tenant, body, effective_from, dev).await
        }
        Op::Quote | Op::Compare => {
            let body = read_json(req).await?;
            let active = books::active_at(env, &tenant()?.tenant, dev).await?;
            let out = if rt.op == Op::Quote {
                rating::quote::quote_value(&active.book, &body)?
            } else {
                rating::quote::compare_value(&active.book, &body)?
            };
            Ok(json(200, &out)?)
        }
        Op::DroppedEvents => {
            let c = tenant()?;
            let customer = query(req, "customer").map(|c| customer_id(Some(c))).transpose()?;
            let (offset, limit) = page(req);
            let v = crate::forward::read_dropped(env, &c.tenant, customer.as_deref(), offset, limit).await?;
            Ok(json(200, &v)?)
        }
        Op::UsageEvents => {
            tenant()?;
            Err(ApiError::new(
                410,
                "gone",
                "raw events are no longer kept in D1: GET /v1/export streams the event log, GET /v1/usage the rollups",
            ))
        }
        Op::TenantInvoices => {
            let c = tenant()?;
            let customer = query(req, "customer").map(|c| customer_id(Some(c))).transpose()?;
            let from = crate::http::query_time(req, "from")?.map(rating::period::fmt_timestamp);
            let to = crate::http::query_time(req, "to")?.map(rating::period::fmt_timestamp);
            let (offset, limit) = page(req);
            let v =
                crate::forward::read_invoices(env, &c.tenant, customer.as_deref(), (from, to), offset, limit).await?;
            Ok(json(200, &v)?)
        }
        Op::CreateEndpoint
        | Op::ListEndpoints
        | Op::DeleteEndpoint
        | Op::RotateEndpoint
        | Op::ListDeliveries
        | Op::RetryDelivery => webhook_route(env, &tenant()?.tenant, rt.op, &params, req).await,
        Op::Stats => {
            let c = tenant()?;
            stats(env, &c.tenant, query(req, "customer")).await
        }
        Op::Export => {
            let range = crate::log::Range {
                from: crate::http::query_time(req, "from")?,
                to: crate::http::query_time(req, "to")?,
                customer: query(req, "customer").map(|c| customer_id(Some(c))).transpose()?,
            };
            export(env, &tenant()?.tenant, range).await
        }
        Op::Usage => {
            let c = tenant()?;
            let customer = query(req, "customer").ok_or_else(|| {
                let mut e = ApiError::new(400, "invalid_value", "customer is required");
                e.path = Some("customer".into());
                e
            })?;
            let q = crate::rollup::Query::new(
                customer_id(Some(customer))?,
                query(req, "granularity").as_deref(),
                crate::http::query_time(req, "from")?,
                crate::http::query_time(req, "to")?,
                crate::clock::request_time(env, req)?,
            )?;
            Ok(json(200, &crate::rollup::read(env, &c.tenant, &q).await?)?)
        }
        Op::PutSubscription => {
            let customer = customer_id(customer)?;
            let body = read_json(req).await?;
            to_customer(
                env,
                dev,
                tenant()?,
                &customer,
                Method::Put,
                "/subscription",
                Some(body.to_string()),
            )
            .await
        }
        Op::GetSubscription => {
            let customer = customer_id(customer)?;
            to_customer(env, dev, tenant()?, &customer, Method::Get, "/subscription", None).await
        }
        Op::AllowanceState | Op::InvoicePreview => {
            let customer = customer_id(customer)?;
            let base = if rt.op == Op::AllowanceState {
                "/allowance-state"
            } else {
                "/invoice-preview"
            };
            let path = with_query(req, base, &["at"]);
            to_customer(env, dev, tenant()?, &customer, Method::Get, &path, None).await
        }
        Op::Invoices => {
            let customer = customer_id(customer)?;
            to_customer(env, dev, tenant()?, &customer, Method::Get, "/invoices", None).await
        }
        Op::Estimate => {
            // One event, read and rated by the customer's object against a
            // copy of its meter (docs/worker.md "Estimates").
            let customer = customer_id(customer)?;
            let body = read_body(req).await?;
            to_customer(env, dev, tenant()?, &customer, Method::Post, "/estimate", Some(body)).await
        }
    }
}

/// `GET /v1/export`: the tenant's log lines, one customer at a time
/// (docs/worker.md "Export"). The object names are listed before the
/// answer starts, so a listing failure is a 503; a read failing later cuts
/// the stream short (its status is already sent).
async fn export(env: &Env, tenant: &str, range: crate::log::Range) -> Result<Response, ApiError> {
    let bucket = crate::log::bucket(env)?;
    let groups = crate::log::plan(&bucket, tenant, &range).await?;
    let state = (bucket, range, groups.into_iter());
    let body = futures_util::stream::unfold(state, |(bucket, range, mut groups)| async move {
        loop {
            let names = groups.next()?;
            match crate::log::customer_lines(&bucket, &names, &range).await {
                Ok(chunk) if chunk.is_empty() => continue,
                Ok(chunk) => return Some((Ok(chunk), (bucket, range, groups))),
                Err(e) => {
                    let err = worker::Error::RustError(e.detail);
                    return Some((Err(err), (bucket, range, Vec::new().into_iter())));
                }
            }
        }
    });
    let headers = Headers::new();
    headers.set("content-type", "application/x-ndjson")?;
    Ok(Response::from_stream(body)?.with_headers(headers))
}

/// Answered at `/` only when the static assets (the pricing page) are
/// missing from the deployment.
const HOME: &str = "<!doctype html><meta charset=utf-8><title>rating</title>\
<h1>rating</h1><p>The pricing page is not built into this deployment. \
The API is described at <a href=/openapi.json>/openapi.json</a>.</p>";

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn openapi_documents_exactly_the_routes() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).unwrap();
        assert_eq!(doc["openapi"].as_str().map(|v| v.starts_with("3.1")), Some(true));
        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                if method == "parameters" {
                    continue;
                }
                documented.insert((method.to_uppercase(), path.clone()));
                let secured = op.get("security").map(|s| s.as_array().is_some_and(|a| !a.is_empty()));
                let rt = ROUTES
                    .iter()
                    .find(|r| r.path == path && r.method.as_ref() == method.to_uppercase())
                    .unwrap_or_else(|| panic!("{method} {path} is documented but not routed"));
                // Public routes say `security: []`; the others inherit the bearer scheme.
                assert_eq!(secured == Some(false), rt.role.is_none(), "{method} {path}: security");
                assert!(
                    op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                    "{method} {path}: responses"
                );
            }
        }
        let routed: BTreeSet<(String, String)> = ROUTES
            .iter()
            .map(|r| (r.method.as_ref().to_string(), r.path.to_string()))
            .collect();
        assert_eq!(documented, routed);
    }

    #[test]
    fn routing() {
        let (rt, c) = route(&Method::Get, "/v1/customers/cus%2F42/allowance-state").unwrap();
        assert_eq!((rt.op, c), (Op::AllowanceState, vec!["cus/42".to_string()]));
        assert_eq!(route(&Method::Delete, "/v1/price-book").unwrap_err().status, 405);
        assert_eq!(route(&Method::Get, "/v2/x").unwrap_err().status, 404);
        assert_eq!(
            route(&Method::Get, "/v1/customers//invoices").unwrap().1,
            vec![String::new()]
        );
        let (rt, p) = route(&Method::Post, "/v1/webhook-endpoints/ep_1/deliveries/dlv_2/retry").unwrap();
        assert_eq!(
            (rt.op, p),
            (Op::RetryDelivery, vec!["ep_1".to_string(), "dlv_2".to_string()])
        );
    }
}
