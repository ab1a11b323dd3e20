//! Quote against meter: the price on the pricing page is the price on the
//! invoice (docs/metering.md "Entitlements").
//!
//! For random price books (every price model, keyed prices under each
//! unmatched-key policy, allowances per period and per seat, add-ons with
//! limits and unlocks, customer overrides, currency options, spending
//! minimums on items and plans, unit conversions of the aggregated
//! quantity) and random
//! usage, a quote of one period must equal the first period's invoice lines
//! of a meter subscribed at the period start that records the same usage
//! as events (setup lines left out); and the quote must fail exactly when
//! the meter rejects one of those events, with that event's code.

use proptest::prelude::*;
use proptest::test_runner::Config;
use rating::event::parse_event;
use rating::meter::{subscribe, Status, Subscription};
use rating::period::parse_timestamp;
use rating::quote::{quote, read_request, LineKind};
use rating::PriceBook;
use rust_decimal::Decimal;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

const START: &str = "2026-01-01T00:00:00Z";
const END: &str = "2026-02-01T00:00:00Z";
const CUSTOMER: &str = "cus_1";
const KEYS: [&str; 3] = ["eu", "us", "ap"];

/// The metered products, by aggregation.
const METERED: [(&str, &str); 7] = [
    ("calls", "sum"),
    ("peak", "max"),
    ("storage", "last"),
    ("builds", "count"),
    ("users", "unique_count"),
    ("sales", "amount"),
    ("traffic", "sum"),
];
/// `traffic` is keyed by `region`.
const KEYED: &str = "traffic";

#[derive(Debug, Clone)]
struct PriceSeed {
    model: u8,
    unit: (u32, u32),
    tiers: Vec<(u32, u32, u32)>,
    flat_first: bool,
    eur: bool,
}

#[derive(Debug, Clone)]
struct ItemSeed {
    /// 0: not in the base plan, 1: in the base plan, 2: in the add-on only.
    placement: u8,
    price: PriceSeed,
    key_prices: Vec<(usize, PriceSeed)>,
    included: Option<u32>,
    per_seat: Option<u32>,
    limit: Option<u32>,
    /// A named limit on the base plan, the add-on, or both.
    named: (Option<u32>, Option<u32>),
    unlock: Option<Option<u32>>,
    /// The item's spending minimum, in cents.
    minimum: Option<u32>,
}

#[derive(Debug, Clone)]
struct Seed {
    items: Vec<ItemSeed>,
    policy: u8,
    seats: u32,
    min_seats: Option<u32>,
    addon: bool,
    override_on: Option<(usize, u8, PriceSeed)>,
    rounding: u8,
    usage: Vec<UsageSeed>,
    /// Spending minimums in cents: the base plan, the add-on, the seats item.
    minimums: (Option<u32>, Option<u32>, Option<u32>),
    /// Per metered product: a `unit_conversion` (divisor, round mode, precision).
    conversions: Vec<Option<(u8, u8, u32)>>,
}

/// Divisors a generated `unit_conversion` divides by.
const DIVISORS: [&str; 5] = ["1000", "3", "0.5", "100", "7"];
/// Round modes of a generated `unit_conversion`.
const ROUNDS: [&str; 4] = ["up", "down", "half_up", "none"];

#[derive(Debug, Clone)]
struct UsageSeed {
    present: bool,
    /// Quantity as mantissa and scale.
    qty: (u32, u32),
    split: Vec<u32>,
    keys: Vec<(usize, (u32, u32))>,
    amounts: Vec<(u32, u32)>,
}

fn price_seed() -> impl Strategy<Value = PriceSeed> {
    (
        0u8..5,
        (0u32..5000, 0u32..4),
        prop::collection::vec((1u32..40, 0u32..3000, 0u32..500), 1..4),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(model, unit, tiers, flat_first, eur)| PriceSeed {
            model,
            unit,
            tiers,
            flat_first,
            eur,
        })
}

