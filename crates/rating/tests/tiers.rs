//! Tiered and transaction pricing by hand-computed numbers (docs/contract.md §3 "Price
//! models", docs/quote.md "Tiers"). Each test states the arithmetic it
//! expects, so a failure reads as a worked example.

use rating::price::{charge_quantity, graduated, transaction_fee, volume};
use rating::price_book::{PriceAmounts, PriceModel, Tier};
use rating::quote::quote_value;
use rating::PriceBook;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::str::FromStr;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn tier(up_to: Option<&str>, unit: Option<&str>, flat: Option<&str>) -> Tier {
    Tier {
        up_to: up_to.map(d),
        unit_amount: unit.map(d),
        flat_amount: flat.map(d),
        percent: None,
    }
}

/// A book with one metered product `m` (of `aggregation`) priced by `price`
/// in a one-item plan `p`, plus whatever `item` adds to the item.
fn book_with(price: Value, aggregation: &str, item: Value) -> PriceBook {
    let mut it = json!({"product": "m", "price": price});
    if let Value::Object(extra) = item {
        it.as_object_mut().unwrap().extend(extra);
    }
    PriceBook::from_value(&json!({
        "format": "price-book/v1", "id": "t", "currency": "USD",
        "products": [{"id": "m", "name": "Meter", "type": "metered", "aggregation": aggregation}],
        "plans": [{"id": "p", "name": "P", "period": {"unit": "month"}, "items": [it]}]
    }))
    .unwrap()
}

fn book(price: Value) -> PriceBook {
    book_with(price, "sum", json!({}))
}

/// The one line of a quote of `usage` for `m`.
fn line(book: &PriceBook, usage: Value) -> Value {
    let q = quote_value(book, &json!({"plan": "p", "usage": {"m": usage}})).unwrap();
    assert_eq!(q["lines"].as_array().unwrap().len(), 1, "{q}");
    assert_eq!(q["total"], q["lines"][0]["amount"]);
    q["lines"][0].clone()
}

fn amount(book: &PriceBook, usage: &str) -> String {
    line(book, json!(usage))["amount"].as_str().unwrap().to_string()
}

/// `(index, quantity, amount)` of each tier entry of a line.
fn tiers_of(line: &Value) -> Vec<(u64, String, String)> {
    line["tiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["index"].as_u64().unwrap(),
                t["quantity"].as_str().unwrap().into(),
                t["amount"].as_str().unwrap().into(),
            )
        })
        .collect()
}

fn t(i: u64, q: &str, a: &str) -> (u64, String, String) {
    (i, q.into(), a.into())
}

/// 0.10/unit up to 100 (+5 flat), 0.05/unit up to 1,000 (+10), then 0.01/unit (+20).
fn graduated_book(model: &str) -> PriceBook {
    book(json!({"model": model, "tiers": [
        {"up_to": "100", "unit_amount": "0.10", "flat_amount": "5"},
        {"up_to": "1000", "unit_amount": "0.05", "flat_amount": "10"},
        {"up_to": null, "unit_amount": "0.01", "flat_amount": "20"}]}))
}

// ------------------------------------------------------------ graduated

#[test]
fn graduated_prices_each_unit_in_its_tier_and_adds_each_reached_flat_fee() {
    let b = graduated_book("graduated");
    // 100 × 0.10 + 5 = 15; 900 × 0.05 + 10 = 55; 500 × 0.01 + 20 = 25; total 95.
    let l = line(&b, json!("1500"));
    assert_eq!(l["amount"], "95.00");
    assert_eq!(
        tiers_of(&l),
        vec![t(0, "100", "15.00"), t(1, "900", "55.00"), t(2, "500", "25.00")]
    );
    assert_eq!(l["tiers"][0]["unit_amount"], "0.10");
    assert_eq!(l["tiers"][0]["flat_amount"], "5.00");
    assert_eq!(l["tiers"][2]["flat_amount"], "20.00");
    // 50 × 0.10 + 5 = 10.
    assert_eq!(amount(&b, "50"), "10.00");
}

