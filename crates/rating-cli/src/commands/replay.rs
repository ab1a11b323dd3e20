//! `rating replay` and `rating diff` (docs/contract.md §9): stream NDJSON events
//! through the engine's replay, one line at a time.

use super::read_book;
use crate::error::CliError;
use crate::input::Input;
use rating::error::{codes, Problem};
use rating::period::{parse_timestamp, Timestamp};
use rating::replay::{read_subscriptions, Replay, SubscriptionSpec};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::io::Write;
use std::str::FromStr;

fn parse_at(at: &str) -> Result<Timestamp, CliError> {
    parse_timestamp(at).ok_or_else(|| {
        CliError::from(Problem::at(
            codes::INVALID_TIMESTAMP,
            "--at",
            format!("{at:?} is not an RFC 3339 timestamp"),
        ))
    })
}

/// Most billing periods replay closes for one customer. `--at` centuries
/// after a monthly subscription's start (year 9999, say) would otherwise
/// print gigabytes of invoices; 10,000 is over a year of hourly periods.
pub const MAX_PERIODS: i64 = 10_000;

fn read_subs(input: &Input, book: &rating::PriceBook, at: Timestamp) -> Result<Vec<SubscriptionSpec>, CliError> {
    let v = input.read_json()?;
    let subs = read_subscriptions(&v).map_err(|e| CliError::from(e).in_file(input.name()))?;
    for s in &subs {
        let sub = &s.subscription;
        let start = sub.start;
        let Some(plan) = sub.request.plan.as_deref().and_then(|p| book.plan(p)) else {
            continue;
        };
        let anchor = sub.request.anchor.unwrap_or(start);
        let index = |t| plan.period.containing(anchor, t).map(|(k, _, _)| k);
        let periods = match (index(start), index(at)) {
            (Some(a), Some(b)) => b.saturating_sub(a),
            _ => i64::MAX,
        };
        if at > start && periods > MAX_PERIODS {
            return Err(CliError::from(Problem::at(
                codes::OUT_OF_RANGE,
                "--at",
                format!(
                    "--at is more than {MAX_PERIODS} billing periods after the start of {:?}'s subscription; \
                     replay closes at most {MAX_PERIODS} per customer",
                    sub.customer
                ),
            )));
        }
    }
    Ok(subs)
}

/// Reads the event lines of `events`, calling `each` with every non-empty
/// line's text.
fn read_lines(events: &Input, mut each: impl FnMut(&str) -> Result<(), CliError>) -> Result<(), CliError> {
    let mut reader = events.lines()?;
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| CliError::io(format!("cannot read events: {e}")).in_file(events.name()))?;
        if n == 0 {
            return Ok(());
        }
        number += 1;
        // Like any JSON document that is not UTF-8 (the line is not text).
        let text = std::str::from_utf8(&line).map_err(|_| {
            CliError::from(Problem::general(
                codes::INVALID_JSON,
                format!("not valid JSON: line {number} of the events is not UTF-8 text"),
            ))
            .in_file(events.name())
        })?;
        let text = text.trim();
        if !text.is_empty() {
            each(text)?;
        }
    }
}

/// Events read and validated ahead of rating, a batch at a time.
type Batch = Vec<Result<rating::event::UsageEvent, Problem>>;
const BATCH: usize = 1024;

/// How many threads rate events: one per core, at most 16.
fn shard_count() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 16)
}

