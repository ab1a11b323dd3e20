//! Metering: per-event rating, allowances and rollover, proration,
//! anchors, dedup and the time rules, on the seeds' lifecycle examples.

use rating::event::parse_event;
use rating::meter::{subscribe, Invoice, Meter, Status, Subscription};
use rating::period::parse_timestamp;
use rating::PriceBook;
use rust_decimal::Decimal;
use serde_json::json;
use std::str::FromStr;

fn t(s: &str) -> rating::period::Timestamp {
    parse_timestamp(s).unwrap()
}

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn book(proration: &str) -> PriceBook {
    PriceBook::from_value(&json!({
        "format": "price-book/v1", "id": "paas", "currency": "USD", "proration": proration,
        "late_event_grace": {"unit": "day", "length": 3},
        "products": [
            {"id": "platform", "name": "Platform fee", "type": "recurring"},
            {"id": "seats", "name": "Seats", "type": "seat"},
            {"id": "bandwidth", "name": "Bandwidth", "type": "metered", "unit": "GB"},
            {"id": "builds", "name": "Builds", "type": "metered", "aggregation": "count"},
            {"id": "domain", "name": "Domains", "type": "metered", "price_key_label": "tld", "unmatched_price_key_policy": "drop"}
        ],
        "plans": [{"id": "pro", "name": "Pro", "period": {"unit": "month", "length": 1}, "setup_fee": "10.00",
            "items": [
                {"product": "platform", "price": {"model": "flat", "amount": "20.00"}},
                {"product": "seats", "min_quantity": "1", "price": {"model": "per_unit", "unit_amount": "15.00"}},
                {"product": "bandwidth", "included_quantity": "1000", "rollover": true,
                 "price": {"model": "graduated", "tiers": [{"up_to": "10000", "unit_amount": "0.15"}, {"up_to": null, "unit_amount": "0.10"}]}},
                {"product": "builds", "included_quantity": "100", "limit": "1000", "price": {"model": "per_unit", "unit_amount": "0.01"}},
                {"product": "domain", "prices": {".com": {"model": "per_unit", "unit_amount": "11.50"}, ".io": {"model": "per_unit", "unit_amount": "35.00"}}}
            ]},
            {"id": "trial", "name": "Trial", "period": {"unit": "month", "length": 1}, "trial_days": 14,
             "items": [{"product": "platform", "price": {"model": "flat", "amount": "20.00"}}]}
        ]
    }))
    .unwrap()
}

fn sub(plan: &str, start: &str, anchor: Option<&str>, seats: &str) -> Subscription {
    let mut s = Subscription {
        customer: "cus_1".into(),
        plan: plan.into(),
        start: Some(t(start)),
        anchor: anchor.map(t),
        ..Default::default()
    };
    if plan == "pro" {
        s.quantities.insert("seats".into(), d(seats));
    }
    s
}

fn ev(id: &str, product: &str, time: &str, data: serde_json::Value) -> rating::event::UsageEvent {
    parse_event(&json!({"specversion": "1.0", "id": id, "source": "app", "type": product, "subject": "cus_1", "time": time, "data": data})).unwrap()
}

fn line<'a>(inv: &'a Invoice, product: &str) -> &'a rating::meter::InvoiceLine {
    inv.lines
        .iter()
        .find(|l| l.product == product)
        .unwrap_or_else(|| panic!("no {product} line in {inv:#?}"))
}

fn record(m: &mut Meter, b: &PriceBook, e: &rating::event::UsageEvent) -> rating::meter::Receipt {
    let at = e.time.unwrap();
    m.record(b, e, at)
}

#[test]
fn first_invoice_charges_setup_and_first_period_in_advance() {
    let b = book("by_second");
    let mut m = subscribe(&b, &sub("pro", "2026-01-01T00:00:00Z", None, "3")).unwrap();
    let inv = m.take_invoices();
    assert_eq!(inv.len(), 1);
    assert_eq!(inv[0].total, "75.00"); // 10 setup + 20 platform + 3 × 15 seats
    assert_eq!(line(&inv[0], "seats").period.end, "2026-02-01T00:00:00Z");
}

