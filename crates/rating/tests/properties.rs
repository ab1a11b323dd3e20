//! Property tests of the engine (docs/contract.md §1, §3, §4):
//!
//! - (a) graduated totals never decrease as the quantity grows; volume is
//!   exactly quantity × the applicable tier's rate + its flat amount;
//! - (b) parse → `to_value` → parse is the identity over generated valid
//!   price books (equal documents, equal hashes);
//! - (c) no JSON value, however malformed, panics the price-book reader,
//!   and every error it returns is well formed;
//! - (d) no request, however malformed or huge, panics `quote_value` /
//!   `compare_value`, and every quote that succeeds adds up;
//! - (e) every rounding mode stays within one minor unit of the exact
//!   amount, and `half_up`/`half_even` differ only on exact halves.
//!
//! Case counts are kept moderate so the file runs in seconds in debug.

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::Config;
use rating::money::{fmt_money, Rounding};
use rating::price::Transactions;
use rating::price::{charge_quantity, graduated, transaction_fee, volume};
use rating::price_book::{PriceAmounts, PriceModel, Tier};
use rating::quote::{compare, compare_value, quote, quote_value, read_request, QuoteRequest, Usage};
use rating::{Error, PriceBook};
use rust_decimal::Decimal;
use serde_json::{json, Map, Value};
use std::str::FromStr;