/// Feeds every line of `events` to each replay (one pass over the file),
/// then settles them at `at`.
///
/// Without receipts to write, the replays are split into shards over
/// disjoint customers, one thread each, and reading and validating the
/// events runs on its own thread, dealing them out a batch at a time:
/// every meter still sees its customer's events in file order, so the
/// result is the same as one thread's.
fn stream<'b>(
    events: &Input,
    at: Timestamp,
    replays: Vec<Replay<'b>>,
    sink: Option<&mut dyn Write>,
) -> Result<Vec<Replay<'b>>, CliError> {
    if let Some(sink) = sink {
        let mut replays = replays;
        stream_receipts(events, at, &mut replays, sink)?;
        for r in &mut replays {
            r.settle(at);
        }
        return Ok(replays);
    }
    let n = shard_count();
    let books = replays.len();
    // shards[k][b]: shard k of book b.
    let mut shards: Vec<Vec<Replay>> = (0..n).map(|_| Vec::with_capacity(books)).collect();
    for r in replays {
        for (k, s) in r.split(n).into_iter().enumerate() {
            if let Some(v) = shards.get_mut(k) {
                v.push(s);
            }
        }
    }
    std::thread::scope(|scope| {
        let mut senders = Vec::with_capacity(n);
        // Rated batches go back to the reader to be emptied there: the
        // events' strings are freed by the thread that made them (glibc
        // frees across threads slowly) and the batches' space is reused.
        let (back_tx, back_rx) = std::sync::mpsc::channel::<Batch>();
        let mut workers = Vec::with_capacity(n);
        for mut shard in std::mem::take(&mut shards) {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(8);
            senders.push(tx);
            let back_tx = back_tx.clone();
            workers.push(scope.spawn(move || {
                for batch in rx {
                    for parsed in &batch {
                        for r in shard.iter_mut() {
                            r.feed_parsed_status(parsed, at);
                        }
                    }
                    let _ = back_tx.send(batch);
                }
                for r in &mut shard {
                    r.settle(at);
                }
                shard
            }));
        }
        drop(back_tx);
        let read = (|| {
            let fresh = || match back_rx.try_recv() {
                Ok(mut b) => {
                    b.clear();
                    b
                }
                Err(_) => Vec::with_capacity(BATCH),
            };
            let mut batches: Vec<Batch> = (0..n).map(|_| fresh()).collect();
            read_lines(events, |text| {
                let parsed = rating::event::parse_event_text(text);
                // Invalid events are counted by shard 0.
                let k = parsed.as_ref().map_or(0, |e| Replay::shard_of(&e.customer, n));
                let Some(batch) = batches.get_mut(k) else { return Ok(()) };
                batch.push(parsed);
                if batch.len() == BATCH {
                    let full = std::mem::replace(batch, fresh());
                    // A receiver only goes away when its thread failed.
                    if let Some(tx) = senders.get(k) {
                        tx.send(full).map_err(|_| CliError::io("rating stopped".to_string()))?;
                    }
                }
                Ok(())
            })?;
            for (batch, tx) in batches.into_iter().zip(&senders) {
                if !batch.is_empty() {
                    let _ = tx.send(batch);
                }
            }
            Ok::<(), CliError>(())
        })();
        drop(senders);
        let mut done: Vec<Vec<Replay>> = Vec::with_capacity(n);
        for w in workers {
            done.push(
                w.join()
                    .map_err(|_| CliError::io("a rating thread stopped".to_string()))?,
            );
        }
        read?;
        // Back to one replay per book.
        let mut per_book: Vec<Vec<Replay>> = (0..books).map(|_| Vec::with_capacity(n)).collect();
        for shard in done {
            for (b, r) in shard.into_iter().enumerate() {
                if let Some(v) = per_book.get_mut(b) {
                    v.push(r);
                }
            }
        }
        Ok(per_book.into_iter().filter_map(Replay::join).collect())
    })
}

/// [`stream`], writing the first replay's receipts to `sink`.
fn stream_receipts(
    events: &Input,
    at: Timestamp,
    replays: &mut [Replay],
    sink: &mut dyn Write,
) -> Result<(), CliError> {
    read_lines(events, |text| {
        for (i, r) in replays.iter_mut().enumerate() {
            if i > 0 {
                r.feed_text_status(text, at);
                continue;
            }
            let receipt = r.feed_text(text, at);
            let text = serde_json::to_string(&receipt).unwrap_or_default();
            writeln!(sink, "{text}").map_err(|e| CliError::io(format!("cannot write receipts: {e}")))?;
        }
        Ok(())
    })
}

/// `rating replay BOOK EVENTS --subscriptions SUBS --at TIME [--receipts FILE]`.
pub fn replay(
    book: &Input,
    events: &Input,
    subscriptions: &Input,
    at: &str,
    receipts: Option<&std::path::Path>,
) -> Result<Value, CliError> {
    // Returns `Value::Null` once it has printed the document itself.
    let at = parse_at(at)?;
    let book = read_book(book)?;
    let subs = read_subs(subscriptions, &book, at)?;
    let replay = Replay::new(&book, &subs).map_err(|e| CliError::from(e).in_file(subscriptions.name()))?;
    drop(subs);
    let mut file = match receipts {
        Some(p) => {
            Some(std::io::BufWriter::new(std::fs::File::create(p).map_err(|e| {
                CliError::io(format!("cannot write {}: {e}", p.display()))
            })?))
        }
        None => None,
    };
    let replays = stream(events, at, vec![replay], file.as_mut().map(|f| f as &mut dyn Write))?;
    if let Some(f) = file.as_mut() {
        f.flush()
            .map_err(|e| CliError::io(format!("cannot write receipts: {e}")))?;
    }
    let Some(r) = replays.into_iter().next() else {
        return Err(CliError::io("the replay stopped".to_string()));
    };
    let done = r.close(at).map_err(CliError::from)?;
    // Streamed straight to stdout: the document can be large.
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    write_document(&done, &mut out)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
        .map_err(|e| CliError::io(format!("cannot write to stdout: {e}")))?;
    Ok(Value::Null)
}

