//! Reading a `price-book/v1` document strictly: every field is typed,
//! unknown fields are errors, and every problem is collected with its path.

use super::model::*;
use crate::error::codes;
use crate::json::{index, join, Obj, Reader};
use crate::money::CustomUnit;
use indexmap::IndexMap;
use serde_json::Value;
use std::collections::BTreeMap;

pub(super) fn read_book(r: &mut Reader, v: &Value) -> Option<PriceBookDoc> {
    let mut o = r.object(v, "")?;
    let format = o.req_string(r, "format");
    if let Some(f) = &format {
        if f != "price-book/v1" {
            r.err(
                codes::UNSUPPORTED_FORMAT,
                "format",
                format!("format {f:?} is not supported; expected \"price-book/v1\""),
            );
        }
    }
    let id = o.req_string(r, "id");
    let name = o.opt_string(r, "name");
    let currency = o.req_string(r, "currency");
    let rounding = match o.opt("rounding") {
        Some(v) => r.choice(
            v,
            "rounding",
            crate::money::Rounding::parse,
            "half_up, half_even, down, up",
        ),
        None => Some(Default::default()),
    };
    let proration = match o.opt("proration") {
        Some(v) => r.choice(v, "proration", parse_proration, "by_second, by_day, none"),
        None => Some(Default::default()),
    };
    let late_event_grace = o.opt("late_event_grace").and_then(|v| r.period(v, "late_event_grace"));
    let dedup_window = o.opt("dedup_window").and_then(|v| r.period(v, "dedup_window"));
    let units = list(r, &mut o, "units", read_unit);
    let products = list_req(r, &mut o, "products", read_product);
    let plans = list_req(r, &mut o, "plans", read_plan);
    let credit_packs = list(r, &mut o, "credit_packs", read_pack);
    let overrides = list(r, &mut o, "overrides", read_override);
    o.finish(r);
    Some(PriceBookDoc {
        format: format?,
        id: id?,
        name,
        currency: currency?,
        rounding: rounding?,
        proration: proration?,
        late_event_grace,
        dedup_window,
        units: units?,
        products: products?,
        plans: plans?,
        credit_packs: credit_packs?,
        overrides: overrides?,
    })
}

fn parse_proration(s: &str) -> Option<Proration> {
    Some(match s {
        "by_second" => Proration::BySecond,
        "by_day" => Proration::ByDay,
        "none" => Proration::None,
        _ => return None,
    })
}

/// Reads an optional array field; `Some(vec)` unless an element failed.
fn list<T>(
    r: &mut Reader,
    o: &mut Obj,
    key: &'static str,
    f: fn(&mut Reader, &Value, &str) -> Option<T>,
) -> Option<Vec<T>> {
    let path = o.path(key);
    let Some(v) = o.opt(key) else { return Some(Vec::new()) };
    // Entries that have a problem are left out (the problem is recorded),
    // so that the rest of the book can still be checked and every problem
    // reported at once.
    let Some(arr) = r.array(v, &path) else {
        return Some(Vec::new());
    };
    let mut out = Vec::with_capacity(arr.len());
    for (i, e) in arr.iter().enumerate() {
        match f(r, e, &index(&path, i)) {
            Some(t) => out.push(t),
            None => r.dropped += 1,
        }
    }
    Some(out)
}

fn list_req<T>(
    r: &mut Reader,
    o: &mut Obj,
    key: &'static str,
    f: fn(&mut Reader, &Value, &str) -> Option<T>,
) -> Option<Vec<T>> {
    if !o.has(key) {
        o.req(r, key);
        return None;
    }
    list(r, o, key, f)
}

fn read_unit(r: &mut Reader, v: &Value, path: &str) -> Option<CustomUnit> {
    let mut o = r.object(v, path)?;
    let code = o.req_string(r, "code");
    let scale = o
        .req(r, "scale")
        .and_then(|v| r.integer(v, &join(path, "scale"), 0, 12));
    let name = o.opt_string(r, "name");
    o.finish(r);
    Some(CustomUnit {
        code: code?,
        scale: scale?,
        name,
    })
}

