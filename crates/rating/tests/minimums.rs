//! Spending minimums on the meter's invoices (docs/metering.md "Minimums"):
//! a period's minimum lines, prorated in a partial first period and on an
//! immediate cancellation, and shown by the invoice preview.

use rating::event::parse_event;
use rating::meter::{subscribe, Invoice, Meter, Status, Subscription};
use rating::period::parse_timestamp;
use rating::quote::LineKind;
use rating::PriceBook;
use serde_json::json;

fn t(s: &str) -> rating::period::Timestamp {
    parse_timestamp(s).unwrap()
}

/// Pro: platform 10.00 a month; API calls at 0.10 with a 30.00 minimum;
/// the plan's minimum 100.00. Lite: no minimums. Proration by whole days.
fn book() -> PriceBook {
    PriceBook::from_value(&book_json()).unwrap()
}

fn book_json() -> serde_json::Value {
    json!({
        "format": "price-book/v1", "id": "minimums", "currency": "USD", "proration": "by_day",
        "products": [
            {"id": "platform", "name": "Platform", "type": "recurring"},
            {"id": "api", "name": "API calls", "type": "metered"}
        ],
        "plans": [{"id": "pro", "name": "Pro", "period": {"unit": "month", "length": 1}, "setup_fee": "500.00",
            "minimum_amount": "100.00",
            "items": [
                {"product": "platform", "price": {"model": "flat", "amount": "10.00"}},
                {"product": "api", "price": {"model": "per_unit", "unit_amount": "0.10"}, "minimum_amount": "30.00"}
            ]},
            {"id": "lite", "name": "Lite", "period": {"unit": "month", "length": 1},
            "items": [
                {"product": "platform", "price": {"model": "flat", "amount": "5.00"}},
                {"product": "api", "price": {"model": "per_unit", "unit_amount": "0.10"}}
            ]}]
    })
}

fn subscribed(b: &PriceBook, start: &str, anchor: &str) -> Meter {
    let sub = Subscription {
        customer: "cus_1".into(),
        plan: "pro".into(),
        start: Some(t(start)),
        anchor: Some(t(anchor)),
        ..Default::default()
    };
    let mut m = subscribe(b, &sub).unwrap();
    let calls = json!({"specversion": "1.0", "id": "e1", "source": "app", "type": "api",
        "subject": "cus_1", "time": "2026-01-12T00:00:00Z", "data": {"quantity": "50"}});
    let r = m.record(b, &parse_event(&calls).unwrap(), t("2026-01-12T00:00:00Z"));
    assert_eq!(r.status, Status::Accepted);
    m
}

/// (product, kind, amount) of each line.
fn lines(inv: &Invoice) -> Vec<(&str, LineKind, &str)> {
    inv.lines
        .iter()
        .map(|l| (l.product.as_str(), l.kind, l.amount.as_str()))
        .collect()
}

