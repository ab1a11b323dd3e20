//! The bodies of the fuzz targets, shared by cargo-fuzz (`fuzz/fuzz_targets/`,
//! nightly, libFuzzer) and the stable corpus test
//! (`crates/rating/tests/fuzz_corpus.rs`), which includes this file by path.
//! Every function takes the fuzzer's bytes and panics only when the engine
//! breaks a promise: a panic inside the engine, or a violated invariant.
//!
//! It uses only the engine's public API (plus `serde_json`, `rust_decimal`
//! and `chrono`, which the engine depends on), so it builds in both places.

use rating::event::{parse_event, parse_event_text, UsageEvent};
use rating::meter::{subscribe, Meter, Status, Subscription};
use rating::period::{fmt_timestamp, parse_timestamp, Timestamp};
use rating::price_book::ProductType;
use rating::quote::LineKind;
use rating::PriceBook;
use rust_decimal::Decimal;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::str::FromStr;

/// The example price books every stateful target works on: `examples/*.json`
/// and a few books from `tests/vectors`, as JSON text.
pub const BOOKS: &[&str] = &[
    include_str!("../../examples/saas.json"),
    include_str!("../../examples/api-gateway.json"),
    include_str!("../../examples/credits.json"),
    include_str!("../../examples/freemium.json"),
    include_str!("../../examples/hybrid.json"),
    include_str!("../../examples/marketplace.json"),
    include_str!("../../examples/multi-currency.json"),
    include_str!("../../examples/registrar.json"),
    include_str!("../../examples/team.json"),
    include_str!("../../examples/telecom.json"),
    include_str!("../../examples/replay/book.json"),
    include_str!("../../examples/replay/book-proposed.json"),
];

/// Parses [`BOOKS`] (they are valid: CI checks them).
pub fn books() -> Vec<PriceBook> {
    BOOKS
        .iter()
        .map(|t| PriceBook::parse(t).expect("example price books are valid"))
        .collect()
}

fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap_or_else(|_| panic!("{s:?} is not a decimal the engine should print"))
}

/// `price_book`: any text either parses into a book whose serialized form
/// parses back to the same hash, or is an error with a code.
pub fn price_book(data: &[u8]) {
    let Some(t) = text(data) else { return };
    match PriceBook::parse(t) {
        Ok(book) => {
            let again = PriceBook::from_value(&book.to_value())
                .unwrap_or_else(|e| panic!("a parsed book's own JSON is rejected: {e}"));
            assert_eq!(again.hash(), book.hash(), "parse → serialize → parse changed the hash");
        }
        Err(e) => {
            assert!(!e.code.is_empty());
            let _ = serde_json::to_string(&e).expect("errors serialize");
        }
    }
}

/// `event`: the fast text reader and the general reader over a parsed value
/// agree exactly (same event, same fingerprint, same error).
pub fn event(data: &[u8]) {
    let Some(t) = text(data) else { return };
    let fast = parse_event_text(t);
    let general = rating::json::parse_json(t).and_then(|v| parse_event(&v));
    assert_eq!(fast, general, "parse_event_text and parse_event disagree on {t:?}");
}

/// `quote`: the first byte picks an example book, the rest is a quote (and
/// compare) request. Never a panic; a result serializes and re-parses, and
/// its total is a decimal.
pub fn quote(books: &[PriceBook], data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Some(t) = text(rest) else { return };
    let book = &books[usize::from(pick) % books.len()];
    let Ok(request) = rating::json::parse_json(t) else {
        return;
    };
    if let Ok(v) = rating::quote::quote_value(book, &request) {
        let printed = serde_json::to_string(&v).expect("a quote serializes");
        let back: Value = serde_json::from_str(&printed).expect("a quote's JSON re-parses");
        let total = back["total"].as_str().expect("a quote has a total string");
        let subtotal = back["subtotal"].as_str().expect("a quote has a subtotal string");
        let discount = back["discount"].as_str().unwrap_or("0");
        assert_eq!(
            dec(subtotal) - dec(discount),
            dec(total),
            "total is not subtotal - discount: {printed}"
        );
    }
    if let Ok(v) = rating::quote::compare_value(book, &request) {
        let printed = serde_json::to_string(&v).expect("a comparison serializes");
        let _: Value = serde_json::from_str(&printed).expect("a comparison's JSON re-parses");
    }
}

