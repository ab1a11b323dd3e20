//! Native timing of the work `book.quoteJson(text)` does in WebAssembly,
//! with the same calls (`src/quote.rs`): JSON text in (`parse_json`),
//! `read_request`, `quote`, JSON text out (`serde_json::to_string`).
//! `npm/bench/bench.js` runs it on the same workload as the WASM build to
//! compare the two.
//!
//! `cargo run --release -p rating-wasm --example quote_timing -- WORKLOAD.json ROUNDS`
//! where WORKLOAD.json is `[{"book": text, "requests": [text, ...]}, ...]`;
//! prints `{"ns_per_quote": median over ROUNDS, "quotes_per_round": n}`.

use rating::json::parse_json;
use rating::quote::{quote, read_request};
use rating::PriceBook;
use std::time::Instant;

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).ok_or("usage: quote_timing WORKLOAD.json [ROUNDS]")?;
    let rounds: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(7);
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let workload: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let mut cases: Vec<(PriceBook, Vec<String>)> = Vec::new();
    for w in workload.as_array().ok_or("the workload is a list")? {
        let book = PriceBook::parse(w["book"].as_str().ok_or("book is text")?).map_err(|e| e.to_string())?;
        let requests = w["requests"]
            .as_array()
            .ok_or("requests is a list")?
            .iter()
            .filter_map(|r| r.as_str().map(str::to_string))
            .collect();
        cases.push((book, requests));
    }
    let mut per_round = Vec::new();
    let mut n = 0usize;
    let mut sink = 0usize;
    for round in 0..=rounds {
        n = 0;
        let start = Instant::now();
        for (book, requests) in &cases {
            for r in requests {
                let out = parse_json(r)
                    .map_err(|p| p.message)
                    .and_then(|v| read_request(book, &v, true).map_err(|e| e.message))
                    .and_then(|req| {
                        let q = quote(book, &req).map_err(|e| e.message)?;
                        serde_json::to_string(&q).map_err(|e| e.to_string())
                    });
                sink += out.map_or(1, |s| s.len());
                n += 1;
            }
        }
        let elapsed = start.elapsed().as_nanos() as f64;
        if round > 0 {
            per_round.push(elapsed / n as f64); // round 0 warms up
        }
    }
    per_round.sort_by(|a, b| a.total_cmp(b));
    let median = per_round[per_round.len() / 2];
    println!("{{\"ns_per_quote\": {median:.0}, \"quotes_per_round\": {n}, \"sink\": {sink}}}");
    Ok(())
}
