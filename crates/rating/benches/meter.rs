//! `Meter::record` throughput on a 10-dimension plan with allowances and
//! graduated tiers. Run: `cargo bench -p rating --bench meter`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rating::meter::subscribe;
use std::hint::black_box;

#[allow(dead_code)]
mod fixtures;

fn record(c: &mut Criterion) {
    let b = fixtures::meter_book();
    let sub = fixtures::meter_subscription();
    const N: usize = 10_000;
    let events = fixtures::meter_events(N);
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
