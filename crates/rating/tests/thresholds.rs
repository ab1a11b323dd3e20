//! Alert thresholds (docs/metering.md "Records"): the price-book and
//! subscription fields read strictly, and the rule that a period's
//! thresholds fire the same whatever order its events arrive in.

use proptest::prelude::*;
use rating::event::parse_event;
use rating::meter::{subscribe, Record, Status, Subscription};
use rating::period::parse_timestamp;
use rating::subscription::{Document, Request};
use rating::PriceBook;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::str::FromStr;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

// ------------------------------------------------------------ reading

fn book() -> Value {
    json!({
        "format": "price-book/v1", "id": "t", "currency": "USD", "units": [{"code": "credits", "scale": 0}],
        "products": [
            {"id": "platform", "name": "Platform", "type": "recurring"},
            {"id": "api", "name": "API calls", "type": "metered"},
            {"id": "gen", "name": "Generations", "type": "metered"}
        ],
        "plans": [{"id": "pro", "name": "Pro", "period": {"unit": "month", "length": 1},
            "spend_alert_thresholds": ["50.00", 100], "low_balance": "20",
            "items": [
                {"product": "platform", "price": {"model": "flat", "amount": "20.00"}},
                {"product": "api", "included_quantity": "1000", "alert_thresholds": ["80", 100, "150.5"],
                 "price": {"model": "per_unit", "unit_amount": "0.01"}},
                {"product": "gen", "price": {"model": "per_unit", "unit_amount": "1", "currency": "credits"}}
            ]}],
        "credit_packs": [{"id": "boost", "credits": "100", "price": "10.00", "low_balance": "5"}]
    })
}

fn problems(v: &Value) -> Vec<(String, String)> {
    let e = PriceBook::from_value(v).unwrap_err();
    e.errors
        .iter()
        .map(|p| (p.code.to_string(), p.path.clone().unwrap_or_default()))
        .collect()
}

#[test]
fn thresholds_are_kept_as_written_and_round_trip() {
    let b = PriceBook::from_value(&book()).unwrap();
    let plan = b.plan("pro").unwrap();
    assert_eq!(plan.spend_alert_thresholds, [d("50.00"), d("100")]);
    assert_eq!(plan.low_balance, Some(d("20")));
    assert_eq!(plan.items[1].alert_thresholds, [d("80"), d("100"), d("150.5")]);
    assert_eq!(b.credit_pack("boost").unwrap().low_balance, Some(d("5")));
    let again = PriceBook::from_value(&b.to_value()).unwrap();
    assert_eq!(again.hash(), b.hash());
    assert_eq!(
        b.to_value()["plans"][0]["spend_alert_thresholds"],
        json!(["50.00", "100"])
    );
}

#[test]
fn bad_thresholds_are_named_by_their_paths() {
    let mut v = book();
    v["plans"][0]["items"][1]["alert_thresholds"] = json!(["80", "abc", "0", "80.0", "-5"]);
    v["plans"][0]["spend_alert_thresholds"] = json!("50");
    v["plans"][0]["low_balance"] = json!("-1");
    v["credit_packs"][0]["low_balance"] = json!("lots");
    let p = problems(&v);
    let item = "plans[0].items[1].alert_thresholds";
    for (code, path) in [
        ("invalid_decimal", format!("{item}[1]")),
        ("invalid_value", format!("{item}[2]")),
        ("duplicate_value", format!("{item}[3]")),
        ("negative_value", format!("{item}[4]")),
        ("invalid_type", "plans[0].spend_alert_thresholds".to_string()),
        ("negative_value", "plans[0].low_balance".to_string()),
        ("invalid_decimal", "credit_packs[0].low_balance".to_string()),
    ] {
        assert!(
            p.contains(&(code.to_string(), path.clone())),
            "{code} at {path} in {p:?}"
        );
    }
    assert_eq!(p.len(), 7, "{p:?}");
}

