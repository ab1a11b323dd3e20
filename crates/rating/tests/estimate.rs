//! An estimate is the receipt the same event gets when it is recorded
//! next, with the allowance and credits that recording leaves; and an
//! estimate changes nothing (docs/metering.md, "Estimates").

use proptest::prelude::*;
use rating::event::parse_event;
use rating::meter::{subscribe, Meter, Status, Subscription};
use rating::period::{fmt_timestamp, parse_timestamp, Timestamp};
use rating::PriceBook;
use serde_json::{json, Value};

fn usage_book() -> PriceBook {
    PriceBook::from_value(&json!({
        "format": "price-book/v1", "id": "estimates", "currency": "USD",
        "dedup_window": {"unit": "day", "length": 2},
        "products": [
            {"id": "grad", "name": "Graduated", "type": "metered"},
            {"id": "key", "name": "Keyed", "type": "metered", "price_key_label": "region",
             "unmatched_price_key_policy": "reject"},
            {"id": "drop", "name": "Dropped keys", "type": "metered", "price_key_label": "region",
             "unmatched_price_key_policy": "drop"},
            {"id": "peak", "name": "Peak", "type": "metered", "aggregation": "max"}
        ],
        "plans": [{"id": "p", "name": "P", "period": {"unit": "month", "length": 1}, "items": [
            {"product": "grad", "included_quantity": "50", "limit": "900", "price": {"model": "graduated", "tiers": [
                {"up_to": "100", "unit_amount": "0.0333"}, {"up_to": null, "unit_amount": "0.007"}]}},
            {"product": "key", "prices": {"eu": {"model": "per_unit", "unit_amount": "0.0155"}}},
            {"product": "drop", "prices": {"eu": {"model": "per_unit", "unit_amount": "0.5"}}},
            {"product": "peak", "included_quantity": "3", "price": {"model": "per_unit", "unit_amount": "2.345"}}
        ]}]
    }))
    .unwrap()
}

fn credits_book() -> PriceBook {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/credits.json")).unwrap();
    PriceBook::parse(&text).unwrap()
}

fn meter(book: &PriceBook, plan: &str, start: Timestamp) -> Meter {
    let mut m = subscribe(
        book,
        &Subscription {
            customer: "c".into(),
            plan: plan.into(),
            start: Some(start),
            ..Default::default()
        },
    )
    .unwrap();
    m.take_invoices();
    m
}

fn state(m: &Meter) -> String {
    serde_json::to_string(m).unwrap()
}

/// (product, quantity in hundredths, minutes after the previous event,
/// region, id reused from an earlier event, subject)
type Step = (u8, u32, u32, u8, Option<u8>, bool);

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        (
            0u8..6,
            0u32..40_000,
            0u32..3_000,
            0u8..3,
            prop::option::weighted(0.2, 0u8..40),
            prop::bool::weighted(0.95),
        ),
        1..50,
    )
}

fn check(book: &PriceBook, plan: &str, products: &[&str], steps: &[Step]) -> Result<(), TestCaseError> {
    let start = parse_timestamp("2026-01-01T00:00:00Z").unwrap();
    let mut m = meter(book, plan, start);
    let mut at = start;
    for (i, (p, q, minutes, region, reuse, own)) in steps.iter().enumerate() {
        at += chrono::Duration::minutes(i64::from(*minutes));
        let product = products[*p as usize % products.len()];
        let id = match reuse {
            Some(j) if (*j as usize) < i => format!("e{j}"),
            _ => format!("e{i}"),
        };
        let (region, quality) = [("eu", "standard"), ("us", "hd"), ("ultra", "nope")][*region as usize];
        let e = json!({"specversion": "1.0", "id": id, "source": "s", "type": product,
            "subject": if *own { "c" } else { "other" }, "time": fmt_timestamp(at),
            "data": {"quantity": rust_decimal::Decimal::new(i64::from(*q), 2).to_string(), "region": region,
                     "quality": quality}});
        let ev = parse_event(&e).unwrap();
        let before = state(&m);
        let estimate = m.estimate(book, &ev, at).unwrap();
        prop_assert_eq!(&state(&m), &before, "an estimate changed the meter");
        let receipt = m.record(book, &ev, at);
        prop_assert_eq!(&estimate.receipt, &receipt);
        prop_assert_eq!(estimate.would_be, receipt.status);
        prop_assert_eq!(&estimate.error, &receipt.error);
        let allowance = m
            .allowance_state(book, at)
            .unwrap()
            .dimensions
            .into_iter()
            .find(|d| d.product == product);
        prop_assert_eq!(&estimate.allowance, &allowance);
        let credits: Value = serde_json::to_value(&estimate.credits).unwrap();
        prop_assert_eq!(credits, serde_json::to_value(m.credits(at)).unwrap());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn an_estimate_is_the_next_receipt_and_changes_nothing(s in steps()) {
        check(&usage_book(), "p", &["grad", "key", "drop", "peak", "nothing", "grad"], &s)?;
    }

    #[test]
    fn an_estimate_shows_the_credits_left(s in steps(), pro in any::<bool>()) {
        let plan = if pro { "pro" } else { "payg" };
        check(&credits_book(), plan, &["image-generation", "text-generation", "video-analysis", "nothing"], &s)?;
    }
}

#[test]
fn a_duplicate_estimate_repeats_the_first_amount() {
    let book = usage_book();
    let start = parse_timestamp("2026-01-01T00:00:00Z").unwrap();
    let mut m = meter(&book, "p", start);
    let e = json!({"specversion": "1.0", "id": "a", "source": "s", "type": "grad", "subject": "c",
        "data": {"quantity": "120"}});
    let ev = parse_event(&e).unwrap();
    let first = m.estimate(&book, &ev, start).unwrap();
    assert_eq!(first.would_be, Status::Accepted);
    // 50 included, then the 70 left in the first tier at 0.0333.
    assert_eq!(first.receipt.amount.as_deref(), Some("2.331"));
    let allowance = first.allowance.as_ref().unwrap();
    assert_eq!(serde_json::to_value(allowance).unwrap()["remaining"], "0");
    m.record(&book, &ev, start);
    let again = m.estimate(&book, &ev, start).unwrap();
    assert_eq!(again.would_be, Status::Duplicate);
    assert_eq!(again.receipt.amount.as_deref(), Some("2.331"));
    // After the book's two-day window the same event is new again.
    let later = start + chrono::Duration::days(3);
    assert_eq!(m.estimate(&book, &ev, later).unwrap().would_be, Status::Accepted);
}
