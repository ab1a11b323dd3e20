//! Price books: versions live in each tenant's [`crate::tenant::Tenant`]
//! Durable Object; this module reads them with an in-isolate cache.
//!
//! The front Worker caches a tenant's *active* version for
//! [`ACTIVE_TTL_MS`] (a `PUT` in the same isolate updates it at once) and
//! names it by hash in every call to a customer's Durable Object, which
//! keeps parsed books by (tenant, hash). A receipt therefore always
//! carries the hash of the version that priced it.

use crate::http::{call, query, relay};
use crate::problem::ApiError;
use rating::period::{fmt_timestamp, Timestamp};
use rating::PriceBook;
use serde_json::Value;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use worker::{Env, Method, Response};

/// How long the front Worker trusts its copy of the active version.
pub const ACTIVE_TTL_MS: u64 = 2_000;
/// Parsed books kept per isolate.
const MAX_CACHED: usize = 32;

/// The active version of a tenant's price book.
#[derive(Clone)]
pub struct Active {
    /// Version number (1, 2, ...).
    pub version: u64,
    /// `sha256:` hash.
    pub hash: String,
    /// The parsed book.
    pub book: Rc<PriceBook>,
    /// When it became (becomes) active.
    pub effective_from: Timestamp,
}

thread_local! {
    static ACTIVE: RefCell<HashMap<String, (Active, u64)>> = RefCell::new(HashMap::new());
    static BY_HASH: RefCell<HashMap<(String, String), Rc<PriceBook>>> = RefCell::new(HashMap::new());
}

fn remember(tenant: &str, hash: &str, book: Rc<PriceBook>) {
    BY_HASH.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() >= MAX_CACHED {
            m.clear();
        }
        m.insert((tenant.to_string(), hash.to_string()), book);
    });
}

/// The stub of a tenant's Durable Object.
pub fn tenant_stub(env: &Env, tenant: &str) -> Result<worker::Stub, ApiError> {
    Ok(env.durable_object("TENANT")?.id_from_name(tenant)?.get_stub()?)
}

/// A version document from the tenant object:
/// `{"version", "hash", "created_at", "price_book"}`.
fn parse_version(tenant: &str, text: &str) -> Result<Active, ApiError> {
    let v: Value =
        rating::json::parse_json(text).map_err(|p| ApiError::unavailable("reading a price book", p.message))?;
    let hash = v["hash"].as_str().unwrap_or_default().to_string();
    let version = v["version"].as_u64().unwrap_or(0);
    let book =
        PriceBook::from_value(&v["price_book"]).map_err(|e| ApiError::unavailable("parsing a stored price book", e))?;
    let book = Rc::new(book);
    remember(tenant, &hash, book.clone());
    // Versions stored before scheduling answer their creation time.
    let effective_from = [&v["effective_from"], &v["created_at"]]
        .iter()
        .find_map(|t| t.as_str().and_then(rating::period::parse_timestamp))
        .unwrap_or_default();
    Ok(Active {
        version,
        hash,
        book,
        effective_from,
    })
}

/// The tenant's active price book (409 `no_price_book` when it has none).
pub async fn active(env: &Env, tenant: &str) -> Result<Active, ApiError> {
    active_at(env, tenant, None).await
}

/// The version active at `at` (the dev clock; `None`: now). Only the
/// present is cached: a version scheduled with `effective_from` is seen at
/// most [`ACTIVE_TTL_MS`] after its time.
pub async fn active_at(env: &Env, tenant: &str, at: Option<Timestamp>) -> Result<Active, ApiError> {
    let now = worker::Date::now().as_millis();
    if at.is_none() {
        let cached = ACTIVE.with(|m| {
            m.borrow()
                .get(tenant)
                .filter(|(_, at)| now.saturating_sub(*at) < ACTIVE_TTL_MS)
                .map(|(a, _)| a.clone())
        });
        if let Some(a) = cached {
            return Ok(a);
        }
    }
    let path = match at {
        Some(t) => format!("/book?at={}", crate::http::encode_query(&fmt_timestamp(t))),
        None => "/book".to_string(),
    };
    let (status, text) = call(&tenant_stub(env, tenant)?, Method::Get, &path, &[], None).await?;
    if status == 409 {
        return Err(no_price_book());
    }
    if status != 200 {
        return Err(ApiError::unavailable("reading the price book", status));
    }
    let a = parse_version(tenant, &text)?;
    if at.is_none() {
        set_active(tenant, a.clone());
    }
    Ok(a)
}

fn set_active(tenant: &str, a: Active) {
    let now = worker::Date::now().as_millis();
    ACTIVE.with(|m| m.borrow_mut().insert(tenant.to_string(), (a, now)));
}