fn item_seed() -> impl Strategy<Value = ItemSeed> {
    (
        0u8..3,
        price_seed(),
        prop::collection::vec((0usize..2, price_seed()), 0..3),
        prop::option::weighted(0.4, 0u32..60),
        prop::option::weighted(0.3, 0u32..10),
        prop::option::weighted(0.1, 1u32..80),
        (
            prop::option::weighted(0.05, 0u32..80),
            prop::option::weighted(0.1, 0u32..80),
        ),
        prop::option::weighted(0.25, prop::option::weighted(0.7, 0u32..40)),
        prop::option::weighted(0.2, 0u32..20000),
    )
        .prop_map(
            |(placement, price, key_prices, included, per_seat, limit, named, unlock, minimum)| ItemSeed {
                placement,
                price,
                key_prices,
                included,
                per_seat,
                limit,
                named,
                unlock,
                minimum,
            },
        )
}

fn usage_seed() -> impl Strategy<Value = UsageSeed> {
    (
        prop::bool::weighted(0.8),
        (0u32..120, 0u32..3),
        prop::collection::vec(1u32..5, 0..4),
        prop::collection::vec((0usize..3, (0u32..60, 0u32..2)), 0..4),
        prop::collection::vec((0u32..50000, 0u32..3), 0..5),
    )
        .prop_map(|(present, qty, split, keys, amounts)| UsageSeed {
            present,
            qty,
            split,
            keys,
            amounts,
        })
}

fn seed() -> impl Strategy<Value = Seed> {
    (
        prop::collection::vec(item_seed(), METERED.len()),
        0u8..3,
        0u32..6,
        prop::option::of(0u32..4),
        any::<bool>(),
        prop::option::weighted(0.3, (0usize..METERED.len(), 0u8..4, price_seed())),
        0u8..4,
        prop::collection::vec(usage_seed(), METERED.len()),
        (
            prop::option::weighted(0.25, 0u32..50000),
            prop::option::weighted(0.2, 0u32..2000),
            prop::option::weighted(0.15, 0u32..5000),
        ),
        prop::collection::vec(
            prop::option::weighted(0.3, (0u8..DIVISORS.len() as u8, 0u8..4, 0u32..3)),
            METERED.len(),
        ),
    )
        .prop_map(
            |(items, policy, seats, min_seats, addon, override_on, rounding, usage, minimums, conversions)| Seed {
                items,
                policy,
                seats,
                min_seats,
                addon,
                override_on,
                rounding,
                usage,
                minimums,
                conversions,
            },
        )
}

fn dec(mantissa: u32, scale: u32) -> Decimal {
    Decimal::new(i64::from(mantissa), scale)
}

fn s(d: Decimal) -> Value {
    Value::String(d.normalize().to_string())
}

/// The amounts of a price (a model the product's aggregation allows).
fn amounts(p: &PriceSeed, amount_based: bool) -> Map<String, Value> {
    let mut m = Map::new();
    let unit = dec(p.unit.0, p.unit.1);
    let tiers = |percent: bool| {
        let mut up = 0u32;
        let mut out = Vec::new();
        for (i, (width, a, flat)) in p.tiers.iter().enumerate() {
            up += width;
            let last = i + 1 == p.tiers.len();
            let mut t = Map::new();
            t.insert("up_to".into(), if last { Value::Null } else { json!(up.to_string()) });
            if percent {
                t.insert("percent".into(), s(dec(a % 1000, 2)));
            } else {
                t.insert("unit_amount".into(), s(dec(*a, 3)));
            }
            if i > 0 || p.flat_first {
                t.insert("flat_amount".into(), s(dec(*flat, 2)));
            }
            out.push(Value::Object(t));
        }
        Value::Array(out)
    };
    let model = if amount_based {
        ["percentage", "percentage", "graduated", "volume", "per_unit"][p.model as usize]
    } else {
        ["per_unit", "graduated", "volume", "package", "per_unit"][p.model as usize]
    };
    m.insert("model".into(), json!(model));
    match model {
        "per_unit" => {
            m.insert("unit_amount".into(), s(unit));
        }
        "graduated" | "volume" => {
            m.insert("tiers".into(), tiers(amount_based));
        }
        "package" => {
            m.insert("package_size".into(), json!((p.tiers[0].0 % 10 + 1).to_string()));
            m.insert("package_amount".into(), s(dec(p.tiers[0].1, 2)));
        }
        _ => {
            m.insert("percent".into(), s(dec(p.unit.0 % 1000, 2)));
            if p.flat_first {
                m.insert("fixed_amount".into(), s(dec(p.tiers[0].2 % 100, 2)));
            }
        }
    }
    m
}