#[test]
fn staircase_is_graduated() {
    for q in ["0", "50", "100", "100.5", "1000", "1500"] {
        assert_eq!(
            amount(&graduated_book("staircase"), q),
            amount(&graduated_book("graduated"), q),
            "at {q}"
        );
    }
}

#[test]
fn a_quantity_exactly_on_up_to_stays_in_that_tier() {
    let b = graduated_book("graduated");
    // up_to is inclusive: 100 units are all in tier 0 and tier 1's flat fee is not charged.
    let l = line(&b, json!("100"));
    assert_eq!(l["amount"], "15.00");
    assert_eq!(tiers_of(&l), vec![t(0, "100", "15.00")]);
    // One thousandth more reaches tier 1: 15 + 0.001 × 0.05 + 10 = 25.00005 → 25.00.
    let l = line(&b, json!("100.001"));
    assert_eq!(l["amount"], "25.00");
    assert_eq!(tiers_of(&l), vec![t(0, "100", "15.00"), t(1, "0.001", "10.00005")]);
    // 1,000 exactly: 15 + 55, tier 2 untouched.
    let l = line(&b, json!("1000"));
    assert_eq!(l["amount"], "70.00");
    assert_eq!(tiers_of(&l), vec![t(0, "100", "15.00"), t(1, "900", "55.00")]);
}

#[test]
fn zero_quantity_charges_the_first_tier_flat_fee() {
    let b = graduated_book("graduated");
    let l = line(&b, json!("0"));
    assert_eq!(l["amount"], "5.00");
    assert_eq!(tiers_of(&l), vec![t(0, "0", "5.00")]);
    // A metered item without usage still has its line, and still the fee.
    let q = quote_value(&b, &json!({"plan": "p"})).unwrap();
    assert_eq!(q["lines"][0]["amount"], "5.00");
    assert_eq!(q["total"], "5.00");
    // A zero-priced first tier avoids it (as Stripe, Lago, OpenMeter do).
    let free_first = book(json!({"model": "graduated", "tiers": [
        {"up_to": "100", "unit_amount": "0"},
        {"up_to": null, "unit_amount": "0.05", "flat_amount": "10"}]}));
    assert_eq!(amount(&free_first, "0"), "0.00");
    assert_eq!(amount(&free_first, "100"), "0.00");
    // 20 × 0.05 + 10 = 11.
    assert_eq!(amount(&free_first, "120"), "11.00");
}

#[test]
fn graduated_directly_matches_the_quote() {
    let tiers = vec![
        tier(Some("100"), Some("0.10"), Some("5")),
        tier(Some("1000"), Some("0.05"), Some("10")),
        tier(None, Some("0.01"), Some("20")),
    ];
    assert_eq!(graduated(&tiers, d("1500"), false).unwrap().amount, d("95"));
    assert_eq!(graduated(&tiers, d("0"), false).unwrap().amount, d("5"));
    assert_eq!(graduated(&tiers, d("100"), false).unwrap().amount, d("15"));
    assert_eq!(graduated(&tiers, d("100.001"), false).unwrap().amount, d("25.00005"));
    // Without a breakdown, none is built.
    assert!(graduated(&tiers, d("5"), false).unwrap().tiers.is_none());
}

#[test]
fn allowance_is_drawn_before_the_first_tier() {
    // docs/contract.md §3: 1,000 included; 0.15 up to 10,000, then 0.10.
    let b = book_with(
        json!({"model": "graduated", "tiers": [
            {"up_to": "10000", "unit_amount": "0.15"},
            {"up_to": null, "unit_amount": "0.10", "flat_amount": "0"}]}),
        "sum",
        json!({"included_quantity": "1000"}),
    );
    // 1,200 used: 1,000 included, 200 × 0.15 = 30.
    let l = line(&b, json!("1200"));
    assert_eq!(
        (l["quantity"].as_str(), l["included"].as_str(), l["billable"].as_str()),
        (Some("1200"), Some("1000"), Some("200"))
    );
    assert_eq!(l["amount"], "30.00");
    // Tiers count billable units: 11,500 used → 10,500 billable → 10,000 × 0.15 + 500 × 0.10 = 1,550.
    let l = line(&b, json!("11500"));
    assert_eq!(l["amount"], "1550.00");
    assert_eq!(tiers_of(&l), vec![t(0, "10000", "1500.00"), t(1, "500", "50.00")]);
    // Under the allowance nothing is billed.
    let l = line(&b, json!("999"));
    assert_eq!(
        (l["included"].as_str(), l["billable"].as_str(), l["amount"].as_str()),
        (Some("999"), Some("0"), Some("0.00"))
    );
}