/// Config with `cases` cases and no regression files written next to the tests.
fn config(cases: u32) -> Config {
    Config {
        failure_persistence: None,
        ..Config::with_cases(cases)
    }
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// A JSON number with exactly this literal text (serde_json `arbitrary_precision`).
fn num(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

// ------------------------------------------------------------ decimals

/// A non-negative decimal below `10^digits / 10^max_scale`-ish, with up to `max_scale` places.
fn decimal(max_mantissa: u64, max_scale: u32) -> impl Strategy<Value = Decimal> + Clone {
    (0..=max_mantissa, 0..=max_scale).prop_map(|(m, s)| Decimal::from_i128_with_scale(i128::from(m), s))
}

/// A decimal with a spelling selector: the same value can be written as a
/// string, a JSON number, with extra trailing zeros, or in exponent form.
#[derive(Debug, Clone, Copy)]
struct D(Decimal, u8);

fn spelled(max_mantissa: u64, max_scale: u32) -> impl Strategy<Value = D> + Clone {
    (decimal(max_mantissa, max_scale), any::<u8>()).prop_map(|(d, h)| D(d, h))
}

/// Writes a decimal in one of several spellings that all mean the same value.
fn spell(D(d, how): D) -> Value {
    let text = d.to_string();
    match how % 7 {
        0 | 1 => Value::String(text),
        2 => num(&text),
        3 => Value::String(if text.contains('.') {
            format!("{text}00")
        } else {
            format!("{text}.0")
        }),
        4 => Value::String(format!("{}e-{}", d.mantissa(), d.scale())),
        5 => num(&format!("{}E-{}", d.mantissa(), d.scale())),
        _ => Value::String(format!("+{text}")),
    }
}

/// Whole numbers (period lengths, days, periods, priorities) as a JSON
/// number, a digit string, or with a zero fraction (`"12.0"`, `120e-1`).
fn whole(n: u32, how: u8) -> Value {
    match how % 5 {
        0 | 1 => json!(n),
        2 => Value::String(n.to_string()),
        3 => Value::String(format!("{n}.0")),
        _ => num(&format!("{n}0e-1")),
    }
}

fn error_is_well_formed(e: &Error) {
    assert!(!e.code.is_empty(), "empty error code: {e:?}");
    assert!(!e.message.is_empty(), "empty error message: {e:?}");
    if let Some(p) = &e.path {
        assert!(!p.is_empty(), "empty path: {e:?}");
    }
    assert!(!e.errors.is_empty(), "an error lists its problems: {e:?}");
    for p in &e.errors {
        assert!(!p.code.is_empty(), "empty problem code: {e:?}");
        assert!(!p.message.is_empty(), "empty problem message: {e:?}");
        if let Some(path) = &p.path {
            assert!(!path.is_empty(), "empty problem path: {e:?}");
        }
    }
    if e.errors.len() == 1 {
        assert_eq!(e.code, e.errors[0].code);
        assert_eq!(e.path, e.errors[0].path);
    }
}

// ------------------------------------------------------ (a) tier models

#[derive(Debug, Clone)]
struct TierSeed {
    /// Width of the tier (its `up_to` is the running sum); ignored for the last, open tier.
    width: Decimal,
    unit: Option<Decimal>,
    flat: Option<Decimal>,
}

fn tier_seeds() -> impl Strategy<Value = Vec<TierSeed>> {
    prop::collection::vec(
        (
            decimal(100_000, 2).prop_map(|w| w + Decimal::new(1, 2)),
            prop::option::of(decimal(1_000_000, 6)),
            prop::option::of(decimal(100_000, 2)),
        )
            .prop_map(|(width, unit, flat)| TierSeed { width, unit, flat }),
        1..6,
    )
}

fn tiers_from(seeds: &[TierSeed]) -> Vec<Tier> {
    let mut up = Decimal::ZERO;
    seeds
        .iter()
        .enumerate()
        .map(|(i, s)| {
            up += s.width;
            let last = i + 1 == seeds.len();
            Tier {
                up_to: (!last).then_some(up),
                unit_amount: s.unit,
                flat_amount: s.flat,
                percent: None,
            }
        })
        .collect()
}

/// Graduated by the definition: each unit in its tier; a tier's flat
/// amount once the quantity reaches into it, the first tier's always.
fn graduated_reference(tiers: &[Tier], q: Decimal) -> Decimal {
    let mut total = Decimal::ZERO;
    let mut lower = Decimal::ZERO;
    for (i, t) in tiers.iter().enumerate() {
        if i > 0 && q <= lower {
            break;
        }
        let upper = t.up_to.map_or(q, |u| u.min(q));
        let units = (upper - lower).max(Decimal::ZERO);
        total += units * t.unit_amount.unwrap_or_default() + t.flat_amount.unwrap_or_default();
        match t.up_to {
            Some(u) => lower = u,
            None => break,
        }
    }
    total
}

proptest! {
    #![proptest_config(config(400))]

    #[test]
    fn graduated_never_decreases(seeds in tier_seeds(), a in decimal(1_000_000, 3), b in decimal(1_000_000, 3)) {
        let tiers = tiers_from(&seeds);
        let (q1, q2) = if a <= b { (a, b) } else { (b, a) };
        let c1 = graduated(&tiers, q1, true).unwrap();
        let c2 = graduated(&tiers, q2, false).unwrap();
        prop_assert!(c1.amount <= c2.amount, "graduated({q1}) = {} > graduated({q2}) = {}", c1.amount, c2.amount);
        prop_assert_eq!(c1.amount, graduated_reference(&tiers, q1));
        // The breakdown explains the total: units sum to the quantity, amounts to the total.
        let breakdown = c1.tiers.unwrap();
        prop_assert_eq!(breakdown.iter().map(|t| t.quantity).sum::<Decimal>(), q1);
        prop_assert_eq!(breakdown.iter().map(|t| t.amount).sum::<Decimal>(), c1.amount);
        prop_assert_eq!(breakdown[0].index, 0);
    }

    #[test]
    fn volume_is_quantity_times_the_applicable_rate_plus_flat(seeds in tier_seeds(), q in decimal(10_000_000, 3)) {
        let tiers = tiers_from(&seeds);
        // The applicable tier: prev_up_to < q <= up_to, else the open one.
        let i = tiers.iter().position(|t| t.up_to.is_none_or(|u| q <= u)).unwrap();
        if i > 0 {
            prop_assert!(tiers[i - 1].up_to.unwrap() < q);
        }
        let t = &tiers[i];
        let expected = q * t.unit_amount.unwrap_or_default() + t.flat_amount.unwrap_or_default();
        let c = volume(&tiers, q, true).unwrap();
        prop_assert_eq!(c.amount, expected);
        let b = c.tiers.unwrap();
        prop_assert_eq!(b.len(), 1);
        prop_assert_eq!(b[0].index, i);
        prop_assert_eq!(b[0].quantity, q);
        // The same through charge_quantity.
        let a = PriceAmounts { tiers: Some(tiers.clone()), ..Default::default() };
        prop_assert_eq!(charge_quantity(PriceModel::Volume, &a, q, false).unwrap().amount, expected);
    }

    #[test]
    fn package_charges_started_packages(size in decimal(10_000, 2).prop_map(|s| s + Decimal::ONE),
                                        amount in decimal(100_000, 2), q in decimal(10_000_000, 3)) {
        let a = PriceAmounts { package_size: Some(size), package_amount: Some(amount), ..Default::default() };
        let c = charge_quantity(PriceModel::Package, &a, q, false).unwrap().amount;
        let packages = (q / size).ceil();
        prop_assert_eq!(c, packages * amount);
        // Enough packages for the quantity, and not one more.
        prop_assert!(packages * size >= q);
        prop_assert!(q.is_zero() || (packages - Decimal::ONE) * size < q);
    }

    #[test]
    fn transaction_fee_stays_in_its_clamp(percent in decimal(10_000, 2), fixed in prop::option::of(decimal(1_000, 2)),
                                          lo in prop::option::of(decimal(1_000, 2)), span in decimal(10_000, 2),
                                          amount in decimal(100_000_000, 2)) {
        let hi = lo.map(|l| l + span);
        let a = PriceAmounts { percent: Some(percent), fixed_amount: fixed, min_amount: lo, max_amount: hi, ..Default::default() };
        let fee = transaction_fee(&a, amount).unwrap();
        let raw = amount * percent / Decimal::ONE_HUNDRED + fixed.unwrap_or_default();
        let expected = match (lo, hi) {
            (Some(l), Some(h)) => raw.max(l).min(h),
            _ => raw,
        };
        prop_assert_eq!(fee, expected);
    }
}

// ------------------------------------------------ (b) valid price books

const CURRENCIES: [&str; 5] = ["USD", "EUR", "JPY", "KWD", "GBP"];
const KEYS: [&str; 5] = [".com", ".io", ".dev", ".net", ".co.uk"];

#[derive(Debug, Clone)]
struct ProductSeed {
    kind: u8,
    agg: u8,
    keyed: bool,
    label_many: bool,
    policy: u8,
    nkeys: usize,
    unit: bool,
    description: bool,
}

fn product_seed() -> impl Strategy<Value = ProductSeed> {
    (
        0..4u8,
        0..7u8,
        any::<bool>(),
        any::<bool>(),
        0..4u8,
        1..=4usize,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(kind, agg, keyed, label_many, policy, nkeys, unit, description)| ProductSeed {
                kind,
                agg,
                keyed,
                label_many,
                policy,
                nkeys,
                unit,
                description,
            },
        )
}

#[derive(Debug, Clone)]
struct PTier {
    width: D,
    unit: Option<D>,
    flat: Option<D>,
    percent: D,
}

#[derive(Debug, Clone)]
struct PriceSeed {
    model: u8,
    a: D,
    b: D,
    c: D,
    d: D,
    tiers: Vec<PTier>,
    flags: u8,
    option: Option<u8>,
    currency: u8,
    display_name: bool,
}

fn price_seed() -> impl Strategy<Value = PriceSeed> {
    let tier = (
        spelled(100_000, 2),
        prop::option::of(spelled(1_000_000, 6)),
        prop::option::of(spelled(10_000, 2)),
        spelled(1_000, 2),
    )
        .prop_map(|(width, unit, flat, percent)| PTier {
            width,
            unit,
            flat,
            percent,
        });
    (
        any::<u8>(),
        (
            spelled(10_000_000, 12),
            spelled(10_000, 2),
            spelled(10_000, 2),
            spelled(10_000, 2),
        ),
        prop::collection::vec(tier, 1..5),
        any::<u8>(),
        prop::option::of(any::<u8>()),
        any::<u8>(),
        any::<bool>(),
    )
        .prop_map(
            |(model, (a, b, c, d), tiers, flags, option, currency, display_name)| PriceSeed {
                model,
                a,
                b,
                c,
                d,
                tiers,
                flags,
                option,
                currency,
                display_name,
            },
        )
}

#[derive(Debug, Clone)]
struct ItemSeed {
    include: bool,
    flags: u8,
    q1: D,
    q2: D,
    price: usize,
}

fn item_seed() -> impl Strategy<Value = ItemSeed> {
    (
        any::<bool>(),
        any::<u8>(),
        spelled(100_000, 2),
        spelled(100_000, 2),
        0..8usize,
    )
        .prop_map(|(include, flags, q1, q2, price)| ItemSeed {
            include,
            flags,
            q1,
            q2,
            price,
        })
}

#[derive(Debug, Clone)]
struct PlanSeed {
    addon: bool,
    period: (u8, u32, u8),
    setup_fee: Option<D>,
    trial_days: Option<u32>,
    discounts: Vec<(u32, D)>,
    items: Vec<ItemSeed>,
    prices: Vec<PriceSeed>,
    limits: Vec<(u8, D)>,
    unlocks: Vec<(u8, Option<D>)>,
    features: Vec<u8>,
    credits: Option<D>,
    overage: u8,
    description: bool,
}

fn plan_seed() -> impl Strategy<Value = PlanSeed> {
    (
        any::<bool>(),
        (0..5u8, 1..=12u32, any::<u8>()),
        prop::option::of(spelled(100_000, 2)),
        prop::option::of(0..90u32),
        prop::collection::vec((1..=24u32, spelled(10_000, 2)), 0..3),
        prop::collection::vec(item_seed(), 6),
        prop::collection::vec(price_seed(), 8),
        (
            prop::collection::vec((any::<u8>(), spelled(10_000, 0)), 0..3),
            prop::collection::vec((any::<u8>(), prop::option::of(spelled(10_000, 0))), 0..3),
            prop::collection::vec(any::<u8>(), 0..3),
        ),
        prop::option::of(spelled(10_000, 0)),
        any::<u8>(),
        any::<bool>(),
    )
        .prop_map(
            |(
                addon,
                period,
                setup_fee,
                trial_days,
                discounts,
                items,
                prices,
                (limits, unlocks, features),
                credits,
                overage,
                description,
            )| {
                PlanSeed {
                    addon,
                    period,
                    setup_fee,
                    trial_days,
                    discounts,
                    items,
                    prices,
                    limits,
                    unlocks,
                    features,
                    credits,
                    overage,
                    description,
                }
            },
        )
}

#[derive(Debug, Clone)]
struct OverrideSeed {
    product: u8,
    customer: u8,
    key: Option<u8>,
    price: PriceSeed,
    from: Option<(u32, u8)>,
    until: Option<(u32, u8)>,
}

fn override_seed() -> impl Strategy<Value = OverrideSeed> {
    (
        any::<u8>(),
        0..3u8,
        prop::option::of(any::<u8>()),
        price_seed(),
        prop::option::of((0..10_000_000u32, any::<u8>())),
        prop::option::of((1..10_000_000u32, any::<u8>())),
    )
        .prop_map(|(product, customer, key, price, from, until)| OverrideSeed {
            product,
            customer,
            key,
            price,
            from,
            until,
        })
}

/// A period: unit selector, length, spelling selector.
type PeriodSeed = (u8, u32, u8);

/// A credit pack: credits, bonus, price, expiry, priority, explicit unit.
type PackSeed = (D, Option<D>, D, Option<PeriodSeed>, Option<u32>, bool);

#[derive(Debug, Clone)]
struct BookSeed {
    currency: u8,
    name: bool,
    rounding: Option<u8>,
    proration: Option<u8>,
    grace: Option<PeriodSeed>,
    dedup: Option<PeriodSeed>,
    unit: Option<(u32, bool)>,
    packs: Vec<PackSeed>,
    products: Vec<ProductSeed>,
    plans: Vec<PlanSeed>,
    overrides: Vec<OverrideSeed>,
}

fn book_seed() -> impl Strategy<Value = BookSeed> {
    let period = (0..5u8, 1..=12u32, any::<u8>());
    (
        (
            any::<u8>(),
            any::<bool>(),
            prop::option::of(any::<u8>()),
            prop::option::of(any::<u8>()),
        ),
        (prop::option::of(period.clone()), prop::option::of(period.clone())),
        prop::option::of((0..=6u32, any::<bool>())),
        prop::collection::vec(
            (
                spelled(100_000, 0),
                prop::option::of(spelled(10_000, 0)),
                spelled(100_000, 2),
                prop::option::of(period),
                prop::option::of(0..=100u32),
                any::<bool>(),
            ),
            0..3,
        ),
        prop::collection::vec(product_seed(), 1..=6),
        prop::collection::vec(plan_seed(), 1..=3),
        prop::collection::vec(override_seed(), 0..3),
    )
        .prop_map(
            |((currency, name, rounding, proration), (grace, dedup), unit, packs, products, plans, overrides)| {
                BookSeed {
                    currency,
                    name,
                    rounding,
                    proration,
                    grace,
                    dedup,
                    unit,
                    packs,
                    products,
                    plans,
                    overrides,
                }
            },
        )
}

fn period_value((unit, length, how): (u8, u32, u8)) -> Value {
    let unit = ["hour", "day", "week", "month", "year"][usize::from(unit % 5)];
    if how % 3 == 0 {
        json!({"unit": unit})
    } else {
        json!({"unit": unit, "length": whole(length, how)})
    }
}

fn timestamp(secs: u32, how: u8) -> Value {
    let base = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap();
    let t = base + chrono::Duration::seconds(i64::from(secs));
    Value::String(match how % 3 {
        0 => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        1 => t
            .with_timezone(&chrono::FixedOffset::east_opt(2 * 3600).unwrap())
            .format("%Y-%m-%dT%H:%M:%S%:z")
            .to_string(),
        _ => t.format("%Y-%m-%dT%H:%M:%S.250Z").to_string(),
    })
}

/// What the generator knows of a product while assembling a book.
struct ProductInfo {
    id: String,
    kind: &'static str,
    amount_based: bool,
    keys: Vec<String>,
    use_default: bool,
}

impl ProductInfo {
    fn keyed(&self) -> bool {
        !self.keys.is_empty()
    }
}

fn product_value(i: usize, s: &ProductSeed) -> (Value, ProductInfo) {
    let kind = ["recurring", "seat", "metered", "one_time"][usize::from(s.kind % 4)];
    let id = format!("{kind}_{i}");
    let mut o = Map::new();
    o.insert("id".into(), json!(id));
    o.insert("name".into(), json!(format!("Product {i}")));
    o.insert("type".into(), json!(kind));
    if s.unit {
        o.insert("unit".into(), json!("GB"));
    }
    let mut info = ProductInfo {
        id,
        kind,
        amount_based: false,
        keys: Vec::new(),
        use_default: false,
    };
    if kind == "metered" {
        // agg 6: no aggregation field (the default, sum).
        let agg = ["sum", "count", "max", "last", "unique_count", "amount", "sum"][usize::from(s.agg % 7)];
        if s.agg % 7 != 6 {
            o.insert("aggregation".into(), json!(agg));
        }
        if agg == "unique_count" {
            o.insert("property".into(), json!("user_id"));
        }
        info.amount_based = agg == "amount";
        if s.keyed {
            if s.label_many {
                o.insert("price_key_label".into(), json!(["region", "tld"]));
                info.keys = KEYS[..s.nkeys].iter().map(|k| format!("eu/{k}")).collect();
            } else {
                o.insert("price_key_label".into(), json!("tld"));
                info.keys = KEYS[..s.nkeys].iter().map(|k| k.to_string()).collect();
            }
            match s.policy % 4 {
                0 => {}
                1 => {
                    o.insert("unmatched_price_key_policy".into(), json!("reject"));
                }
                2 => {
                    o.insert("unmatched_price_key_policy".into(), json!("drop"));
                }
                _ => {
                    o.insert("unmatched_price_key_policy".into(), json!("use_default"));
                    o.insert("default_price_key".into(), json!(info.keys[0]));
                    info.use_default = true;
                }
            }
        }
    }
    if s.description {
        o.insert("description".into(), json!("Longer text, with \"quotes\" and ünïcödé"));
    }
    (Value::Object(o), info)
}

/// The models a product may be priced with (docs/contract.md §3).
fn models_for(p: &ProductInfo) -> &'static [&'static str] {
    if p.kind == "one_time" {
        &["flat", "per_unit"]
    } else if p.amount_based {
        &[
            "percentage",
            "graduated",
            "volume",
            "per_unit",
            "package",
            "flat",
            "staircase",
            "percentage",
        ]
    } else {
        &["flat", "per_unit", "graduated", "volume", "package", "staircase"]
    }
}

fn amounts_value(model: &str, s: &PriceSeed, amount_based: bool) -> Map<String, Value> {
    let mut o = Map::new();
    match model {
        "flat" => {
            o.insert("amount".into(), spell(D(s.b.0, s.b.1)));
        }
        "per_unit" => {
            o.insert("unit_amount".into(), spell(s.a));
        }
        "graduated" | "staircase" | "volume" => {
            let percent_tiers = amount_based && s.flags & 0x10 != 0;
            let mut up = Decimal::ZERO;
            let tiers: Vec<Value> = s
                .tiers
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let mut to = Map::new();
                    if i + 1 == s.tiers.len() {
                        to.insert("up_to".into(), Value::Null);
                    } else {
                        up += t.width.0 + Decimal::ONE;
                        to.insert("up_to".into(), spell(D(up, t.width.1)));
                    }
                    if percent_tiers {
                        to.insert("percent".into(), spell(t.percent));
                    } else if let Some(u) = t.unit {
                        to.insert("unit_amount".into(), spell(u));
                    }
                    match t.flat {
                        Some(f) => {
                            to.insert("flat_amount".into(), spell(f));
                        }
                        None if !percent_tiers && t.unit.is_none() => {
                            to.insert("flat_amount".into(), spell(t.percent));
                        }
                        None => {}
                    }
                    Value::Object(to)
                })
                .collect();
            o.insert("tiers".into(), Value::Array(tiers));
        }
        "package" => {
            o.insert("package_size".into(), spell(D(s.c.0 + Decimal::ONE, s.c.1)));
            o.insert("package_amount".into(), spell(s.b));
        }
        _ => {
            o.insert("percent".into(), spell(D(s.c.0 % Decimal::ONE_HUNDRED, s.c.1)));
            if s.flags & 1 != 0 {
                o.insert("fixed_amount".into(), spell(s.b));
            }
            if s.flags & 2 != 0 {
                o.insert("min_amount".into(), spell(s.d));
            }
            if s.flags & 4 != 0 {
                let min = if s.flags & 2 != 0 { s.d.0 } else { Decimal::ZERO };
                o.insert("max_amount".into(), spell(D(min + s.b.0, s.b.1)));
            }
        }
    }
    o
}

