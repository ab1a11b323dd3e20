//! A new price book version applies to a subscription from its next
//! period (docs/metering.md "Price book versions"): the open period is
//! invoiced with the version its receipts named.

use rating::event::parse_event;
use rating::meter::{subscribe, Meter, Status, Subscription};
use rating::period::{parse_timestamp, Timestamp};
use rating::PriceBook;
use rust_decimal::Decimal;
use serde_json::json;

fn book(platform: &str, builds: bool) -> PriceBook {
    let mut products = vec![json!({"id": "platform", "name": "Platform", "type": "recurring"})];
    let mut items = vec![json!({"product": "platform", "price": {"model": "flat", "amount": platform}})];
    if builds {
        products.push(json!({"id": "builds", "name": "Builds", "type": "metered"}));
        items.push(json!({"product": "builds", "price": {"model": "per_unit", "unit_amount": "20.00"}}));
    }
    PriceBook::from_value(&json!({
        "format": "price-book/v1", "id": "versions", "currency": "USD",
        "products": products,
        "plans": [{"id": "team", "name": "Team", "period": {"unit": "month", "length": 1}, "items": items}]
    }))
    .expect("valid book")
}

fn t(s: &str) -> Timestamp {
    parse_timestamp(s).expect("timestamp")
}

fn meter(book: &PriceBook) -> Meter {
    let sub = Subscription {
        customer: "cus_1".into(),
        plan: "team".into(),
        start: Some(t("2026-01-01T00:00:00Z")),
        ..Subscription::default()
    };
    subscribe(book, &sub).expect("subscribe")
}

fn build(m: &mut Meter, book: &PriceBook, id: &str, at: &str) -> rating::meter::Receipt {
    let ev = parse_event(&json!({"specversion": "1.0", "id": id, "source": "s", "type": "builds",
        "subject": "cus_1", "time": at, "data": {"quantity": "1"}}))
    .expect("event");
    m.record(book, &ev, t(at))
}

#[test]
fn the_open_period_keeps_its_version_and_the_next_takes_the_new_one() {
    let a = book("10.00", true);
    let b = book("15.00", false);
    let mut m = meter(&a);
    m.take_invoices();
    let r = build(&mut m, &a, "b1", "2026-01-10T00:00:00Z");
    assert_eq!(r.status, Status::Accepted);
    assert_eq!(r.price_book.as_deref(), Some(a.hash()));
    // Book B lacks `builds`; the open period is still invoiced with A.
    assert!(m.fits(&b));
    assert!(!m
        .advance_across(&a, &b, t("2026-01-20T00:00:00Z"))
        .expect("nothing to close"));
    assert!(m.advance_across(&a, &b, t("2026-02-01T00:00:00Z")).expect("close"));
    let invoices = m.take_invoices();
    assert_eq!(invoices.len(), 1);
    let inv = &invoices[0];
    assert_eq!(inv.price_book, a.hash());
    let usage: Vec<_> = inv.lines.iter().filter(|l| l.product == "builds").collect();
    assert_eq!(usage.len(), 1);
    assert_eq!(usage[0].amount, "20.00");
    assert_eq!(usage[0].period.start, "2026-01-01T00:00:00Z");
    let fee = inv
        .lines
        .iter()
        .find(|l| l.product == "platform")
        .expect("the next period's fee");
    assert_eq!(
        (fee.amount.as_str(), fee.period.start.as_str()),
        ("15.00", "2026-02-01T00:00:00Z")
    );
    // From then on B prices: `builds` is unknown.
    let r = build(&mut m, &b, "b2", "2026-02-02T00:00:00Z");
    assert_eq!(r.status, Status::Rejected);
    assert_eq!(r.error.map(|p| p.code.as_str()), Some("unknown_product"));
}

#[test]
fn a_version_without_the_plan_leaves_the_subscription_where_it_is() {
    let a = book("10.00", true);
    let other = PriceBook::from_value(&json!({
        "format": "price-book/v1", "id": "other", "currency": "USD",
        "products": [{"id": "platform", "name": "Platform", "type": "recurring"}],
        "plans": [{"id": "solo", "name": "Solo", "period": {"unit": "month", "length": 1},
                   "items": [{"product": "platform", "price": {"model": "flat", "amount": "1.00"}}]}]
    }))
    .expect("valid book");
    let mut m = meter(&a);
    m.take_invoices();
    assert!(!m.fits(&other));
    assert!(!m
        .advance_across(&a, &other, t("2026-03-01T00:00:00Z"))
        .expect("close on A"));
    let fees: Vec<String> = m
        .take_invoices()
        .iter()
        .flat_map(|i| {
            i.lines
                .iter()
                .filter(|l| l.product == "platform")
                .map(|l| l.amount.clone())
        })
        .collect();
    assert_eq!(fees, ["10.00", "10.00"]);
}

#[test]
fn moving_to_the_same_version_is_advancing() {
    let a = book("10.00", true);
    let mut one = meter(&a);
    let mut two = meter(&a);
    for m in [&mut one, &mut two] {
        build(m, &a, "b1", "2026-01-03T00:00:00Z");
        build(m, &a, "b2", "2026-01-04T00:00:00Z");
    }
    one.advance_to(&a, t("2026-04-01T00:00:00Z")).expect("advance");
    two.advance_across(&a, &a, t("2026-04-01T00:00:00Z")).expect("advance");
    assert_eq!(one, two);
    let total = |m: &mut Meter| m.take_invoices().iter().map(|i| i.total_value).sum::<Decimal>();
    assert_eq!(total(&mut one), total(&mut two));
}