// --------------------------------------------------------------- volume

/// 2.00/unit up to 10, 1.50/unit (+3 flat) up to 100, then 1.00/unit.
fn volume_book() -> PriceBook {
    book(json!({"model": "volume", "tiers": [
        {"up_to": "10", "unit_amount": "2"},
        {"up_to": "100", "unit_amount": "1.50", "flat_amount": "3"},
        {"up_to": null, "unit_amount": "1"}]}))
}

#[test]
fn volume_prices_all_units_at_the_tier_the_total_falls_in() {
    let b = volume_book();
    // prev_up_to < q <= up_to.
    assert_eq!(amount(&b, "0"), "0.00");
    assert_eq!(amount(&b, "1"), "2.00");
    // 10 is in tier 0: 10 × 2 = 20.
    assert_eq!(amount(&b, "10"), "20.00");
    // Just above 10 is tier 1, for all units: 10.5 × 1.50 + 3 = 18.75 (cheaper than at 10).
    assert_eq!(amount(&b, "10.5"), "18.75");
    // 100 is still tier 1: 100 × 1.50 + 3 = 153.
    assert_eq!(amount(&b, "100"), "153.00");
    // 101 is tier 2: 101 × 1 = 101.
    let l = line(&b, json!("101"));
    assert_eq!(l["amount"], "101.00");
    // Only the tier that applied is listed.
    assert_eq!(tiers_of(&l), vec![t(2, "101", "101.00")]);
    assert_eq!(l["tiers"][0]["unit_amount"], "1.00");
    assert_eq!(l["tiers"][0]["flat_amount"], "0.00");
}

#[test]
fn volume_stair_steps_with_flat_only_tiers() {
    // 10 up to 5 units, 25 up to 20, 60 beyond: the flat fee is charged even at zero.
    let b = book(json!({"model": "volume", "tiers": [
        {"up_to": "5", "flat_amount": "10"},
        {"up_to": "20", "flat_amount": "25"},
        {"up_to": null, "flat_amount": "60"}]}));
    for (q, want) in [
        ("0", "10.00"),
        ("1", "10.00"),
        ("5", "10.00"),
        ("5.01", "25.00"),
        ("20", "25.00"),
        ("21", "60.00"),
        ("1000000", "60.00"),
    ] {
        assert_eq!(amount(&b, q), want, "at {q}");
    }
    let l = line(&b, json!("0"));
    assert_eq!(tiers_of(&l), vec![t(0, "0", "10.00")]);
    // A flat-only tier shows a zero unit amount (docs/quote.md "Tiers").
    assert_eq!(l["tiers"][0]["unit_amount"], "0.00", "{l}");
}

#[test]
fn volume_directly() {
    let tiers = vec![
        tier(Some("10"), Some("2"), None),
        tier(Some("100"), Some("1.50"), Some("3")),
        tier(None, Some("1"), None),
    ];
    for (q, want) in [
        ("0", "0"),
        ("10", "20"),
        ("10.5", "18.75"),
        ("100", "153"),
        ("101", "101"),
    ] {
        assert_eq!(volume(&tiers, d(q), false).unwrap().amount, d(want), "at {q}");
    }
    let c = volume(&tiers, d("50"), true).unwrap();
    let b = c.tiers.unwrap();
    assert_eq!(
        (b[0].index, b[0].quantity, b[0].flat_amount, b[0].amount),
        (1, d("50"), d("3"), d("78"))
    );
}

// -------------------------------------------------------------- package