#[test]
fn allowance_then_overage_and_rollover_across_months() {
    let b = book("by_second");
    let mut m = subscribe(&b, &sub("pro", "2026-01-01T00:00:00Z", None, "1")).unwrap();
    m.take_invoices();
    // January: 400 GB of 1000 included → 600 roll over into February.
    let r = record(
        &mut m,
        &b,
        &ev("e1", "bandwidth", "2026-01-10T00:00:00Z", json!({"quantity": "400"})),
    );
    assert_eq!((r.status, r.amount.as_deref()), (Status::Accepted, Some("0.00")));
    // February: allowance 1000 + 600 rolled; 1800 used → 200 billable at 0.15 = 30.00.
    let r1 = record(
        &mut m,
        &b,
        &ev("e2", "bandwidth", "2026-02-03T00:00:00Z", json!({"quantity": "1500"})),
    );
    let r2 = record(
        &mut m,
        &b,
        &ev("e3", "bandwidth", "2026-02-20T00:00:00Z", json!({"quantity": "300"})),
    );
    assert_eq!(r1.amount.as_deref(), Some("0.00"));
    assert_eq!(r2.amount.as_deref(), Some("30.00"));
    let state = serde_json::to_value(m.allowance_state(&b, t("2026-02-21T00:00:00Z")).unwrap()).unwrap();
    let bw = &state["dimensions"][0];
    assert_eq!(bw["included"], "1000");
    assert_eq!(bw["rolled_over"], "600");
    assert_eq!(bw["used"], "1800");
    assert_eq!(bw["remaining"], "0");
    assert_eq!(bw["billable_usage"], "200");
    assert_eq!(bw["overage_amount"], "30.00");
    m.advance_to(&b, t("2026-03-01T00:00:00Z")).unwrap();
    let invs = m.take_invoices();
    assert_eq!(invs.len(), 2);
    let jan = &invs[0];
    assert_eq!(line(jan, "bandwidth").amount, "0.00");
    assert_eq!(line(jan, "platform").period.start, "2026-02-01T00:00:00Z");
    let feb = &invs[1];
    assert_eq!(line(feb, "bandwidth").amount, "30.00");
    assert_eq!(line(feb, "bandwidth").billable.as_deref(), Some("200"));
    // Nothing rolls out of February: the rolled-over part expires, and the
    // included part was used up.
    let recs = serde_json::to_value(m.take_records()).unwrap();
    let rolled: Vec<&serde_json::Value> = recs
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["type"] == "allowance.rolled_over")
        .collect();
    assert_eq!(rolled.len(), 1);
    assert_eq!(rolled[0]["quantity"], "600");
}

#[test]
fn three_seats_added_on_day_12_of_a_30_day_period_charge_18_30() {
    let b = book("by_day");
    let mut m = subscribe(&b, &sub("pro", "2026-09-01T00:00:00Z", None, "5")).unwrap();
    m.take_invoices();
    m.change_quantity(&b, "seats", d("8"), t("2026-09-13T00:00:00Z"))
        .unwrap();
    m.advance_to(&b, t("2026-10-01T00:00:00Z")).unwrap();
    let inv = m.take_invoices().remove(0);
    let pr = inv
        .lines
        .iter()
        .find(|l| l.kind == rating::quote::LineKind::Proration)
        .unwrap();
    assert_eq!(pr.amount, "27.00"); // 3 × 15 × 18/30
    assert_eq!(pr.period.start, "2026-09-13T00:00:00Z");
    // Next period is charged in advance for 8 seats.
    let seats = inv
        .lines
        .iter()
        .find(|l| l.kind == rating::quote::LineKind::Seat)
        .unwrap();
    assert_eq!(
        (seats.amount.as_str(), seats.period.start.as_str()),
        ("120.00", "2026-10-01T00:00:00Z")
    );
}

#[test]
fn calendar_billing_started_mid_month_prorates_the_first_period() {
    let b = book("by_day");
    let mut m = subscribe(
        &b,
        &sub("pro", "2026-03-15T00:00:00Z", Some("2026-04-01T00:00:00Z"), "1"),
    )
    .unwrap();
    let inv = m.take_invoices().remove(0);
    // Mar 15 → Apr 1 is 17 of March's 31 days: 20 × 17/31 = 10.967… → 10.97.
    assert_eq!(line(&inv, "platform").amount, "10.97");
    assert_eq!(line(&inv, "platform").period.end, "2026-04-01T00:00:00Z");
    m.advance_to(&b, t("2026-04-01T00:00:00Z")).unwrap();
    let inv = m.take_invoices().remove(0);
    assert_eq!(line(&inv, "platform").amount, "20.00");
    assert_eq!(line(&inv, "platform").period.end, "2026-05-01T00:00:00Z");
}

