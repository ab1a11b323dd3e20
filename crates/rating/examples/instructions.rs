//! Instruction counts of the hot operations, for `valgrind --tool=callgrind`
//! (repeatable where wall-clock timings on a shared 2-core box are not):
//!
//! ```sh
//! cargo build --release -p rating --example instructions
//! valgrind --tool=callgrind --toggle-collect='*instructions::run_*' target/release/examples/instructions quote
//! ```
//!
//! and divide the total by the iteration count it prints. The inputs are
//! the criterion benches' (benches/rating.rs, benches/meter.rs).

use rating::event::parse_event;
use rating::meter::{subscribe, Subscription};
use rating::period::{fmt_timestamp, parse_timestamp};
use rating::PriceBook;
use serde_json::{json, Map, Value};

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
fn meter_book() -> PriceBook {
    let mut products = vec![json!({"id": "platform", "name": "Platform", "type": "recurring"})];
    let mut items = vec![json!({"product": "platform", "price": {"model": "flat", "amount": "20.00"}})];
    for i in 0..10 {
        products.push(json!({"id": format!("dim{i}"), "name": format!("Dimension {i}"), "type": "metered"}));
        items.push(
            json!({"product": format!("dim{i}"), "included_quantity": "1000", "rollover": true,
            "price": {"model": "graduated", "tiers": [
                {"up_to": "10000", "unit_amount": "0.015"}, {"up_to": "100000", "unit_amount": "0.010"},
                {"up_to": null, "unit_amount": "0.005"}]}}),
        );
    }
    PriceBook::from_value(
        &json!({"format": "price-book/v1", "id": "bench", "currency": "USD", "products": products,
        "plans": [{"id": "p", "name": "P", "period": {"unit": "month", "length": 1}, "items": items}]}),
    )
    .unwrap()
}

#[inline(never)]
fn run_quote(book: &PriceBook, req: &rating::quote::QuoteRequest, n: usize) -> usize {
    let mut lines = 0;
    for _ in 0..n {
        lines += rating::quote::quote(book, req).map_or(0, |q| q.lines.len());
    }
    lines
}

#[inline(never)]
fn run_parse(text: &str, n: usize) -> usize {
    (0..n).filter(|_| PriceBook::parse(text).is_ok()).count()
}

#[inline(never)]
fn run_record(book: &PriceBook, meter: &mut rating::meter::Meter, events: &[rating::event::UsageEvent]) -> usize {
    events
        .iter()
        .map(|e| {
            meter
                .record(book, e, e.time.unwrap_or_default())
                .amount
                .map_or(0, |a| a.len())
        })
        .sum()
}

fn main() {
    let what = std::env::args().nth(1).unwrap_or_else(|| "quote".into());
    match what.as_str() {
        "quote" => {
            let book = PriceBook::from_value(&ten_line_book()).expect("book");
            let req = rating::quote::read_request(&book, &ten_line_request(), true).expect("request");
            let n = 10_000;
            let t = std::time::Instant::now();
            let lines = run_quote(&book, &req, n) / n;
            println!("{} quotes ({} lines) in {:?}", n, lines, t.elapsed());
        }
        "parse" => {
            let text = registrar_text(1500);
            let n = 20;
            println!("{} parses of a 1,500-key book ({} ok)", n, run_parse(&text, n));
        }
        "record" => {
            let book = meter_book();
            let start = parse_timestamp("2026-01-01T00:00:00Z").expect("time");
            let sub = Subscription {
                customer: "c".into(),
                plan: "p".into(),
                start: Some(start),
                ..Default::default()
            };
            let events: Vec<_> = (0..20_000)
                .map(|i| {
                    let t = start + chrono::Duration::seconds(i as i64 * 60);
                    parse_event(&json!({"specversion": "1.0", "id": format!("e{i}"), "source": "bench",
                        "type": format!("dim{}", i % 10), "subject": "c", "time": fmt_timestamp(t), "data": {"quantity": "3.5"}}))
                    .expect("event")
                })
                .collect();
            let mut m = subscribe(&book, &sub).expect("subscribe");
            println!("{} records ({})", events.len(), run_record(&book, &mut m, &events));
        }
        other => eprintln!("unknown: {other} (quote, parse, record)"),
    }
}