fn read_product(r: &mut Reader, v: &Value, path: &str) -> Option<Product> {
    let mut o = r.object(v, path)?;
    let id = o.req_string(r, "id");
    let name = o.req_string(r, "name");
    let kind = o.req(r, "type").and_then(|v| {
        r.choice(
            v,
            &join(path, "type"),
            product_type,
            "recurring, seat, metered, one_time",
        )
    });
    let unit = o.opt_string(r, "unit");
    let aggregation = o.opt("aggregation").and_then(|v| {
        let allowed = "sum, count, max, last, unique_count, amount";
        r.choice(v, &join(path, "aggregation"), aggregation, allowed)
    });
    let property = o.opt_string(r, "property");
    let price_key_label = o
        .opt("price_key_label")
        .and_then(|v| read_key_label(r, v, &join(path, "price_key_label")));
    let policy = o.opt("unmatched_price_key_policy").and_then(|v| {
        let p = join(path, "unmatched_price_key_policy");
        r.choice(v, &p, unmatched_policy, "reject, use_default, drop")
    });
    let default_price_key = o.opt_string(r, "default_price_key");
    let description = o.opt_string(r, "description");
    let unit_conversion = o
        .opt("unit_conversion")
        .map(|v| read_unit_conversion(r, v, &join(path, "unit_conversion")));
    o.finish(r);
    Some(Product {
        id: id?,
        name: name?,
        kind: kind?,
        unit,
        aggregation,
        property,
        price_key_label,
        unmatched_price_key_policy: policy,
        default_price_key,
        description,
        unit_conversion: match unit_conversion {
            Some(c) => Some(c?),
            None => None,
        },
    })
}

/// A metered product's `unit_conversion` (docs/contract.md §3 "Unit
/// conversion"): `divide_by` above zero; `round` one of `up`, `down`,
/// `half_up`, `none` (default `none`); `precision` 0-12, required with a
/// rounding `round` and not allowed with `none`; optional `display_unit`.
fn read_unit_conversion(r: &mut Reader, v: &Value, path: &str) -> Option<UnitConversion> {
    let mut o = r.object(v, path)?;
    let divide_by = o.req(r, "divide_by").and_then(|v| {
        let p = join(path, "divide_by");
        let d = r.amount(v, &p)?;
        if d.is_zero() {
            r.err(codes::INVALID_VALUE, &p, "must be greater than zero");
            return None;
        }
        Some(d)
    });
    let round = match o.opt("round") {
        Some(v) => r.choice(v, &join(path, "round"), conversion_round, "up, down, half_up, none"),
        None => Some(ConversionRound::None),
    };
    let precision_path = join(path, "precision");
    let precision = o.opt("precision").map(|v| r.integer(v, &precision_path, 0, 12));
    let display_unit = o.opt_string(r, "display_unit");
    o.finish(r);
    let round = round?;
    let precision = match (round, precision) {
        (_, Some(None)) => return None,
        (ConversionRound::None, Some(Some(_))) => {
            let msg = "precision applies to a rounding round (up, down, half_up), not none";
            r.err(codes::FIELD_NOT_ALLOWED, &precision_path, msg);
            return None;
        }
        (ConversionRound::None, None) => None,
        (_, Some(Some(p))) => Some(p),
        (_, None) => {
            let msg = "precision (decimal places, 0-12) is required when round is up, down or half_up";
            r.err(codes::MISSING_FIELD, &precision_path, msg);
            return None;
        }
    };
    Some(UnitConversion {
        divide_by: divide_by?,
        round,
        precision,
        display_unit,
    })
}

fn conversion_round(s: &str) -> Option<ConversionRound> {
    Some(match s {
        "up" => ConversionRound::Up,
        "down" => ConversionRound::Down,
        "half_up" => ConversionRound::HalfUp,
        "none" => ConversionRound::None,
        _ => return None,
    })
}

fn product_type(s: &str) -> Option<ProductType> {
    Some(match s {
        "recurring" => ProductType::Recurring,
        "seat" => ProductType::Seat,
        "metered" => ProductType::Metered,
        "one_time" => ProductType::OneTime,
        _ => return None,
    })
}

fn aggregation(s: &str) -> Option<Aggregation> {
    Some(match s {
        "sum" => Aggregation::Sum,
        "count" => Aggregation::Count,
        "max" => Aggregation::Max,
        "last" => Aggregation::Last,
        "unique_count" => Aggregation::UniqueCount,
        "amount" => Aggregation::Amount,
        _ => return None,
    })
}

fn unmatched_policy(s: &str) -> Option<UnmatchedPolicy> {
    Some(match s {
        "reject" => UnmatchedPolicy::Reject,
        "use_default" => UnmatchedPolicy::UseDefault,
        "drop" => UnmatchedPolicy::Drop,
        _ => return None,
    })
}

/// `price_key_label`: one property name, or a non-empty list of them.
fn read_key_label(r: &mut Reader, v: &Value, p: &str) -> Option<KeyLabel> {
    match v {
        Value::Array(items) if !items.is_empty() => {
            let names: Vec<Option<String>> = items
                .iter()
                .enumerate()
                .map(|(i, e)| r.string(e, &index(p, i)))
                .collect();
            names.into_iter().collect::<Option<Vec<_>>>().map(KeyLabel::Many)
        }
        Value::Array(_) => {
            r.err(codes::INVALID_VALUE, p, "must name at least one property");
            None
        }
        other => r.string(other, p).map(KeyLabel::One),
    }
}