#[test]
fn month_end_anchor_clamps_and_returns() {
    let b = book("by_second");
    let mut m = subscribe(&b, &sub("pro", "2026-01-31T00:00:00Z", None, "1")).unwrap();
    m.advance_to(&b, t("2026-04-01T00:00:00Z")).unwrap();
    let ends: Vec<String> = m.take_invoices().iter().map(|i| i.period.end.clone()).collect();
    assert_eq!(
        ends,
        ["2026-02-28T00:00:00Z", "2026-02-28T00:00:00Z", "2026-03-31T00:00:00Z"]
    );
}

#[test]
fn trial_days_are_free_and_the_anchor_follows_the_trial() {
    let b = book("by_second");
    let mut m = subscribe(&b, &sub("trial", "2026-01-01T00:00:00Z", None, "0")).unwrap();
    let first = m.take_invoices().remove(0);
    assert_eq!(first.total, "0.00");
    m.advance_to(&b, t("2026-01-15T00:00:00Z")).unwrap();
    let inv = m.take_invoices().remove(0);
    assert_eq!(line(&inv, "platform").amount, "20.00");
    assert_eq!(line(&inv, "platform").period.end, "2026-02-15T00:00:00Z");
}

#[test]
fn duplicates_repeat_the_first_amount_and_flag_conflicts() {
    let b = book("by_second");
    let mut m = subscribe(&b, &sub("pro", "2026-01-01T00:00:00Z", None, "1")).unwrap();
    let e = ev("d1", "bandwidth", "2026-01-02T00:00:00Z", json!({"quantity": "1200"}));
    let first = record(&mut m, &b, &e);
    assert_eq!(first.amount.as_deref(), Some("30.00"));
    let before = m.clone();
    let again = record(&mut m, &b, &e);
    assert_eq!(
        (again.status, again.amount.as_deref(), again.conflict),
        (Status::Duplicate, Some("30.00"), None)
    );
    let changed = ev("d1", "bandwidth", "2026-01-02T00:00:00Z", json!({"quantity": "5"}));
    let conflict = record(&mut m, &b, &changed);
    assert_eq!((conflict.status, conflict.conflict), (Status::Duplicate, Some(true)));
    assert_eq!(m.products, before.products);
}

#[test]
fn time_rules() {
    let b = book("by_second");
    let mut m = subscribe(&b, &sub("pro", "2026-01-01T00:00:00Z", None, "1")).unwrap();
    let future = ev("f", "bandwidth", "2026-01-10T00:06:00Z", json!({"quantity": "1"}));
    let r = m.record(&b, &future, t("2026-01-10T00:00:00Z"));
    assert_eq!(r.error.unwrap().code, "event_in_future");
    let ok_future = ev("f2", "bandwidth", "2026-01-10T00:04:00Z", json!({"quantity": "1"}));
    assert_eq!(
        m.record(&b, &ok_future, t("2026-01-10T00:00:00Z")).status,
        Status::Accepted
    );
    // Into February; a January event within 3 days of grace is a late adjustment.
    m.advance_to(&b, t("2026-02-02T00:00:00Z")).unwrap();
    m.take_invoices();
    let late = ev("l1", "bandwidth", "2026-01-31T12:00:00Z", json!({"quantity": "2000"}));
    let r = m.record(&b, &late, t("2026-02-02T00:00:00Z"));
    assert_eq!(
        (r.status, r.amount.as_deref()),
        (Status::Accepted, Some("150.15")),
        "{r:?}"
    );
    let too_late = ev("l2", "bandwidth", "2026-01-20T00:00:00Z", json!({"quantity": "1"}));
    let r2 = m.record(&b, &too_late, t("2026-02-05T00:00:00Z"));
    assert_eq!(r2.error.map(|e| e.code.as_str()), Some("event_too_late"));
    m.advance_to(&b, t("2026-03-01T00:00:00Z")).unwrap();
    let inv = m.take_invoices().remove(0);
    let adj = inv
        .lines
        .iter()
        .find(|l| l.period.start == "2026-01-01T00:00:00Z" && l.product == "bandwidth")
        .unwrap();
    assert_eq!(adj.amount, "150.15");
}

