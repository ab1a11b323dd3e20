//! The `Tenant` Durable Object: one per tenant, it keeps the versions of
//! the tenant's price book in its SQLite storage. The highest version is
//! the active one; every version stays readable by number and by hash
//! (customer objects fetch the version a request names).

use crate::http::{json, json_text, now, query};
use crate::problem::ApiError;
use rating::PriceBook;
use serde::Deserialize;
use serde_json::json;
use worker::*;

/// One tenant's price-book versions.
#[durable_object]
pub struct Tenant {
    state: State,
}

#[derive(Deserialize)]
struct Row {
    version: f64,
    hash: String,
    created_at: String,
    book: String,
}

impl Tenant {
    fn sql(&self) -> SqlStorage {
        self.state.storage().sql()
    }

    fn row(&self, filter: &str, bind: Vec<SqlStorageValue>) -> Result<Option<Row>> {
        let q = format!("SELECT version, hash, created_at, book FROM versions {filter} ORDER BY version DESC LIMIT 1");
        let rows: Vec<Row> = self.sql().exec(&q, bind)?.to_array()?;
        Ok(rows.into_iter().next())
    }

    fn answer(status: u16, r: &Row) -> Result<Response> {
        // The stored book is the validated text as it was sent; splice it in.
        json_text(
            status,
            format!(
                "{{\"version\":{},\"hash\":{},\"created_at\":{},\"price_book\":{}}}",
                r.version as u64,
                serde_json::Value::from(r.hash.clone()),
                serde_json::Value::from(r.created_at.clone()),
                r.book
            ),
        )
    }

    async fn handle(&self, mut req: Request) -> std::result::Result<Response, ApiError> {
        match (req.method(), req.path().as_str()) {
            (Method::Get, "/book") => {
                let found = if let Some(h) = query(&req, "hash") {
                    self.row("WHERE hash = ?", vec![h.into()])?
                } else if let Some(v) = query(&req, "version") {
                    let n: i64 = v.parse().map_err(|_| {
                        let mut e = ApiError::new(400, "invalid_value", "version must be a positive integer");
                        e.path = Some("version".into());
                        e
                    })?;
                    self.row("WHERE version = ?", vec![n.into()])?
                } else {
                    self.row("", vec![])?
                };
                match found {
                    Some(r) => Ok(Self::answer(200, &r)?),
                    None if query(&req, "version").is_some() => {
                        Err(ApiError::new(404, "unknown_version", "no such price book version"))
                    }
                    None => Err(crate::books::no_price_book()),
                }
            }
            (Method::Put, "/book") => {
                let text = req.text().await?;
                let book = PriceBook::parse(&text)?;
                let hash = book.hash().to_string();
                if let Some(r) = self.row("", vec![])? {
                    if r.hash == hash {
                        return Ok(Self::answer(200, &r)?);
                    }
                }
                let created_at = rating::period::fmt_timestamp(now());
                self.sql().exec(
                    "INSERT INTO versions (version, hash, created_at, book) \
                     VALUES ((SELECT COALESCE(MAX(version), 0) + 1 FROM versions), ?, ?, ?)",
                    vec![hash.clone().into(), created_at.into(), text.into()],
                )?;
                match self.row("", vec![])? {
                    Some(r) => Ok(Self::answer(201, &r)?),
                    None => Err(ApiError::unavailable("storing the price book", "no row")),
                }
            }
            _ => Ok(json(404, &json!({"code": "not_found"}))?),
        }
    }
}

impl DurableObject for Tenant {
    fn new(state: State, _env: Env) -> Self {
        let sql = state.storage().sql();
        if let Err(e) = sql.exec(
            "CREATE TABLE IF NOT EXISTS versions (version INTEGER PRIMARY KEY, hash TEXT NOT NULL, \
             created_at TEXT NOT NULL, book TEXT NOT NULL)",
            None,
        ) {
            console_error!("tenant schema: {e}");
        }
        Tenant { state }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        match self.handle(req).await {
            Ok(r) => Ok(r),
            Err(e) => e.into_response(),
        }
    }
}