fn price_value(s: &PriceSeed, p: &ProductInfo, book_currency: &str, unit: Option<&str>) -> Value {
    let models = models_for(p);
    let model = models[usize::from(s.model) % models.len()];
    let mut o = Map::new();
    o.insert("model".into(), json!(model));
    match s.currency % 8 {
        0 => {
            o.insert("currency".into(), json!(book_currency));
        }
        1 if unit.is_some() => {
            o.insert("currency".into(), json!(unit.unwrap()));
        }
        _ => {}
    }
    if s.display_name {
        o.insert("display_name".into(), json!(format!("{} ({model})", p.id)));
    }
    o.extend(amounts_value(model, s, p.amount_based));
    if let Some(sel) = s.option {
        let other = CURRENCIES
            .iter()
            .copied()
            .filter(|c| *c != book_currency)
            .nth(usize::from(sel) % 4)
            .unwrap();
        let mut alt = s.clone();
        alt.a.1 = alt.a.1.wrapping_add(1);
        alt.b.1 = alt.b.1.wrapping_add(3);
        o.insert(
            "currency_options".into(),
            json!({ other: Value::Object(amounts_value(model, &alt, p.amount_based)) }),
        );
    }
    Value::Object(o)
}

fn is_percentage(price: &Value) -> bool {
    price["model"] == "percentage"
}

fn plan_value(
    i: usize,
    s: &PlanSeed,
    products: &[ProductInfo],
    currency: &str,
    unit: Option<&str>,
    packs: &[String],
) -> Value {
    let id = format!("plan_{i}");
    let mut o = Map::new();
    o.insert("id".into(), json!(id));
    o.insert("name".into(), json!(format!("Plan {i}")));
    if s.description {
        o.insert("description".into(), json!("A plan"));
    }
    o.insert("period".into(), period_value(s.period));
    // The first plan is always a base plan, so there is something to quote.
    if s.addon && i > 0 {
        o.insert("addon".into(), json!(true));
    }
    if let Some(f) = s.setup_fee {
        o.insert("setup_fee".into(), spell(f));
    }
    if let Some(t) = s.trial_days {
        o.insert("trial_days".into(), whole(t, t as u8));
    }
    let mut seen_periods = Vec::new();
    let discounts: Vec<Value> = s
        .discounts
        .iter()
        .filter(|(n, _)| {
            let new = !seen_periods.contains(n);
            seen_periods.push(*n);
            new
        })
        .map(|(n, pct)| json!({"periods": whole(*n, pct.1), "percent": spell(D(pct.0 % Decimal::ONE_HUNDRED, pct.1))}))
        .collect();
    if !discounts.is_empty() {
        o.insert("advance_discounts".into(), Value::Array(discounts));
    }
    let included: Vec<(usize, &ItemSeed)> = s
        .items
        .iter()
        .enumerate()
        .take(products.len())
        .filter(|(j, it)| it.include || *j == i % products.len())
        .collect();
    let has_seats = included.iter().any(|(j, _)| products[*j].kind == "seat");
    let mut items = Vec::new();
    for (j, it) in included {
        let p = &products[j];
        let mut io = Map::new();
        io.insert("product".into(), json!(p.id));
        let mut percentage = false;
        if p.keyed() {
            let mut prices = Map::new();
            for (k, key) in p.keys.iter().enumerate() {
                let pr = price_value(&s.prices[(it.price + k) % s.prices.len()], p, currency, unit);
                percentage |= is_percentage(&pr);
                prices.insert(key.clone(), pr);
            }
            io.insert("prices".into(), Value::Object(prices));
        } else {
            let pr = price_value(&s.prices[it.price % s.prices.len()], p, currency, unit);
            percentage = is_percentage(&pr);
            io.insert("price".into(), pr);
        }
        let f = it.flags;
        if p.kind == "metered" {
            let mut allowance = false;
            if !percentage && f & 1 != 0 {
                io.insert("included_quantity".into(), spell(it.q1));
                allowance = true;
            }
            if !percentage && has_seats && f & 2 != 0 {
                io.insert(
                    "included_per_seat".into(),
                    spell(D(it.q2.0 % Decimal::from(100), it.q2.1)),
                );
                allowance = true;
            }
            if allowance && f & 4 != 0 {
                io.insert("rollover".into(), json!(true));
            }
            if f & 8 != 0 {
                io.insert("limit".into(), spell(D(it.q1.0 + it.q2.0, it.q2.1)));
            }
        } else if p.kind == "seat" {
            if f & 16 != 0 {
                io.insert(
                    "min_quantity".into(),
                    spell(D(it.q1.0.trunc() % Decimal::from(10), it.q1.1)),
                );
            }
            if f & 32 != 0 {
                io.insert(
                    "max_quantity".into(),
                    spell(D(it.q1.0.trunc() % Decimal::from(10) + it.q2.0, it.q2.1)),
                );
            }
        }
        items.push(Value::Object(io));
    }
    o.insert("items".into(), Value::Array(items));
    let names: Vec<String> = products
        .iter()
        .map(|p| p.id.clone())
        .chain(["projects".to_string(), "members".to_string()])
        .collect();
    if !s.limits.is_empty() {
        let limits: Map<String, Value> = s
            .limits
            .iter()
            .map(|(n, v)| (names[usize::from(*n) % names.len()].clone(), spell(*v)))
            .collect();
        o.insert("limits".into(), Value::Object(limits));
    }
    if !s.unlocks.is_empty() {
        let unlocks: Map<String, Value> = s
            .unlocks
            .iter()
            .map(|(n, v)| {
                (
                    names[usize::from(*n) % names.len()].clone(),
                    v.map_or(json!("unlimited"), spell),
                )
            })
            .collect();
        o.insert("unlocks".into(), Value::Object(unlocks));
    }
    if !s.features.is_empty() {
        let features: Vec<Value> = s.features.iter().map(|f| json!(format!("feature_{}", f % 5))).collect();
        o.insert("features".into(), Value::Array(features));
    }
    if unit.is_some() {
        if let Some(c) = s.credits {
            o.insert("included_credits".into(), spell(c));
        }
        match s.overage % 4 {
            1 => {
                o.insert("credit_overage".into(), json!("reject"));
            }
            2 => {
                o.insert("credit_overage".into(), json!("charge"));
                o.insert("overage_rate".into(), json!("0.01"));
            }
            3 if !packs.is_empty() => {
                o.insert("credit_overage".into(), json!("auto_top_up"));
                o.insert(
                    "auto_top_up".into(),
                    json!({"threshold": "100", "pack": packs[usize::from(s.overage) % packs.len()]}),
                );
            }
            _ => {}
        }
    }
    Value::Object(o)
}