#[test]
fn thresholds_where_they_mean_nothing_are_refused() {
    let mut v = book();
    // A recurring item has no usage; an item without an allowance has no percent.
    v["plans"][0]["items"][0]["alert_thresholds"] = json!(["80"]);
    v["plans"][0]["items"][2]["alert_thresholds"] = json!(["80"]);
    let p = problems(&v);
    assert_eq!(
        p,
        [
            (
                "field_not_allowed".to_string(),
                "plans[0].items[0].alert_thresholds".to_string()
            ),
            (
                "field_not_allowed".to_string(),
                "plans[0].items[2].alert_thresholds".to_string()
            ),
        ]
    );
    // A low balance is a credit amount: a book without credits has none.
    let mut v = book();
    v.as_object_mut().unwrap().shift_remove("units");
    v.as_object_mut().unwrap().shift_remove("credit_packs");
    v["plans"][0]["items"].as_array_mut().unwrap().pop();
    let p = problems(&v);
    assert_eq!(
        p,
        [("field_not_allowed".to_string(), "plans[0].low_balance".to_string())]
    );
}

#[test]
fn a_misspelt_threshold_field_is_unknown_and_a_long_list_is_refused() {
    let mut v = book();
    v["plans"][0]["items"][1]["alert_threshold"] = json!(["80"]);
    v["plans"][0]["spend_alert_thresholds"] = json!((1..=33).map(|i| i.to_string()).collect::<Vec<_>>());
    let p = problems(&v);
    assert!(p.contains(&(
        "unknown_field".to_string(),
        "plans[0].items[1].alert_threshold".to_string()
    )));
    assert!(p.contains(&(
        "invalid_value".to_string(),
        "plans[0].spend_alert_thresholds".to_string()
    )));
}

#[test]
fn the_schema_bounds_threshold_lists_as_the_reader_does() {
    let schema: Value = serde_json::from_str(include_str!("../../../schema/price-book.v1.json")).unwrap();
    let item = &schema["$defs"]["PlanItem"]["properties"]["alert_thresholds"];
    let plan = &schema["$defs"]["Plan"]["properties"]["spend_alert_thresholds"];
    for list in [item, plan] {
        assert_eq!(list["maxItems"], json!(rating::price_book::MAX_THRESHOLDS));
    }
}

#[test]
fn a_subscription_request_reads_its_spend_thresholds_strictly() {
    let r = Request::read(&json!({"spend_alert_thresholds": ["25.00", 75]})).unwrap();
    assert_eq!(r.spend_alert_thresholds, Some(vec![d("25.00"), d("75")]));
    let e = Request::read(&json!({"spend_alert_thresholds": ["5", "x", "5.0", "0"]})).unwrap_err();
    let p: Vec<(String, String)> = e
        .errors
        .iter()
        .map(|p| (p.code.to_string(), p.path.clone().unwrap_or_default()))
        .collect();
    assert_eq!(
        p,
        [
            ("invalid_decimal".to_string(), "spend_alert_thresholds[1]".to_string()),
            ("duplicate_value".to_string(), "spend_alert_thresholds[2]".to_string()),
            ("invalid_value".to_string(), "spend_alert_thresholds[3]".to_string()),
        ]
    );
    let e = Request::read(&json!({"spend_alert_thresholds": "5"})).unwrap_err();
    assert_eq!(
        (e.code.as_str(), e.path.as_deref()),
        ("invalid_type", Some("spend_alert_thresholds"))
    );
    // Absent: keep the ones in force; empty: none of the subscription's own.
    assert_eq!(Request::read(&json!({})).unwrap().spend_alert_thresholds, None);
    assert_eq!(
        Request::read(&json!({"spend_alert_thresholds": []}))
            .unwrap()
            .spend_alert_thresholds,
        Some(vec![])
    );
}

#[test]
fn a_later_request_replaces_the_subscriptions_thresholds_and_a_passed_one_fires_at_once() {
    let b = PriceBook::from_value(&book()).unwrap();
    let doc = Document::read(&json!({"customer": "c", "plan": "pro", "start": "2026-01-01T00:00:00Z",
        "spend_alert_thresholds": ["5.00"]}))
    .unwrap();
    let mut m = doc.subscribe(&b).unwrap();
    assert_eq!(m.spend_alert_thresholds, [d("5.00")]);
    let at = parse_timestamp("2026-01-10T00:00:00Z").unwrap();
    let e = json!({"specversion": "1.0", "id": "e1", "source": "s", "type": "api", "subject": "c",
        "time": "2026-01-10T00:00:00Z", "data": {"quantity": "1300"}});
    assert_eq!(m.record(&b, &parse_event(&e).unwrap(), at).status, Status::Accepted);
    m.take_records();
    // 3.00 spent: a new threshold of 2.00 is already passed.
    let req = Request::read(&json!({"spend_alert_thresholds": ["2.00", "4.00"]})).unwrap();
    rating::subscription::change(&b, &mut m, &req, parse_timestamp("2026-01-11T00:00:00Z").unwrap()).unwrap();
    assert_eq!(m.spend_alert_thresholds, [d("2.00"), d("4.00")]);
    let recs = serde_json::to_value(m.take_records()).unwrap();
    assert_eq!(
        recs,
        json!([{"type": "spend.threshold_reached", "customer": "c", "at": "2026-01-11T00:00:00Z",
                "threshold": "2.00", "amount": "3.00", "currency": "USD",
                "period": {"start": "2026-01-01T00:00:00Z", "end": "2026-02-01T00:00:00Z"}}])
    );
}

