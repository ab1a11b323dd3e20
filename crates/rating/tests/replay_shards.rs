//! A replay split into shards over disjoint customers (one thread each in
//! `rating replay`) gives the same document as one replay: every meter
//! sees its own customer's events in file order either way.

use rating::period::parse_timestamp;
use rating::replay::{read_subscriptions, Replay};
use rating::PriceBook;

fn example(name: &str) -> String {
    let path = format!("{}/../../examples/replay/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn customers() -> Vec<String> {
    let subs = serde_json::from_str(&example("subscriptions.json")).unwrap();
    let subs = read_subscriptions(&subs).unwrap();
    subs.iter().map(|s| s.subscription.customer.clone()).collect()
}

/// The example's events, then generated ones (repeats and late events
/// among them) for every customer.
fn events() -> Vec<String> {
    let mut out: Vec<String> = example("events.ndjson").lines().map(str::to_string).collect();
    let customers = customers();
    let products = ["bandwidth", "builds", "invocations"];
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    for i in 0..3000u64 {
        let c = &customers[next(customers.len() as u64) as usize];
        let p = products[next(3) as usize];
        // Mostly in order over three months, some a few days late.
        let secs = (i * 2600) as i64 - (next(4) * 86_400) as i64;
        let t = chrono::DateTime::from_timestamp(1_767_225_600 + secs, 0).unwrap();
        let id = if next(10) == 0 { i / 2 } else { i };
        out.push(format!(
            r#"{{"specversion":"1.0","id":"e{id}","source":"gen","type":"{p}","subject":"{c}","time":"{}","data":{{"quantity":"{}"}}}}"#,
            t.format("%Y-%m-%dT%H:%M:%SZ"),
            next(50)
        ));
    }
    // A line that is not an event and one for an unknown customer: each
    // counted once, whatever the shards.
    out.push("{\"specversion\":\"1.0\"".to_string());
    out.push(
        r#"{"specversion":"1.0","id":"x1","source":"s","type":"builds","subject":"nobody","time":"2026-01-05T00:00:00Z","data":{"quantity":"1"}}"#
            .to_string(),
    );
    out
}

fn document(book: &PriceBook, shards: usize, events: &[String], at: &str) -> serde_json::Value {
    let subs = serde_json::from_str(&example("subscriptions.json")).unwrap();
    let subs = read_subscriptions(&subs).unwrap();
    let at = parse_timestamp(at).unwrap();
    let mut parts = Replay::new(book, &subs).unwrap().split(shards);
    assert_eq!(parts.len(), shards.max(1));
    for line in events {
        let parsed = rating::event::parse_event_text(line);
        let k = parsed.as_ref().map_or(0, |e| Replay::shard_of(&e.customer, shards));
        parts[k].feed_parsed_status(&parsed, at);
    }
    for p in &mut parts {
        p.settle(at);
    }
    Replay::join(parts).unwrap().finish(at).unwrap()
}

#[test]
fn shards_give_the_same_document_as_one_replay() {
    let book = PriceBook::parse(&example("book.json")).unwrap();
    let events = events();
    for at in ["2026-02-15T00:00:00Z", "2026-04-01T00:00:00Z"] {
        let one = document(&book, 1, &events, at);
        let count = |k: &str| one["receipts"][k].as_u64().unwrap_or(0);
        assert!(
            count("accepted") > 300 && count("duplicate") > 10 && count("rejected") >= 2,
            "{}",
            one["receipts"]
        );
        for n in 2..=5 {
            assert_eq!(document(&book, n, &events, at), one, "{n} shards at {at}");
        }
    }
}

#[test]
fn every_customer_goes_to_exactly_one_shard() {
    for n in 1..=8 {
        for c in ["", "cus_1", "cus_000617", "é"] {
            let k = Replay::shard_of(c, n);
            assert!(k < n);
            assert_eq!(k, Replay::shard_of(c, n));
        }
    }
}

/// The pretty document `rating replay` prints, rendered in chunks of
/// customers, is byte for byte serde_json's pretty printing of it.
#[test]
fn chunked_pretty_output_is_serde_jsons_layout() {
    let book = PriceBook::parse(&example("book.json")).unwrap();
    let all = serde_json::from_str(&example("subscriptions.json")).unwrap();
    let all = read_subscriptions(&all).unwrap();
    let at = parse_timestamp("2026-04-01T00:00:00Z").unwrap();
    for subs in [&all[..], &all[..1], &[]] {
        let run = |chunk: usize| {
            let mut r = Replay::new(&book, subs).unwrap();
            for line in events() {
                r.feed_parsed_status(&rating::event::parse_event_text(&line), at);
            }
            let done = r.close(at).unwrap();
            let n = done.customer_count();
            let chunks: Vec<Vec<u8>> = (0..n.div_ceil(chunk).max(1))
                .map(|k| {
                    let mut out = Vec::new();
                    done.render_customers(k * chunk..((k + 1) * chunk).min(n), &mut out);
                    out
                })
                .collect();
            let mut ours = Vec::new();
            done.write_pretty(&mut ours, chunks).unwrap();
            let mut serde = Vec::new();
            rating::pretty::to_writer_pretty(&mut serde, &done).unwrap();
            (String::from_utf8(ours).unwrap(), String::from_utf8(serde).unwrap())
        };
        for chunk in [1, 2, 100] {
            let (ours, serde) = run(chunk);
            assert_eq!(ours, serde, "{} customers in chunks of {chunk}", subs.len());
            assert!(ours.contains("\"customers\": ["));
        }
    }
}
