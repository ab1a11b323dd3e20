//! Meter invariants under random event streams.

use proptest::prelude::*;
use rating::event::parse_event;
use rating::meter::{subscribe, Status, Subscription};
use rating::period::parse_timestamp;
use rating::PriceBook;
use rust_decimal::Decimal;
use serde_json::json;
use std::collections::HashMap;
use std::str::FromStr;

fn book() -> PriceBook {
    PriceBook::from_value(&book_json()).unwrap()
}

fn book_json() -> serde_json::Value {
    json!({
        "format": "price-book/v1", "id": "p", "currency": "USD",
        "products": [
            {"id": "grad", "name": "Graduated", "type": "metered"},
            {"id": "vol", "name": "Volume", "type": "metered"},
            {"id": "key", "name": "Keyed", "type": "metered", "price_key_label": "region"},
            {"id": "peak", "name": "Peak", "type": "metered", "aggregation": "max"}
        ],
        "plans": [{"id": "p", "name": "P", "period": {"unit": "month", "length": 1}, "items": [
            {"product": "grad", "included_quantity": "50", "price": {"model": "graduated", "tiers": [
                {"up_to": "100", "unit_amount": "0.0333"}, {"up_to": "1000", "unit_amount": "0.0121", "flat_amount": "1.005"}, {"up_to": null, "unit_amount": "0.007"}]}},
            {"product": "vol", "price": {"model": "volume", "tiers": [
                {"up_to": "10", "unit_amount": "0.5"}, {"up_to": "100", "unit_amount": "0.3"}, {"up_to": null, "unit_amount": "0.1"}]}},
            {"product": "key", "prices": {"eu": {"model": "per_unit", "unit_amount": "0.0155"}, "us": {"model": "graduated", "tiers": [
                {"up_to": "20", "unit_amount": "0.125"}, {"up_to": null, "unit_amount": "0.045"}]}}},
            {"product": "peak", "included_quantity": "3", "price": {"model": "per_unit", "unit_amount": "2.345"}}
        ]}]
    })
}

/// The same book with every product's units converted (each round mode;
/// docs/metering.md "Unit conversion"): allowances and tiers then see the
/// converted quantity.
fn converted_book() -> PriceBook {
    let mut v = book_json();
    let conversions = [
        json!({"divide_by": "10", "round": "up", "precision": 1}),
        json!({"divide_by": "3"}),
        json!({"divide_by": "2.5", "round": "half_up", "precision": 0}),
        json!({"divide_by": "100", "round": "down", "precision": 2, "display_unit": "hundreds"}),
    ];
    for (p, c) in v["products"].as_array_mut().unwrap().iter_mut().zip(conversions) {
        p["unit_conversion"] = c;
    }
    PriceBook::from_value(&v).unwrap()
}

/// Sum of receipt amounts per (product, price key).
type LineSums = HashMap<(String, Option<String>), Decimal>;

fn events() -> impl Strategy<Value = Vec<(u8, u32, u32, u8)>> {
    // (product index, quantity in hundredths, minute offset, region)
    prop::collection::vec((0u8..4, 0u32..50_000, 0u32..40_000, 0u8..2), 1..60)
}