// ------------------------------------------------- order of arrival

/// Every aggregation and a volume price, each with allowance alerts, and
/// spend alerts on the plan and the subscription.
fn order_book() -> PriceBook {
    PriceBook::from_value(&json!({
        "format": "price-book/v1", "id": "o", "currency": "USD",
        "products": [
            {"id": "calls", "name": "Calls", "type": "metered"},
            {"id": "vol", "name": "Volume", "type": "metered"},
            {"id": "region", "name": "Regions", "type": "metered", "price_key_label": "region"},
            {"id": "gauge", "name": "Gauge", "type": "metered", "aggregation": "last"},
            {"id": "peak", "name": "Peak", "type": "metered", "aggregation": "max"},
            {"id": "users", "name": "Users", "type": "metered", "aggregation": "unique_count", "property": "user"},
            {"id": "builds", "name": "Builds", "type": "metered", "aggregation": "count"}
        ],
        "plans": [{"id": "p", "name": "P", "period": {"unit": "month", "length": 1},
            "spend_alert_thresholds": ["0.50", "1.00", "2.00", "5.00", "10.00", "20.00", "50.00", "100.00", "200.00"],
            "items": [
                {"product": "calls", "included_quantity": "100", "alert_thresholds": ["50", "80", "100", "150", "300"],
                 "price": {"model": "graduated", "tiers": [{"up_to": "100", "unit_amount": "0.02"}, {"up_to": null, "unit_amount": "0.01", "flat_amount": "1"}]}},
                {"product": "vol", "included_quantity": "20", "alert_thresholds": ["25", "100", "500"],
                 "price": {"model": "volume", "tiers": [{"up_to": "10", "unit_amount": "0.5"}, {"up_to": "100", "unit_amount": "0.3"}, {"up_to": null, "unit_amount": "0.1", "flat_amount": "2"}]}},
                {"product": "region", "included_quantity": "30", "alert_thresholds": ["50", "100", "200"],
                 "prices": {"eu": {"model": "per_unit", "unit_amount": "0.05"},
                            "us": {"model": "volume", "tiers": [{"up_to": "40", "unit_amount": "0.2"}, {"up_to": null, "unit_amount": "0.1"}]}}},
                {"product": "gauge", "included_quantity": "10", "alert_thresholds": ["50", "100", "200", "400"],
                 "price": {"model": "volume", "tiers": [{"up_to": "25", "unit_amount": "1"}, {"up_to": null, "unit_amount": "0.4"}]}},
                {"product": "peak", "included_quantity": "5", "alert_thresholds": ["100", "300"],
                 "price": {"model": "per_unit", "unit_amount": "2.345"}},
                {"product": "users", "included_quantity": "3", "alert_thresholds": ["100", "200"],
                 "price": {"model": "per_unit", "unit_amount": "1.5"}},
                {"product": "builds", "included_quantity": "4", "alert_thresholds": ["75", "100"],
                 "price": {"model": "package", "package_size": "3", "package_amount": "0.75"}}
            ]}]
    }))
    .unwrap()
}

/// (product, quantity in hundredths, minute offset, region, user)
type Ev = (u8, u32, u32, u8, u8);

fn order_events() -> impl Strategy<Value = Vec<Ev>> {
    prop::collection::vec((0u8..7, 0u32..6_000, 0u32..40_000, 0u8..2, 0u8..6), 1..40)
}