#[test]
fn keyed_usage_and_unmatched_keys() {
    let b = book("by_second");
    let mut m = subscribe(&b, &sub("pro", "2026-01-01T00:00:00Z", None, "1")).unwrap();
    let r = record(
        &mut m,
        &b,
        &ev("k1", "domain", "2026-01-02T00:00:00Z", json!({"tld": ".io"})),
    );
    let e = r.error.unwrap();
    assert_eq!(
        (e.code.as_str(), e.path.as_deref()),
        ("missing_field", Some("data.quantity"))
    );
    let r = record(
        &mut m,
        &b,
        &ev(
            "k2",
            "domain",
            "2026-01-02T00:00:00Z",
            json!({"tld": ".io", "quantity": 1}),
        ),
    );
    assert_eq!(
        (r.amount.as_deref(), r.price_key.as_deref()),
        (Some("35.00"), Some(".io"))
    );
    let r = record(
        &mut m,
        &b,
        &ev("k4", "domain", "2026-01-02T00:00:00Z", json!({"quantity": 1})),
    );
    assert_eq!(
        r.error.map(|e| (e.code.as_str(), e.path)),
        Some(("missing_field", Some("data.tld".to_string())))
    );
    let r = record(
        &mut m,
        &b,
        &ev(
            "k3",
            "domain",
            "2026-01-02T00:00:00Z",
            json!({"tld": ".xyz", "quantity": 1}),
        ),
    );
    assert_eq!(r.status, Status::Dropped);
}

#[test]
fn limits_reject_usage_above_the_cap_without_changing_state() {
    let b = book("by_second");
    let mut m = subscribe(&b, &sub("pro", "2026-01-01T00:00:00Z", None, "1")).unwrap();
    for i in 0..1000 {
        let r = record(
            &mut m,
            &b,
            &ev(&format!("b{i}"), "builds", "2026-01-02T00:00:00Z", json!({})),
        );
        assert_eq!(r.status, Status::Accepted);
    }
    let before = m.products.clone();
    let r = record(&mut m, &b, &ev("over", "builds", "2026-01-02T00:00:00Z", json!({})));
    assert_eq!(r.error.map(|e| e.code.as_str()), Some("limit_exceeded"));
    assert_eq!(m.products, before);
    let inv = m.preview_invoice(&b, t("2026-01-03T00:00:00Z")).unwrap();
    assert_eq!(line(&inv, "builds").amount, "9.00"); // 900 × 0.01
}

#[test]
fn cancelling_mid_period_in_a_leap_february_credits_the_unused_part() {
    let b = book("by_day");
    let mut m = subscribe(&b, &sub("pro", "2028-02-01T00:00:00Z", None, "2")).unwrap();
    m.take_invoices();
    m.cancel(&b, t("2028-02-15T00:00:00Z"), true).unwrap();
    let inv = m.take_invoices().remove(0);
    // 15 of 29 days unused: platform 20 × 15/29 = 10.34; seats 30 × 15/29 = 15.52.
    let credits: Vec<&str> = inv
        .lines
        .iter()
        .filter(|l| l.kind == rating::quote::LineKind::Credit)
        .map(|l| l.amount.as_str())
        .collect();
    assert_eq!(credits, ["-10.34", "-15.52"]);
    let r = record(
        &mut m,
        &b,
        &ev("after", "bandwidth", "2028-02-16T00:00:00Z", json!({"quantity": 1})),
    );
    assert_eq!(r.status, Status::Rejected);
}

#[test]
fn meter_state_round_trips_through_json() {
    let b = book("by_second");
    let mut m = subscribe(&b, &sub("pro", "2026-01-01T00:00:00Z", None, "1")).unwrap();
    record(
        &mut m,
        &b,
        &ev("x", "bandwidth", "2026-01-02T00:00:00Z", json!({"quantity": "1500"})),
    );
    m.take_invoices();
    let text = serde_json::to_string(&m).unwrap();
    let back: Meter = serde_json::from_str(&text).unwrap();
    assert_eq!(back, m);
}

#[test]
fn a_duplicate_with_its_keys_reordered_is_not_a_conflict() {
    let a = parse_event(&json!({"specversion": "1.0", "id": "1", "source": "s", "type": "bandwidth", "subject": "c", "data": {"quantity": "2", "tld": ".io"}})).unwrap();
    let b = parse_event(&json!({"data": {"tld": ".io", "quantity": "2"}, "subject": "c", "type": "bandwidth", "source": "s", "id": "1", "specversion": "1.0"})).unwrap();
    let c = parse_event(&json!({"specversion": "1.0", "id": "1", "source": "s", "type": "bandwidth", "subject": "c", "data": {"quantity": "3", "tld": ".io"}})).unwrap();
    assert_eq!(a.fingerprint, b.fingerprint);
    assert_ne!(a.fingerprint, c.fingerprint);
}