/// Customers rendered per chunk of the document.
const CHUNK: usize = 64;

/// Writes the pretty document, its customers rendered on one thread per
/// core (chunk `c` by thread `c % threads`, a bounded queue each) and
/// written in order.
fn write_document(done: &rating::replay::Finished, out: &mut dyn Write) -> std::io::Result<()> {
    let n = done.customer_count();
    let chunks = n.div_ceil(CHUNK);
    let threads = shard_count().min(chunks.max(1));
    std::thread::scope(|scope| {
        let mut queues = Vec::with_capacity(threads);
        for k in 0..threads {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(2);
            queues.push(rx);
            scope.spawn(move || {
                for c in (k..chunks).step_by(threads) {
                    // About 11 KB a customer with a few months of invoices:
                    // room up front instead of doubling on the way.
                    let mut buf = Vec::with_capacity(CHUNK * 16 * 1024);
                    done.render_customers(c * CHUNK..((c + 1) * CHUNK).min(n), &mut buf);
                    // The writer only stops listening when writing failed.
                    if tx.send(buf).is_err() {
                        break;
                    }
                }
            });
        }
        let rendered = (0..chunks).map_while(|c| queues.get(c % threads).and_then(|q| q.recv().ok()));
        done.write_pretty(out, rendered)
    })
}

fn customer_totals(doc: &Value) -> Vec<(String, Decimal)> {
    let dec = |v: &Value| v.as_str().and_then(|s| Decimal::from_str(s).ok()).unwrap_or_default();
    doc["customers"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    let invoiced: Decimal = c["invoices"]
                        .as_array()
                        .map_or(Decimal::ZERO, |is| is.iter().map(|i| dec(&i["total"])).sum());
                    let open = dec(&c["open_period"]["total"]);
                    (c["customer"].as_str().unwrap_or_default().to_string(), invoiced + open)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `rating diff OLD NEW EVENTS --subscriptions SUBS --at TIME`.
pub fn diff(
    old_book: &Input,
    new_book: &Input,
    events: &Input,
    subscriptions: &Input,
    at: &str,
) -> Result<Value, CliError> {
    let at = parse_at(at)?;
    let old = read_book(old_book)?;
    let new = read_book(new_book)?;
    if old.doc().currency != new.doc().currency {
        return Err(CliError::from(Problem::at(
            codes::INVALID_VALUE,
            "currency",
            "the two books bill in different currencies",
        ))
        .in_file(new_book.name()));
    }
    let subs = read_subs(subscriptions, &old, at)?;
    let replays = vec![
        Replay::new(&old, &subs).map_err(|e| CliError::from(e).in_file(old_book.name()))?,
        Replay::new(&new, &subs).map_err(|e| CliError::from(e).in_file(new_book.name()))?,
    ];
    let mut replays = stream(events, at, replays, None)?.into_iter();
    let (Some(a), Some(b)) = (replays.next(), replays.next()) else {
        return Err(CliError::io("the replay stopped".to_string()));
    };
    let (da, db) = (
        a.finish(at).map_err(CliError::from)?,
        b.finish(at).map_err(CliError::from)?,
    );
    let scale = old.scale_of(&old.doc().currency).unwrap_or(2);
    let fmt = |d: Decimal| rating::money::fmt_money(d, scale);
    let (ta, tb) = (customer_totals(&da), customer_totals(&db));
    let mut customers = Vec::new();
    let (mut sum_old, mut sum_new) = (Decimal::ZERO, Decimal::ZERO);
    for ((c, o), (_, n)) in ta.iter().zip(tb.iter()) {
        sum_old += *o;
        sum_new += *n;
        customers.push(json!({"customer": c, "old": fmt(*o), "new": fmt(*n), "difference": fmt(*n - *o)}));
    }
    Ok(json!({
        "currency": old.doc().currency,
        "customers": customers,
        "totals": {"old": fmt(sum_old), "new": fmt(sum_new), "difference": fmt(sum_new - sum_old)},
        "old_price_book": old.hash(),
        "new_price_book": new.hash(),
    }))
}