/// What fired in the period: (type, product, threshold), with a check
/// that nothing fired twice.
fn fired(evs: &[Ev]) -> BTreeSet<(String, String, String)> {
    let b = order_book();
    let start = parse_timestamp("2026-01-01T00:00:00Z").unwrap();
    let sub = Subscription {
        customer: "c".into(),
        plan: "p".into(),
        start: Some(start),
        spend_alert_thresholds: vec![d("3.33")],
        ..Default::default()
    };
    let mut m = subscribe(&b, &sub).unwrap();
    // Every event is received at the period's last minute: only the order
    // of arrival changes between runs, never the receipt time.
    let received = parse_timestamp("2026-01-31T23:59:00Z").unwrap();
    for (i, (p, q, minute, region, user)) in evs.iter().enumerate() {
        let product = ["calls", "vol", "region", "gauge", "peak", "users", "builds"][*p as usize];
        let time = start + chrono::Duration::minutes(i64::from(*minute));
        let region = ["eu", "us"][*region as usize];
        let e = json!({"specversion": "1.0", "id": format!("e{i}"), "source": "s", "type": product, "subject": "c",
            "time": rating::period::fmt_timestamp(time),
            "data": {"quantity": Decimal::new(i64::from(*q), 2).to_string(), "region": region,
                     "user": format!("u{user}")}});
        let r = m.record(&b, &parse_event(&e).unwrap(), received);
        assert_eq!(r.status, Status::Accepted, "{r:?}");
    }
    let mut out = BTreeSet::new();
    for r in m.take_records() {
        let key = match &r {
            Record::AllowanceThresholdReached { product, threshold, .. } => {
                ("allowance", product.clone(), threshold.to_string())
            }
            Record::SpendThresholdReached { threshold, .. } => ("spend", String::new(), threshold.to_string()),
            _ => continue,
        };
        assert!(r.head().event.is_some(), "{r:?} names its event");
        let key = (key.0.to_string(), key.1, key.2);
        assert!(out.insert(key.clone()), "{key:?} fired twice");
    }
    out
}

fn shuffled(evs: &[Ev], seed: u64) -> Vec<Ev> {
    let mut out = evs.to_vec();
    let mut x = seed;
    for i in (1..out.len()).rev() {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        out.swap(i, (x >> 33) as usize % (i + 1));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The set of thresholds a period's events fire is the same in any
    /// order of arrival, and each fires at most once. (The event each
    /// record names may differ.)
    #[test]
    fn the_thresholds_that_fire_do_not_depend_on_the_order_of_events(evs in order_events(), seed in any::<u64>()) {
        let a = fired(&evs);
        let b = fired(&shuffled(&evs, seed));
        let mut reversed = evs.clone();
        reversed.reverse();
        let c = fired(&reversed);
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(&a, &c);
    }
}

/// The case that makes the volume rule necessary: 10 units cost 5.00, 11
/// cost 3.30. Sent as 10 then 1 the charge passes 4.00 and falls back;
/// sent as 1 then 10 it never shows 4.00. Both fire 4.00: the measure is
/// the highest charge on the way to 11 units.
#[test]
fn a_volume_charge_that_falls_back_still_fires_in_either_order() {
    let b = PriceBook::from_value(&json!({
        "format": "price-book/v1", "id": "v", "currency": "USD",
        "products": [{"id": "vol", "name": "Volume", "type": "metered"}],
        "plans": [{"id": "p", "name": "P", "period": {"unit": "month", "length": 1},
            "spend_alert_thresholds": ["4.00"],
            "items": [{"product": "vol", "price": {"model": "volume", "tiers": [
                {"up_to": "10", "unit_amount": "0.5"}, {"up_to": null, "unit_amount": "0.3"}]}}]}]
    }))
    .unwrap();
    for order in [["10", "1"], ["1", "10"]] {
        let start = parse_timestamp("2026-01-01T00:00:00Z").unwrap();
        let mut m = subscribe(
            &b,
            &Subscription {
                customer: "c".into(),
                plan: "p".into(),
                start: Some(start),
                ..Default::default()
            },
        )
        .unwrap();
        m.take_records();
        for (i, q) in order.iter().enumerate() {
            let e = json!({"specversion": "1.0", "id": format!("e{i}"), "source": "s", "type": "vol", "subject": "c",
                "time": "2026-01-02T00:00:00Z", "data": {"quantity": q}});
            m.record(
                &b,
                &parse_event(&e).unwrap(),
                parse_timestamp("2026-01-02T00:00:00Z").unwrap(),
            );
        }
        let recs = serde_json::to_value(m.take_records()).unwrap();
        let spend: Vec<&Value> = recs
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["type"] == "spend.threshold_reached")
            .collect();
        assert_eq!(spend.len(), 1, "{order:?}: {recs}");
        assert_eq!(spend[0]["threshold"], "4.00");
    }
}