fn price(p: &PriceSeed, amount_based: bool) -> Value {
    let mut m = amounts(p, amount_based);
    if p.eur {
        let mut other = p.clone();
        other.unit.0 = other.unit.0.wrapping_mul(7) % 5000;
        let mut eur = amounts(&other, amount_based);
        eur.remove("model");
        m.insert("currency_options".into(), json!({ "EUR": eur }));
    }
    Value::Object(m)
}

fn book(seed: &Seed) -> Value {
    let mut products = vec![
        json!({"id": "platform", "name": "Platform", "type": "recurring"}),
        json!({"id": "seats", "name": "Seats", "type": "seat"}),
    ];
    for (i, (id, agg)) in METERED.into_iter().enumerate() {
        let mut p = json!({"id": id, "name": id, "type": "metered", "aggregation": agg});
        // Money (`amount`) is never converted.
        if let (Some(&Some((d, r, precision))), true) = (seed.conversions.get(i), agg != "amount") {
            let round = ROUNDS[r as usize];
            let mut c = json!({"divide_by": DIVISORS[d as usize], "round": round, "display_unit": "k"});
            if round != "none" {
                c["precision"] = json!(precision);
            }
            p["unit_conversion"] = c;
        }
        if agg == "unique_count" {
            p["property"] = json!("user");
        }
        if id == KEYED {
            p["price_key_label"] = json!("region");
            let policy = ["reject", "use_default", "drop"][seed.policy as usize];
            p["unmatched_price_key_policy"] = json!(policy);
            p["default_price_key"] = json!("eu");
        }
        products.push(p);
    }
    let mut seats_item = json!({"product": "seats", "price": {"model": "per_unit", "unit_amount": "4.00"}});
    if let Some(min) = seed.min_seats {
        seats_item["min_quantity"] = json!(min.to_string());
    }
    if let Some(m) = seed.minimums.2 {
        seats_item["minimum_amount"] = s(dec(m, 2));
    }
    let mut base_items = vec![
        json!({"product": "platform", "price": {"model": "flat", "amount": "10.00"}}),
        seats_item,
    ];
    let mut addon_items = vec![json!({"product": "platform", "price": {"model": "flat", "amount": "3.00"}})];
    let (mut base_limits, mut addon_limits, mut unlocks) = (Map::new(), Map::new(), Map::new());
    for ((id, agg), it) in METERED.iter().zip(&seed.items) {
        let amount_based = *agg == "amount";
        let mut item = Map::new();
        item.insert("product".into(), json!(id));
        if *id == KEYED {
            let mut prices = Map::new();
            prices.insert("eu".into(), price(&it.price, false));
            for (k, p) in &it.key_prices {
                prices.insert(KEYS[k + 1].into(), price(p, false));
            }
            item.insert("prices".into(), Value::Object(prices));
        } else {
            item.insert("price".into(), price(&it.price, amount_based));
        }
        // Percentage fees are per transaction: no allowance.
        let percentage = amount_based && it.price.model < 2;
        if let Some(q) = it.included.filter(|_| !percentage) {
            item.insert("included_quantity".into(), json!(q.to_string()));
        }
        // Only the base plan has seats.
        if let Some(q) = it.per_seat.filter(|_| it.placement == 1 && !percentage) {
            item.insert("included_per_seat".into(), json!(q.to_string()));
        }
        if let Some(q) = it.limit {
            item.insert("limit".into(), json!(q.to_string()));
        }
        // Under `eur` prices the minimum is still in USD, the quote's currency.
        if let Some(m) = it.minimum {
            item.insert("minimum_amount".into(), s(dec(m, 2)));
        }
        match it.placement {
            1 => base_items.push(Value::Object(item)),
            2 => addon_items.push(Value::Object(item)),
            _ => {}
        }
        if let Some(q) = it.named.0 {
            base_limits.insert(id.to_string(), json!(q.to_string()));
        }
        if let Some(q) = it.named.1 {
            addon_limits.insert(id.to_string(), json!(q.to_string()));
        }
        if let Some(u) = it.unlock {
            unlocks.insert(id.to_string(), u.map_or(json!("unlimited"), |q| json!(q.to_string())));
        }
    }
    let mut overrides = Vec::new();
    if let Some((i, window, p)) = &seed.override_on {
        let (id, agg) = METERED[*i];
        let mut o = json!({"customer": CUSTOMER, "product": id, "price": price(p, agg == "amount")});
        // No window, one over the whole period, or one entirely before or after it.
        match window {
            1 => {
                o["from"] = json!("2025-12-01T00:00:00Z");
                o["until"] = json!("2026-03-01T00:00:00Z");
            }
            2 => o["until"] = json!("2025-12-15T00:00:00Z"),
            3 => o["from"] = json!("2026-02-10T00:00:00Z"),
            _ => {}
        }
        if id == KEYED {
            o["price_key"] = json!("eu");
        }
        overrides.push(o);
    }
    let rounding = ["half_up", "half_even", "down", "up"][seed.rounding as usize];
    let minimum = |m: Option<u32>| m.map_or(Value::Null, |c| s(dec(c, 2)));
    json!({
        "format": "price-book/v1",
        "id": "differential",
        "currency": "USD",
        "rounding": rounding,
        "products": products,
        "plans": [
            {"id": "base", "name": "Base", "period": {"unit": "month", "length": 1},
             "items": base_items, "limits": base_limits, "minimum_amount": minimum(seed.minimums.0)},
            {"id": "extra", "name": "Extra", "addon": true, "period": {"unit": "month", "length": 1},
             "items": addon_items, "limits": addon_limits, "unlocks": unlocks,
             "minimum_amount": minimum(seed.minimums.1)}
        ],
        "overrides": overrides
    })
}

