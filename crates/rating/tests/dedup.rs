//! Deduplication: the window from the price book's `dedup_window`, the
//! receipts of duplicates, and the seam for callers that keep the keys
//! themselves (`Meter::record_with` over a `DedupStore`), which must
//! answer exactly as `Meter::record` does.

use rating::event::{parse_event, UsageEvent};
use rating::meter::{
    dedup_key, dedup_window_start, no_subscription, read_event, subscribe, Counts, DedupKey, DedupStore, Meter,
    Receipt, Seen, Status, Subscription,
};
use rating::period::{parse_timestamp, Timestamp};
use rating::PriceBook;
use serde_json::{json, Value};
use std::collections::HashMap;

fn t(s: &str) -> Timestamp {
    parse_timestamp(s).unwrap()
}

/// A book whose `dedup_window` is `window` (absent: the default).
fn book(window: Option<Value>) -> PriceBook {
    let mut doc = json!({
        "format": "price-book/v1", "id": "dedup", "currency": "USD",
        "products": [
            {"id": "api", "name": "API calls", "type": "metered"},
            {"id": "domain", "name": "Domains", "type": "metered", "price_key_label": "tld",
             "unmatched_price_key_policy": "drop"}
        ],
        "plans": [{"id": "pro", "name": "Pro", "period": {"unit": "month", "length": 1},
            "items": [
                {"product": "api", "price": {"model": "per_unit", "unit_amount": "0.015"}},
                {"product": "domain", "prices": {".com": {"model": "per_unit", "unit_amount": "11.50"}}}
            ]}]
    });
    if let Some(w) = window {
        doc["dedup_window"] = w;
    }
    match PriceBook::from_value(&doc) {
        Ok(b) => b,
        Err(e) => panic!("{e:?}"),
    }
}

fn meter(b: &PriceBook) -> Meter {
    let s = Subscription {
        customer: "cus_1".into(),
        plan: "pro".into(),
        start: Some(t("2026-01-01T00:00:00Z")),
        ..Default::default()
    };
    subscribe(b, &s).unwrap()
}

/// An event without `time`: its usage time is its receipt time.
fn ev(id: &str, product: &str, data: Value) -> UsageEvent {
    parse_event(
        &json!({"specversion": "1.0", "id": id, "source": "app", "type": product,
        "subject": "cus_1", "data": data}),
    )
    .unwrap()
}

fn hour_book() -> PriceBook {
    book(Some(json!({"unit": "hour", "length": 1})))
}

#[test]
fn a_resend_inside_the_window_is_a_duplicate_and_after_it_is_rated_again() {
    let b = hour_book();
    let mut m = meter(&b);
    let e = ev("e1", "api", json!({"quantity": "10"}));
    let first = m.record(&b, &e, t("2026-01-02T10:00:00Z"));
    assert_eq!(
        (first.status, first.amount.as_deref()),
        (Status::Accepted, Some("0.15"))
    );
    let inside = m.record(&b, &e, t("2026-01-02T11:00:00Z"));
    assert_eq!(
        (inside.status, inside.amount.as_deref()),
        (Status::Duplicate, Some("0.15"))
    );
    // Nothing else arrived meanwhile: the key is still remembered, but
    // outside the window it no longer makes a duplicate.
    let after = m.record(&b, &e, t("2026-01-02T11:00:01Z"));
    assert_eq!(
        (after.status, after.amount.as_deref()),
        (Status::Accepted, Some("0.15"))
    );
    // The resend is now the first receipt of its window.
    let again = m.record(&b, &e, t("2026-01-02T11:30:00Z"));
    assert_eq!(again.status, Status::Duplicate);
    assert_eq!(
        m.counts,
        Counts {
            accepted: 2,
            duplicate: 2,
            ..Counts::default()
        }
    );
    assert_eq!(m.dedup.len(), 1);
}

#[test]
fn the_default_window_is_35_days() {
    let b = book(None);
    let mut m = meter(&b);
    let e = ev("e1", "api", json!({"quantity": "1"}));
    assert_eq!(m.record(&b, &e, t("2026-01-02T00:00:00Z")).status, Status::Accepted);
    assert_eq!(m.record(&b, &e, t("2026-02-06T00:00:00Z")).status, Status::Duplicate);
    assert_eq!(m.record(&b, &e, t("2026-02-06T00:00:01Z")).status, Status::Accepted);
}

#[test]
fn window_start_counts_calendar_months() {
    let b = book(Some(json!({"unit": "month", "length": 1})));
    assert_eq!(
        dedup_window_start(&b, t("2026-03-31T12:00:00Z")),
        t("2026-02-28T12:00:00Z").timestamp()
    );
    let d = book(None);
    assert_eq!(
        dedup_window_start(&d, t("2026-03-31T12:00:00Z")),
        t("2026-02-24T12:00:00Z").timestamp()
    );
}

#[test]
fn an_event_for_another_customer_is_rejected_before_its_key_is_looked_up() {
    let b = hour_book();
    let mut m = meter(&b);
    let e = ev("e1", "api", json!({"quantity": "1"}));
    m.record(&b, &e, t("2026-01-02T10:00:00Z"));
    let mut other = e.clone();
    other.customer = "cus_2".into();
    let r = m.record(&b, &other, t("2026-01-02T10:00:01Z"));
    assert_eq!(r.status, Status::Rejected);
    let err = r.error.unwrap();
    assert_eq!(
        (err.code.as_str(), err.path.as_deref()),
        ("invalid_value", Some("subject"))
    );
    assert_eq!(m.counts.rejected, 1);
}

