//! Unit conversion in the meter (docs/metering.md "Unit conversion"): the
//! aggregated raw quantity is converted before allowances, limits and
//! tiers; each receipt is the change of its line's charge, so receipts
//! still add up to the invoice line.

use rating::event::parse_event;
use rating::meter::{subscribe, Meter, Status, Subscription};
use rating::period::parse_timestamp;
use rating::quote::LineKind;
use rating::PriceBook;
use serde_json::json;

fn book() -> PriceBook {
    PriceBook::from_value(&json!({
        "format": "price-book/v1", "id": "llm", "currency": "USD",
        "products": [
            {"id": "tokens", "name": "Tokens", "type": "metered",
             "unit_conversion": {"divide_by": "1000000", "round": "up", "precision": 0, "display_unit": "M tokens"}},
            {"id": "peak", "name": "Peak", "type": "metered", "aggregation": "max",
             "unit_conversion": {"divide_by": "1000", "round": "down", "precision": 1}}
        ],
        "plans": [{"id": "p", "name": "P", "period": {"unit": "month", "length": 1}, "items": [
            {"product": "tokens", "included_quantity": "1", "limit": "3", "price": {"model": "per_unit", "unit_amount": "3.00"}},
            {"product": "peak", "price": {"model": "per_unit", "unit_amount": "1.00"}}
        ]}]
    }))
    .unwrap()
}

fn record(m: &mut Meter, b: &PriceBook, id: &str, product: &str, qty: &str) -> rating::meter::Receipt {
    let time = "2026-01-02T00:00:00Z";
    let e = json!({"specversion": "1.0", "id": id, "source": "s", "type": product, "subject": "c",
        "time": time, "data": {"quantity": qty}});
    m.record(b, &parse_event(&e).unwrap(), parse_timestamp(time).unwrap())
}

#[test]
fn receipts_are_changes_of_the_converted_charge_and_add_up_to_the_line() {
    let b = book();
    let start = parse_timestamp("2026-01-01T00:00:00Z").unwrap();
    let sub = Subscription {
        customer: "c".into(),
        plan: "p".into(),
        start: Some(start),
        ..Default::default()
    };
    let mut m = subscribe(&b, &sub).unwrap();
    m.take_invoices();
    // 1 token: 1 M after rounding up, inside the 1 M allowance.
    let amounts: Vec<_> = [("a", "1"), ("b", "999999"), ("c", "1"), ("d", "1000000")]
        .iter()
        .map(|(id, q)| record(&mut m, &b, id, "tokens", q).amount.unwrap())
        .collect();
    // 1 → 1 M (included); 1000000 → 1 M; 1000001 → 2 M: 1 M billable, 3.00;
    // 2000001 → 3 M: 3.00 more.
    assert_eq!(amounts, ["0.00", "0.00", "3.00", "3.00"]);
    // The limit of 3 is in converted units: one more token is still 3 M,
    // a million more would be 4 M.
    assert_eq!(record(&mut m, &b, "e", "tokens", "1").amount.as_deref(), Some("0.00"));
    let over = record(&mut m, &b, "f", "tokens", "1000000");
    assert_eq!(over.status, Status::Rejected);
    assert_eq!(over.error.unwrap().code, "limit_exceeded");
    // max aggregates the raw readings: 1999 → 1.9, 2500 → 2.5, 900 → stays 2.5.
    let peaks: Vec<_> = [("p1", "1999"), ("p2", "2500"), ("p3", "900")]
        .iter()
        .map(|(id, q)| record(&mut m, &b, id, "peak", q).amount.unwrap())
        .collect();
    assert_eq!(peaks, ["1.90", "0.60", "0.00"]);
    // The state survives a save and restore.
    let saved = serde_json::to_value(&m).unwrap();
    let mut m: Meter = serde_json::from_value(saved).unwrap();
    m.advance_to(&b, parse_timestamp("2026-02-01T00:00:00Z").unwrap())
        .unwrap();
    let inv = m.take_invoices();
    let usage: Vec<_> = inv[0].lines.iter().filter(|l| l.kind == LineKind::Usage).collect();
    let tokens = usage.iter().find(|l| l.product == "tokens").unwrap();
    assert_eq!(tokens.quantity, "3");
    assert_eq!(tokens.raw_quantity.as_deref(), Some("2000002"));
    assert_eq!(tokens.unit.as_deref(), Some("M tokens"));
    assert_eq!(tokens.included.as_deref(), Some("1"));
    assert_eq!(tokens.billable.as_deref(), Some("2"));
    assert_eq!(tokens.amount, "6.00");
    let peak = usage.iter().find(|l| l.product == "peak").unwrap();
    assert_eq!(
        (peak.quantity.as_str(), peak.raw_quantity.as_deref()),
        ("2.5", Some("2500"))
    );
    assert_eq!(peak.unit, None);
    assert_eq!(peak.amount, "2.50");
}
