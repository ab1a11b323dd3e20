//! Prepaid credits and plan transitions, on the seeds' numbers.

use rating::event::parse_event;
use rating::meter::{subscribe, Meter, Status, Subscription};
use rating::period::parse_timestamp;
use rating::quote::LineKind;
use rating::PriceBook;
use rust_decimal::Decimal;
use serde_json::json;

fn t(s: &str) -> rating::period::Timestamp {
    parse_timestamp(s).unwrap()
}

fn credits_book(overage: serde_json::Value) -> PriceBook {
    let mut plan = json!({"id": "payg", "name": "Pay as you go", "period": {"unit": "month", "length": 1},
    "items": [
        {"product": "images", "price": {"model": "per_unit", "unit_amount": "2", "currency": "credits"}},
        {"product": "transcription", "price": {"model": "per_unit", "unit_amount": "1", "currency": "credits"}},
        {"product": "text", "price": {"model": "per_unit", "unit_amount": "0.01", "currency": "credits"}}
    ]});
    for (k, v) in overage.as_object().unwrap() {
        plan[k] = v.clone();
    }
    PriceBook::from_value(&json!({
        "format": "price-book/v1", "id": "ai", "currency": "USD",
        "units": [{"code": "credits", "scale": 2}],
        "products": [
            {"id": "images", "name": "HD images", "type": "metered"},
            {"id": "transcription", "name": "Transcription minutes", "type": "metered"},
            {"id": "text", "name": "Generated words", "type": "metered"}
        ],
        "plans": [plan],
        "credit_packs": [
            {"id": "starter", "name": "Starter Credits", "credits": "100", "price": "20.00", "expires_after": {"unit": "day", "length": 90}},
            {"id": "professional", "name": "Professional Credits", "credits": "500", "bonus": "50", "price": "85.00", "expires_after": {"unit": "day", "length": 180}},
            {"id": "enterprise", "name": "Enterprise Credits", "credits": "2000", "bonus": "300", "price": "300.00", "expires_after": {"unit": "day", "length": 365}}
        ]
    }))
    .unwrap()
}

fn start(b: &PriceBook, plan: &str) -> Meter {
    let s = Subscription {
        customer: "c".into(),
        plan: plan.into(),
        start: Some(t("2026-01-01T00:00:00Z")),
        ..Default::default()
    };
    let mut m = subscribe(b, &s).unwrap();
    m.take_invoices();
    m
}

fn use_(m: &mut Meter, b: &PriceBook, id: &str, product: &str, qty: &str, time: &str) -> rating::meter::Receipt {
    let e = parse_event(&json!({"specversion": "1.0", "id": id, "source": "s", "type": product, "subject": "c", "time": time, "data": {"quantity": qty}})).unwrap();
    m.record(b, &e, t(time))
}

#[test]
fn buy_500_plus_50_bonus_use_550_pay_nothing_more() {
    let b = credits_book(json!({}));
    let mut m = start(&b, "payg");
    m.purchase_credits(&b, "professional", t("2026-01-02T00:00:00Z"))
        .unwrap();
    let bought = m.take_invoices();
    assert_eq!(bought[0].total, "85.00");
    assert_eq!(
        use_(&mut m, &b, "1", "images", "100", "2026-01-03T00:00:00Z")
            .amount
            .as_deref(),
        Some("200.00")
    );
    assert_eq!(
        use_(&mut m, &b, "2", "transcription", "300", "2026-01-04T00:00:00Z")
            .amount
            .as_deref(),
        Some("300.00")
    );
    let r = use_(&mut m, &b, "3", "text", "5000", "2026-01-05T00:00:00Z");
    assert_eq!(
        (r.amount.as_deref(), r.currency.as_deref()),
        (Some("50.00"), Some("credits"))
    );
    assert_eq!(m.wallet.balance("credits", t("2026-01-05T00:00:00Z")).to_string(), "0");
    // The wallet is empty: under `reject` the next event is refused and changes nothing.
    let before = m.products.clone();
    let r = use_(&mut m, &b, "4", "images", "1", "2026-01-06T00:00:00Z");
    assert_eq!(r.error.map(|e| e.code.as_str()), Some("insufficient_credits"));
    assert_eq!(m.products, before);
    m.advance_to(&b, t("2026-02-01T00:00:00Z")).unwrap();
    let inv = m.take_invoices().remove(0);
    assert_eq!(inv.total, "0.00", "{inv:#?}");
    let credit_lines: Vec<_> = inv
        .lines
        .iter()
        .filter(|l| l.currency.as_deref() == Some("credits"))
        .map(|l| l.amount.as_str())
        .collect();
    assert_eq!(credit_lines, ["200.00", "300.00", "50.00"]);
}

