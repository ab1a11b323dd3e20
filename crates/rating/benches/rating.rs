//! Engine benchmarks (criterion): quoting a 10-line plan, typed and
//! through JSON, and reading a registrar's 1,500-key price book.
//!
//! Run: `cargo bench -p rating --bench rating` (results in BENCHMARKS.md).
//! Targets: a quote under 5 µs, the 1,500-key book under 5 ms.

use criterion::{criterion_group, criterion_main, Criterion};
use rating::price_book::canonical_json;
use rating::quote::{quote, quote_value, read_request};
use rating::PriceBook;
use serde_json::{json, Map, Value};
use std::hint::black_box;

/// `n` price keys (`.k00`, `.k01`, ...) at per-unit prices from `base` cents.
fn keyed_prices(n: usize, base: usize) -> Value {
    let mut m = Map::new();
    for i in 0..n {
        let cents = base + i * 125;
        m.insert(
            format!(".k{i:02}"),
            json!({"model": "per_unit", "unit_amount": format!("{}.{:02}", cents / 100, cents % 100)}),
        );
    }
    Value::Object(m)
}

fn graduated(first: &str, second: &str, third: &str) -> Value {
    json!({"model": "graduated", "tiers": [
        {"up_to": "10000", "unit_amount": first, "flat_amount": "0"},
        {"up_to": "100000", "unit_amount": second},
        {"up_to": null, "unit_amount": third}]})
}

/// A plan of ten items: a platform fee, seats with a minimum, four metered
/// items on graduated tiers with allowances, two keyed products of 20 keys,
/// a percentage fee on sales and a volume-priced item.
fn ten_line_book() -> Value {
    let metered = ["bandwidth", "requests", "storage", "compute"];
    let mut products = vec![
        json!({"id": "platform", "name": "Platform fee", "type": "recurring"}),
        json!({"id": "seats", "name": "Seats", "type": "seat"}),
    ];
    for id in metered {
        products.push(json!({"id": id, "name": id, "type": "metered"}));
    }
    products.extend([
        json!({"id": "domain", "name": "Domains", "type": "metered", "price_key_label": "tld",
               "unmatched_price_key_policy": "use_default", "default_price_key": ".k00"}),
        json!({"id": "region", "name": "Regions", "type": "metered", "price_key_label": "region"}),
        json!({"id": "sales", "name": "Transaction fee", "type": "metered", "aggregation": "amount"}),
        json!({"id": "messages", "name": "Messages", "type": "metered", "aggregation": "count"}),
    ]);
    let mut items = vec![
        json!({"product": "platform", "price": {"model": "flat", "amount": "49.00"}}),
        json!({"product": "seats", "min_quantity": "3", "price": {"model": "per_unit", "unit_amount": "15.00"}}),
    ];
    for (i, id) in metered.iter().enumerate() {
        items.push(
            json!({"product": id, "included_quantity": format!("{}", 1000 * (i + 1)),
                          "price": graduated("0.15", "0.10", "0.0525")}),
        );
    }
    items.extend([
        json!({"product": "domain", "prices": keyed_prices(20, 899)}),
        json!({"product": "region", "prices": keyed_prices(20, 150)}),
        json!({"product": "sales", "price": {"model": "percentage", "percent": "2.9", "fixed_amount": "0.30",
                                             "min_amount": "0.50", "max_amount": "25"}}),
        json!({"product": "messages", "price": {"model": "volume", "tiers": [
            {"up_to": "1000", "unit_amount": "0.01"},
            {"up_to": "10000", "unit_amount": "0.008", "flat_amount": "5"},
            {"up_to": null, "unit_amount": "0.005", "flat_amount": "20"}]}}),
    ]);
    json!({
        "format": "price-book/v1", "id": "bench", "currency": "USD", "rounding": "half_up",
        "products": products,
        "plans": [{"id": "pro", "name": "Pro", "period": {"unit": "month", "length": 1}, "items": items}]
    })
}

fn ten_line_request() -> Value {
    json!({
        "plan": "pro",
        "quantities": {"seats": "12"},
        "usage": {
            "bandwidth": "12500.5", "requests": "250000", "storage": "999", "compute": "45000",
            "domain": {".k07": "3"}, "region": {".k13": "1200"},
            "sales": {"amounts": ["25.00", "100.00", "12.50", "999.99", "5.00"]},
            "messages": "7500"
        }
    })
}

/// A registrar's book: one keyed product, `n` TLD prices, every third one
/// graduated (cheaper from the 10th domain), the rest per unit.
fn registrar_text(n: usize) -> String {
    let mut prices = Map::new();
    for i in 0..n {
        let cents = 800 + (i * 37) % 9000;
        let unit = format!("{}.{:02}", cents / 100, cents % 100);
        let price = if i % 3 == 0 {
            let bulk = format!("{}.{:02}", cents / 200, (cents / 2) % 100);
            json!({"model": "graduated", "tiers": [{"up_to": "10", "unit_amount": unit}, {"up_to": null, "unit_amount": bulk}]})
        } else {
            json!({"model": "per_unit", "unit_amount": unit})
        };
        prices.insert(format!(".t{i:04}"), price);
    }
    serde_json::to_string(&json!({
        "format": "price-book/v1", "id": "registrar", "currency": "USD",
        "products": [{"id": "domain", "name": "Domain registration", "type": "metered",
                      "price_key_label": "tld", "unmatched_price_key_policy": "use_default", "default_price_key": ".t0001"}],
        "plans": [{"id": "retail", "name": "Retail", "period": {"unit": "year"},
                   "items": [{"product": "domain", "prices": prices}]}]
    }))
    .unwrap()
}

fn bench_quote(c: &mut Criterion) {
    let book = PriceBook::from_value(&ten_line_book()).unwrap();
    let request = ten_line_request();
    let req = read_request(&book, &request, true).unwrap();
    let q = quote(&book, &req).unwrap();
    assert_eq!(q.lines.len(), 10, "the benchmark quote has ten lines");

    let mut g = c.benchmark_group("quote");
    g.bench_function("10_lines", |b| {
        b.iter(|| quote(black_box(&book), black_box(&req)).unwrap())
    });
    g.bench_function("10_lines_json", |b| {
        b.iter(|| quote_value(black_box(&book), black_box(&request)).unwrap())
    });
    g.finish();
}

fn bench_price_book(c: &mut Criterion) {
    let text = registrar_text(1500);
    let book = PriceBook::parse(&text).unwrap();
    assert_eq!(book.doc().plans[0].items[0].prices.as_ref().unwrap().len(), 1500);

    let mut g = c.benchmark_group("price_book");
    g.sample_size(30);
    g.bench_function("parse_1500_keys", |b| {
        b.iter(|| PriceBook::parse(black_box(&text)).unwrap())
    });
    // Where the time goes: JSON text to a value, reading and validating
    // the value (which includes the hash), and the canonical JSON alone.
    let value: Value = serde_json::from_str(&text).unwrap();
    g.bench_function("parse_1500_keys/json_only", |b| {
        b.iter(|| serde_json::from_str::<Value>(black_box(&text)).unwrap())
    });
    g.bench_function("parse_1500_keys/from_value", |b| {
        b.iter(|| PriceBook::from_value(black_box(&value)).unwrap())
    });
    g.bench_function("parse_1500_keys/canonical_json", |b| {
        b.iter(|| canonical_json(&black_box(&book).to_value()))
    });
    g.finish();
}

criterion_group!(benches, bench_quote, bench_price_book);
criterion_main!(benches);