/// The usage of one product: its quote form and its events' `data`.
fn usage(agg: &str, keyed: bool, u: &UsageSeed) -> (Value, Vec<Map<String, Value>>) {
    let data = |pairs: &[(&str, Value)]| pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    if keyed {
        let mut q = Map::new();
        let mut events = Vec::new();
        let mut seen = BTreeSet::new();
        for (k, (m, sc)) in &u.keys {
            if !seen.insert(*k) {
                continue;
            }
            let d = dec(*m, *sc);
            q.insert(KEYS[*k].into(), s(d));
            events.push(data(&[("quantity", s(d)), ("region", json!(KEYS[*k]))]));
        }
        return (Value::Object(q), events);
    }
    let qty = dec(u.qty.0, u.qty.1);
    match agg {
        "amount" => {
            let amounts: Vec<Decimal> = u.amounts.iter().map(|(m, sc)| dec(*m, *sc)).collect();
            let events = amounts.iter().map(|a| data(&[("amount", s(*a))])).collect();
            (
                json!({"amounts": amounts.iter().map(|a| s(*a)).collect::<Vec<_>>()}),
                events,
            )
        }
        "count" | "unique_count" => {
            let n = u.qty.0 % 6;
            let events = (0..n)
                .map(|i| data(&[("user", json!(format!("u{i}"))), ("quantity", json!("1"))]))
                .collect();
            (json!(n.to_string()), events)
        }
        "max" => {
            let smaller = qty.min(qty / Decimal::TWO);
            let events = vec![data(&[("quantity", s(smaller))]), data(&[("quantity", s(qty))])];
            (s(qty), events)
        }
        "last" => {
            // An earlier, smaller reading (a larger one could pass a cap
            // the last reading is under).
            let events = vec![
                data(&[("quantity", s(qty / Decimal::TWO))]),
                data(&[("quantity", s(qty))]),
            ];
            (s(qty), events)
        }
        _ => {
            // A sum, split in parts.
            let total: u32 = u.split.iter().sum::<u32>().max(1);
            let mut left = qty;
            let mut events = Vec::new();
            for part in &u.split {
                let p = (qty * Decimal::from(*part) / Decimal::from(total)).round_dp(u.qty.1);
                let p = p.min(left);
                left -= p;
                events.push(data(&[("quantity", s(p))]));
            }
            events.push(data(&[("quantity", s(left))]));
            (s(qty), events)
        }
    }
}