fn read_plan(r: &mut Reader, v: &Value, path: &str) -> Option<Plan> {
    let mut o = r.object(v, path)?;
    let id = o.req_string(r, "id");
    let name = o.req_string(r, "name");
    let description = o.opt_string(r, "description");
    let period = o.req(r, "period").and_then(|v| r.period(v, &join(path, "period")));
    let addon = o.opt_bool(r, "addon").unwrap_or(false);
    let setup_fee = o.opt_amount(r, "setup_fee");
    let trial_days = o
        .opt("trial_days")
        .and_then(|v| r.integer(v, &join(path, "trial_days"), 0, 3650));
    let advance_discounts = list(r, &mut o, "advance_discounts", read_discount);
    let items = list_req(r, &mut o, "items", read_item);
    let limits = o.opt("limits").and_then(|v| read_limits(r, v, &join(path, "limits")));
    let unlocks = o
        .opt("unlocks")
        .and_then(|v| read_unlocks(r, v, &join(path, "unlocks")));
    let features = o.opt("features").and_then(|v| {
        let p = join(path, "features");
        let arr = r.array(v, &p)?;
        arr.iter()
            .enumerate()
            .map(|(i, e)| r.string(e, &index(&p, i)))
            .collect::<Option<Vec<_>>>()
    });
    let included_credits = o.opt_amount(r, "included_credits");
    let credit_overage = o.opt("credit_overage").and_then(|v| {
        r.choice(
            v,
            &join(path, "credit_overage"),
            |s| {
                Some(match s {
                    "reject" => CreditOverage::Reject,
                    "charge" => CreditOverage::Charge,
                    "auto_top_up" => CreditOverage::AutoTopUp,
                    _ => return None,
                })
            },
            "reject, charge, auto_top_up",
        )
    });
    let overage_rate = o.opt_amount(r, "overage_rate");
    let spend_alert_thresholds = thresholds_field(r, &mut o, "spend_alert_thresholds");
    let low_balance = o.opt_amount(r, "low_balance");
    let minimum_amount = o.opt_amount(r, "minimum_amount");
    let auto_top_up = o.opt("auto_top_up").and_then(|v| {
        let p = join(path, "auto_top_up");
        let mut ao = r.object(v, &p)?;
        let threshold = ao.req(r, "threshold").and_then(|v| r.amount(v, &join(&p, "threshold")));
        let pack = ao.req_string(r, "pack");
        ao.finish(r);
        Some(AutoTopUp {
            threshold: threshold?,
            pack: pack?,
        })
    });
    o.finish(r);
    Some(Plan {
        id: id?,
        name: name?,
        description,
        period: period?,
        addon,
        setup_fee,
        trial_days,
        advance_discounts: advance_discounts?,
        items: items?,
        limits: limits.unwrap_or_default(),
        unlocks: unlocks.unwrap_or_default(),
        features: features.unwrap_or_default(),
        included_credits,
        credit_overage,
        overage_rate,
        auto_top_up,
        spend_alert_thresholds,
        low_balance,
        minimum_amount,
    })
}

/// The most thresholds one list may hold: each is looked at on every event.
pub const MAX_THRESHOLDS: usize = 32;

/// An optional list of alert thresholds (empty when absent).
fn thresholds_field(r: &mut Reader, o: &mut Obj, key: &'static str) -> Vec<rust_decimal::Decimal> {
    let path = o.path(key);
    o.opt(key)
        .and_then(|v| read_thresholds(r, v, &path))
        .unwrap_or_default()
}

/// Reads a list of alert thresholds (docs/metering.md "Records"): at most
/// [`MAX_THRESHOLDS`] decimals, each above zero and each once (`"80"` and
/// `"80.0"` are the same threshold). The price book's `alert_thresholds`
/// and `spend_alert_thresholds` and a subscription request's
/// `spend_alert_thresholds` are read by this one function.
pub fn read_thresholds(r: &mut Reader, v: &Value, path: &str) -> Option<Vec<rust_decimal::Decimal>> {
    let arr = r.array(v, path)?;
    if arr.len() > MAX_THRESHOLDS {
        r.err(
            codes::INVALID_VALUE,
            path,
            format!("at most {MAX_THRESHOLDS} thresholds"),
        );
        return None;
    }
    let mut out: Vec<rust_decimal::Decimal> = Vec::with_capacity(arr.len());
    for (i, x) in arr.iter().enumerate() {
        let p = index(path, i);
        let Some(d) = r.amount(x, &p) else { continue };
        if d.is_zero() {
            r.err(codes::INVALID_VALUE, &p, "a threshold must be greater than zero");
        } else if out.contains(&d) {
            r.err(codes::DUPLICATE_VALUE, &p, format!("the threshold {d} is listed twice"));
        } else {
            out.push(d);
        }
    }
    Some(out)
}

