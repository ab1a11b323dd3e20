//! The event log in R2 (docs/event-log.md, docs/worker.md "Event log").
//!
//! The Queue consumer writes each message's rows as gzip-compressed NDJSON
//! objects, one per usage hour:
//! `log/{tenant}/{YYYY-MM-DD}/{HH}/{customer}-{first seq}-{last seq}.ndjson.gz`.
//! The name depends only on the rows, so a redelivered message overwrites
//! its own objects. `GET /v1/export` reads them back in (customer, seq)
//! order.

use crate::customer::store::EventRow;
use crate::problem::ApiError;
use chrono::{TimeZone, Utc};
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use rating::period::{fmt_timestamp, parse_timestamp, Timestamp};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use worker::{Bucket, Env};

/// Log objects an export reads at once (a Worker keeps at most six
/// connections open per request).
const READ_AT_ONCE: usize = 6;
/// The R2 binding of the log (wrangler.toml).
pub const BINDING: &str = "LOG";
/// Where the objects live in the bucket.
const ROOT: &str = "log/";
/// Characters kept as they are in a name segment; everything else
/// (`/` included) is percent-encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'_').remove(b'-');
/// Longest encoded segment; longer ids are named by a hash (R2 keys are at
/// most 1024 bytes).
const MAX_SEGMENT: usize = 200;

/// A tenant or customer id as one segment of an object name: percent-
/// encoded, or `~` and the SHA-256 of the id when that would be too long
/// (`~` is always encoded otherwise, so the two never collide).
pub fn segment(id: &str) -> String {
    let s = utf8_percent_encode(id, SEGMENT).to_string();
    if s.len() <= MAX_SEGMENT {
        return s;
    }
    let h = Sha256::digest(id.as_bytes());
    let hex: String = h.iter().map(|b| format!("{b:02x}")).collect();
    format!("~{hex}")
}

/// The id a segment names, when it is not a hash.
fn segment_id(s: &str) -> Option<String> {
    if s.starts_with('~') {
        return None;
    }
    percent_decode_str(s).decode_utf8().ok().map(|c| c.into_owned())
}

/// The prefix of a tenant's objects.
pub fn tenant_prefix(tenant: &str) -> String {
    format!("{ROOT}{}/", segment(tenant))
}

/// The `{YYYY-MM-DD}/{HH}/` part of the name of an hour.
fn hour_path(t: Timestamp) -> String {
    t.format("%Y-%m-%d/%H/").to_string()
}

/// The usage hour of a row (its `time`; a row whose time does not parse,
/// which the object never stores, goes to the epoch's hour).
fn usage_hour(r: &EventRow) -> String {
    hour_path(parse_timestamp(&r.time).unwrap_or_default())
}

/// A log line: the event as received, with every `rating*` attribute it
/// came with removed, then the receipt's (docs/event-log.md). The other
/// attributes keep their order (serde_json's `preserve_order`).
pub fn line(r: &EventRow) -> String {
    let mut event: Map<String, Value> = match rating::json::parse_json(&r.event) {
        Ok(Value::Object(m)) => m,
        // The object stores only events that parsed as objects.
        _ => Map::new(),
    };
    event.retain(|k, _| !k.starts_with("rating"));
    event.insert("ratingstatus".into(), Value::from(r.status.as_str()));
    if let Some(a) = &r.amount {
        event.insert("ratingamount".into(), Value::from(a.as_str()));
    }
    if let Some(c) = &r.currency {
        event.insert("ratingcurrency".into(), Value::from(c.as_str()));
    }
    if let Some(k) = &r.price_key {
        event.insert("ratingpricekey".into(), Value::from(k.as_str()));
    }
    event.insert("ratingpricebook".into(), Value::from(r.price_book.as_str()));
    event.insert("ratingseq".into(), Value::from(r.seq));
    let received = Utc
        .timestamp_millis_opt(r.received_at)
        .single()
        .map(fmt_timestamp)
        .unwrap_or_default();
    event.insert("ratingreceived".into(), Value::from(received));
    Value::Object(event).to_string()
}

/// The objects of one message: (name, gzip-compressed NDJSON), one per
/// usage hour of its rows.
pub fn objects(tenant: &str, customer: &str, rows: &[EventRow]) -> Result<Vec<(String, Vec<u8>)>, std::io::Error> {
    let mut hours: BTreeMap<String, Vec<&EventRow>> = BTreeMap::new();
    for r in rows {
        hours.entry(usage_hour(r)).or_default().push(r);
    }
    let (t, c) = (segment(tenant), segment(customer));
    let mut out = Vec::new();
    for (hour, rows) in hours {
        let first = rows.iter().map(|r| r.seq).min().unwrap_or_default();
        let last = rows.iter().map(|r| r.seq).max().unwrap_or_default();
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        for r in &rows {
            gz.write_all(line(r).as_bytes())?;
            gz.write_all(b"\n")?;
        }
        out.push((format!("{ROOT}{t}/{hour}{c}-{first}-{last}.ndjson.gz"), gz.finish()?));
    }
    Ok(out)
}