#[test]
fn expired_credits_are_never_spent() {
    let b = credits_book(json!({}));
    let mut m = start(&b, "payg");
    m.purchase_credits(&b, "starter", t("2026-01-01T00:00:00Z")).unwrap();
    // 90 days later the starter credits have expired.
    let r = use_(&mut m, &b, "late", "transcription", "1", "2026-04-01T00:00:00Z");
    assert_eq!(r.error.map(|e| e.code.as_str()), Some("insufficient_credits"));
}

#[test]
fn drawdown_takes_the_soonest_expiring_first() {
    let b = credits_book(json!({}));
    let mut m = start(&b, "payg");
    m.purchase_credits(&b, "enterprise", t("2026-01-01T00:00:00Z")).unwrap();
    m.purchase_credits(&b, "starter", t("2026-01-02T00:00:00Z")).unwrap();
    use_(&mut m, &b, "1", "transcription", "150", "2026-01-03T00:00:00Z");
    let left: Vec<String> = m.wallet.grants.iter().map(|g| g.remaining.to_string()).collect();
    assert_eq!(left, ["2250", "0"]); // starter (expires first) emptied, 50 from enterprise
}

#[test]
fn overage_is_charged_at_the_overage_rate() {
    let b = credits_book(json!({"credit_overage": "charge", "overage_rate": "0.25"}));
    let mut m = start(&b, "payg");
    m.purchase_credits(&b, "starter", t("2026-01-01T00:00:00Z")).unwrap();
    m.take_invoices();
    let r = use_(&mut m, &b, "1", "transcription", "140", "2026-01-03T00:00:00Z");
    assert_eq!(r.status, Status::Accepted);
    m.advance_to(&b, t("2026-02-01T00:00:00Z")).unwrap();
    let inv = m.take_invoices().remove(0);
    assert_eq!(inv.total, "10.00"); // 40 credits beyond the 100 prepaid × $0.25
}

#[test]
fn subscription_with_included_credits_and_auto_top_up() {
    let b = PriceBook::from_value(&json!({
        "format": "price-book/v1", "id": "gw", "currency": "USD", "units": [{"code": "calls", "scale": 0}],
        "products": [{"id": "platform", "name": "Starter", "type": "recurring"}, {"id": "api", "name": "API calls", "type": "metered"}],
        "plans": [{"id": "starter", "name": "Starter", "period": {"unit": "month", "length": 1}, "included_credits": "100000",
            "credit_overage": "auto_top_up", "auto_top_up": {"threshold": "0", "pack": "topup"},
            "items": [{"product": "platform", "price": {"model": "flat", "amount": "29.00"}},
                      {"product": "api", "price": {"model": "per_unit", "unit_amount": "1", "currency": "calls"}}]}],
        "credit_packs": [{"id": "topup", "credits": "100000", "price": "25.00"}]
    }))
    .unwrap();
    let s = Subscription {
        customer: "c".into(),
        plan: "starter".into(),
        start: Some(t("2026-01-01T00:00:00Z")),
        ..Default::default()
    };
    let mut m = subscribe(&b, &s).unwrap();
    let first = m.take_invoices().remove(0);
    assert_eq!(first.total, "29.00");
    for i in 0..15 {
        let r = use_(&mut m, &b, &format!("e{i}"), "api", "10000", "2026-01-10T00:00:00Z");
        assert_eq!(r.status, Status::Accepted);
    }
    m.advance_to(&b, t("2026-02-01T00:00:00Z")).unwrap();
    let close = m.take_invoices().remove(0);
    let topups: Vec<&str> = close
        .lines
        .iter()
        .filter(|l| l.kind == LineKind::Credit)
        .map(|l| l.amount.as_str())
        .collect();
    assert_eq!(topups, ["25.00"]); // $29 + $25 = $54 for 150k calls
}