/// A plan's named limits: `{"name": quantity}`.
fn read_limits(r: &mut Reader, v: &Value, p: &str) -> Option<BTreeMap<String, rust_decimal::Decimal>> {
    let lo = r.object(v, p)?;
    let mut out = BTreeMap::new();
    for (k, v) in lo.map() {
        if let Some(d) = r.amount(v, &join(p, k)) {
            out.insert(k.clone(), d);
        }
    }
    Some(out)
}

/// An add-on's unlocks: `{"name": quantity | "unlimited"}`.
fn read_unlocks(r: &mut Reader, v: &Value, p: &str) -> Option<BTreeMap<String, Unlock>> {
    let lo = r.object(v, p)?;
    let mut out = BTreeMap::new();
    for (k, v) in lo.map() {
        let kp = join(p, k);
        if v.as_str() == Some("unlimited") {
            out.insert(k.clone(), Unlock::Unlimited(UnlimitedTag::Unlimited));
        } else if let Some(d) = r.amount(v, &kp) {
            out.insert(k.clone(), Unlock::By(d));
        }
    }
    Some(out)
}

fn read_discount(r: &mut Reader, v: &Value, path: &str) -> Option<AdvanceDiscount> {
    let mut o = r.object(v, path)?;
    let periods = o
        .req(r, "periods")
        .and_then(|v| r.integer(v, &join(path, "periods"), 1, 1200));
    let percent = o.req(r, "percent").and_then(|v| r.amount(v, &join(path, "percent")));
    if let Some(p) = percent {
        if p > rust_decimal::Decimal::ONE_HUNDRED {
            r.err(codes::INVALID_VALUE, &join(path, "percent"), "must be at most 100");
        }
    }
    o.finish(r);
    Some(AdvanceDiscount {
        periods: periods?,
        percent: percent?,
    })
}

fn read_item(r: &mut Reader, v: &Value, path: &str) -> Option<PlanItem> {
    let mut o = r.object(v, path)?;
    let product = o.req_string(r, "product");
    let price = o.opt("price").map(|v| read_price(r, v, &join(path, "price")));
    let prices = o.opt("prices").map(|v| {
        let p = join(path, "prices");
        let po = r.object(v, &p)?;
        let mut out = IndexMap::new();
        let mut ok = true;
        for (k, v) in po.map() {
            match read_price(r, v, &join(&p, k)) {
                Some(pr) => {
                    out.insert(k.clone(), pr);
                }
                None => ok = false,
            }
        }
        ok.then_some(out)
    });
    let included_quantity = o.opt_amount(r, "included_quantity");
    let included_per_seat = o.opt_amount(r, "included_per_seat");
    let rollover = o.opt_bool(r, "rollover").unwrap_or(false);
    let min_quantity = o.opt_amount(r, "min_quantity");
    let max_quantity = o.opt_amount(r, "max_quantity");
    let limit = o.opt_amount(r, "limit");
    let alert_thresholds = thresholds_field(r, &mut o, "alert_thresholds");
    let minimum_amount = o.opt_amount(r, "minimum_amount");
    o.finish(r);
    Some(PlanItem {
        product: product?,
        price: match price {
            Some(p) => Some(p?),
            None => None,
        },
        prices: match prices {
            Some(p) => Some(p?),
            None => None,
        },
        included_quantity,
        included_per_seat,
        rollover,
        min_quantity,
        max_quantity,
        limit,
        alert_thresholds,
        minimum_amount,
    })
}

