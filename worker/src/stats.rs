//! What the Queue consumer has written, per tenant (`ingest_stats`,
//! migrations/0003), read by `GET /v1/stats` with the customers' own
//! counts (docs/worker.md "Rows written").

use crate::forward::Message;
use crate::problem::ApiError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use wasm_bindgen::JsValue;
use worker::{D1Database, Env};

/// A tenant's consumer counters.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Written {
    /// Queue messages taken (a message delivered twice counts twice).
    pub messages: i64,
    /// Events in them.
    pub events: i64,
    /// Rows written to D1, as D1 reports them (this table's own included).
    pub d1_rows: i64,
    /// Compressed bytes written to the event log.
    pub log_bytes: i64,
    /// Objects written to the event log.
    pub log_objects: i64,
}

/// Adds one consumer batch. The batch's D1 rows and log bytes are spread
/// over its tenants by their events (a batch is almost always one
/// tenant's).
pub async fn add(
    db: &D1Database,
    messages: &[Message],
    d1_rows: i64,
    log_bytes: u64,
    log_objects: u64,
) -> worker::Result<()> {
    let mut by_tenant: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for m in messages {
        let e = by_tenant.entry(&m.tenant).or_default();
        e.0 += 1;
        e.1 += m.events.len() as i64;
    }
    let total: i64 = by_tenant.values().map(|v| v.1).sum::<i64>().max(1);
    let mut statements = Vec::new();
    for (tenant, (msgs, events)) in by_tenant {
        let share = |x: i64| x.saturating_mul(events) / total;
        // Each tenant's own row here is one more row written.
        let rows = share(d1_rows) + 1;
        let args = [
            JsValue::from_str(tenant),
            JsValue::from_f64(msgs as f64),
            JsValue::from_f64(events as f64),
            JsValue::from_f64(rows as f64),
            JsValue::from_f64(share(log_bytes as i64) as f64),
            JsValue::from_f64(share(log_objects as i64) as f64),
        ];
        statements.push(
            db.prepare(
                "INSERT INTO ingest_stats (tenant, messages, events, d1_rows, log_bytes, log_objects) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (tenant) DO UPDATE SET \
                 messages = messages + ?2, events = events + ?3, d1_rows = d1_rows + ?4, \
                 log_bytes = log_bytes + ?5, log_objects = log_objects + ?6",
            )
            .bind(&args)?,
        );
    }
    if !statements.is_empty() {
        db.batch(statements).await?;
    }
    Ok(())
}

/// A tenant's consumer counters (zero before its first batch).
pub async fn read(env: &Env, tenant: &str) -> Result<Written, ApiError> {
    let db = env.d1("DB")?;
    let row: Option<Written> = db
        .prepare("SELECT messages, events, d1_rows, log_bytes, log_objects FROM ingest_stats WHERE tenant = ?1")
        .bind(&[JsValue::from_str(tenant)])?
        .first(None)
        .await
        .map_err(|e| ApiError::unavailable("reading D1", e))?;
    Ok(row.unwrap_or_default())
}
