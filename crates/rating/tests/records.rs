//! The typed records a meter emits (docs/metering.md "Records",
//! docs/contract.md §5 "Records"), on hand-made cases whose records were
//! worked out before the code: every record of the case, in order, as
//! JSON.

use rating::event::parse_event;
use rating::meter::{subscribe, Meter, Status, Subscription};
use rating::period::parse_timestamp;
use rating::PriceBook;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::str::FromStr;

fn t(s: &str) -> rating::period::Timestamp {
    parse_timestamp(s).unwrap()
}

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// A monthly plan with a platform fee, API calls with 1,000 included (80 %
/// and 100 % alerts, rollover), domains keyed by TLD (unknown TLDs
/// dropped), and spend alerts at 10.00 and 50.00; a `team` plan to change
/// to.
fn book() -> PriceBook {
    PriceBook::from_value(&json!({
        "format": "price-book/v1", "id": "alerts", "currency": "USD",
        "products": [
            {"id": "platform", "name": "Platform", "type": "recurring"},
            {"id": "api", "name": "API calls", "type": "metered"},
            {"id": "domain", "name": "Domains", "type": "metered", "price_key_label": "tld",
             "unmatched_price_key_policy": "drop"}
        ],
        "plans": [
            {"id": "pro", "name": "Pro", "period": {"unit": "month", "length": 1},
             "spend_alert_thresholds": ["10.00", "50.00"],
             "items": [
                {"product": "platform", "price": {"model": "flat", "amount": "20.00"}},
                {"product": "api", "included_quantity": "1000", "rollover": true, "alert_thresholds": ["80", "100"],
                 "price": {"model": "per_unit", "unit_amount": "0.01"}},
                {"product": "domain", "prices": {".com": {"model": "per_unit", "unit_amount": "12.00"}}}
             ]},
            {"id": "team", "name": "Team", "period": {"unit": "month", "length": 1},
             "items": [
                {"product": "platform", "price": {"model": "flat", "amount": "40.00"}},
                {"product": "api", "included_quantity": "5000", "price": {"model": "per_unit", "unit_amount": "0.01"}}
             ]}
        ]
    }))
    .unwrap()
}

fn sub(plan: &str, start: &str) -> Subscription {
    Subscription {
        customer: "c".into(),
        plan: plan.into(),
        start: Some(t(start)),
        ..Default::default()
    }
}

fn event(m: &mut Meter, b: &PriceBook, id: &str, product: &str, time: &str, data: Value) -> Status {
    let e = json!({"specversion": "1.0", "id": id, "source": "s", "type": product, "subject": "c",
        "time": time, "data": data});
    let r = m.record(b, &parse_event(&e).unwrap(), t(time));
    assert_ne!(r.status, Status::Rejected, "{r:?}");
    r.status
}

fn records(m: &mut Meter) -> Value {
    serde_json::to_value(m.take_records()).unwrap()
}

const JAN: [&str; 2] = ["2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"];

fn period(p: [&str; 2]) -> Value {
    json!({"start": p[0], "end": p[1]})
}