#[test]
fn receipts_for_callers_without_a_meter() {
    let e = ev("e1", "api", json!({"quantity": "1"}));
    let r = no_subscription(&e, "cus_1");
    assert_eq!(r.status, Status::Rejected);
    assert_eq!(r.error.as_ref().map(|p| p.code.as_str()), Some("unknown_customer"));
    assert_eq!(
        no_subscription(&e, "cus_9").error.map(|p| p.code.as_str()),
        Some("invalid_value")
    );
    let bad = read_event(r#"{"specversion": "1.0", "id": "x1", "source": "app", "type": "api"}"#).unwrap_err();
    assert_eq!((&*bad.id, &*bad.source, bad.status), ("x1", "app", Status::Rejected));
    assert_eq!(bad.error.map(|p| p.code.as_str()), Some("missing_field"));
}

/// A caller's store kept the way the Worker keeps it: each first receipt
/// as its printed fields, read back with `Seen::from_receipt_fields`.
#[derive(Default)]
struct Stored {
    seen: HashMap<DedupKey, Seen>,
    last_put: Option<DedupKey>,
}

impl DedupStore for Stored {
    fn get(&self, key: DedupKey) -> Option<&Seen> {
        self.seen.get(&key)
    }

    fn put(&mut self, key: DedupKey, seen: Seen) {
        self.seen.insert(key, seen);
        self.last_put = Some(key);
    }
}

impl Stored {
    /// After a put, keeps what a table of receipts would: the receipt's
    /// fields (as text) rather than the engine's own value.
    fn store_as_text(&mut self, r: &Receipt, fingerprint: u64) {
        let Some(key) = self.last_put.take() else { return };
        assert_eq!(key, dedup_key(&r.source, &r.id));
        let at = self.seen[&key].at;
        let s = Seen::from_receipt_fields(
            fingerprint,
            at,
            r.status == Status::Dropped,
            r.amount.as_deref(),
            r.currency.as_deref(),
            r.price_key.as_deref(),
        );
        self.seen.insert(key, s);
    }
}

#[test]
fn record_with_a_callers_store_answers_as_record() {
    let b = hour_book();
    let mut own = meter(&b);
    let mut lent = meter(&b);
    let mut store = Stored::default();
    let e = |id: &str, p: &str, data: Value| ev(id, p, data);
    let steps: Vec<(UsageEvent, &str)> = vec![
        (e("a", "api", json!({"quantity": "10"})), "2026-01-02T10:00:00Z"),
        (
            e("d", "domain", json!({"quantity": "1", "tld": ".com"})),
            "2026-01-02T10:00:00Z",
        ),
        (
            e("x", "domain", json!({"quantity": "1", "tld": ".zz"})),
            "2026-01-02T10:00:01Z",
        ),
        (e("q", "api", json!({})), "2026-01-02T10:00:03Z"),
        // Duplicates, a conflict, a dropped duplicate.
        (e("a", "api", json!({"quantity": "10"})), "2026-01-02T10:10:00Z"),
        (e("a", "api", json!({"quantity": "99"})), "2026-01-02T10:20:00Z"),
        (
            e("d", "domain", json!({"quantity": "1", "tld": ".com"})),
            "2026-01-02T10:30:00Z",
        ),
        (
            e("x", "domain", json!({"quantity": "1", "tld": ".zz"})),
            "2026-01-02T10:40:00Z",
        ),
        // A rejected event leaves no key: its corrected resend is rated.
        (e("q", "api", json!({"quantity": "2"})), "2026-01-02T10:50:00Z"),
        // Past the window.
        (e("a", "api", json!({"quantity": "10"})), "2026-01-02T12:00:00Z"),
        (e("a", "api", json!({"quantity": "10"})), "2026-01-02T12:00:01Z"),
    ];
    for (ev, at) in &steps {
        let at = t(at);
        let r1 = own.record(&b, ev, at);
        let r2 = lent.record_with(&b, ev, at, &mut store);
        assert_eq!(r1, r2, "{} at {at}", ev.id);
        store.store_as_text(&r2, ev.fingerprint);
    }
    assert_eq!(own.counts, lent.counts);
    assert_eq!(
        own.counts,
        Counts {
            accepted: 4,
            duplicate: 5,
            rejected: 1,
            dropped: 1
        }
    );
    // The lent store holds the keys; the meter's own window stays empty.
    assert!(lent.dedup.is_empty());
    assert_eq!(store.seen.len(), 4);
    assert_eq!(own.products, lent.products);
}

#[test]
fn a_duplicate_repeats_the_first_receipt_read_back_from_text() {
    let b = hour_book();
    let mut m = meter(&b);
    let mut store = Stored::default();
    let e = ev("d", "domain", json!({"quantity": "1", "tld": ".com"}));
    let first = m.record_with(&b, &e, t("2026-01-02T10:00:00Z"), &mut store);
    store.store_as_text(&first, e.fingerprint);
    let dup = m.record_with(&b, &e, t("2026-01-02T10:01:00Z"), &mut store);
    assert_eq!(
        (
            dup.status,
            dup.amount.as_deref(),
            dup.currency.as_deref(),
            dup.price_key.as_deref(),
            dup.conflict
        ),
        (Status::Duplicate, Some("11.50"), Some("USD"), Some(".com"), None)
    );
    assert!(store.last_put.is_none(), "a duplicate puts nothing");
}