#[test]
fn calendar_billing_mid_week_and_mid_year_with_and_without_trial() {
    let b = book("by_second");
    // Weekly plan anchored on Monday, started on a Thursday: 4 of 7 days.
    let weekly = PriceBook::from_value(&json!({
        "format": "price-book/v1", "id": "w", "currency": "USD",
        "products": [{"id": "platform", "name": "Platform", "type": "recurring"}],
        "plans": [{"id": "w", "name": "Weekly", "period": {"unit": "week", "length": 1}, "items": [
            {"product": "platform", "price": {"model": "flat", "amount": "7.00"}}]},
            {"id": "y", "name": "Yearly", "period": {"unit": "year", "length": 1}, "trial_days": 10, "items": [
            {"product": "platform", "price": {"model": "flat", "amount": "365.00"}}]}]
    }))
    .unwrap();
    let s = Subscription {
        customer: "cus_1".into(),
        plan: "w".into(),
        start: Some(t("2026-11-26T00:00:00Z")),
        anchor: Some(t("2026-11-30T00:00:00Z")),
        ..Default::default()
    };
    let mut m = subscribe(&weekly, &s).unwrap();
    assert_eq!(line(&m.take_invoices()[0], "platform").amount, "4.00");
    // Yearly plan, calendar years, started July 2 with a 10-day trial:
    // paid from July 12 to Jan 1 = 173 of 365 days.
    let s = Subscription {
        customer: "cus_1".into(),
        plan: "y".into(),
        start: Some(t("2026-07-02T00:00:00Z")),
        anchor: Some(t("2026-01-01T00:00:00Z")),
        ..Default::default()
    };
    let mut m = subscribe(&weekly, &s).unwrap();
    assert_eq!(m.take_invoices()[0].total, "0.00");
    m.advance_to(&weekly, t("2026-07-12T00:00:00Z")).unwrap();
    let inv = m.take_invoices().remove(0);
    assert_eq!(line(&inv, "platform").amount, "173.00");
    assert_eq!(line(&inv, "platform").period.end, "2027-01-01T00:00:00Z");
    // The same without a trial: 183 of 365 days.
    let mut s2 = sub("pro", "2026-07-02T00:00:00Z", Some("2026-01-01T00:00:00Z"), "1");
    s2.plan = "pro".into();
    let m2 = subscribe(&b, &s2).unwrap();
    assert_eq!(m2.period.end, t("2026-08-01T00:00:00Z")); // monthly plan: next 1st
}

#[test]
fn cancelling_at_period_end_after_several_periods() {
    let b = book("by_second");
    let mut m = subscribe(&b, &sub("pro", "2026-01-15T00:00:00Z", None, "1")).unwrap();
    m.advance_to(&b, t("2026-03-20T00:00:00Z")).unwrap();
    m.cancel(&b, t("2026-03-20T00:00:00Z"), false).unwrap();
    m.advance_to(&b, t("2026-06-01T00:00:00Z")).unwrap();
    let invs = m.take_invoices();
    // Start, Feb 15 and Mar 15 closes, then the final close on Apr 15 with
    // no advance charges.
    assert_eq!(invs.len(), 4);
    let last = invs.last().unwrap();
    assert_eq!(last.issued_at, "2026-04-15T00:00:00Z");
    assert!(last.lines.iter().all(|l| l.kind == rating::quote::LineKind::Usage));
    assert_eq!(m.ended_at, Some(t("2026-04-15T00:00:00Z")));
}

mod allowance_invariants {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// `remaining` is never negative, and within the allowance
        /// `used + remaining = included + rolled_over`.
        #[test]
        fn remaining_is_never_negative(qs in prop::collection::vec((1u32..90_000, 0u32..80), 1..40)) {
            let b = book("by_second");
            let mut m = subscribe(&b, &sub("pro", "2026-01-01T00:00:00Z", None, "1")).unwrap();
            for (i, (q, day)) in qs.iter().enumerate() {
                let time = format!("2026-{:02}-{:02}T00:00:00Z", 1 + day / 28, 1 + day % 28);
                let e = ev(&format!("p{i}"), "bandwidth", &time, json!({"quantity": Decimal::new(i64::from(*q), 2).to_string()}));
                m.record(&b, &e, e.time.unwrap());
                let st = serde_json::to_value(m.allowance_state(&b, e.time.unwrap()).unwrap()).unwrap();
                let dim = &st["dimensions"][0];
                let get = |k: &str| d(dim[k].as_str().unwrap());
                prop_assert!(get("remaining") >= Decimal::ZERO);
                let total = get("included") + get("rolled_over");
                if get("used") <= total {
                    prop_assert_eq!(get("used") + get("remaining"), total);
                    prop_assert_eq!(get("billable_usage"), Decimal::ZERO);
                } else {
                    prop_assert_eq!(get("used") - total, get("billable_usage"));
                }
            }
        }
    }
}
