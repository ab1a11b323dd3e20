//! The `Tenant` Durable Object: one per tenant, it keeps the versions of
//! the tenant's price book in its SQLite storage. A version becomes active
//! when it is stored, or at the `effective_from` it was scheduled for; the
//! active version at a time is the one that became active last by then
//! (docs/worker.md "Price books"). Every version stays readable by number
//! and by hash (customer objects fetch the version a request names).

use crate::http::{json, json_text, now, query, query_time};
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
    /// When it becomes (became) active, in Unix milliseconds; `None` for
    /// versions stored before scheduling existed (active when stored, and
    /// before any later one).
    effective_ms: Option<f64>,
    book: String,
}

#[derive(Deserialize)]
struct Count {
    n: f64,
}

/// When a version is active from: its `effective_ms`, as SQL (older rows: 0).
const EFFECTIVE: &str = "COALESCE(effective_ms, 0)";

impl Tenant {
    fn sql(&self) -> SqlStorage {
        self.state.storage().sql()
    }

    fn row(&self, filter: &str, bind: Vec<SqlStorageValue>) -> Result<Option<Row>> {
        let q = format!(
            "SELECT version, hash, created_at, effective_ms, book FROM versions {filter} \
             ORDER BY {EFFECTIVE} DESC, version DESC LIMIT 1"
        );
        let rows: Vec<Row> = self.sql().exec(&q, bind)?.to_array()?;
        Ok(rows.into_iter().next())
    }

    /// The version active at `at_ms`. Before the first version became
    /// active (only the dev clock goes there), the first version stored
    /// to be active at once answers: the tenant's book before it had one.
    fn active_at(&self, at_ms: i64) -> Result<Option<Row>> {
        if let Some(r) = self.row(&format!("WHERE {EFFECTIVE} <= ?"), vec![at_ms.into()])? {
            return Ok(Some(r));
        }
        let q = "SELECT version, hash, created_at, effective_ms, book FROM versions ORDER BY version LIMIT 16";
        let rows: Vec<Row> = self.sql().exec(q, None)?.to_array()?;
        let immediate = |r: &Row| match (r.effective_ms, rating::period::parse_timestamp(&r.created_at)) {
            // `created_at` is written to the second.
            (Some(ms), Some(created)) => (ms as i64) < created.timestamp_millis() + 1000,
            _ => true,
        };
        Ok(rows.into_iter().find(immediate))
    }

    fn answer(status: u16, r: &Row) -> Result<Response> {
        let effective_from = match r.effective_ms {
            Some(ms) => chrono::DateTime::from_timestamp_millis(ms as i64)
                .map(rating::period::fmt_timestamp)
                .unwrap_or_else(|| r.created_at.clone()),
            None => r.created_at.clone(),
        };
        // The stored book is the validated text as it was sent; splice it in.
        json_text(
            status,
            format!(
                "{{\"version\":{},\"hash\":{},\"created_at\":{},\"effective_from\":{},\"price_book\":{}}}",
                r.version as u64,
                serde_json::Value::from(r.hash.clone()),
                serde_json::Value::from(r.created_at.clone()),
                serde_json::Value::from(effective_from),
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
                    let at = query_time(&req, "at")?.unwrap_or_else(now);
                    self.active_at(at.timestamp_millis())?
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
                // The dev clock's time, when the front passes one.
                let stored = query_time(&req, "now")?.unwrap_or_else(now);
                let effective = query_time(&req, "effective_from")?;
                let effective_ms = effective.unwrap_or(stored).timestamp_millis();
                // The same book again changes nothing: at once, when it is
                // the active one; scheduled, when it is already scheduled
                // for that time.
                let same = match effective {
                    None => self.active_at(effective_ms)?.filter(|r| r.hash == hash),
                    Some(_) => self.row(
                        &format!("WHERE hash = ? AND {EFFECTIVE} = ?"),
                        vec![hash.clone().into(), effective_ms.into()],
                    )?,
                };
                if let Some(r) = same {
                    return Ok(Self::answer(200, &r)?);
                }
                let created_at = rating::period::fmt_timestamp(stored);
                self.sql().exec(
                    "INSERT INTO versions (version, hash, created_at, effective_ms, book) \
                     VALUES ((SELECT COALESCE(MAX(version), 0) + 1 FROM versions), ?, ?, ?, ?)",
                    vec![hash.clone().into(), created_at.into(), effective_ms.into(), text.into()],
                )?;
                match self.row("WHERE version = (SELECT MAX(version) FROM versions)", vec![])? {
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
             created_at TEXT NOT NULL, book TEXT NOT NULL, effective_ms INTEGER)",
            None,
        ) {
            console_error!("tenant schema: {e}");
        }
        // Tables made before versions could be scheduled lack the column.
        let has_column = sql
            .exec(
                "SELECT COUNT(*) AS n FROM pragma_table_info('versions') WHERE name = 'effective_ms'",
                None,
            )
            .and_then(|c| c.to_array::<Count>())
            .map(|rows| rows.first().is_some_and(|r| r.n > 0.0));
        if !matches!(has_column, Ok(true)) {
            let added = sql.exec("ALTER TABLE versions ADD COLUMN effective_ms INTEGER", None);
            // Without table_info to ask, adding it is the question.
            if let (Err(e), Ok(false)) = (added, has_column) {
                console_error!("tenant schema: {e}");
            }
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
