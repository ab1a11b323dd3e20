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
        .advance_across(&a, &b, t("2026-01-10T00:00:00Z"), t("2026-01-20T00:00:00Z"))
        .expect("nothing to close"));
    assert!(m
        .advance_across(&a, &b, t("2026-01-10T00:00:00Z"), t("2026-02-01T00:00:00Z"))
        .expect("close"));
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
        .advance_across(&a, &other, t("2026-01-10T00:00:00Z"), t("2026-03-01T00:00:00Z"))
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
    two.advance_across(&a, &a, t("2026-01-10T00:00:00Z"), t("2026-04-01T00:00:00Z"))
        .expect("advance");
    assert_eq!(one, two);
    let total = |m: &mut Meter| m.take_invoices().iter().map(|i| i.total_value).sum::<Decimal>();
    assert_eq!(total(&mut one), total(&mut two));
}

#[test]
fn periods_that_ended_before_the_new_version_stay_on_the_old_one() {
    // B became active on March 10: January and February renew with A, the
    // period open on March 10 is closed with A and April opens with B.
    let a = book("10.00", true);
    let b = book("15.00", true);
    let mut m = meter(&a);
    m.take_invoices();
    assert!(m
        .advance_across(&a, &b, t("2026-03-10T00:00:00Z"), t("2026-04-02T00:00:00Z"))
        .expect("close"));
    let fees: Vec<(String, String)> = m
        .take_invoices()
        .iter()
        .flat_map(|i| i.lines.iter().filter(|l| l.product == "platform"))
        .map(|l| (l.period.start.clone(), l.amount.clone()))
        .collect();
    assert_eq!(
        fees,
        [
            ("2026-02-01T00:00:00Z".to_string(), "10.00".to_string()),
            ("2026-03-01T00:00:00Z".to_string(), "10.00".to_string()),
            ("2026-04-01T00:00:00Z".to_string(), "15.00".to_string()),
        ]
    );
}

#[test]
fn a_pinned_subscription_keeps_its_version() {
    let a = book("10.00", true);
    let b = book("15.00", true);
    let mut pinned = meter(&a);
    pinned.pin_price_book = true;
    pinned.take_invoices();
    assert!(!pinned
        .advance_across(&a, &b, t("2026-01-10T00:00:00Z"), t("2026-03-02T00:00:00Z"))
        .expect("close on A"));
    let fees: Vec<String> = pinned
        .take_invoices()
        .iter()
        .flat_map(|i| i.lines.iter().filter(|l| l.product == "platform"))
        .map(|l| l.amount.clone())
        .collect();
    assert_eq!(fees, ["10.00", "10.00"]);
    // The flag is part of the state, and only written when set.
    let state = serde_json::to_value(&pinned).expect("state");
    assert_eq!(state["pin_price_book"], true);
    let unpinned = serde_json::to_value(meter(&a)).expect("state");
    assert!(unpinned.get("pin_price_book").is_none());
}

#[test]
fn migrating_mid_period_bills_each_version_what_it_priced() {
    let a = book("10.00", true);
    let mut b = book("15.00", true);
    b = PriceBook::from_value(&{
        let mut v = serde_json::to_value(b.doc()).expect("doc");
        v["plans"][0]["items"][1]["price"]["unit_amount"] = json!("30.00");
        v
    })
    .expect("valid book");
    let mut m = meter(&a);
    m.take_invoices();
    let before = build(&mut m, &a, "b1", "2026-01-05T00:00:00Z");
    assert_eq!(before.amount.as_deref(), Some("20.00"));
    // Half of January's 31 days are left on the 16th at 12:00.
    assert!(m.migrate(&a, &b, t("2026-01-16T12:00:00Z")).expect("migrate"));
    let invoices = m.take_invoices();
    assert_eq!(invoices.len(), 2);
    let (old, new) = (&invoices[0], &invoices[1]);
    assert_eq!(old.price_book, a.hash());
    let line = |inv: &rating::meter::Invoice, product: &str| {
        inv.lines
            .iter()
            .find(|l| l.product == product)
            .map(|l| l.amount.clone())
            .unwrap_or_default()
    };
    // The receipt's 20.00, and half of A's fee credited.
    assert_eq!(line(old, "builds"), "20.00");
    assert_eq!(line(old, "platform"), "-5.00");
    assert_eq!(new.price_book, b.hash());
    assert_eq!(line(new, "platform"), "7.50");
    assert_eq!(
        (new.period.start.as_str(), new.period.end.as_str()),
        ("2026-01-16T12:00:00Z", "2026-02-01T00:00:00Z")
    );
    let after = build(&mut m, &b, "b2", "2026-01-20T00:00:00Z");
    assert_eq!(after.amount.as_deref(), Some("30.00"));
    assert_eq!(after.price_book.as_deref(), Some(b.hash()));
    // Migrating to the version it is on is no move.
    assert!(!m.migrate(&b, &b, t("2026-01-21T00:00:00Z")).expect("no-op"));
    assert!(m.take_invoices().is_empty());
}