fn run(evs: &[(u8, u32, u32, u8)], dup_every: usize, converted: bool) -> (LineSums, Vec<rating::meter::Invoice>) {
    let b = if converted { converted_book() } else { book() };
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
    m.take_invoices();
    let mut sums: HashMap<(String, Option<String>), Decimal> = HashMap::new();
    for (i, (p, q, minute, region)) in evs.iter().enumerate() {
        let product = ["grad", "vol", "key", "peak"][*p as usize];
        let time = start + chrono::Duration::minutes(i64::from(*minute));
        let qty = Decimal::new(i64::from(*q), 2);
        let region = ["eu", "us"][*region as usize];
        let e = json!({"specversion": "1.0", "id": format!("e{i}"), "source": "s", "type": product, "subject": "c",
            "time": rating::period::fmt_timestamp(time), "data": {"quantity": qty.to_string(), "region": region}});
        let ev = parse_event(&e).unwrap();
        let r = m.record(&b, &ev, time);
        assert_eq!(r.status, Status::Accepted, "{r:?}");
        let key = (product.to_string(), r.price_key.as_deref().map(str::to_string));
        *sums.entry(key).or_default() += Decimal::from_str(r.amount.as_deref().unwrap()).unwrap();
        if dup_every > 0 && i % dup_every == 0 {
            let again = m.record(&b, &ev, time);
            assert_eq!(again.status, Status::Duplicate);
        }
    }
    m.advance_to(&b, parse_timestamp("2026-02-01T00:00:00Z").unwrap())
        .unwrap();
    (sums, m.take_invoices())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Rounding the sum of a line's per-event amounts gives the invoice line.
    #[test]
    fn event_amounts_sum_to_the_invoice_line(evs in events(), converted in any::<bool>()) {
        let (sums, invoices) = run(&evs, 0, converted);
        let inv = &invoices[0];
        let b = converted_book();
        for line in inv.lines.iter().filter(|l| l.kind == rating::quote::LineKind::Usage) {
            let sum = sums.get(&(line.product.clone(), line.price_key.clone())).copied().unwrap_or_default();
            let rounded = rating::money::Rounding::HalfUp.round(sum, 2);
            prop_assert_eq!(rating::money::fmt_money(rounded, 2), line.amount.clone(), "line {:?}", line);
            // A converted line shows the raw aggregate and its conversion.
            prop_assert_eq!(line.raw_quantity.is_some(), converted, "line {:?}", line);
            if let Some(raw) = &line.raw_quantity {
                let product = b.product(&line.product).unwrap();
                let want = product.priced_quantity(Decimal::from_str(raw).unwrap()).unwrap();
                prop_assert_eq!(Decimal::from_str(&line.quantity).unwrap(), want, "line {:?}", line);
            }
        }
    }

    /// Duplicates mixed in change nothing, and shuffling events within the
    /// period gives the same invoice.
    #[test]
    fn duplicates_and_order_do_not_change_the_invoice(evs in events(), seed in any::<u64>(), converted in any::<bool>()) {
        let (_, a) = run(&evs, 0, converted);
        let (_, b) = run(&evs, 3, converted);
        prop_assert_eq!(&a[0].lines, &b[0].lines);
        let mut shuffled = evs.clone();
        let n = shuffled.len();
        let mut x = seed;
        for i in (1..n).rev() {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (x >> 33) as usize % (i + 1));
        }
        let (_, c) = run(&shuffled, 0, converted);
        prop_assert_eq!(&a[0].lines, &c[0].lines);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Hostile quantities (up to the decimal limit, many digits) never
    /// panic the meter: every event gets a receipt and every view answers.
    #[test]
    fn huge_quantities_never_panic(qs in prop::collection::vec((0u8..4, prop_oneof![
        Just("79228162514264337593543950334".to_string()),
        Just("9999999999999999999999999999".to_string()),
        Just("0.0000000000000000000000000001".to_string()),
        "[0-9]{1,27}(\\.[0-9]{1,10})?",
    ]), 1..20), converted in any::<bool>()) {
        let b = if converted { converted_book() } else { book() };
        let start = parse_timestamp("2026-01-01T00:00:00Z").unwrap();
        let mut m = subscribe(&b, &Subscription { customer: "c".into(), plan: "p".into(), start: Some(start), ..Default::default() }).unwrap();
        for (i, (p, q)) in qs.iter().enumerate() {
            let product = ["grad", "vol", "key", "peak"][*p as usize];
            let time = start + chrono::Duration::hours(i as i64);
            let e = json!({"specversion": "1.0", "id": format!("h{i}"), "source": "s", "type": product, "subject": "c",
                "time": rating::period::fmt_timestamp(time), "data": {"quantity": q, "region": "us"}});
            match parse_event(&e) {
                Ok(ev) => {
                    let r = m.record(&b, &ev, time);
                    prop_assert!(r.status == Status::Accepted || r.error.is_some());
                }
                Err(p) => prop_assert_eq!(p.code, "out_of_range"),
            }
        }
        let at = start + chrono::Duration::days(40);
        let _ = m.allowance_state(&b, at);
        let _ = m.preview_invoice(&b, at);
        let _ = m.forecast(&b, at);
        prop_assert!(m.advance_to(&b, at).is_ok());
    }
}