#[test]
fn package_rounds_partial_packages_up() {
    // 2.50 per started 100.
    let b = book(json!({"model": "package", "package_size": "100", "package_amount": "2.50"}));
    for (q, want) in [
        ("0", "0.00"),
        ("1", "2.50"),
        ("99.99", "2.50"),
        ("100", "2.50"),
        ("100.01", "5.00"),
        ("250.5", "7.50"),
        ("1000", "25.00"),
    ] {
        assert_eq!(amount(&b, q), want, "at {q}");
    }
    let a = PriceAmounts {
        package_size: Some(d("0.5")),
        package_amount: Some(d("1")),
        ..Default::default()
    };
    // 1.2 / 0.5 = 2.4 → 3 packages.
    assert_eq!(
        charge_quantity(PriceModel::Package, &a, d("1.2"), false)
            .unwrap()
            .amount,
        d("3")
    );
}

// ----------------------------------------------------------- percentage

#[test]
fn percentage_fee_is_clamped_per_transaction() {
    let a = PriceAmounts {
        percent: Some(d("2.9")),
        fixed_amount: Some(d("0.30")),
        min_amount: Some(d("0.50")),
        max_amount: Some(d("20")),
        ..Default::default()
    };
    // 5 × 2.9% + 0.30 = 0.445 → raised to the 0.50 minimum.
    assert_eq!(transaction_fee(&a, d("5")).unwrap(), d("0.50"));
    // 100 × 2.9% + 0.30 = 3.20, inside the clamp.
    assert_eq!(transaction_fee(&a, d("100")).unwrap(), d("3.20"));
    // 1,000 × 2.9% + 0.30 = 29.30 → cut to the 20 maximum.
    assert_eq!(transaction_fee(&a, d("1000")).unwrap(), d("20"));
    // Exact per transaction: 33.33 × 2.9% + 0.30 = 1.26657.
    assert_eq!(transaction_fee(&a, d("33.33")).unwrap(), d("1.266570"));

    let b = book_with(
        json!({"model": "percentage", "percent": "2.9", "fixed_amount": "0.30", "min_amount": "0.50", "max_amount": "20"}),
        "amount",
        json!({}),
    );
    // 0.50 + 3.20 + 20 + 1.26657 = 24.96657 → 24.97, rounded once for the line.
    let l = line(&b, json!({"amounts": ["5", "100", "1000", "33.33"]}));
    assert_eq!(l["amount"], "24.97");
    assert_eq!(l["quantity"], "1138.33");
    assert_eq!(l["transactions"], "4");
    // A clamp needs each transaction: a count and total are refused.
    let e = quote_value(
        &b,
        &json!({"plan": "p", "usage": {"m": {"count": "3", "total": "1105"}}}),
    )
    .unwrap_err();
    assert_eq!(e.code, "amounts_required");
    assert_eq!(e.path.as_deref(), Some("usage.m"));
}

#[test]
fn percentage_without_a_clamp_takes_count_and_total() {
    let b = book_with(
        json!({"model": "percentage", "percent": "5", "fixed_amount": "0.30"}),
        "amount",
        json!({}),
    );
    // 10,000 × 5% + 100 × 0.30 = 500 + 30 = 530.
    let l = line(&b, json!({"count": "100", "total": "10000"}));
    assert_eq!(l["amount"], "530.00");
    assert_eq!(l["transactions"], "100");
    // The same as listing the transactions: 25 → 1.55, 100 → 5.30.
    assert_eq!(line(&b, json!({"amounts": ["25", "100"]}))["amount"], "6.85");
    assert_eq!(line(&b, json!({"count": 2, "total": "125"}))["amount"], "6.85");
    // No transactions, no fee.
    assert_eq!(line(&b, json!({"amounts": []}))["amount"], "0.00");
}