struct Case {
    book: Value,
    request: Value,
    events: Vec<Value>,
    seats: Option<u32>,
    addon: bool,
}

fn case(seed: &Seed) -> Case {
    let book = book(seed);
    let mut usage_q = Map::new();
    let mut events = Vec::new();
    for (((id, agg), u), it) in METERED.iter().zip(&seed.usage).zip(&seed.items) {
        // Usage of a product outside the plans is refused by both; keep it rare.
        let in_plans = it.placement == 1 || (it.placement == 2 && seed.addon);
        if !u.present || (!in_plans && u.qty.0 % 16 != 0) {
            continue;
        }
        let (q, datas) = usage(agg, *id == KEYED, u);
        if datas.is_empty() && !in_plans {
            // No event to refuse: the meter cannot tell.
            continue;
        }
        usage_q.insert(id.to_string(), q);
        for d in datas {
            let n = events.len();
            events.push(json!({
                "specversion": "1.0",
                "id": format!("e{n}"),
                "source": "differential",
                "type": id,
                "subject": CUSTOMER,
                "time": format!("2026-01-0{}T{:02}:{:02}:00Z", 2 + n / 600, (n / 60) % 10, n % 60),
                "data": d,
            }));
        }
    }
    // At least the plan's minimum: a subscription below it is refused
    // before any event is rated.
    let seats = (seed.seats > 0).then(|| seed.seats.max(seed.min_seats.unwrap_or(0)));
    let mut request = json!({"plan": "base", "customer": CUSTOMER, "at": START, "usage": usage_q});
    if let Some(n) = seats {
        request["quantities"] = json!({"seats": n.to_string()});
    }
    if seed.addon {
        request["addons"] = json!(["extra"]);
    }
    Case {
        book,
        request,
        events,
        seats,
        addon: seed.addon,
    }
}

/// The meter's answer: the first period's money lines (setup left out),
/// or the codes of the events it rejected.
fn metered(book: &PriceBook, c: &Case) -> Result<Decimal, BTreeSet<String>> {
    let start = parse_timestamp(START).expect("start");
    let end = parse_timestamp(END).expect("end");
    let mut quantities = indexmap::IndexMap::new();
    if let Some(n) = c.seats {
        quantities.insert("seats".to_string(), Decimal::from(n));
    }
    let sub = Subscription {
        customer: CUSTOMER.into(),
        plan: "base".into(),
        addons: if c.addon { vec!["extra".into()] } else { Vec::new() },
        start: Some(start),
        anchor: Some(start),
        quantities,
        ..Default::default()
    };
    let mut meter = match subscribe(book, &sub) {
        Ok(m) => m,
        Err(e) => {
            return Err(BTreeSet::from([e
                .errors
                .first()
                .map_or(e.code, |p| p.code)
                .to_string()]))
        }
    };
    let mut rejected = BTreeSet::new();
    for ev in &c.events {
        let parsed = parse_event(ev).expect("generated events are valid");
        let at = parsed.time.expect("generated events have a time");
        let r = meter.record(book, &parsed, at);
        if r.status == Status::Rejected {
            rejected.insert(r.error.map(|p| p.code.to_string()).unwrap_or_default());
        }
    }
    if !rejected.is_empty() {
        return Err(rejected);
    }
    meter.advance_to(book, end).expect("close the first period");
    let first = START.to_string();
    let total = meter
        .take_invoices()
        .iter()
        .flat_map(|inv| inv.lines.iter())
        .filter(|l| l.period.start == first && l.kind != LineKind::Setup && l.currency.is_none())
        .map(|l| l.value)
        .sum();
    Ok(total)
}