#[test]
fn a_period_of_usage_records_its_thresholds_a_drop_and_its_invoices() {
    let b = book();
    let mut m = subscribe(&b, &sub("pro", JAN[0])).unwrap();
    event(
        &mut m,
        &b,
        "e1",
        "api",
        "2026-01-05T00:00:00Z",
        json!({"quantity": "500"}),
    );
    event(
        &mut m,
        &b,
        "e2",
        "api",
        "2026-01-10T00:00:00Z",
        json!({"quantity": "300"}),
    );
    event(
        &mut m,
        &b,
        "e3",
        "api",
        "2026-01-12T00:00:00Z",
        json!({"quantity": "700"}),
    );
    event(
        &mut m,
        &b,
        "e4",
        "domain",
        "2026-01-13T00:00:00Z",
        json!({"quantity": "1", "tld": ".com"}),
    );
    let dropped = event(
        &mut m,
        &b,
        "e5",
        "domain",
        "2026-01-14T00:00:00Z",
        json!({"quantity": "1", "tld": ".xyz"}),
    );
    assert_eq!(dropped, Status::Dropped);
    m.advance_to(&b, t(JAN[1])).unwrap();
    assert_eq!(
        records(&mut m),
        json!([
            {"type": "subscription.created", "customer": "c", "at": JAN[0], "plan": "pro"},
            {"type": "invoice.issued", "customer": "c", "at": JAN[0], "issued_at": JAN[0],
             "period": period(JAN), "total": "20.00", "currency": "USD"},
            {"type": "allowance.threshold_reached", "customer": "c", "at": "2026-01-10T00:00:00Z",
             "event": "e2", "source": "s", "product": "api", "threshold": "80", "used": "800", "limit": "1000",
             "period": period(JAN)},
            {"type": "allowance.threshold_reached", "customer": "c", "at": "2026-01-12T00:00:00Z",
             "event": "e3", "source": "s", "product": "api", "threshold": "100", "used": "1500", "limit": "1000",
             "period": period(JAN)},
            // 500 calls over at 0.01 and a .com domain at 12.00.
            {"type": "spend.threshold_reached", "customer": "c", "at": "2026-01-13T00:00:00Z",
             "event": "e4", "source": "s", "threshold": "10.00", "amount": "17.00", "currency": "USD",
             "period": period(JAN)},
            {"type": "usage_event.dropped", "customer": "c", "at": "2026-01-14T00:00:00Z",
             "event": "e5", "source": "s", "product": "domain", "price_key": ".xyz"},
            // January's usage (5.00 + 12.00) and February's platform fee.
            {"type": "invoice.issued", "customer": "c", "at": JAN[1], "issued_at": JAN[1],
             "period": period(JAN), "total": "37.00", "currency": "USD"}
        ])
    );
}

#[test]
fn rollover_is_recorded_and_thresholds_count_again_against_the_larger_allowance() {
    let b = book();
    let mut m = subscribe(&b, &sub("pro", JAN[0])).unwrap();
    m.take_records();
    event(
        &mut m,
        &b,
        "e1",
        "api",
        "2026-01-05T00:00:00Z",
        json!({"quantity": "800"}),
    );
    // February: 1,000 included + 200 rolled over; 80 % of 1,200 is 960.
    event(
        &mut m,
        &b,
        "e2",
        "api",
        "2026-02-03T00:00:00Z",
        json!({"quantity": "959"}),
    );
    event(
        &mut m,
        &b,
        "e3",
        "api",
        "2026-02-04T00:00:00Z",
        json!({"quantity": "1"}),
    );
    let feb = ["2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"];
    assert_eq!(
        records(&mut m),
        json!([
            {"type": "allowance.threshold_reached", "customer": "c", "at": "2026-01-05T00:00:00Z",
             "event": "e1", "source": "s", "product": "api", "threshold": "80", "used": "800", "limit": "1000",
             "period": period(JAN)},
            {"type": "allowance.rolled_over", "customer": "c", "at": JAN[1], "product": "api", "quantity": "200"},
            {"type": "invoice.issued", "customer": "c", "at": JAN[1], "issued_at": JAN[1],
             "period": period(JAN), "total": "20.00", "currency": "USD"},
            {"type": "allowance.threshold_reached", "customer": "c", "at": "2026-02-04T00:00:00Z",
             "event": "e3", "source": "s", "product": "api", "threshold": "80", "used": "960", "limit": "1200",
             "period": period(feb)}
        ])
    );
}

#[test]
fn plan_changes_and_cancellations_are_recorded_with_their_invoices() {
    let b = book();
    let mut m = subscribe(&b, &sub("pro", JAN[0])).unwrap();
    m.take_records();
    m.transition_plan(&b, "team", t("2026-01-16T12:00:00Z"), true).unwrap();
    m.cancel(&b, t("2026-01-20T00:00:00Z"), false).unwrap();
    // Asked again: no change, no second record.
    m.cancel(&b, t("2026-01-21T00:00:00Z"), false).unwrap();
    m.advance_to(&b, t(JAN[1])).unwrap();
    let change = ["2026-01-16T12:00:00Z", JAN[1]];
    assert_eq!(
        records(&mut m),
        json!([
            {"type": "subscription.plan_changed", "customer": "c", "at": change[0], "from": "pro", "to": "team"},
            // Half of January left: -10.00 for Pro's fee, +20.00 for Team's.
            {"type": "invoice.issued", "customer": "c", "at": change[0], "issued_at": change[0],
             "period": period(change), "total": "10.00", "currency": "USD"},
            {"type": "subscription.canceled", "customer": "c", "at": "2026-01-20T00:00:00Z",
             "mode": "period_end", "ends_at": JAN[1]},
            {"type": "invoice.issued", "customer": "c", "at": JAN[1], "issued_at": JAN[1],
             "period": period(change), "total": "0.00", "currency": "USD"}
        ])
    );

    let mut m = subscribe(&b, &sub("pro", JAN[0])).unwrap();
    m.take_records();
    m.cancel(&b, t("2026-01-20T00:00:00Z"), true).unwrap();
    let recs = records(&mut m);
    assert_eq!(
        recs[0],
        json!({"type": "subscription.canceled", "customer": "c", "at": "2026-01-20T00:00:00Z",
               "mode": "immediate", "ends_at": "2026-01-20T00:00:00Z"})
    );
    assert_eq!(recs[1]["type"], "invoice.issued");
    assert_eq!(recs.as_array().unwrap().len(), 2);
}