#[test]
fn a_whole_period_below_both_minimums_gets_both_top_ups() {
    let b = book();
    let mut m = subscribed(&b, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z");
    m.advance_to(&b, t("2026-02-01T00:00:00Z")).unwrap();
    let invoices = m.take_invoices();
    let closing = invoices.last().unwrap();
    // Usage 50 × 0.10 = 5.00, topped up to 30.00; the plan charged
    // 10.00 + 5.00 + 25.00 = 40.00, topped up to 100.00; setup left out.
    // Then February's advance charge.
    assert_eq!(
        lines(closing),
        vec![
            ("api", LineKind::Usage, "5.00"),
            ("api", LineKind::Minimum, "25.00"),
            ("pro", LineKind::Minimum, "60.00"),
            ("platform", LineKind::Recurring, "10.00"),
        ]
    );
    let minimum = &closing.lines[2];
    assert_eq!(minimum.period.start, "2026-01-01T00:00:00Z");
    assert_eq!(minimum.period.end, "2026-02-01T00:00:00Z");
    assert_eq!(minimum.description, "Pro minimum");
    assert_eq!(closing.total, "100.00");
}

#[test]
fn a_partial_first_period_prorates_the_minimums_like_the_advance_charge() {
    let b = book();
    // Calendar billing from 11 January: 21 of January's 31 days.
    let mut m = subscribed(&b, "2026-01-11T00:00:00Z", "2026-01-01T00:00:00Z");
    m.advance_to(&b, t("2026-02-01T00:00:00Z")).unwrap();
    let invoices = m.take_invoices();
    assert_eq!(lines(&invoices[0])[1], ("platform", LineKind::Recurring, "6.77"));
    // API: 30 × 21/31 = 20.3225… − 5.00 → 15.32. Plan: 100 × 21/31 =
    // 67.7419… − (6.77 + 5.00 + 15.32 = 27.09) = 40.6519… → 40.65.
    let closing = invoices.last().unwrap();
    assert_eq!(
        lines(closing)[..3],
        [
            ("api", LineKind::Usage, "5.00"),
            ("api", LineKind::Minimum, "15.32"),
            ("pro", LineKind::Minimum, "40.65"),
        ]
    );
    assert_eq!(closing.lines[2].description, "Pro minimum (prorated 0.677419)");
}

#[test]
fn an_immediate_cancellation_prorates_the_minimums_of_the_last_period() {
    let b = book();
    let mut m = subscribed(&b, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z");
    m.cancel(&b, t("2026-01-16T00:00:00Z"), true).unwrap();
    let invoices = m.take_invoices();
    // 15 of 31 days used: 16/31 of the 10.00 paid is credited (−5.16).
    // API: 30 × 15/31 = 14.5161… − 5.00 → 9.52. Plan: 100 × 15/31 =
    // 48.3870… − (10.00 − 5.16 + 5.00 + 9.52 = 19.36) = 29.0270… → 29.03.
    assert_eq!(
        lines(invoices.last().unwrap()),
        vec![
            ("api", LineKind::Usage, "5.00"),
            ("platform", LineKind::Credit, "-5.16"),
            ("api", LineKind::Minimum, "9.52"),
            ("pro", LineKind::Minimum, "29.03"),
        ]
    );
}

#[test]
fn the_preview_shows_the_period_minimums_against_the_charges_so_far() {
    let b = book();
    let m = subscribed(&b, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z");
    let preview = m.preview_invoice(&b, t("2026-01-20T00:00:00Z")).unwrap();
    assert_eq!(
        lines(&preview),
        vec![
            ("api", LineKind::Usage, "5.00"),
            ("api", LineKind::Minimum, "25.00"),
            ("pro", LineKind::Minimum, "60.00"),
        ]
    );
}

#[test]
fn charges_at_or_above_the_minimums_add_no_line() {
    let b = book();
    let mut m = subscribed(&b, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z");
    // 50 + 850 calls: 90.00 of usage (above 30.00); plan 10.00 + 90.00 = 100.00.
    let more = json!({"specversion": "1.0", "id": "e2", "source": "app", "type": "api",
        "subject": "cus_1", "time": "2026-01-13T00:00:00Z", "data": {"quantity": "850"}});
    m.record(&b, &parse_event(&more).unwrap(), t("2026-01-13T00:00:00Z"));
    m.advance_to(&b, t("2026-02-01T00:00:00Z")).unwrap();
    let invoices = m.take_invoices();
    let closing = invoices.last().unwrap();
    assert!(
        closing.lines.iter().all(|l| l.kind != LineKind::Minimum),
        "{closing:#?}"
    );
    assert_eq!(closing.lines[0].amount, "90.00");
}

#[test]
fn an_immediate_plan_change_prorates_the_old_plans_minimums() {
    let b = book();
    let mut m = subscribed(&b, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z");
    m.transition_plan(&b, "lite", t("2026-01-16T00:00:00Z"), true).unwrap();
    let invoices = m.take_invoices();
    // Pro ran 15 of 31 days: the same minimums as a cancellation then;
    // Lite, without minimums, charges 5.00 × 16/31 = 2.58 for the rest.
    let change = invoices.last().unwrap();
    let minimums: Vec<_> = lines(change).into_iter().filter(|l| l.1 == LineKind::Minimum).collect();
    assert_eq!(
        minimums,
        vec![("api", LineKind::Minimum, "9.52"), ("pro", LineKind::Minimum, "29.03")]
    );
    assert_eq!(change.lines.last().map(|l| l.amount.as_str()), Some("2.58"));
    m.advance_to(&b, t("2026-02-01T00:00:00Z")).unwrap();
    let closing = m.take_invoices();
    assert!(
        closing[0].lines.iter().all(|l| l.kind != LineKind::Minimum),
        "{closing:#?}"
    );
}

#[test]
fn late_usage_of_an_earlier_period_does_not_count_towards_the_next_minimum() {
    let mut doc = book_json();
    doc["late_event_grace"] = json!({"unit": "day", "length": 3});
    let b = PriceBook::from_value(&doc).unwrap();
    let mut m = subscribed(&b, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z");
    let late = json!({"specversion": "1.0", "id": "late", "source": "app", "type": "api",
        "subject": "cus_1", "time": "2026-01-31T12:00:00Z", "data": {"quantity": "300"}});
    let r = m.record(&b, &parse_event(&late).unwrap(), t("2026-02-02T00:00:00Z"));
    assert_eq!(r.status, Status::Accepted);
    m.advance_to(&b, t("2026-03-01T00:00:00Z")).unwrap();
    let invoices = m.take_invoices();
    let february = invoices.last().unwrap();
    // January's late 30.00 is billed in February but belongs to January:
    // February's API charge is 0.00 (minimum 30.00) and the plan's 10.00 +
    // 0.00 + 30.00 = 40.00 (minimum 60.00).
    let minimums: Vec<_> = lines(february)
        .into_iter()
        .filter(|l| l.1 == LineKind::Minimum)
        .collect();
    assert_eq!(
        minimums,
        vec![("api", LineKind::Minimum, "30.00"), ("pro", LineKind::Minimum, "60.00")]
    );
    assert!(february
        .lines
        .iter()
        .any(|l| l.amount == "30.00" && l.period.start == "2026-01-01T00:00:00Z"));
}