/// Writes one message's objects; answers their compressed bytes and
/// count.
pub async fn write(bucket: &Bucket, tenant: &str, customer: &str, rows: &[EventRow]) -> worker::Result<(u64, u64)> {
    let objects = objects(tenant, customer, rows).map_err(|e| worker::Error::RustError(e.to_string()))?;
    let count = objects.len() as u64;
    let bytes = objects.iter().map(|(_, b)| b.len() as u64).sum();
    let puts = objects
        .into_iter()
        .map(|(name, body)| async move { bucket.put(name, body).execute().await.map(|_| ()) });
    futures_util::future::try_join_all(puts).await?;
    Ok((bytes, count))
}

/// What an export reads.
#[derive(Debug, Clone, Default)]
pub struct Range {
    /// Usage time at or after (inclusive).
    pub from: Option<Timestamp>,
    /// Usage time before (exclusive).
    pub to: Option<Timestamp>,
    /// One customer only.
    pub customer: Option<String>,
}

/// The customer segment of an object name
/// (`…/HH/{customer}-{first}-{last}.ndjson.gz`).
fn name_customer(name: &str) -> Option<&str> {
    let file = name.rsplit('/').next()?;
    let stem = file.strip_suffix(".ndjson.gz")?;
    let mut parts = stem.rsplitn(3, '-');
    let (_, _, customer) = (parts.next()?, parts.next()?, parts.next()?);
    Some(customer)
}

/// The names of a tenant's objects whose usage hour can hold events of
/// the range, grouped by customer: customers in id order (those named by
/// a hash last), each customer's objects in name order.
pub async fn plan(bucket: &Bucket, tenant: &str, range: &Range) -> Result<Vec<Vec<String>>, ApiError> {
    let prefix = tenant_prefix(tenant);
    let want = range.customer.as_deref().map(segment);
    // Names sort by hour: start after the hour before `from`, stop past `to`.
    let start = range.from.map(|f| format!("{prefix}{}", hour_path(f)));
    let stop = range.to.map(|t| format!("{prefix}{}", hour_path(t)));
    let mut groups: BTreeMap<(bool, String), Vec<String>> = BTreeMap::new();
    let mut cursor: Option<String> = None;
    'pages: loop {
        let mut list = bucket.list().prefix(prefix.clone()).limit(1000);
        if let Some(c) = &cursor {
            list = list.cursor(c.clone());
        } else if let Some(s) = &start {
            // `start_after` is exclusive: a key one byte before the hour's.
            list = list.start_after(s.trim_end_matches('/'));
        }
        let page = list
            .execute()
            .await
            .map_err(|e| ApiError::unavailable("listing R2", e))?;
        for o in page.objects() {
            let name = o.key();
            if start.as_ref().is_some_and(|s| name < *s) {
                continue;
            }
            // `stop` is the hour of `to`: its objects may still hold events
            // before `to`; anything after it cannot.
            if stop
                .as_ref()
                .is_some_and(|s| name > *s && !name.starts_with(s.as_str()))
            {
                break 'pages;
            }
            let Some(c) = name_customer(&name) else { continue };
            if want.as_deref().is_some_and(|w| w != c) {
                continue;
            }
            let key = match segment_id(c) {
                Some(id) => (false, id),
                None => (true, c.to_string()),
            };
            groups.entry(key).or_default().push(name);
        }
        cursor = page.cursor().filter(|_| page.truncated());
        if cursor.is_none() {
            break;
        }
    }
    Ok(groups.into_values().collect())
}

/// The usage time of a line: its `time`, else its receipt time.
fn line_time(v: &Value) -> Option<Timestamp> {
    v.get("time")
        .and_then(Value::as_str)
        .and_then(parse_timestamp)
        .or_else(|| {
            v.get("ratingreceived")
                .and_then(Value::as_str)
                .and_then(parse_timestamp)
        })
}