/// A credits-only plan: image generations cost one credit each, the
/// `boost` pack (100 credits, a month) warns at 20 left.
fn credits_book() -> PriceBook {
    PriceBook::from_value(&json!({
        "format": "price-book/v1", "id": "gen", "currency": "USD", "units": [{"code": "credits", "scale": 0}],
        "products": [{"id": "gen", "name": "Generations", "type": "metered"}],
        "plans": [{"id": "starter", "name": "Starter", "period": {"unit": "month", "length": 1},
            "items": [{"product": "gen", "price": {"model": "per_unit", "unit_amount": "1", "currency": "credits"}}]}],
        "credit_packs": [{"id": "boost", "credits": "100", "price": "10.00",
            "expires_after": {"unit": "month", "length": 1}, "low_balance": "20"}]
    }))
    .unwrap()
}

#[test]
fn credits_are_recorded_when_topped_up_low_and_expired() {
    let b = credits_book();
    let mut m = subscribe(&b, &sub("starter", JAN[0])).unwrap();
    m.take_records();
    m.purchase_credits(&b, "boost", t("2026-01-02T00:00:00Z")).unwrap();
    event(
        &mut m,
        &b,
        "g1",
        "gen",
        "2026-01-03T00:00:00Z",
        json!({"quantity": "70"}),
    );
    event(
        &mut m,
        &b,
        "g2",
        "gen",
        "2026-01-04T00:00:00Z",
        json!({"quantity": "15"}),
    );
    // Already low: no second record until the balance rises above 20.
    event(
        &mut m,
        &b,
        "g3",
        "gen",
        "2026-01-05T00:00:00Z",
        json!({"quantity": "5"}),
    );
    m.purchase_credits(&b, "boost", t("2026-01-20T00:00:00Z")).unwrap();
    // The first pack expires on Feb 2 with 10 credits left.
    m.advance_to(&b, t("2026-02-05T00:00:00Z")).unwrap();
    let recs = records(&mut m);
    let kinds: Vec<&str> = recs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "credits.topped_up",
            "invoice.issued",
            "credits.low_balance",
            "credits.topped_up",
            "invoice.issued",
            "invoice.issued",
            "credits.expired"
        ]
    );
    assert_eq!(
        recs[0],
        json!({"type": "credits.topped_up", "customer": "c", "at": "2026-01-02T00:00:00Z",
               "pack": "boost", "unit": "credits", "credits": "100", "balance": "100"})
    );
    assert_eq!(
        recs[2],
        json!({"type": "credits.low_balance", "customer": "c", "at": "2026-01-04T00:00:00Z",
               "event": "g2", "source": "s", "unit": "credits", "balance": "15", "threshold": "20"})
    );
    assert_eq!(recs[3]["balance"], "110");
    assert_eq!(
        recs[6],
        json!({"type": "credits.expired", "customer": "c", "at": "2026-02-02T00:00:00Z",
               "unit": "credits", "credits": "10", "grant": "boost", "balance": "100"})
    );
}