/// Assembles a valid `price-book/v1` document from a seed.
fn book_value(s: &BookSeed) -> Value {
    let currency = CURRENCIES[usize::from(s.currency) % CURRENCIES.len()];
    let mut o = Map::new();
    o.insert("format".into(), json!("price-book/v1"));
    o.insert("id".into(), json!("generated"));
    if s.name {
        o.insert("name".into(), json!("Generated book"));
    }
    o.insert("currency".into(), json!(currency));
    if let Some(r) = s.rounding {
        o.insert(
            "rounding".into(),
            json!(["half_up", "half_even", "down", "up"][usize::from(r % 4)]),
        );
    }
    if let Some(p) = s.proration {
        o.insert(
            "proration".into(),
            json!(["by_second", "by_day", "none"][usize::from(p % 3)]),
        );
    }
    if let Some(g) = s.grace {
        o.insert("late_event_grace".into(), period_value(g));
    }
    if let Some(d) = s.dedup {
        o.insert("dedup_window".into(), period_value(d));
    }
    let unit = s.unit.map(|_| "credits");
    if let Some((scale, named)) = s.unit {
        let mut u = json!({"code": "credits", "scale": whole(scale, scale as u8)});
        if named {
            u["name"] = json!("Credits");
        }
        o.insert("units".into(), json!([u]));
    }
    let (products, infos): (Vec<Value>, Vec<ProductInfo>) =
        s.products.iter().enumerate().map(|(i, p)| product_value(i, p)).unzip();
    o.insert("products".into(), Value::Array(products));
    let mut pack_ids = Vec::new();
    let mut packs = Vec::new();
    if unit.is_some() {
        for (k, (credits, bonus, price, expires, priority, with_unit)) in s.packs.iter().enumerate() {
            let id = format!("pack_{k}");
            let mut p = json!({"id": id, "credits": spell(*credits), "price": spell(*price)});
            if let Some(b) = bonus {
                p["bonus"] = spell(*b);
            }
            if let Some(e) = expires {
                p["expires_after"] = period_value(*e);
            }
            if let Some(pr) = priority {
                p["priority"] = whole(*pr, *pr as u8);
            }
            if *with_unit {
                p["unit"] = json!("credits");
            }
            pack_ids.push(id);
            packs.push(p);
        }
    }
    let plans: Vec<Value> = s
        .plans
        .iter()
        .enumerate()
        .map(|(i, p)| plan_value(i, p, &infos, currency, unit, &pack_ids))
        .collect();
    o.insert("plans".into(), Value::Array(plans));
    if !packs.is_empty() {
        o.insert("credit_packs".into(), Value::Array(packs));
    }
    let overrides: Vec<Value> = s
        .overrides
        .iter()
        .map(|ov| {
            let p = &infos[usize::from(ov.product) % infos.len()];
            let mut v = json!({"customer": format!("cus_{}", ov.customer), "product": p.id});
            if let (Some(k), true) = (ov.key, p.keyed()) {
                v["price_key"] = json!(p.keys[usize::from(k) % p.keys.len()]);
            }
            v["price"] = price_value(&ov.price, p, currency, unit);
            if let Some((f, how)) = ov.from {
                v["from"] = timestamp(f, how);
            }
            if let Some((d, how)) = ov.until {
                v["until"] = timestamp(ov.from.map_or(0, |f| f.0) + d, how);
            }
            v
        })
        .collect();
    if !overrides.is_empty() {
        o.insert("overrides".into(), Value::Array(overrides));
    }
    Value::Object(o)
}

fn valid_book() -> impl Strategy<Value = Value> {
    book_seed().prop_map(|s| book_value(&s))
}

fn parse_ok(v: &Value) -> PriceBook {
    match PriceBook::from_value(v) {
        Ok(b) => b,
        Err(e) => panic!(
            "generated book rejected: {e:?}\n{}",
            serde_json::to_string_pretty(v).unwrap()
        ),
    }
}

/// A parsed book serializes to JSON that parses back to the same book.
fn assert_round_trips(b1: &PriceBook) {
    let v2 = b1.to_value();
    let b2 = match PriceBook::from_value(&v2) {
        Ok(b) => b,
        Err(e) => panic!(
            "serialized book rejected: {e:?}\n{}",
            serde_json::to_string_pretty(&v2).unwrap()
        ),
    };
    assert_eq!(b1.doc(), b2.doc());
    assert_eq!(b1.hash(), b2.hash());
    assert_eq!(b2.to_value(), v2, "to_value is a fixed point");
    // Through text too (pretty and compact).
    let b3 = PriceBook::parse(&serde_json::to_string_pretty(&v2).unwrap()).unwrap();
    assert_eq!(b3.hash(), b1.hash());
    assert_eq!(b3.doc(), b1.doc());
}

proptest! {
    #![proptest_config(config(200))]

    #[test]
    fn parse_serialize_parse_is_the_identity(v in valid_book()) {
        let b1 = parse_ok(&v);
        prop_assert!(b1.hash().starts_with("sha256:"));
        assert_round_trips(&b1);
    }
}

// ------------------------------------------- (c) malformed price books

/// Field names and enum values of the format, so random documents reach
/// deep into the reader instead of failing at the first key.
const VOCAB: &[&str] = &[
    "format",
    "id",
    "name",
    "currency",
    "rounding",
    "proration",
    "late_event_grace",
    "dedup_window",
    "units",
    "products",
    "plans",
    "credit_packs",
    "overrides",
    "type",
    "unit",
    "aggregation",
    "property",
    "price_key_label",
    "unmatched_price_key_policy",
    "default_price_key",
    "description",
    "period",
    "length",
    "addon",
    "setup_fee",
    "trial_days",
    "advance_discounts",
    "periods",
    "percent",
    "items",
    "limits",
    "unlocks",
    "features",
    "included_credits",
    "credit_overage",
    "overage_rate",
    "auto_top_up",
    "threshold",
    "pack",
    "product",
    "price",
    "prices",
    "included_quantity",
    "included_per_seat",
    "rollover",
    "min_quantity",
    "max_quantity",
    "limit",
    "model",
    "amount",
    "unit_amount",
    "tiers",
    "up_to",
    "flat_amount",
    "package_size",
    "package_amount",
    "fixed_amount",
    "min_amount",
    "max_amount",
    "currency_options",
    "display_name",
    "credits",
    "bonus",
    "expires_after",
    "priority",
    "customer",
    "price_key",
    "from",
    "until",
    "code",
    "scale",
    "price-book/v1",
    "USD",
    "JPY",
    "KWD",
    "XAU",
    "credits",
    "half_up",
    "half_even",
    "down",
    "up",
    "by_second",
    "by_day",
    "none",
    "recurring",
    "seat",
    "metered",
    "one_time",
    "sum",
    "count",
    "max",
    "last",
    "unique_count",
    "flat",
    "per_unit",
    "graduated",
    "staircase",
    "volume",
    "package",
    "percentage",
    "reject",
    "use_default",
    "drop",
    "month",
    "day",
    "unlimited",
    "charge",
    ".com",
    "",
];

/// Numbers and strings that have broken decimal readers before.
const NASTY: &[&str] = &[
    "1e30",
    "1E30",
    "-1e30",
    "1e-30",
    "1234567890123456789012345678901234567890",
    "0.1234567890123456789012345678901234567890",
    "79228162514264337593543950335",
    "79228162514264337593543950336",
    "-79228162514264337593543950335",
    "7.9228162514264337593543950335e28",
    "7e28",
    "9e28",
    "9999999999999999999999999999",
    "0.0000000000000000000000000001",
    "1e-28",
    "1e-29",
    "0e9999",
    "1e9999",
    "1e99999",
    "-0",
    "-0.0",
    "-1",
    "-0.01",
    "0",
    "4294967295",
    "4294967296",
    "18446744073709551616",
    "1.5",
    "2.5",
];

const NASTY_STRINGS: &[&str] = &[
    "NaN",
    "nan",
    "Infinity",
    "-Infinity",
    "inf",
    "1e",
    "e5",
    "1.2.3",
    "--1",
    "+-1",
    "1_000",
    " 1",
    "1 ",
    "0x10",
    ".",
    "-",
    "+",
    "1e+",
    "١٢",
    "１２",
    "",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        prop::sample::select(NASTY).prop_map(num),
        prop::sample::select(NASTY).prop_map(|s| Value::String(s.to_string())),
        prop::sample::select(NASTY_STRINGS).prop_map(|s| Value::String(s.to_string())),
        prop::sample::select(VOCAB).prop_map(|s| Value::String(s.to_string())),
        "\\PC{0,12}".prop_map(Value::String),
        "[0-9]{1,40}(\\.[0-9]{1,40})?([eE][-+]?[0-9]{1,5})?".prop_map(|s| num(&s)),
        "-?[0-9]{0,40}(\\.[0-9]{0,40})?([eE][-+]?[0-9]{0,5})?".prop_map(Value::String),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![4 => prop::sample::select(VOCAB).prop_map(str::to_string), 1 => "\\PC{0,8}"]
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..8).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

#[derive(Debug, Clone)]
enum Seg {
    Key(String),
    Idx(usize),
}