/// One customer's lines of the range, from its objects: decompressed,
/// in `ratingseq` order, each sequence number once (a message the outbox
/// sent again cut differently leaves overlapping objects).
pub async fn customer_lines(bucket: &Bucket, names: &[String], range: &Range) -> Result<Vec<u8>, ApiError> {
    let mut lines: BTreeMap<i64, String> = BTreeMap::new();
    // Objects are small (one message's rows of one hour): read them
    // READ_AT_ONCE at a time rather than one round trip after another.
    let read = |name: String| async move {
        let Some(object) = bucket
            .get(name)
            .execute()
            .await
            .map_err(|e| ApiError::unavailable("reading R2", e))?
        else {
            return Ok(None);
        };
        let Some(body) = object.body() else { return Ok(None) };
        body.bytes()
            .await
            .map(Some)
            .map_err(|e| ApiError::unavailable("reading R2", e))
    };
    let mut bodies = Vec::with_capacity(names.len());
    for chunk in names.chunks(READ_AT_ONCE) {
        for b in futures_util::future::join_all(chunk.iter().cloned().map(read)).await {
            bodies.extend(b?);
        }
    }
    for gz in bodies {
        let mut text = String::new();
        MultiGzDecoder::new(gz.as_slice())
            .read_to_string(&mut text)
            .map_err(|e| ApiError::unavailable("decompressing a log object", e))?;
        for l in text.lines().filter(|l| !l.is_empty()) {
            let Ok(v) = serde_json::from_str::<Value>(l) else {
                continue;
            };
            let Some(seq) = v.get("ratingseq").and_then(Value::as_i64) else {
                continue;
            };
            let t = line_time(&v);
            if range.from.is_some_and(|f| t.is_none_or(|t| t < f)) || range.to.is_some_and(|e| t.is_none_or(|t| t >= e))
            {
                continue;
            }
            lines.entry(seq).or_insert_with(|| l.to_string());
        }
    }
    let mut out = Vec::new();
    for l in lines.into_values() {
        out.extend_from_slice(l.as_bytes());
        out.push(b'\n');
    }
    Ok(out)
}

/// The R2 bucket of the log.
pub fn bucket(env: &Env) -> Result<Bucket, ApiError> {
    env.bucket(BINDING)
        .map_err(|e| ApiError::unavailable("the R2 binding LOG", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seq: i64, time: &str, event: &str) -> EventRow {
        EventRow {
            seq,
            source: "s".into(),
            id: format!("e{seq}"),
            kind: "sms".into(),
            time: time.into(),
            received_at: 1_795_000_000_123,
            status: "accepted".into(),
            amount: Some("0.0075".into()),
            currency: Some("USD".into()),
            price_key: None,
            price_book: "sha256:x".into(),
            event: event.into(),
            fingerprint: String::new(),
        }
    }

    #[test]
    fn a_line_is_the_event_then_the_receipt() {
        let r = row(
            7,
            "2026-11-23T10:00:00Z",
            r#"{"specversion":"1.0","ratingseq":99,"id":"e7","source":"s","type":"sms","subject":"c","ratingfoo":1,"data":{"quantity":"1"}}"#,
        );
        assert_eq!(
            line(&r),
            r#"{"specversion":"1.0","id":"e7","source":"s","type":"sms","subject":"c","data":{"quantity":"1"},"ratingstatus":"accepted","ratingamount":"0.0075","ratingcurrency":"USD","ratingpricebook":"sha256:x","ratingseq":7,"ratingreceived":"2026-11-18T11:06:40.123Z"}"#
        );
    }

    #[test]
    fn objects_are_named_by_hour_and_sequence() {
        let e = r#"{"id":"x"}"#;
        let rows = [
            row(3, "2026-11-23T10:59:59Z", e),
            row(4, "2026-11-23T11:00:00Z", e),
            row(5, "2026-11-23T10:00:00Z", e),
        ];
        let names: Vec<String> = objects("dev", "cus/1", &rows)
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(
            names,
            [
                "log/dev/2026-11-23/10/cus%2F1-3-5.ndjson.gz",
                "log/dev/2026-11-23/11/cus%2F1-4-4.ndjson.gz"
            ]
        );
        assert_eq!(name_customer(&names[0]), Some("cus%2F1"));
        assert_eq!(segment_id("cus%2F1").as_deref(), Some("cus/1"));
        assert_eq!(
            name_customer("log/dev/2026-11-23/10/a-b-c-1-2.ndjson.gz"),
            Some("a-b-c")
        );
        assert!(segment(&"é".repeat(255)).starts_with('~'));
    }

    #[test]
    fn objects_decompress_to_the_lines() {
        let rows = [row(1, "2026-11-23T10:00:00Z", r#"{"id":"a"}"#)];
        let (_, gz) = objects("t", "c", &rows).unwrap().remove(0);
        let mut text = String::new();
        MultiGzDecoder::new(gz.as_slice()).read_to_string(&mut text).unwrap();
        assert_eq!(text, format!("{}\n", line(&rows[0])));
    }
}