/// The problem of a tenant without a price book.
pub fn no_price_book() -> ApiError {
    ApiError::new(
        409,
        "no_price_book",
        "this tenant has no price book yet: PUT /v1/price-book first",
    )
}

/// A version of a tenant's book by hash (for the customer objects).
pub async fn by_hash(env: &Env, tenant: &str, hash: &str) -> Result<Rc<PriceBook>, ApiError> {
    let key = (tenant.to_string(), hash.to_string());
    if let Some(b) = BY_HASH.with(|m| m.borrow().get(&key).cloned()) {
        return Ok(b);
    }
    let path = format!("/book?hash={}", crate::http::encode_query(hash));
    let (status, text) = call(&tenant_stub(env, tenant)?, Method::Get, &path, &[], None).await?;
    if status != 200 {
        return Err(ApiError::unavailable("reading a price book version", status));
    }
    Ok(parse_version(tenant, &text)?.book)
}

/// Which version `GET /v1/price-book` answers.
pub enum Which {
    /// `?version=N`.
    Version(String),
    /// The version active at a time: `?at=`, else the request's time.
    At(Option<Timestamp>),
}

impl Which {
    /// `?version=` or `?at=` (not both), else the version active at the
    /// request's time (`dev`: the dev clock's).
    pub fn of(req: &worker::Request, dev: Option<Timestamp>) -> Result<Which, ApiError> {
        let at = crate::http::query_time(req, "at")?;
        match (query(req, "version"), at) {
            (Some(_), Some(_)) => {
                let mut e = ApiError::new(400, "invalid_request", "give version or at, not both");
                e.path = Some("at".into());
                Err(e)
            }
            (Some(v), None) => Ok(Which::Version(v)),
            (None, at) => Ok(Which::At(at.or(dev))),
        }
    }
}

/// `GET /v1/price-book[?version=N | ?at=T]`.
pub async fn get(env: &Env, tenant: &str, which: Which) -> Result<Response, ApiError> {
    let path = match which {
        Which::Version(v) => format!("/book?version={}", crate::http::encode_query(&v)),
        Which::At(Some(t)) => format!("/book?at={}", crate::http::encode_query(&fmt_timestamp(t))),
        Which::At(None) => "/book".to_string(),
    };
    let (status, text) = call(&tenant_stub(env, tenant)?, Method::Get, &path, &[], None).await?;
    Ok(relay(status, text)?)
}

/// `?effective_from=` of `PUT /v1/price-book`: an RFC 3339 time after the
/// request's (`dev`: the dev clock's); `None` when absent (active at once).
pub fn effective_from(req: &worker::Request, dev: Option<Timestamp>) -> Result<Option<Timestamp>, ApiError> {
    let Some(t) = crate::http::query_time(req, "effective_from")? else {
        return Ok(None);
    };
    let now = dev.unwrap_or_else(crate::http::now);
    if t <= now {
        let mut e = ApiError::new(
            422,
            "invalid_value",
            format!("effective_from must be after now ({})", fmt_timestamp(now)),
        );
        e.path = Some("effective_from".into());
        return Err(e);
    }
    Ok(Some(t))
}

/// `PUT /v1/price-book[?effective_from=T]`: the tenant object validates,
/// versions and stores it; active at once (this isolate uses it at once),
/// or scheduled to become active at `effective_from`. `dev`: the dev
/// clock's time, which is then the time it is stored at.
pub async fn put(
    env: &Env,
    tenant: &str,
    body: String,
    effective_from: Option<Timestamp>,
    dev: Option<Timestamp>,
) -> Result<Response, ApiError> {
    // Validate here too, so a bad book never reaches the tenant object.
    PriceBook::parse(&body)?;
    let mut q: Vec<String> = Vec::new();
    for (name, t) in [("effective_from", effective_from), ("now", dev)] {
        if let Some(t) = t {
            q.push(format!("{name}={}", crate::http::encode_query(&fmt_timestamp(t))));
        }
    }
    let path = if q.is_empty() {
        "/book".to_string()
    } else {
        format!("/book?{}", q.join("&"))
    };
    let (status, text) = call(&tenant_stub(env, tenant)?, Method::Put, &path, &[], Some(body)).await?;
    if status == 200 || status == 201 {
        if effective_from.is_none() && dev.is_none() {
            if let Ok(a) = parse_version(tenant, &text) {
                set_active(tenant, a);
            }
        }
        // Answer without the document itself: the caller just sent it.
        let mut v: Value = rating::json::parse_json(&text).unwrap_or(Value::Null);
        if let Some(o) = v.as_object_mut() {
            o.remove("price_book");
        }
        return Ok(crate::http::json(status, &v)?);
    }
    Ok(relay(status, text)?)
}