/// Reads the fuzzer's bytes as choices.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn u8(&mut self) -> u8 {
        self.byte().unwrap_or(0)
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    fn pick<'t, T>(&mut self, items: &'t [T]) -> Option<&'t T> {
        if items.is_empty() {
            return None;
        }
        Some(&items[usize::from(self.u8()) % items.len()])
    }

    /// A quantity: mostly small decimals, sometimes huge or with many digits.
    fn quantity(&mut self) -> String {
        match self.u8() % 8 {
            0 => "0".into(),
            1 => "79228162514264337593543950335".into(),
            2 => "0.0000000000000000000000000001".into(),
            3 => format!("{}{:06}", self.u16(), self.u16()),
            _ => Decimal::new(i64::from(self.u16()), u32::from(self.u8() % 4)).to_string(),
        }
    }
}

/// What the `record` target knows about a book.
struct Catalogue {
    base_plans: Vec<String>,
    addons: Vec<String>,
    metered: Vec<String>,
    counted: Vec<String>,
    packs: Vec<String>,
    keys: Vec<String>,
    properties: Vec<String>,
}

fn catalogue(book: &PriceBook) -> Catalogue {
    let doc = book.doc();
    let plans = |addon: bool| {
        doc.plans
            .iter()
            .filter(|p| p.addon == addon)
            .map(|p| p.id.clone())
            .collect()
    };
    let of = |kinds: &[ProductType]| {
        doc.products
            .iter()
            .filter(|p| kinds.contains(&p.kind))
            .map(|p| p.id.clone())
            .collect()
    };
    let mut keys: Vec<String> = doc
        .plans
        .iter()
        .flat_map(|p| &p.items)
        .filter_map(|i| i.prices.as_ref())
        .flat_map(|m| m.keys().cloned())
        .collect();
    keys.push("nope".into());
    let mut properties: Vec<String> = doc
        .products
        .iter()
        .filter_map(|p| p.price_key_label.as_ref())
        .flat_map(|l| l.properties().into_iter().map(str::to_string).collect::<Vec<_>>())
        .collect();
    properties.extend(doc.products.iter().filter_map(|p| p.property.clone()));
    properties.sort();
    properties.dedup();
    Catalogue {
        base_plans: plans(false),
        addons: plans(true),
        metered: of(&[ProductType::Metered]),
        counted: of(&[ProductType::Seat, ProductType::Recurring]),
        packs: doc.credit_packs.iter().map(|p| p.id.clone()).collect(),
        keys,
        properties,
    }
}

/// Sums of accepted receipt amounts per (product, price key) for events whose
/// time falls in one open period.
#[derive(Default)]
struct Sums {
    start: Option<Timestamp>,
    /// False once anything but events touched the period (quantity or plan
    /// changes, credits, cancellations): the simple invariant no longer applies.
    clean: bool,
    lines: HashMap<(String, Option<String>), Decimal>,
    /// An event was counted into a period these sums do not track yet
    /// (`record` closed the tracked one first): the next period is not clean.
    next_dirty: bool,
}

/// Most operations one `record` run performs.
const MAX_OPS: u32 = 48;

/// `FUZZ_TRACE=1` prints what `record` does (to understand a crash).
fn trace() -> bool {
    static TRACE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("FUZZ_TRACE").is_some())
}

fn start_time() -> Timestamp {
    parse_timestamp("2026-01-01T00:00:00Z").expect("a valid time")
}