#[test]
fn an_automatic_top_up_names_the_event_that_needed_it() {
    let b = PriceBook::from_value(&json!({
        "format": "price-book/v1", "id": "gen", "currency": "USD", "units": [{"code": "credits", "scale": 0}],
        "products": [{"id": "gen", "name": "Generations", "type": "metered"}],
        "plans": [{"id": "starter", "name": "Starter", "period": {"unit": "month", "length": 1},
            "included_credits": "50", "low_balance": "10",
            "credit_overage": "auto_top_up", "auto_top_up": {"threshold": "5", "pack": "boost"},
            "items": [{"product": "gen", "price": {"model": "per_unit", "unit_amount": "1", "currency": "credits"}}]}],
        "credit_packs": [{"id": "boost", "credits": "100", "price": "10.00"}]
    }))
    .unwrap();
    let mut m = subscribe(&b, &sub("starter", JAN[0])).unwrap();
    m.take_records();
    // 50 included, 42 used: 8 left, at or below the plan's 10.
    event(
        &mut m,
        &b,
        "g1",
        "gen",
        "2026-01-03T00:00:00Z",
        json!({"quantity": "42"}),
    );
    // 8 left, 20 needed: one pack bought for the event, 12 of it drawn.
    event(
        &mut m,
        &b,
        "g2",
        "gen",
        "2026-01-04T00:00:00Z",
        json!({"quantity": "20"}),
    );
    let recs = records(&mut m);
    assert_eq!(
        recs,
        json!([
            {"type": "credits.low_balance", "customer": "c", "at": "2026-01-03T00:00:00Z",
             "event": "g1", "source": "s", "unit": "credits", "balance": "8", "threshold": "10"},
            {"type": "credits.topped_up", "customer": "c", "at": "2026-01-04T00:00:00Z",
             "event": "g2", "source": "s", "pack": "boost", "unit": "credits", "credits": "100",
             "balance": "88", "automatic": true}
        ])
    );
}

#[test]
fn a_subscription_adds_its_own_spend_thresholds() {
    let b = book();
    let s = Subscription {
        spend_alert_thresholds: vec![d("3.00")],
        ..sub("pro", JAN[0])
    };
    let mut m = subscribe(&b, &s).unwrap();
    m.take_records();
    event(
        &mut m,
        &b,
        "e1",
        "api",
        "2026-01-05T00:00:00Z",
        json!({"quantity": "1400"}),
    );
    event(
        &mut m,
        &b,
        "e2",
        "api",
        "2026-01-06T00:00:00Z",
        json!({"quantity": "1000"}),
    );
    let recs = records(&mut m);
    let spend: Vec<(&str, &str, &str)> = recs
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["type"] == "spend.threshold_reached")
        .map(|r| {
            (
                r["event"].as_str().unwrap(),
                r["threshold"].as_str().unwrap(),
                r["amount"].as_str().unwrap(),
            )
        })
        .collect();
    // 400 over: 4.00 passes the subscription's 3.00; 1,400 over: 14.00 the plan's 10.00.
    assert_eq!(spend, [("e1", "3.00", "4.00"), ("e2", "10.00", "14.00")]);
}

#[test]
fn what_fired_survives_the_meters_json_and_resets_at_the_period_start() {
    let b = book();
    let mut m = subscribe(&b, &sub("pro", JAN[0])).unwrap();
    m.take_records();
    event(
        &mut m,
        &b,
        "e1",
        "api",
        "2026-01-05T00:00:00Z",
        json!({"quantity": "850"}),
    );
    assert_eq!(records(&mut m).as_array().unwrap().len(), 1);
    // As the Worker keeps it between requests.
    let text = serde_json::to_string(&m).unwrap();
    let mut m: Meter = serde_json::from_str(&text).unwrap();
    event(
        &mut m,
        &b,
        "e2",
        "api",
        "2026-01-06T00:00:00Z",
        json!({"quantity": "10"}),
    );
    assert_eq!(records(&mut m), json!([]), "80 % fired before the meter was stored");
    event(
        &mut m,
        &b,
        "e3",
        "api",
        "2026-01-07T00:00:00Z",
        json!({"quantity": "140"}),
    );
    let recs = records(&mut m);
    assert_eq!(recs[0]["threshold"], "100");
    // February starts afresh: 0 rolled over, 80 % of 1,000 again.
    event(
        &mut m,
        &b,
        "e4",
        "api",
        "2026-02-02T00:00:00Z",
        json!({"quantity": "800"}),
    );
    let recs = records(&mut m);
    let last = recs.as_array().unwrap().last().unwrap();
    assert_eq!(
        (last["type"].as_str(), last["threshold"].as_str()),
        (Some("allowance.threshold_reached"), Some("80"))
    );
}

