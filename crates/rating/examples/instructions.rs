//! Instruction counts of the hot operations, for `valgrind --tool=callgrind`
//! (repeatable where wall-clock timings on a shared 2-core box are not):
//!
//! ```sh
//! cargo build --release -p rating --example instructions
//! valgrind --tool=callgrind --toggle-collect='*instructions::run_*' target/release/examples/instructions quote
//! ```
//!
//! and divide the total by the iteration count it prints. The inputs are
//! the criterion benches', from `benches/fixtures/mod.rs`.

use rating::meter::subscribe;
use rating::PriceBook;

#[allow(dead_code)]
#[path = "../benches/fixtures/mod.rs"]
mod fixtures;
use fixtures::{meter_book, meter_events, meter_subscription, registrar_text, ten_line_book, ten_line_request};

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
            let sub = meter_subscription();
            let events = meter_events(20_000);
            let mut m = subscribe(&book, &sub).expect("subscribe");
            println!("{} records ({})", events.len(), run_record(&book, &mut m, &events));
        }
        other => eprintln!("unknown: {other} (quote, parse, record)"),
    }
}