#[test]
fn upgrade_halfway_credits_the_old_price_and_charges_the_new() {
    let b = PriceBook::from_value(&json!({
        "format": "price-book/v1", "id": "saas", "currency": "USD", "proration": "by_second",
        "products": [{"id": "platform", "name": "Platform", "type": "recurring"},
                     {"id": "bw", "name": "Bandwidth", "type": "metered"}],
        "plans": [
            {"id": "hobby", "name": "Hobby", "period": {"unit": "month", "length": 1},
             "items": [{"product": "platform", "price": {"model": "flat", "amount": "20.00"}},
                       {"product": "bw", "included_quantity": "100", "price": {"model": "per_unit", "unit_amount": "1"}}]},
            {"id": "pro", "name": "Pro", "period": {"unit": "month", "length": 1},
             "items": [{"product": "platform", "price": {"model": "flat", "amount": "50.00"}},
                       {"product": "bw", "included_quantity": "1000", "price": {"model": "per_unit", "unit_amount": "0.5"}}]}
        ]
    }))
    .unwrap();
    let s = Subscription {
        customer: "c".into(),
        plan: "hobby".into(),
        start: Some(t("2026-04-01T00:00:00Z")),
        ..Default::default()
    };
    let mut m = subscribe(&b, &s).unwrap();
    m.take_invoices();
    use_(&mut m, &b, "u1", "bw", "90", "2026-04-10T00:00:00Z");
    m.transition_plan(&b, "pro", t("2026-04-16T00:00:00Z"), true).unwrap();
    let inv = m.take_invoices().remove(0);
    let amounts: Vec<(LineKind, &str)> = inv.lines.iter().map(|l| (l.kind, l.amount.as_str())).collect();
    // April has 30 days; 15 remain: credit 20 × ½, charge 50 × ½.
    assert_eq!(
        amounts,
        [
            (LineKind::Usage, "0.00"),
            (LineKind::Credit, "-10.00"),
            (LineKind::Recurring, "25.00")
        ]
    );
    let recs = serde_json::to_value(m.take_records()).unwrap();
    let changed = recs
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "subscription.plan_changed")
        .unwrap();
    assert_eq!(
        (&changed["type"], &changed["from"], &changed["to"]),
        (&json!("subscription.plan_changed"), &json!("hobby"), &json!("pro"))
    );
    // Allowance: 10 left of Hobby + 1000 × ½ of Pro = 510.
    let state = serde_json::to_value(m.allowance_state(&b, t("2026-04-20T00:00:00Z")).unwrap()).unwrap();
    assert_eq!(state["dimensions"][0]["included"], "510");
    let r = use_(&mut m, &b, "u2", "bw", "600", "2026-04-20T00:00:00Z");
    assert_eq!(r.amount.as_deref(), Some("45.00")); // 90 over × 0.5
}

/// Found by the `record` fuzz target: an event far beyond the wallet used to
/// buy one pack per loop turn (up to 10,000 grants and invoice lines, minutes
/// of work). The packs that cover it are now bought at once, in one line.
#[test]
fn a_huge_event_buys_every_top_up_it_needs_at_once() {
    let b = PriceBook::from_value(&json!({
        "format": "price-book/v1", "id": "gw", "currency": "USD", "units": [{"code": "calls", "scale": 0}],
        "products": [{"id": "api", "name": "API calls", "type": "metered"}],
        "plans": [{"id": "starter", "name": "Starter", "period": {"unit": "month", "length": 1},
            "credit_overage": "auto_top_up", "auto_top_up": {"threshold": "0", "pack": "topup"},
            "items": [{"product": "api", "price": {"model": "per_unit", "unit_amount": "1", "currency": "calls"}}]}],
        "credit_packs": [{"id": "topup", "credits": "100000", "price": "25.00"}]
    }))
    .unwrap();
    let s = Subscription {
        customer: "c".into(),
        plan: "starter".into(),
        start: Some(t("2026-01-01T00:00:00Z")),
        ..Default::default()
    };
    let mut m = subscribe(&b, &s).unwrap();
    m.take_invoices();
    let started = std::time::Instant::now();
    let r = use_(&mut m, &b, "big", "api", "1000000000050", "2026-01-10T00:00:00Z");
    assert_eq!(r.status, Status::Accepted, "{r:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    assert_eq!(m.wallet.grants.len(), 1);
    assert_eq!(m.wallet.grants[0].remaining, Decimal::from(99_950));
    m.advance_to(&b, t("2026-02-01T00:00:00Z")).unwrap();
    let close = m.take_invoices().remove(0);
    let topups: Vec<(&str, &str)> = close
        .lines
        .iter()
        .filter(|l| l.kind == LineKind::Credit)
        .map(|l| (l.quantity.as_str(), l.amount.as_str()))
        .collect();
    // 10,000,001 packs of 100k calls at $25.
    assert_eq!(topups, [("10000001", "250000025.00")]);
}