#[test]
fn percent_tiers_on_amount_aggregated_products() {
    // Graduated: 3% of the first 1,000, then 2% (+1 flat on reaching the tier).
    let g = book_with(
        json!({"model": "graduated", "tiers": [{"up_to": "1000", "percent": "3"}, {"up_to": null, "percent": "2", "flat_amount": "1"}]}),
        "amount",
        json!({}),
    );
    // 1,000 × 3% = 30; 500 × 2% + 1 = 11; total 41.
    let l = line(&g, json!({"amounts": ["600", "900"]}));
    assert_eq!(l["amount"], "41.00");
    assert_eq!(tiers_of(&l), vec![t(0, "1000", "30.00"), t(1, "500", "11.00")]);
    assert_eq!(l["tiers"][0]["percent"], "3");
    assert!(l["tiers"][0].get("unit_amount").is_none());
    // Volume: all 1,500 at 2% + 1 = 31.
    let v = book_with(
        json!({"model": "volume", "tiers": [{"up_to": "1000", "percent": "3"}, {"up_to": null, "percent": "2", "flat_amount": "1"}]}),
        "amount",
        json!({}),
    );
    assert_eq!(line(&v, json!({"amounts": ["600", "900"]}))["amount"], "31.00");
    // 1,000 exactly stays in tier 0: 30.
    assert_eq!(line(&v, json!({"count": 1, "total": "1000"}))["amount"], "30.00");
    // Percent tiers directly: 0.5% of 333.33 = 1.66665.
    let tiers = vec![Tier {
        up_to: None,
        unit_amount: None,
        flat_amount: None,
        percent: Some(d("0.5")),
    }];
    assert_eq!(graduated(&tiers, d("333.33"), false).unwrap().amount, d("1.66665"));
}

// ------------------------------------------------------------- rounding

#[test]
fn unit_prices_keep_their_precision_and_the_line_rounds_once() {
    // 333 × 0.0079 = 2.6307 → 2.63.
    let b = book(json!({"model": "per_unit", "unit_amount": "0.0079"}));
    assert_eq!(amount(&b, "333"), "2.63");
    // 12 decimal places: 1,000,000 × 0.000000012345 = 0.012345 → 0.01.
    let b = book(json!({"model": "per_unit", "unit_amount": "0.000000012345"}));
    assert_eq!(amount(&b, "1000000"), "0.01");
    // Tier entries are exact, lines are rounded: 3 × 0.3333 = 0.9999.
    let b = book(json!({"model": "graduated", "tiers": [{"up_to": null, "unit_amount": "0.3333"}]}));
    let l = line(&b, json!("3"));
    assert_eq!(l["amount"], "1.00");
    assert_eq!(l["tiers"][0]["amount"], "0.9999");
    assert_eq!(l["tiers"][0]["unit_amount"], "0.3333");
}

mod charge_delta_matches_the_difference {
    use proptest::prelude::*;
    use rating::price::{charge_delta, charge_quantity};
    use rating::price_book::{PriceAmounts, PriceModel, Tier};
    use rust_decimal::Decimal;

    fn tiers() -> impl Strategy<Value = Vec<Tier>> {
        prop::collection::vec((1u32..500, 0u32..5000, 0u32..3000), 1..5).prop_map(|spec| {
            let mut bound = 0u32;
            let n = spec.len();
            spec.into_iter()
                .enumerate()
                .map(|(i, (w, unit, flat))| {
                    bound += w;
                    Tier {
                        up_to: (i + 1 < n).then(|| Decimal::from(bound)),
                        unit_amount: Some(Decimal::new(i64::from(unit), 4)),
                        flat_amount: (flat % 3 == 0).then(|| Decimal::new(i64::from(flat), 2)),
                        percent: None,
                    }
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn graduated(t in tiers(), a in 0u32..3000, b in 0u32..3000) {
            let amounts = PriceAmounts { tiers: Some(t), ..Default::default() };
            let (old, new) = (Decimal::new(i64::from(a), 1), Decimal::new(i64::from(b), 1));
            let expected = charge_quantity(PriceModel::Graduated, &amounts, new, false).unwrap().amount
                - charge_quantity(PriceModel::Graduated, &amounts, old, false).unwrap().amount;
            prop_assert_eq!(charge_delta(PriceModel::Graduated, &amounts, old, new).unwrap(), expected);
        }
    }
}