/// `record`: a meter on an example book, then fuzzer-chosen events and
/// changes. Never a panic, and:
/// - every allowance dimension has `remaining` ≥ 0 and `used` ≥ 0;
/// - every invoice's total is the sum of its money lines;
/// - an accepted receipt has an amount; a duplicate never changes state;
/// - for a period touched only by events, rounding the sum of a usage line's
///   receipt amounts gives the invoice line (docs/contract.md §5);
/// - the meter's state survives a JSON round trip (`restoreMeter`).
pub fn record(books: &[PriceBook], data: &[u8]) {
    let mut b = Bytes(data);
    let book = &books[usize::from(b.u8()) % books.len()];
    let cat = catalogue(book);
    let Some(plan) = b.pick(&cat.base_plans).cloned() else {
        return;
    };
    let start = start_time() + chrono::Duration::hours(i64::from(b.u16()));
    let flags = b.u8();
    let anchor = (flags & 1 == 1).then(|| start + chrono::Duration::days(i64::from(flags >> 1)));
    let mut addons = Vec::new();
    if flags & 2 == 2 {
        if let Some(a) = b.pick(&cat.addons) {
            addons.push(a.clone());
        }
    }
    let mut quantities = indexmap::IndexMap::new();
    if let Some(p) = b.pick(&cat.counted) {
        quantities.insert(p.clone(), Decimal::from(b.u8() % 20));
    }
    let sub = Subscription {
        customer: "c".into(),
        plan,
        addons,
        start: Some(start),
        anchor,
        quantities,
        spend_alert_thresholds: Vec::new(),
    };
    if trace() {
        eprintln!("book {} {sub:?}", book.doc().id);
    }
    let Ok(mut m) = subscribe(book, &sub) else { return };
    let mut now = start;
    let mut sums = Sums::default();
    let mut n = 0u32;
    check_invoices(book, &mut m, &mut sums);
    // A bounded number of operations keeps each run fast (the fuzzer then
    // tries many more sequences).
    while let Some(op) = b.byte().filter(|_| n < MAX_OPS) {
        n += 1;
        match op % 10 {
            0..=4 => {
                let ev = event_for(&mut b, &cat, now, n);
                if trace() {
                    eprintln!("record at {} {ev}", fmt_timestamp(now));
                }
                let Ok(ev) = parse_event(&ev) else { continue };
                record_one(book, &mut m, &ev, now, &mut sums);
            }
            5 => {
                sums.clean = false;
                if let Some(p) = b.pick(&cat.counted) {
                    let q = Decimal::from(b.u8() % 30);
                    let _ = m.change_quantity(book, p, q, now);
                }
            }
            6 => {
                sums.clean = false;
                if let Some(p) = b.pick(&cat.packs) {
                    let _ = m.purchase_credits(book, p, now);
                }
            }
            7 => {
                let hours = i64::from(b.u16() % 1500);
                now += chrono::Duration::hours(hours);
                let _ = m.advance_to(book, now);
            }
            8 => {
                sums.clean = false;
                let how = b.u8();
                if how & 3 == 0 {
                    let _ = m.cancel(book, now, how & 4 == 4);
                } else if let Some(p) = b.pick(&cat.base_plans) {
                    let _ = m.transition_plan(book, p, now, how & 4 == 4);
                }
            }
            _ => {
                now += chrono::Duration::minutes(i64::from(b.u16()));
            }
        }
        if trace() {
            eprintln!("op {} now {} period {:?}", op % 10, fmt_timestamp(now), m.period);
        }
        check_invoices(book, &mut m, &mut sums);
        check_views(book, &m, now);
    }
    let later = now + chrono::Duration::days(40);
    check_views(book, &m, later);
    let state = serde_json::to_value(&m).expect("a meter serializes");
    let back: Meter = serde_json::from_value(state).expect("a meter's JSON restores");
    assert_eq!(back, m, "a meter's state changes through JSON");
    if m.advance_to(book, later).is_ok() {
        check_invoices(book, &mut m, &mut sums);
    }
}

/// A CloudEvent for one of the book's metered products (or something else).
fn event_for(b: &mut Bytes, cat: &Catalogue, now: Timestamp, n: u32) -> Value {
    let product = match b.pick(&cat.metered) {
        Some(p) if b.u8() & 15 != 0 => p.clone(),
        _ => "unknown".into(),
    };
    let back = i64::from(b.u16() % 4000) - 10;
    let time = now - chrono::Duration::minutes(back);
    let mut data = Map::new();
    let flags = b.u8();
    if flags & 1 == 0 {
        data.insert("quantity".into(), Value::String(b.quantity()));
    }
    if flags & 2 == 2 {
        data.insert("amount".into(), Value::String(b.quantity()));
    }
    for p in &cat.properties {
        if let Some(k) = b.pick(&cat.keys) {
            data.insert(p.clone(), Value::String(k.clone()));
        }
    }
    // Few distinct ids, so that duplicates (and conflicting ones) happen.
    let id = if flags & 4 == 4 {
        format!("d{}", b.u8() % 8)
    } else {
        format!("e{n}")
    };
    let mut ev = json!({"specversion": "1.0", "id": id, "source": "s", "type": product,
        "subject": "c", "data": data});
    if flags & 8 == 0 {
        ev["time"] = Value::String(fmt_timestamp(time));
    }
    ev
}