/// The paths of every node of a value (the root included).
fn node_paths(v: &Value) -> Vec<Vec<Seg>> {
    fn walk(v: &Value, here: &mut Vec<Seg>, out: &mut Vec<Vec<Seg>>) {
        out.push(here.clone());
        match v {
            Value::Object(m) => {
                for (k, c) in m {
                    here.push(Seg::Key(k.clone()));
                    walk(c, here, out);
                    here.pop();
                }
            }
            Value::Array(a) => {
                for (i, c) in a.iter().enumerate() {
                    here.push(Seg::Idx(i));
                    walk(c, here, out);
                    here.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, &mut Vec::new(), &mut out);
    out
}

fn node_mut<'a>(v: &'a mut Value, path: &[Seg]) -> &'a mut Value {
    path.iter().fold(v, |v, s| match s {
        Seg::Key(k) => &mut v[k.as_str()],
        Seg::Idx(i) => &mut v[*i],
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    /// Remove the node from its parent.
    Delete,
    /// Rename the field (a typo).
    Rename(String),
    /// Put another value there.
    Replace(Value),
    /// Add an unknown field to the object (or an element to the array).
    Insert(String, Value),
    /// Duplicate an array element (duplicate ids, tiers out of order).
    Duplicate,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        2 => Just(Mutation::Delete),
        1 => key().prop_map(Mutation::Rename),
        5 => prop_oneof![
            3 => leaf(),
            1 => arbitrary_json(),
            1 => prop::sample::select(NASTY).prop_map(num),
        ].prop_map(Mutation::Replace),
        1 => (key(), leaf()).prop_map(|(k, v)| Mutation::Insert(k, v)),
        1 => Just(Mutation::Duplicate),
    ]
}

fn mutate(v: &mut Value, at: &Index, m: &Mutation) {
    let paths = node_paths(v);
    let path = paths[at.index(paths.len())].clone();
    match m {
        Mutation::Replace(new) => *node_mut(v, &path) = new.clone(),
        Mutation::Insert(k, new) => match node_mut(v, &path) {
            Value::Object(o) => {
                o.insert(k.clone(), new.clone());
            }
            Value::Array(a) => a.push(new.clone()),
            _ => {}
        },
        Mutation::Delete => match path.split_last() {
            Some((Seg::Key(k), parent)) => {
                if let Value::Object(o) = node_mut(v, parent) {
                    o.shift_remove(k);
                }
            }
            Some((Seg::Idx(i), parent)) => {
                if let Value::Array(a) = node_mut(v, parent) {
                    a.remove(*i);
                }
            }
            None => {}
        },
        Mutation::Rename(new) => {
            if let Some((Seg::Key(k), parent)) = path.split_last() {
                if let Value::Object(o) = node_mut(v, parent) {
                    if let Some(val) = o.shift_remove(k) {
                        o.insert(new.clone(), val);
                    }
                }
            }
        }
        Mutation::Duplicate => {
            if let Some((Seg::Idx(i), parent)) = path.split_last() {
                if let Value::Array(a) = node_mut(v, parent) {
                    let copy = a[*i].clone();
                    a.insert(*i, copy);
                }
            }
        }
    }
}

fn check_book_reader(v: &Value) {
    match PriceBook::from_value(v) {
        Ok(b) => {
            // Whatever the reader accepts must serialize and come back equal.
            assert_round_trips(&b);
        }
        Err(e) => error_is_well_formed(&e),
    }
}

proptest! {
    #![proptest_config(config(300))]

    #[test]
    fn arbitrary_json_never_panics_the_reader(v in arbitrary_json()) {
        check_book_reader(&v);
        // Also as the value of every top-level field of an otherwise plain book.
        let mut book = json!({"format": "price-book/v1", "id": "x", "currency": "USD", "products": [], "plans": []});
        for k in ["products", "plans", "units", "credit_packs", "overrides", "currency", "rounding", "late_event_grace"] {
            let saved = book[k].clone();
            book[k] = v.clone();
            check_book_reader(&book);
            book[k] = json!([v.clone()]);
            check_book_reader(&book);
            book[k] = saved;
        }
    }

    #[test]
    fn mutated_books_never_panic_the_reader(v in valid_book(), muts in prop::collection::vec((any::<Index>(), mutation()), 1..4)) {
        let mut v = v;
        for (at, m) in &muts {
            mutate(&mut v, at, m);
        }
        check_book_reader(&v);
        // And as text.
        let text = serde_json::to_string(&v).unwrap();
        match PriceBook::parse(&text) {
            Ok(b) => assert_round_trips(&b),
            Err(e) => error_is_well_formed(&e),
        }
    }

    #[test]
    fn arbitrary_text_never_panics_the_reader(text in prop_oneof![
        "\\PC{0,64}",
        "[\\[\\]{}\",:0-9a-z. eE+-]{0,64}",
        Just("[".repeat(5000)),
        Just("{\"a\":".repeat(300)),
        Just("1".repeat(5000)),
    ]) {
        match PriceBook::parse(&text) {
            Ok(b) => assert_round_trips(&b),
            Err(e) => error_is_well_formed(&e),
        }
    }
}

// --------------------------------------------------- (d) quote requests

/// A hand-written book with every model, keyed products under every
/// policy, add-ons, limits, overrides and currency options.
fn fixed_book() -> PriceBook {
    PriceBook::from_value(&json!({
        "format": "price-book/v1", "id": "fixed", "currency": "USD", "rounding": "half_even",
        "units": [{"code": "credits", "scale": 0}],
        "products": [
            {"id": "platform", "name": "Platform", "type": "recurring"},
            {"id": "seats", "name": "Seats", "type": "seat"},
            {"id": "onboarding", "name": "Onboarding", "type": "one_time"},
            {"id": "bandwidth", "name": "Bandwidth", "type": "metered", "unit": "GB"},
            {"id": "calls", "name": "API calls", "type": "metered", "aggregation": "count"},
            {"id": "storage", "name": "Storage", "type": "metered", "aggregation": "max"},
            {"id": "sms", "name": "SMS", "type": "metered"},
            {"id": "ai", "name": "AI tokens", "type": "metered"},
            {"id": "domain", "name": "Domains", "type": "metered", "price_key_label": "tld",
             "unmatched_price_key_policy": "use_default", "default_price_key": ".com"},
            {"id": "region", "name": "Regions", "type": "metered", "price_key_label": ["region", "size"],
             "unmatched_price_key_policy": "drop"},
            {"id": "tld", "name": "TLD", "type": "metered", "price_key_label": "tld"},
            {"id": "sales", "name": "Sales", "type": "metered", "aggregation": "amount"},
            {"id": "payouts", "name": "Payouts", "type": "metered", "aggregation": "amount", "price_key_label": "rail"}
        ],
        "plans": [
            {"id": "pro", "name": "Pro", "period": {"unit": "month", "length": 1}, "setup_fee": "10.00",
             "advance_discounts": [{"periods": 12, "percent": "20"}],
             "limits": {"calls": "1000000", "projects": "3"}, "features": ["sso"],
             "items": [
                {"product": "platform", "price": {"model": "flat", "amount": "20.00",
                  "currency_options": {"EUR": {"amount": "18.00"}}}},
                {"product": "seats", "min_quantity": "3", "max_quantity": "500",
                 "price": {"model": "per_unit", "unit_amount": "15.00", "currency_options": {"EUR": {"unit_amount": "14"}}}},
                {"product": "onboarding", "price": {"model": "flat", "amount": "99"}},
                {"product": "bandwidth", "included_quantity": "1000", "included_per_seat": "10", "rollover": true,
                 "price": {"model": "graduated", "tiers": [
                    {"up_to": "10000", "unit_amount": "0.15", "flat_amount": "5"},
                    {"up_to": null, "unit_amount": "0.10", "flat_amount": "0"}]}},
                {"product": "calls", "price": {"model": "volume", "tiers": [
                    {"up_to": "1000", "flat_amount": "0"}, {"up_to": "10000", "flat_amount": "10"},
                    {"up_to": null, "unit_amount": "0.001"}]}},
                {"product": "storage", "limit": "100000", "price": {"model": "package", "package_size": "100", "package_amount": "2.50"}},
                {"product": "sms", "price": {"model": "per_unit", "unit_amount": "0.0079"}},
                {"product": "ai", "price": {"model": "per_unit", "unit_amount": "0.5", "currency": "credits"}},
                {"product": "domain", "prices": {
                    ".com": {"model": "per_unit", "unit_amount": "11.50", "display_name": ".com domain"},
                    ".io": {"model": "per_unit", "unit_amount": "35.00"}}},
                {"product": "region", "prices": {
                    "eu/large": {"model": "graduated", "tiers": [{"up_to": "5", "unit_amount": "3"}, {"up_to": null, "unit_amount": "2"}]},
                    "us/small": {"model": "volume", "tiers": [{"up_to": "5", "unit_amount": "1"}, {"up_to": null, "unit_amount": "0.5"}]}}},
                {"product": "tld", "prices": {".dev": {"model": "flat", "amount": "12"}}},
                {"product": "sales", "price": {"model": "percentage", "percent": "2.9", "fixed_amount": "0.30",
                  "min_amount": "0.50", "max_amount": "20"}},
                {"product": "payouts", "prices": {
                    "ach": {"model": "percentage", "percent": "0.8", "max_amount": "5"},
                    "card": {"model": "graduated", "tiers": [{"up_to": "1000", "percent": "1.5"}, {"up_to": null, "percent": "1"}]}}}
             ]},
            {"id": "starter", "name": "Starter", "period": {"unit": "month"},
             "items": [
                {"product": "platform", "price": {"model": "flat", "amount": "0"}},
                {"product": "bandwidth", "limit": "5000", "price": {"model": "per_unit", "unit_amount": "0.2"}},
                {"product": "sales", "price": {"model": "percentage", "percent": "5"}}]},
            {"id": "extra", "name": "Extra", "addon": true, "period": {"unit": "month"},
             "unlocks": {"calls": "unlimited", "projects": "10", "bandwidth": "1000"}, "features": ["audit"],
             "items": [{"product": "sms", "price": {"model": "per_unit", "unit_amount": "0.005"}}]},
            {"id": "more", "name": "More", "addon": true, "period": {"unit": "month"},
             "unlocks": {"storage": "5"},
             "items": [{"product": "onboarding", "price": {"model": "per_unit", "unit_amount": "1"}}]}
        ],
        "overrides": [
            {"customer": "cus_1", "product": "seats", "price": {"model": "per_unit", "unit_amount": "12.00"}},
            {"customer": "cus_1", "product": "domain", "price_key": ".io", "price": {"model": "per_unit", "unit_amount": "30"},
             "from": "2026-01-01T00:00:00Z", "until": "2027-01-01T00:00:00Z"},
            {"customer": "cus_2", "product": "bandwidth", "price": {"model": "volume", "tiers": [
                {"up_to": "100", "unit_amount": "1"}, {"up_to": null, "unit_amount": "0.01"}]}}
        ]
    }))
    .unwrap()
}

/// Valid quantities big enough to overflow what they are multiplied by.
const BIG: &[&str] = &[
    "9999999999999999999999999999",
    "7e28",
    "7.9e28",
    "1e28",
    "1e27",
    "5e26",
    "123456789012345678901234567.8",
    "792281625142643375935439503.35",
    "0.0000000000000000000000000001",
    "4294967295",
    "4294967296",
];

/// Quantities: mostly ordinary ones, some at the edge of the decimal
/// range, a few that are not quantities at all.
fn quantity() -> impl Strategy<Value = Value> {
    prop_oneof![
        40 => spelled(1_000_000, 3).prop_map(spell),
        6 => (0u32..20).prop_map(|n| json!(n)),
        2 => prop::sample::select(BIG).prop_map(|s| Value::String(s.to_string())),
        1 => prop::sample::select(BIG).prop_map(num),
        1 => prop::sample::select(NASTY).prop_map(num),
        1 => prop::sample::select(NASTY_STRINGS).prop_map(|s| Value::String(s.to_string())),
        1 => leaf(),
    ]
}

fn transactions() -> impl Strategy<Value = Value> {
    prop_oneof![
        12 => prop::collection::vec(quantity(), 0..6).prop_map(|a| json!({"amounts": a})),
        2 => (quantity(), quantity()).prop_map(|(c, t)| json!({"count": c, "total": t})),
        1 => (prop::collection::vec(quantity(), 0..3), quantity()).prop_map(|(a, c)| json!({"amounts": a, "count": c})),
        1 => quantity(),
    ]
}

/// Mostly `common`, now and then `rare` (something the request should not hold).
fn mostly(common: Vec<&'static str>, rare: Vec<&'static str>) -> impl Strategy<Value = &'static str> + Clone {
    prop_oneof![12 => prop::sample::select(common), 1 => prop::sample::select(rare)]
}

/// Requests for `fixed_book`: mostly valid, with a little of everything that is not.
fn valid_ish_request() -> impl Strategy<Value = Value> {
    let keyed = mostly(
        vec![
            "domain .com",
            "domain .io",
            "domain .xyz",
            "region eu/large",
            "region us/small",
            "region ap/huge",
            "tld .dev",
        ],
        vec!["tld .com", "domain "],
    );
    (
        mostly(vec!["pro"], vec!["starter", "extra", "nope"]),
        prop_oneof![
            6 => Just(vec![]),
            2 => Just(vec!["extra"]),
            1 => Just(vec!["extra", "more"]),
            1 => prop::collection::vec(prop::sample::select(vec!["extra", "more", "pro"]), 0..3),
        ],
        prop::option::weighted(0.2, prop::sample::select(vec!["USD", "EUR", "JPY", "credits", "XXX"])),
        prop::option::of(prop::sample::select(vec!["cus_1", "cus_2", "cus_3"])),
        prop::option::of(mostly(
            vec!["2026-06-01T00:00:00Z", "2028-01-01T00:00:00+05:00"],
            vec!["yesterday"],
        )),
        prop::collection::vec(
            (
                mostly(vec!["seats", "platform", "onboarding"], vec!["bandwidth", "ghost"]),
                quantity(),
            ),
            0..4,
        ),
        prop::collection::vec(
            (
                mostly(
                    vec!["bandwidth", "calls", "storage", "sms", "ai"],
                    vec!["sales", "seats", "ghost"],
                ),
                quantity(),
            ),
            0..6,
        ),
        prop::collection::vec((keyed, quantity()), 0..5),
        (
            prop::collection::vec((mostly(vec!["ach", "card"], vec!["wire"]), transactions()), 0..3),
            transactions(),
        ),
        (
            prop::option::weighted(
                0.3,
                prop_oneof![4 => (1u32..=24).prop_map(|n| json!(n)), 1 => quantity()],
            ),
            prop::option::of(any::<bool>()),
        ),
    )
        .prop_map(
            |(plan, addons, currency, customer, at, quantities, usage, keyed, (payouts, sales), (periods, setup))| {
                let mut r = json!({"plan": plan});
                if !addons.is_empty() {
                    r["addons"] = json!(addons);
                }
                if let Some(c) = currency {
                    r["currency"] = json!(c);
                }
                if let Some(c) = customer {
                    r["customer"] = json!(c);
                }
                if let Some(a) = at {
                    r["at"] = json!(a);
                }
                let q: Map<String, Value> = quantities.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
                r["quantities"] = Value::Object(q);
                let mut u: Map<String, Value> = usage.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
                for (pk, q) in keyed {
                    let (p, k) = pk.split_once(' ').unwrap();
                    let e = u.entry(p.to_string()).or_insert_with(|| json!({}));
                    if let Value::Object(m) = e {
                        m.insert(k.to_string(), q);
                    }
                }
                u.insert("sales".into(), sales);
                if !payouts.is_empty() {
                    u.insert(
                        "payouts".into(),
                        Value::Object(payouts.into_iter().map(|(k, v)| (k.to_string(), v)).collect()),
                    );
                }
                r["usage"] = Value::Object(u);
                if let Some(p) = periods {
                    r["periods"] = p;
                }
                if let Some(s) = setup {
                    r["include_setup"] = json!(s);
                }
                r
            },
        )
}

/// A request derived from a generated book: its plans, products and keys.
#[derive(Debug, Clone)]
struct RequestSeed {
    plan: u8,
    addons: Vec<u8>,
    currency: Option<u8>,
    customer: Option<u8>,
    at: Option<(u32, u8)>,
    values: Vec<Value>,
    flags: u8,
    periods: Option<u32>,
}

fn request_seed() -> impl Strategy<Value = RequestSeed> {
    (
        any::<u8>(),
        prop::collection::vec(any::<u8>(), 0..3),
        prop::option::weighted(0.2, any::<u8>()),
        prop::option::of(any::<u8>()),
        prop::option::of((0..20_000_000u32, any::<u8>())),
        prop::collection::vec(quantity(), 32),
        any::<u8>(),
        prop::option::of(1..=24u32),
    )
        .prop_map(
            |(plan, addons, currency, customer, at, values, flags, periods)| RequestSeed {
                plan,
                addons,
                currency,
                customer,
                at,
                values,
                flags,
                periods,
            },
        )
}

fn request_for(book: &PriceBook, s: &RequestSeed) -> Value {
    let doc = book.doc();
    let base: Vec<_> = doc.plans.iter().filter(|p| !p.addon).collect();
    let addons: Vec<_> = doc.plans.iter().filter(|p| p.addon).collect();
    let plan = base[usize::from(s.plan) % base.len()];
    let mut r = json!({"plan": plan.id});
    let mut chosen = vec![plan];
    if !addons.is_empty() && !s.addons.is_empty() {
        let ids: Vec<&str> = s
            .addons
            .iter()
            .map(|a| addons[usize::from(*a) % addons.len()].id.as_str())
            .collect();
        chosen.extend(s.addons.iter().map(|a| addons[usize::from(*a) % addons.len()]));
        r["addons"] = json!(ids);
    }
    if let Some(c) = s.currency {
        r["currency"] = json!(CURRENCIES[usize::from(c) % CURRENCIES.len()]);
    }
    if let Some(c) = s.customer {
        r["customer"] = json!(format!("cus_{}", c % 3));
    }
    if let Some((t, how)) = s.at {
        r["at"] = timestamp(t, how);
    }
    let mut values = s.values.iter().cycle();
    let mut quantities = Map::new();
    let mut usage = Map::new();
    for (n, item) in chosen.iter().flat_map(|p| p.items.iter()).enumerate() {
        let product = book.product(&item.product).unwrap();
        let v = values.next().unwrap().clone();
        if (s.flags >> (n % 8)) & 1 == 0 && n % 3 == 0 {
            continue;
        }
        let amount_based = product.aggregation() == rating::price_book::Aggregation::Amount;
        let shape = |v: Value, w: Value| if amount_based { json!({"amounts": [v, w]}) } else { v };
        match product.kind {
            rating::price_book::ProductType::Metered => {
                if let Some(prices) = &item.prices {
                    let mut m = Map::new();
                    for (k, key) in prices.keys().chain([&"unpriced".to_string()]).enumerate() {
                        if k % 2 == usize::from(s.flags) % 2 || k == 0 {
                            let w = values.next().unwrap().clone();
                            m.insert(key.clone(), shape(values.next().unwrap().clone(), w));
                        }
                    }
                    usage.insert(product.id.clone(), Value::Object(m));
                } else {
                    let w = values.next().unwrap().clone();
                    usage.insert(product.id.clone(), shape(v, w));
                }
            }
            _ => {
                quantities.insert(product.id.clone(), v);
            }
        }
    }
    r["quantities"] = Value::Object(quantities);
    r["usage"] = Value::Object(usage);
    if let Some(p) = s.periods {
        r["periods"] = json!(p);
    }
    if s.flags & 0x80 != 0 {
        r["include_setup"] = json!(true);
    }
    r
}

fn parse_money(s: &Value) -> Decimal {
    Decimal::from_str(s.as_str().unwrap_or_else(|| panic!("money is a string: {s}"))).unwrap()
}

/// Decimal places of a printed amount.
fn places(s: &Value) -> usize {
    s.as_str().unwrap().split('.').nth(1).map_or(0, str::len)
}

/// Runs quote and compare; neither may panic, errors are well formed, and
/// a quote that succeeds adds up.
/// A quote adds up: subtotal, discount and total from the money lines,
/// money printed with the currency's digits, no negative charge.
fn check_quote_output(book: &PriceBook, q: &Value) {
    let currency = q["currency"].as_str().unwrap();
    let scale = book.scale_of(currency).unwrap();
    let mut subtotal = Decimal::ZERO;
    let mut discount = Decimal::ZERO;
    let periods = q.get("periods").map_or(1, |p| p.as_u64().unwrap());
    for l in q["lines"].as_array().unwrap() {
        let a = parse_money(&l["amount"]);
        if l["kind"] == "discount" {
            assert!(a <= Decimal::ZERO, "{l}");
        } else {
            assert!(a >= Decimal::ZERO, "{l}");
        }
        check_line_explains_itself(book, currency, periods, l);
        if l.get("currency").is_some() {
            continue;
        }
        if l["kind"] == "discount" {
            discount -= a;
        } else {
            subtotal += a;
        }
    }
    assert_eq!(parse_money(&q["subtotal"]), subtotal, "{q}");
    assert_eq!(parse_money(&q["discount"]), discount, "{q}");
    assert_eq!(parse_money(&q["total"]), subtotal - discount, "{q}");
    assert!(q["price_book"].as_str() == Some(book.hash()));
    // Lines in custom units (credits) are totalled per unit, apart from money.
    let mut credits: Map<String, Value> = Map::new();
    for l in q["lines"].as_array().unwrap() {
        if let Some(unit) = l.get("currency").and_then(Value::as_str) {
            let sum = credits.get(unit).map_or(Decimal::ZERO, parse_money) + parse_money(&l["amount"]);
            credits.insert(unit.to_string(), json!(sum.to_string()));
        }
    }
    match q.get("credits").and_then(Value::as_object) {
        None => assert!(credits.is_empty(), "credit lines without a credits total: {q}"),
        Some(c) => {
            assert_eq!(c.len(), credits.len(), "{q}");
            for (unit, total) in c {
                assert_eq!(parse_money(total), parse_money(&credits[unit]), "{unit} total: {q}");
                assert_eq!(places(total), book.scale_of(unit).unwrap() as usize, "{q}");
            }
        }
    }
    // Money carries exactly the currency's minor-unit digits, however large.
    let money_lines = q["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l.get("currency").is_none());
    for m in [&q["subtotal"], &q["total"], &q["discount"]]
        .into_iter()
        .chain(money_lines.map(|l| &l["amount"]))
    {
        assert_eq!(places(m), scale as usize, "{m} in {currency}: {q}");
    }
}

/// A line explains its amount: `included + billable = quantity`, and the
/// tier entries add up to the billable quantity and, rounded once, to the
/// line's amount (recurring and seat tiers are one period's: their sum is
/// multiplied by `periods`).
fn check_line_explains_itself(book: &PriceBook, currency: &str, periods: u64, l: &Value) {
    let dec_of =
        |v: &Value| Decimal::from_str(v.as_str().unwrap_or_else(|| panic!("a decimal string: {v} in {l}"))).unwrap();
    let quantity = dec_of(&l["quantity"]);
    let billable = match (l.get("included"), l.get("billable")) {
        (Some(i), Some(b)) => {
            let (i, b) = (dec_of(i), dec_of(b));
            assert!(i >= Decimal::ZERO && b >= Decimal::ZERO, "{l}");
            assert_eq!(i + b, quantity, "included + billable = quantity: {l}");
            b
        }
        (None, None) => quantity,
        _ => panic!("included and billable come together: {l}"),
    };
    let Some(tiers) = l.get("tiers").and_then(Value::as_array) else {
        return;
    };
    assert!(!tiers.is_empty(), "{l}");
    let units: Decimal = tiers.iter().map(|t| dec_of(&t["quantity"])).sum();
    let mut exact: Decimal = tiers.iter().map(|t| dec_of(&t["amount"])).sum();
    if l["kind"] == "recurring" || l["kind"] == "seat" {
        exact *= Decimal::from(periods);
    }
    assert_eq!(units, billable, "tier quantities add up to the billable quantity: {l}");
    let scale = book
        .scale_of(l.get("currency").and_then(Value::as_str).unwrap_or(currency))
        .unwrap();
    assert_eq!(
        fmt_money(book.doc().rounding.round(exact, scale), scale),
        l["amount"].as_str().unwrap(),
        "the line is its tiers' sum rounded once: {l}"
    );
    for (i, t) in tiers.iter().enumerate() {
        assert!(t["index"].as_u64().unwrap() >= i as u64, "{l}");
        assert!(
            t.get("unit_amount").is_some() != t.get("percent").is_some(),
            "unit_amount or percent: {l}"
        );
    }
}

fn check_quote(book: &PriceBook, req: &Value) {
    match quote_value(book, req) {
        Err(e) => error_is_well_formed(&e),
        Ok(q) => {
            check_quote_output(book, &q);
            // The typed API agrees with the JSON one.
            let typed_req = read_request(book, req, true).unwrap();
            let typed = quote(book, &typed_req).unwrap();
            assert_eq!(serde_json::to_value(&typed).unwrap(), q);
        }
    }
    let mut c = req.clone();
    if let Value::Object(m) = &mut c {
        m.shift_remove("plan");
    }
    match compare_value(book, &c) {
        Err(e) => error_is_well_formed(&e),
        Ok(v) => {
            let plans = v["plans"].as_array().unwrap();
            let totals: Vec<Decimal> = plans.iter().filter_map(|p| p.get("total")).map(parse_money).collect();
            assert!(totals.windows(2).all(|w| w[0] <= w[1]), "cheapest first: {v}");
            assert_eq!(v["cheapest"].is_null(), totals.is_empty());
        }
    }
}

proptest! {
    #![proptest_config(config(300))]

    #[test]
    fn arbitrary_requests_never_panic_quote(req in arbitrary_json()) {
        let book = fixed_book();
        check_quote(&book, &req);
        let mut r = json!({"plan": "pro", "usage": {}});
        r["usage"]["bandwidth"] = req.clone();
        check_quote(&book, &r);
        r["usage"] = json!({"domain": {".com": req.clone()}, "sales": req.clone()});
        check_quote(&book, &r);
        r["usage"] = json!({"payouts": {"ach": req.clone(), "card": {"amounts": [req.clone()]}}});
        check_quote(&book, &r);
        r["quantities"] = json!({"seats": req.clone()});
        check_quote(&book, &r);
    }

    #[test]
    fn mutated_requests_never_panic_quote(req in valid_ish_request(),
                                          muts in prop::collection::vec((any::<Index>(), mutation()), 0..3)) {
        let book = fixed_book();
        check_quote(&book, &req);
        let mut req = req;
        for (at, m) in &muts {
            mutate(&mut req, at, m);
        }
        check_quote(&book, &req);
    }

    #[test]
    fn generated_books_quote_without_panicking(v in valid_book(), seed in request_seed()) {
        let book = parse_ok(&v);
        let req = request_for(&book, &seed);
        check_quote(&book, &req);
        let quoted = quote_value(&book, &req);
        // The order of products in `quantities` and `usage` changes nothing
        // (lines follow the plan's item order).
        let mut reordered = req.clone();
        for k in ["quantities", "usage"] {
            if let Some(Value::Object(m)) = reordered.get_mut(k) {
                *m = std::mem::take(m).into_iter().rev().collect();
            }
        }
        prop_assert_eq!(quote_value(&book, &reordered).map_err(|e| e.code), quoted.clone().map_err(|e| e.code));
        // Compare prices each base plan as a quote would.
        let mut usage_only = req.clone();
        usage_only.as_object_mut().unwrap().shift_remove("plan");
        if let Ok(c) = compare_value(&book, &usage_only) {
            for p in c["plans"].as_array().unwrap() {
                let mut r = usage_only.clone();
                r["plan"] = p["plan"].clone();
                match (p.get("total"), quote_value(&book, &r)) {
                    (Some(t), Ok(q)) => prop_assert_eq!(t, &q["total"]),
                    (None, Err(e)) => prop_assert_eq!(p["error"]["code"].as_str(), Some(e.errors[0].code.as_str())),
                    (t, q) => prop_assert!(false, "compare says {:?}, quote says {:?}", t, q),
                }
            }
        }
    }
}

// ------------------------------------------- (d) typed quote requests

/// Decimals a caller of the typed API might pass: ordinary, zero, tiny,
/// and at the top of the range.
fn typed_decimal() -> impl Strategy<Value = Decimal> + Clone {
    prop_oneof![
        10 => decimal(1_000_000, 3),
        1 => Just(Decimal::ZERO),
        1 => Just(Decimal::MAX),
        1 => Just(Decimal::new(1, 28)),
        1 => prop::sample::select(BIG).prop_map(|s| rating::money::parse_decimal_text(s).unwrap_or(Decimal::MAX)),
    ]
}

fn typed_usage() -> impl Strategy<Value = Usage> {
    let leaf = prop_oneof![
        3 => typed_decimal().prop_map(Usage::Quantity),
        2 => prop::collection::vec(typed_decimal(), 0..4).prop_map(|v| Usage::Transactions(Transactions::Amounts(v))),
        1 => (typed_decimal(), typed_decimal())
            .prop_map(|(c, t)| Usage::Transactions(Transactions::Summary { count: c.trunc(), total: t })),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        let keys = prop::sample::select(vec![
            ".com", ".io", ".xyz", "eu/large", "ap/huge", "ach", "card", "wire",
        ]);
        prop::collection::vec((keys, inner), 0..4)
            .prop_map(|kv| Usage::Keyed(kv.into_iter().map(|(k, u)| (k.to_string(), u)).collect()))
    })
}

fn typed_request() -> impl Strategy<Value = QuoteRequest> {
    let products = vec![
        "platform",
        "seats",
        "onboarding",
        "bandwidth",
        "calls",
        "storage",
        "sms",
        "ai",
        "domain",
        "region",
        "tld",
        "sales",
        "payouts",
        "ghost",
    ];
    (
        mostly(vec!["pro"], vec!["starter", "extra", "nope"]),
        prop::collection::vec(prop::sample::select(vec!["extra", "more"]), 0..2),
        prop::option::weighted(0.2, prop::sample::select(vec!["USD", "EUR", "credits"])),
        prop::option::of(prop::sample::select(vec!["cus_1", "cus_2"])),
        prop::collection::vec((prop::sample::select(products.clone()), typed_decimal()), 0..4),
        prop::collection::vec((prop::sample::select(products), typed_usage()), 0..6),
        prop_oneof![8 => 1..=24u32, 1 => Just(0u32), 1 => Just(1200u32), 1 => Just(u32::MAX)],
        any::<bool>(),
    )
        .prop_map(
            |(plan, addons, currency, customer, quantities, usage, periods, include_setup)| QuoteRequest {
                plan: plan.to_string(),
                addons: addons.into_iter().map(str::to_string).collect(),
                currency: currency.map(str::to_string),
                customer: customer.map(str::to_string),
                at: None,
                quantities: quantities.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
                usage: usage.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
                periods,
                include_setup,
            },
        )
}

proptest! {
    #![proptest_config(config(300))]

    /// The typed API skips `read_request`'s checks; it still never panics
    /// on non-negative quantities, whatever their shape or size. (Negative
    /// ones: see `negative_typed_usage_does_not_panic`.)
    #[test]
    fn typed_requests_never_panic_quote(req in typed_request()) {
        let book = fixed_book();
        match quote(&book, &req) {
            Ok(q) => check_quote_output(&book, &serde_json::to_value(&q).unwrap()),
            Err(e) => error_is_well_formed(&e),
        }
        if let Err(e) = compare(&book, &req) {
            error_is_well_formed(&e);
        }
    }
}

/// `quote` on a typed request with a negative usage on an item with an
/// allowance: `allowance -= included` (quote.rs, usage_lines) overflows and
/// panics ("Subtraction overflowed") instead of returning an error.
/// `read_request` refuses negatives, so only typed callers can reach it.
#[test]
fn negative_typed_usage_does_not_panic() {
    let book = fixed_book();
    for q in [Decimal::MIN, Decimal::NEGATIVE_ONE] {
        let mut req = QuoteRequest {
            plan: "pro".into(),
            periods: 1,
            ..Default::default()
        };
        req.usage.insert("bandwidth".into(), Usage::Quantity(q));
        let r = std::panic::catch_unwind(|| quote(&book, &req).map(|q| q.total));
        assert!(r.is_ok(), "quote panicked on bandwidth usage {q}");
    }
}

// -------------------------------------------------------- (e) rounding

const MODES: [(Rounding, &str); 4] = [
    (Rounding::HalfUp, "half_up"),
    (Rounding::HalfEven, "half_even"),
    (Rounding::Down, "down"),
    (Rounding::Up, "up"),
];

/// Whether `x` lies exactly halfway between two multiples of `10^-scale`.
fn is_exact_half(x: Decimal, scale: u32) -> bool {
    let shifted = x * Decimal::from(10u64.pow(scale));
    shifted.fract().abs() == Decimal::new(5, 1)
}

fn rounding_book(mode: &str, currency: &str) -> PriceBook {
    PriceBook::from_value(&json!({
        "format": "price-book/v1", "id": "r", "currency": currency, "rounding": mode,
        "products": [{"id": "u", "name": "U", "type": "metered"}],
        "plans": [{"id": "p", "name": "P", "period": {"unit": "month"},
                   "items": [{"product": "u", "price": {"model": "per_unit", "unit_amount": "1"}}]}]
    }))
    .unwrap()
}

proptest! {
    #![proptest_config(config(500))]

    #[test]
    fn rounding_stays_within_one_minor_unit(m in 0..=i64::MAX / 4, s in 0u32..=20, negative in any::<bool>(), scale in 0u32..=4) {
        let x = Decimal::new(if negative { -m } else { m }, s);
        let unit = Decimal::new(1, scale);
        let mut rounded = Vec::new();
        for (mode, _) in MODES {
            let r = mode.round(x, scale);
            prop_assert!((r - x).abs() < unit, "{mode:?}: {x} → {r}");
            prop_assert_eq!(r.scale(), scale);
            prop_assert_eq!(fmt_money(r, scale).split('.').nth(1).map_or(0, str::len), scale as usize);
            rounded.push(r);
        }
        let [half_up, half_even, down, up] = rounded[..] else { unreachable!() };
        // Down is toward zero, up away from it.
        prop_assert!(down.abs() <= x.abs() && up.abs() >= x.abs());
        // The nearest modes agree except on exact halves.
        if is_exact_half(x, scale) {
            prop_assert_eq!(half_up.abs(), x.abs() + unit / Decimal::TWO);
            prop_assert_eq!((half_even - x).abs(), unit / Decimal::TWO);
            prop_assert!((half_even * Decimal::from(10u64.pow(scale)) % Decimal::TWO).is_zero(), "{x} → {half_even} is not even");
        } else {
            prop_assert_eq!(half_up, half_even, "{} not a half", x);
            prop_assert!((half_up - x).abs() <= unit / Decimal::TWO);
        }
    }

}

proptest! {
    #![proptest_config(config(200))]

    #[test]
    fn quote_lines_round_within_one_minor_unit(unit_amount in decimal(10_000_000_000_000, 12), qty in decimal(10_000_000, 4),
                                               currency in prop::sample::select(vec!["USD", "JPY", "KWD"])) {
        let scale = rating::money::iso_scale(currency).unwrap();
        let minor = Decimal::new(1, scale);
        let mut lines = Vec::new();
        for (mode, name) in MODES {
            let mut book = rounding_book(name, currency).to_value();
            book["plans"][0]["items"][0]["price"]["unit_amount"] = json!(unit_amount.to_string());
            let book = PriceBook::from_value(&book).unwrap();
            let req = read_request(&book, &json!({"plan": "p", "usage": {"u": qty.to_string()}}), true).unwrap();
            let q = quote(&book, &req).unwrap();
            let line = &q.lines[0];
            prop_assert_eq!(line.exact, qty * unit_amount);
            prop_assert!((line.amount.value - line.exact).abs() < minor, "{name}: {} → {}", line.exact, line.amount.value);
            prop_assert_eq!(&fmt_money(line.amount.value, line.amount.scale), &fmt_money(mode.round(line.exact, scale), scale));
            prop_assert_eq!(&q.total, &line.amount);
            lines.push(line.amount.value);
        }
        if !is_exact_half(qty * unit_amount, scale) {
            prop_assert_eq!(lines[0], lines[1]);
        }
    }
}

#[test]
fn half_modes_differ_on_an_exact_half() {
    for (x, up, even) in [
        ("0.125", "0.13", "0.12"),
        ("0.135", "0.14", "0.14"),
        ("2.5", "3", "2"),
        ("-0.005", "-0.01", "0.00"),
    ] {
        let x = dec(x);
        let scale = up.split('.').nth(1).map_or(0, |f| f.len() as u32);
        assert!(is_exact_half(x, scale));
        assert_eq!(fmt_money(Rounding::HalfUp.round(x, scale), scale), up);
        assert_eq!(fmt_money(Rounding::HalfEven.round(x, scale), scale), even);
    }
}

// ------------------------------------------------------- regressions
//
// Minimal reproductions of engine bugs the properties above found (fixed
// in 8424c76), kept as plain tests.

/// `Reader::integer` divided the truncated mantissa (scale 0) by `10^scale`
/// of the original, so a whole number written with a fraction shrank:
/// `"12.0"` → 1, `"1.0"` → 0.
#[test]
fn whole_numbers_with_a_zero_fraction_are_read_whole() {
    let book = |length: Value, periods: Value| {
        PriceBook::from_value(&json!({
            "format": "price-book/v1", "id": "a", "currency": "USD",
            "products": [{"id": "p", "name": "P", "type": "recurring"}],
            "plans": [{"id": "x", "name": "X", "period": {"unit": "month", "length": length},
                       "advance_discounts": [{"periods": periods, "percent": "10"}],
                       "items": [{"product": "p", "price": {"model": "flat", "amount": "10"}}]}]
        }))
    };
    // length "1.0" was read as 0, which the reader itself refuses: the book
    // did not round-trip.
    let b = book(json!("1.0"), json!(12)).unwrap();
    assert_eq!(b.doc().plans[0].period.length, 1);
    assert_round_trips(&b);
    // `periods: 12.0` (a JSON number) quotes 12 periods, like `periods: 12`.
    let b = book(json!(1), num("12.0")).unwrap();
    assert_eq!(b.doc().plans[0].advance_discounts[0].periods, 12);
    let twelve = quote_value(&b, &json!({"plan": "x", "periods": 12})).unwrap();
    let twelve_point_zero = quote_value(&b, &json!({"plan": "x", "periods": num("12.0")})).unwrap();
    assert_eq!(twelve, twelve_point_zero);
    // "100e-1" is 10 as well.
    assert_eq!(
        book(json!("100e-1"), json!(12)).unwrap().doc().plans[0].period.length,
        10
    );
}

/// A line too large for the decimal type to carry the currency's
/// minor-unit digits was printed with fewer (`"4500000000000000000000000000"`
/// for USD).
#[test]
fn huge_amounts_keep_their_minor_unit_digits() {
    let book = PriceBook::from_value(&json!({
        "format": "price-book/v1", "id": "a", "currency": "USD",
        "products": [{"id": "m", "name": "M", "type": "metered"}],
        "plans": [{"id": "x", "name": "X", "period": {"unit": "month"},
                   "items": [{"product": "m", "price": {"model": "per_unit", "unit_amount": "0.5"}}]}]
    }))
    .unwrap();
    match quote_value(&book, &json!({"plan": "x", "usage": {"m": "9e27"}})) {
        Err(e) => assert_eq!(e.code, "arithmetic_overflow"),
        Ok(q) => {
            for m in [&q["lines"][0]["amount"], &q["total"]] {
                let s = m.as_str().unwrap();
                assert_eq!(s.split('.').nth(1).map(str::len), Some(2), "{s} has not 2 decimals");
            }
        }
    }
}

/// The reader accepted `"7e28"` (one significant digit, below Decimal::MAX)
/// but refused the same value written out, `"70000000000000000000000000000"`
/// (29 digits), which is how `to_value` writes it: the book did not round-trip.
#[test]
fn decimals_from_1e28_are_refused_in_every_spelling() {
    let book = |amount: Value| {
        PriceBook::from_value(&json!({
            "format": "price-book/v1", "id": "a", "currency": "USD",
            "products": [{"id": "p", "name": "P", "type": "recurring"}],
            "plans": [{"id": "x", "name": "X", "period": {"unit": "month"},
                       "items": [{"product": "p", "price": {"model": "flat", "amount": amount}}]}]
        }))
    };
    for big in [
        "7e28",
        "70000000000000000000000000000",
        "1e28",
        "10000000000000000000000000000",
    ] {
        for spelling in [json!(big), num(big)] {
            let e = book(spelling).unwrap_err();
            assert_eq!(e.code, "out_of_range", "{big}: {e:?}");
        }
    }
    // Just below 10^28 both spellings are read, and round-trip.
    for ok in ["9999999999999999999999999999", "9.999999999999999999999999999e27"] {
        assert_round_trips(&book(json!(ok)).unwrap());
        assert_round_trips(&book(num(ok)).unwrap());
    }
}

/// One bad amount was reported twice: its own problem, then a misleading
/// `missing_field` ("amount is required by the flat model") at the same
/// path, so a single mistake came back as `invalid_price_book` with two
/// problems.
#[test]
fn an_invalid_amount_is_one_problem() {
    for amount in [json!("-1"), json!("abc"), json!("1e40"), json!(true)] {
        let e = PriceBook::from_value(&json!({
            "format": "price-book/v1", "id": "a", "currency": "USD",
            "products": [{"id": "p", "name": "P", "type": "recurring"}],
            "plans": [{"id": "x", "name": "X", "period": {"unit": "month"},
                       "items": [{"product": "p", "price": {"model": "flat", "amount": amount}}]}]
        }))
        .unwrap_err();
        assert_eq!(e.errors.len(), 1, "{e:?}");
        assert_eq!(e.path.as_deref(), Some("plans[0].items[0].price.amount"));
        assert_ne!(e.code, "missing_field");
    }
}
