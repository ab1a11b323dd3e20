//! `Meter::record` throughput on a 10-dimension plan with allowances and
//! graduated tiers. Run: `cargo bench -p rating --bench meter`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rating::event::parse_event;
use rating::meter::{subscribe, Subscription};
use rating::period::{fmt_timestamp, parse_timestamp};
use rating::PriceBook;
use serde_json::json;
use std::hint::black_box;

fn book() -> PriceBook {
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

fn record(c: &mut Criterion) {
    let b = book();
    let start = parse_timestamp("2026-01-01T00:00:00Z").unwrap();
    let sub = Subscription {
        customer: "c".into(),
        plan: "p".into(),
        start: Some(start),
        ..Default::default()
    };
    const N: usize = 10_000;
    let events: Vec<_> = (0..N)
        .map(|i| {
            let t = start + chrono::Duration::seconds(i as i64 * 60);
            parse_event(&json!({"specversion": "1.0", "id": format!("e{i}"), "source": "bench", "type": format!("dim{}", i % 10),
                "subject": "c", "time": fmt_timestamp(t), "data": {"quantity": "3.5"}}))
            .unwrap()
        })
        .collect();
    let mut g = c.benchmark_group("meter");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("record_10k_events_10_dimensions", |bench| {
        bench.iter_batched(
            || subscribe(&b, &sub).unwrap(),
            |mut m| {
                for e in &events {
                    black_box(m.record(&b, e, e.time.unwrap()));
                }
                m
            },
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, record);
criterion_main!(benches);