fn record_one(book: &PriceBook, m: &mut Meter, ev: &UsageEvent, now: Timestamp, sums: &mut Sums) {
    // Snapshot only when the event is a duplicate (serializing is slow).
    let before = m
        .dedup
        .get(&ev.source, &ev.id)
        .map(|_| serde_json::to_value(&*m).expect("a meter serializes"));
    let r = m.record(book, ev, now);
    if trace() {
        eprintln!("  {r:?}");
    }
    match r.status {
        Status::Accepted => {
            let amount = r.amount.as_deref().expect("an accepted receipt has an amount");
            let amount = dec(amount);
            let t = ev.time.unwrap_or(now);
            if sums.start == Some(m.period.start) && t >= m.period.start && t < m.period.end {
                let unit = r.currency.clone().unwrap_or_default();
                if unit == book.doc().currency {
                    *sums
                        .lines
                        .entry((ev.product.to_string(), r.price_key.as_deref().map(str::to_string)))
                        .or_default() += amount;
                } else {
                    sums.clean = false;
                }
            } else if t >= m.period.start && t < m.period.end {
                // An event in a period we did not see open from its start.
                sums.next_dirty = true;
            }
        }
        Status::Duplicate => {
            let before = before.expect("a duplicate was seen before");
            let after = serde_json::to_value(&*m).expect("a meter serializes");
            let strip = |mut v: Value| {
                v["counts"] = Value::Null;
                v
            };
            assert_eq!(strip(before), strip(after), "a duplicate changed the meter");
        }
        Status::Rejected => {
            let e = r.error.as_ref().expect("a rejected receipt has an error");
            assert!(!e.code.is_empty());
            assert_ne!(e.code, "internal", "an internal error: {e:?}");
        }
        Status::Dropped => {}
    }
}

/// Checks and takes the invoices issued so far.
fn check_invoices(book: &PriceBook, m: &mut Meter, sums: &mut Sums) {
    let scale = book.scale_of(&book.doc().currency).unwrap_or(2);
    for inv in m.take_invoices() {
        let money: Decimal = inv.lines.iter().filter(|l| l.currency.is_none()).map(|l| l.value).sum();
        assert_eq!(
            money, inv.total_value,
            "invoice total is not the sum of its lines: {inv:?}"
        );
        assert_eq!(dec(&inv.total), inv.total_value);
        for l in &inv.lines {
            assert_eq!(dec(&l.amount), l.value, "line amount text and value differ: {l:?}");
        }
        if sums.clean && sums.start.map(fmt_timestamp).as_deref() == Some(inv.period.start.as_str()) {
            for l in inv
                .lines
                .iter()
                .filter(|l| l.kind == LineKind::Usage && l.currency.is_none())
            {
                if l.period.start != inv.period.start {
                    continue;
                }
                let sum = sums
                    .lines
                    .get(&(l.product.clone(), l.price_key.clone()))
                    .copied()
                    .unwrap_or_default();
                let rounded = book.doc().rounding.round(sum, scale);
                assert_eq!(rounded, l.value, "receipt amounts do not add up to the line {l:?}");
            }
        }
    }
    if sums.start != Some(m.period.start) {
        *sums = Sums {
            start: Some(m.period.start),
            clean: !sums.next_dirty,
            lines: HashMap::new(),
            next_dirty: false,
        };
    }
}

/// Views answer without panicking; allowances are never negative.
fn check_views(book: &PriceBook, m: &Meter, at: Timestamp) {
    if let Ok(state) = m
        .allowance_state(book, at)
        .map(|s| serde_json::to_value(s).unwrap_or_default())
    {
        for d in state["dimensions"].as_array().expect("dimensions is a list") {
            for field in ["remaining", "used", "included", "billable_usage"] {
                let v = dec(d[field].as_str().expect("allowance fields are strings"));
                assert!(!v.is_sign_negative() || v.is_zero(), "{field} is negative: {d}");
            }
        }
    }
    if let Ok(inv) = m.preview_invoice(book, at) {
        let money: Decimal = inv.lines.iter().filter(|l| l.currency.is_none()).map(|l| l.value).sum();
        assert_eq!(money, inv.total_value, "preview total is not the sum of its lines");
    }
    let _ = m.forecast(book, at);
}
