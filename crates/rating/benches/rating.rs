//! Engine benchmarks (criterion): quoting a 10-line plan, typed and
//! through JSON, and reading a registrar's 1,500-key price book.
//!
//! Run: `cargo bench -p rating --bench rating` (results in BENCHMARKS.md).
//! Targets: a quote under 5 µs, the 1,500-key book under 5 ms.

use criterion::{criterion_group, criterion_main, Criterion};
use rating::price_book::canonical_json;
use rating::quote::{quote, quote_value, read_request};
use rating::PriceBook;
use serde_json::Value;
use std::hint::black_box;

#[allow(dead_code)]
mod fixtures;
use fixtures::{registrar_text, ten_line_book, ten_line_request};

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