#[test]
fn a_duplicate_or_rejected_event_records_nothing() {
    let b = book();
    let mut m = subscribe(&b, &sub("pro", JAN[0])).unwrap();
    m.take_records();
    event(
        &mut m,
        &b,
        "e1",
        "api",
        "2026-01-05T00:00:00Z",
        json!({"quantity": "900"}),
    );
    m.take_records();
    let e = json!({"specversion": "1.0", "id": "e1", "source": "s", "type": "api", "subject": "c",
        "time": "2026-01-05T00:00:00Z", "data": {"quantity": "900"}});
    assert_eq!(
        m.record(&b, &parse_event(&e).unwrap(), t("2026-01-06T00:00:00Z"))
            .status,
        Status::Duplicate
    );
    let bad = json!({"specversion": "1.0", "id": "e9", "source": "s", "type": "api", "subject": "c",
        "time": "2025-12-05T00:00:00Z", "data": {"quantity": "900"}});
    assert_eq!(
        m.record(&b, &parse_event(&bad).unwrap(), t("2026-01-06T00:00:00Z"))
            .status,
        Status::Rejected
    );
    assert_eq!(records(&mut m), json!([]));
}

#[test]
fn records_parse_back_from_their_json() {
    let b = book();
    let mut m = subscribe(&b, &sub("pro", JAN[0])).unwrap();
    event(
        &mut m,
        &b,
        "e1",
        "api",
        "2026-01-05T00:00:00Z",
        json!({"quantity": "2000"}),
    );
    m.cancel(&b, t("2026-01-20T00:00:00Z"), true).unwrap();
    let recs = m.take_records();
    let text = serde_json::to_string(&recs).unwrap();
    let back: Vec<rating::meter::Record> = serde_json::from_str(&text).unwrap();
    assert_eq!(back, recs);
    let kinds: Vec<&str> = recs.iter().map(|r| r.kind().as_str()).collect();
    assert_eq!(
        kinds,
        [
            "subscription.created",
            "invoice.issued",
            "allowance.threshold_reached",
            "allowance.threshold_reached",
            "spend.threshold_reached",
            "subscription.canceled",
            "invoice.issued"
        ]
    );
}

#[test]
fn credits_that_expire_mid_period_are_recorded_at_their_expiry_even_when_nothing_happens_until_the_close() {
    let mut v = serde_json::to_value(credits_book().doc()).unwrap();
    v["credit_packs"][0]["expires_after"] = json!({"unit": "day", "length": 10});
    let b = PriceBook::from_value(&v).unwrap();
    let mut m = subscribe(&b, &sub("starter", JAN[0])).unwrap();
    m.purchase_credits(&b, "boost", t("2026-01-02T00:00:00Z")).unwrap();
    m.take_records();
    m.advance_to(&b, t(JAN[1])).unwrap();
    assert_eq!(
        records(&mut m),
        json!([
            {"type": "credits.expired", "customer": "c", "at": "2026-01-12T00:00:00Z",
             "unit": "credits", "credits": "100", "grant": "boost", "balance": "0"},
            {"type": "credits.low_balance", "customer": "c", "at": "2026-01-12T00:00:00Z",
             "unit": "credits", "balance": "0", "threshold": "20"},
            {"type": "invoice.issued", "customer": "c", "at": JAN[1], "issued_at": JAN[1],
             "period": period(JAN), "total": "0.00", "currency": "USD"}
        ])
    );
}

#[test]
fn a_meter_saved_with_records_of_the_old_shapes_still_restores() {
    let m = subscribe(&book(), &sub("pro", JAN[0])).unwrap();
    let mut state = serde_json::to_value(&m).unwrap();
    let kept = state["records"][0].clone();
    state["records"] = json!([
        {"type": "credits.purchased", "at": "2026-01-01T00:00:00Z", "product": "boost", "quantity": "100"},
        kept
    ]);
    let mut restored: Meter = serde_json::from_value(state).unwrap();
    assert_eq!(
        records(&mut restored),
        json!([{"type": "subscription.created", "customer": "c", "at": JAN[0], "plan": "pro"}])
    );
}