pub(crate) fn read_price(r: &mut Reader, v: &Value, path: &str) -> Option<Price> {
    let mut o = r.object(v, path)?;
    let before = r.problems.len();
    let model = o.req(r, "model").and_then(|v| {
        r.choice(
            v,
            &join(path, "model"),
            |s| {
                Some(match s {
                    "flat" => PriceModel::Flat,
                    "per_unit" => PriceModel::PerUnit,
                    "graduated" | "staircase" => PriceModel::Graduated,
                    "volume" => PriceModel::Volume,
                    "package" => PriceModel::Package,
                    "percentage" => PriceModel::Percentage,
                    _ => return None,
                })
            },
            "flat, per_unit, graduated, staircase, volume, package, percentage",
        )
    });
    let currency = o.opt_string(r, "currency");
    let display_name = o.opt_string(r, "display_name");
    let amounts = read_amounts(r, &mut o);
    let options = o.opt("currency_options").map(|v| {
        let p = join(path, "currency_options");
        let co = r.object(v, &p)?;
        let mut out = IndexMap::new();
        for (code, v) in co.map() {
            let cp = join(&p, code);
            if let Some(mut ao) = r.object(v, &cp) {
                let a = read_amounts(r, &mut ao);
                ao.finish(r);
                out.insert(code.clone(), a);
            }
        }
        Some(out)
    });
    o.finish(r);
    let model = model?;
    let price = Price {
        model,
        currency,
        display_name,
        amounts,
        currency_options: options.flatten().unwrap_or_default(),
    };
    // Shape rules only make sense once every field read cleanly: a bad
    // amount is one problem, not also a missing one.
    if r.problems.len() == before {
        super::validate::check_price_shape(r, &price, path);
    }
    Some(price)
}

fn read_amounts(r: &mut Reader, o: &mut Obj) -> PriceAmounts {
    let tiers = o.opt("tiers").and_then(|v| {
        let p = o.path("tiers");
        let arr = r.array(v, &p)?;
        arr.iter()
            .enumerate()
            .map(|(i, t)| read_tier(r, t, &index(&p, i)))
            .collect::<Option<Vec<_>>>()
    });
    PriceAmounts {
        amount: o.opt_amount(r, "amount"),
        unit_amount: o.opt_amount(r, "unit_amount"),
        tiers,
        package_size: o.opt_amount(r, "package_size"),
        package_amount: o.opt_amount(r, "package_amount"),
        percent: o.opt_amount(r, "percent"),
        fixed_amount: o.opt_amount(r, "fixed_amount"),
        min_amount: o.opt_amount(r, "min_amount"),
        max_amount: o.opt_amount(r, "max_amount"),
    }
}

fn read_tier(r: &mut Reader, v: &Value, path: &str) -> Option<Tier> {
    let mut o = r.object(v, path)?;
    let up_to = match o.raw("up_to") {
        None => {
            r.err(
                codes::MISSING_FIELD,
                &join(path, "up_to"),
                "up_to is required (null for the last, open tier)",
            );
            return None;
        }
        Some(Value::Null) => None,
        Some(v) => Some(r.amount(v, &join(path, "up_to"))?),
    };
    let unit_amount = o.opt_amount(r, "unit_amount");
    let flat_amount = o.opt_amount(r, "flat_amount");
    let percent = o.opt_amount(r, "percent");
    o.finish(r);
    Some(Tier {
        up_to,
        unit_amount,
        flat_amount,
        percent,
    })
}

fn read_pack(r: &mut Reader, v: &Value, path: &str) -> Option<CreditPack> {
    let mut o = r.object(v, path)?;
    let id = o.req_string(r, "id");
    let name = o.opt_string(r, "name");
    let credits = o.req(r, "credits").and_then(|v| r.amount(v, &join(path, "credits")));
    let bonus = o.opt_amount(r, "bonus");
    let price = o.req(r, "price").and_then(|v| r.amount(v, &join(path, "price")));
    let unit = o.opt_string(r, "unit");
    let expires_after = o
        .opt("expires_after")
        .and_then(|v| r.period(v, &join(path, "expires_after")));
    let priority = o
        .opt("priority")
        .and_then(|v| r.integer(v, &join(path, "priority"), 0, 100));
    let low_balance = o.opt_amount(r, "low_balance");
    o.finish(r);
    Some(CreditPack {
        id: id?,
        name,
        credits: credits?,
        bonus,
        price: price?,
        unit,
        expires_after,
        priority,
        low_balance,
    })
}

fn read_override(r: &mut Reader, v: &Value, path: &str) -> Option<Override> {
    let mut o = r.object(v, path)?;
    let customer = o.req_string(r, "customer");
    let product = o.req_string(r, "product");
    let price_key = o.opt_string(r, "price_key");
    let price = o.req(r, "price").and_then(|v| read_price(r, v, &join(path, "price")));
    let from = o.opt_timestamp(r, "from");
    let until = o.opt_timestamp(r, "until");
    if let (Some(f), Some(u)) = (from, until) {
        if f >= u {
            r.err(codes::INVALID_RANGE, &join(path, "until"), "until must be after from");
        }
    }
    o.finish(r);
    Some(Override {
        customer: customer?,
        product: product?,
        price_key,
        price: price?,
        from,
        until,
    })
}