fn check(seed: &Seed) -> Result<(), TestCaseError> {
    let c = case(seed);
    let book = PriceBook::from_value(&c.book)
        .map_err(|e| TestCaseError::fail(format!("generated book refused: {e:?}\n{}", c.book)))?;
    let req = read_request(&book, &c.request, true).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
    let quoted = quote(&book, &req).map(|q| q.total.value).map_err(|e| {
        let mut codes: BTreeSet<String> = e.errors.iter().map(|p| p.code.to_string()).collect();
        if codes.is_empty() {
            codes.insert(e.code.to_string());
        }
        codes
    });
    let ctx = || {
        format!(
            "\nbook: {}\nrequest: {}\nevents: {}",
            c.book,
            c.request,
            serde_json::to_string(&c.events).unwrap_or_default()
        )
    };
    match (quoted, metered(&book, &c)) {
        (Ok(q), Ok(m)) => prop_assert_eq!(q, m, "quote total against the meter's first period{}", ctx()),
        (Err(q), Err(m)) => prop_assert!(
            q.iter().any(|code| m.contains(code)),
            "the quote failed with {:?}, the meter rejected events with {:?}{}",
            q,
            m,
            ctx()
        ),
        (Ok(q), Err(m)) => prop_assert!(false, "the quote priced {q} but the meter rejected {m:?}{}", ctx()),
        (Err(q), Ok(m)) => prop_assert!(false, "the quote failed with {q:?} but the meter billed {m}{}", ctx()),
    }
    Ok(())
}

proptest! {
    #![proptest_config(Config { cases: 1000, ..Config::default() })]

    #[test]
    fn a_quote_is_the_first_period_of_a_meter(seed in seed()) {
        check(&seed)?;
    }
}

/// The case of the report that led to this test: an add-on that declares a
/// limit on a product the base plan does not limit.
#[test]
fn an_addon_limit_caps_quote_and_meter_alike() {
    let book = json!({
        "format": "price-book/v1", "id": "addon-limit", "currency": "USD",
        "products": [{"id": "projects", "name": "Projects", "type": "metered"}],
        "plans": [
            {"id": "base", "name": "Base", "period": {"unit": "month", "length": 1},
             "items": [{"product": "projects", "price": {"model": "per_unit", "unit_amount": "1.00"}}]},
            {"id": "extra", "name": "Extra", "addon": true, "period": {"unit": "month", "length": 1},
             "items": [], "limits": {"projects": "10"}}
        ]
    });
    let book = PriceBook::from_value(&book).expect("valid book");
    let c = Case {
        book: Value::Null,
        request: json!({"plan": "base", "addons": ["extra"], "customer": CUSTOMER, "usage": {"projects": "20"}}),
        events: vec![
            json!({"specversion": "1.0", "id": "e1", "source": "s", "type": "projects",
            "subject": CUSTOMER, "time": "2026-01-02T00:00:00Z", "data": {"quantity": "20"}}),
        ],
        seats: None,
        addon: true,
    };
    let req = read_request(&book, &c.request, true).expect("request");
    let e = quote(&book, &req).expect_err("above the add-on's limit");
    assert_eq!(e.errors[0].code, "limit_exceeded");
    assert_eq!(metered(&book, &c), Err(BTreeSet::from(["limit_exceeded".to_string()])));
}
