//! The rules a price book must keep beyond field types: price shapes,
//! tier order, references between products, plans, packs and overrides.

use super::model::*;
use crate::error::codes;
use crate::json::{index, join, Reader};
use crate::money::iso_scale;
use rust_decimal::Decimal;
use std::collections::{HashMap, HashSet};

/// Checks that a price has exactly the fields its model needs, in the main
/// currency and in every currency option.
pub(crate) fn check_price_shape(r: &mut Reader, price: &Price, path: &str) {
    check_amounts(r, price.model, &price.amounts, path);
    for (code, a) in &price.currency_options {
        check_amounts(r, price.model, a, &join(&join(path, "currency_options"), code));
    }
}

fn check_amounts(r: &mut Reader, model: PriceModel, a: &PriceAmounts, path: &str) {
    let present: [(&'static str, bool); 9] = [
        ("amount", a.amount.is_some()),
        ("unit_amount", a.unit_amount.is_some()),
        ("tiers", a.tiers.is_some()),
        ("package_size", a.package_size.is_some()),
        ("package_amount", a.package_amount.is_some()),
        ("percent", a.percent.is_some()),
        ("fixed_amount", a.fixed_amount.is_some()),
        ("min_amount", a.min_amount.is_some()),
        ("max_amount", a.max_amount.is_some()),
    ];
    let (required, optional) = model.fields();
    let model_name = model_name(model);
    for (field, is) in present {
        if required.contains(&field) && !is {
            r.err(
                codes::MISSING_FIELD,
                &join(path, field),
                format!("{field} is required by the {model_name} model"),
            );
        } else if is && !required.contains(&field) && !optional.contains(&field) {
            r.err(
                codes::FIELD_NOT_ALLOWED,
                &join(path, field),
                format!("{field} does not belong to the {model_name} model"),
            );
        }
    }
    if let Some(size) = a.package_size {
        if size.is_zero() {
            r.err(
                codes::INVALID_VALUE,
                &join(path, "package_size"),
                "must be greater than zero",
            );
        }
    }
    if let (Some(min), Some(max)) = (a.min_amount, a.max_amount) {
        if min > max {
            r.err(
                codes::INVALID_RANGE,
                &join(path, "min_amount"),
                "min_amount is above max_amount",
            );
        }
    }
    if let Some(tiers) = &a.tiers {
        check_tiers(r, tiers, &join(path, "tiers"));
    }
}

/// The price-book spelling of a model.
pub fn model_name(m: PriceModel) -> &'static str {
    match m {
        PriceModel::Flat => "flat",
        PriceModel::PerUnit => "per_unit",
        PriceModel::Graduated => "graduated",
        PriceModel::Volume => "volume",
        PriceModel::Package => "package",
        PriceModel::Percentage => "percentage",
    }
}

fn check_tiers(r: &mut Reader, tiers: &[Tier], path: &str) {
    if tiers.is_empty() {
        r.err(codes::INVALID_VALUE, path, "at least one tier is required");
        return;
    }
    let mut prev: Option<Decimal> = None;
    for (i, t) in tiers.iter().enumerate() {
        let tp = index(path, i);
        let last = i + 1 == tiers.len();
        match t.up_to {
            None if !last => r.err(
                codes::OPEN_TIER_NOT_LAST,
                &join(&tp, "up_to"),
                "only the last tier may be open (up_to: null)",
            ),
            Some(_) if last => r.err(
                codes::LAST_TIER_NOT_OPEN,
                &join(&tp, "up_to"),
                "the last tier must be open (up_to: null)",
            ),
            Some(u) => {
                if prev.is_some_and(|p| u <= p) || (prev.is_none() && u.is_zero()) {
                    r.err(
                        codes::TIERS_OUT_OF_ORDER,
                        &join(&tp, "up_to"),
                        "tier bounds must be strictly ascending and above zero",
                    );
                }
                prev = Some(u);
            }
            None => {}
        }
        if t.unit_amount.is_some() && t.percent.is_some() {
            r.err(
                codes::FIELD_NOT_ALLOWED,
                &join(&tp, "percent"),
                "a tier has unit_amount or percent, not both",
            );
        }
        if t.unit_amount.is_none() && t.percent.is_none() && t.flat_amount.is_none() {
            r.err(
                codes::MISSING_FIELD,
                &join(&tp, "unit_amount"),
                "a tier needs unit_amount, percent or flat_amount",
            );
        }
    }
}

/// Whether a code is a known ISO 4217 currency or a declared custom unit.
fn known_currency(doc: &PriceBookDoc, code: &str) -> bool {
    iso_scale(code).is_some() || doc.units.iter().any(|u| u.code == code)
}

fn uses_percent(p: &Price) -> bool {
    let tiers_pct = |a: &PriceAmounts| a.tiers.iter().flatten().any(|t| t.percent.is_some());
    p.model == PriceModel::Percentage || tiers_pct(&p.amounts) || p.currency_options.values().any(tiers_pct)
}

/// Cross-reference rules over a whole book whose fields all parsed.
pub(super) fn check_book(r: &mut Reader, doc: &PriceBookDoc) {
    check_units(r, doc);
    let products = check_products(r, doc);
    let mut plan_ids = HashSet::new();
    for (i, plan) in doc.plans.iter().enumerate() {
        let path = index("plans", i);
        if !plan_ids.insert(plan.id.as_str()) {
            r.err(
                codes::DUPLICATE_ID,
                &join(&path, "id"),
                format!("plan id {:?} is used twice", plan.id),
            );
        }
        check_plan(r, doc, &products, plan, &path);
    }
    check_packs(r, doc);
    check_overrides(r, doc, &products);
}

/// The book's currency and its custom units.
fn check_units(r: &mut Reader, doc: &PriceBookDoc) {
    if !known_currency(doc, &doc.currency) || doc.units.iter().any(|u| u.code == doc.currency) {
        r.err(
            codes::UNKNOWN_CURRENCY,
            "currency",
            format!("{:?} is not an ISO 4217 currency with minor units", doc.currency),
        );
    }
    let mut unit_codes = HashSet::new();
    for (i, u) in doc.units.iter().enumerate() {
        let p = index("units", i);
        if iso_scale(&u.code).is_some() {
            r.err(
                codes::INVALID_VALUE,
                &join(&p, "code"),
                format!("{:?} is an ISO 4217 code; a custom unit needs another name", u.code),
            );
        }
        if !unit_codes.insert(u.code.as_str()) {
            r.err(
                codes::DUPLICATE_ID,
                &join(&p, "code"),
                format!("unit {:?} is declared twice", u.code),
            );
        }
    }
}

/// Product ids are unique and each product is consistent; answers them by id.
fn check_products<'d>(r: &mut Reader, doc: &'d PriceBookDoc) -> HashMap<&'d str, &'d Product> {
    let mut products: HashMap<&str, &Product> = HashMap::new();
    for (i, p) in doc.products.iter().enumerate() {
        let path = index("products", i);
        if products.insert(p.id.as_str(), p).is_some() {
            r.err(
                codes::DUPLICATE_ID,
                &join(&path, "id"),
                format!("product id {:?} is used twice", p.id),
            );
        }
        check_product(r, p, &path);
    }
    products
}

/// Credit packs, and the packs plans top up with.
fn check_packs(r: &mut Reader, doc: &PriceBookDoc) {
    let mut pack_ids = HashSet::new();
    for (i, pack) in doc.credit_packs.iter().enumerate() {
        let path = index("credit_packs", i);
        if !pack_ids.insert(pack.id.as_str()) {
            r.err(
                codes::DUPLICATE_ID,
                &join(&path, "id"),
                format!("credit pack id {:?} is used twice", pack.id),
            );
        }
        if let Some(u) = &pack.unit {
            if !doc.units.iter().any(|x| &x.code == u) {
                r.err(
                    codes::UNKNOWN_CURRENCY,
                    &join(&path, "unit"),
                    format!("{u:?} is not a declared custom unit"),
                );
            }
        } else if doc.units.len() != 1 {
            r.err(
                codes::MISSING_FIELD,
                &join(&path, "unit"),
                "unit is required unless the book declares exactly one custom unit",
            );
        }
    }
    for (i, plan) in doc.plans.iter().enumerate() {
        if let Some(t) = &plan.auto_top_up {
            if !pack_ids.contains(t.pack.as_str()) {
                r.err(
                    codes::UNKNOWN_PACK,
                    &join(&join(&index("plans", i), "auto_top_up"), "pack"),
                    format!("no credit pack {:?}", t.pack),
                );
            }
        }
    }
}

/// Overrides name known products, keys only of keyed ones, and fitting prices.
fn check_overrides(r: &mut Reader, doc: &PriceBookDoc, products: &HashMap<&str, &Product>) {
    for (i, o) in doc.overrides.iter().enumerate() {
        let path = index("overrides", i);
        match products.get(o.product.as_str()) {
            None => r.err(
                codes::UNKNOWN_PRODUCT,
                &join(&path, "product"),
                format!("no product {:?}", o.product),
            ),
            Some(p) => {
                if o.price_key.is_some() && p.price_key_label.is_none() {
                    r.err(
                        codes::FIELD_NOT_ALLOWED,
                        &join(&path, "price_key"),
                        format!("product {:?} is not keyed", p.id),
                    );
                }
                check_price_fit(r, doc, p, &o.price, &join(&path, "price"));
            }
        }
    }
}

fn check_product(r: &mut Reader, p: &Product, path: &str) {
    let metered = p.kind == ProductType::Metered;
    if !metered {
        for (field, present) in [
            ("aggregation", p.aggregation.is_some()),
            ("price_key_label", p.price_key_label.is_some()),
            ("property", p.property.is_some()),
            ("unit_conversion", p.unit_conversion.is_some()),
        ] {
            if present {
                r.err(
                    codes::FIELD_NOT_ALLOWED,
                    &join(path, field),
                    format!("{field} applies to metered products only"),
                );
            }
        }
    }
    if metered && p.unit_conversion.is_some() && p.aggregation() == Aggregation::Amount {
        r.err(
            codes::FIELD_NOT_ALLOWED,
            &join(path, "unit_conversion"),
            "unit_conversion does not apply to aggregation \"amount\" (money is not converted)",
        );
    }
    if p.aggregation() == Aggregation::UniqueCount && p.property.is_none() && metered {
        r.err(
            codes::MISSING_FIELD,
            &join(path, "property"),
            "unique_count needs the event property to count",
        );
    }
    if p.price_key_label.is_none() {
        for (field, present) in [
            ("unmatched_price_key_policy", p.unmatched_price_key_policy.is_some()),
            ("default_price_key", p.default_price_key.is_some()),
        ] {
            if present {
                r.err(
                    codes::FIELD_NOT_ALLOWED,
                    &join(path, field),
                    format!("{field} applies to keyed products (with price_key_label) only"),
                );
            }
        }
    }
    if p.policy() == UnmatchedPolicy::UseDefault && p.default_price_key.is_none() {
        r.err(
            codes::MISSING_FIELD,
            &join(path, "default_price_key"),
            "use_default needs a default_price_key",
        );
    }
}

fn check_plan(r: &mut Reader, doc: &PriceBookDoc, products: &HashMap<&str, &Product>, plan: &Plan, path: &str) {
    let mut seen = HashSet::new();
    let has_seats = plan.items.iter().any(|it| {
        products
            .get(it.product.as_str())
            .is_some_and(|p| p.kind == ProductType::Seat)
    });
    for (i, item) in plan.items.iter().enumerate() {
        let ip = index(&join(path, "items"), i);
        if !seen.insert(item.product.as_str()) {
            r.err(
                codes::DUPLICATE_ID,
                &join(&ip, "product"),
                format!("product {:?} appears twice in the plan", item.product),
            );
        }
        let Some(product) = products.get(item.product.as_str()) else {
            r.err(
                codes::UNKNOWN_PRODUCT,
                &join(&ip, "product"),
                format!("no product {:?}", item.product),
            );
            continue;
        };
        check_item(r, doc, product, item, &ip, has_seats);
    }
    for (i, d) in plan.advance_discounts.iter().enumerate() {
        if plan.advance_discounts[..i].iter().any(|x| x.periods == d.periods) {
            r.err(
                codes::DUPLICATE_ID,
                &join(&index(&join(path, "advance_discounts"), i), "periods"),
                "two discounts for the same number of periods",
            );
        }
    }
    if plan.low_balance.is_some() && doc.units.is_empty() {
        r.err(
            codes::FIELD_NOT_ALLOWED,
            &join(path, "low_balance"),
            "low_balance is a credit amount: the book declares no custom unit",
        );
    }
    match plan.credit_overage {
        Some(CreditOverage::Charge) if plan.overage_rate.is_none() => {
            r.err(
                codes::MISSING_FIELD,
                &join(path, "overage_rate"),
                "credit_overage charge needs overage_rate",
            );
        }
        Some(CreditOverage::AutoTopUp) if plan.auto_top_up.is_none() => {
            r.err(
                codes::MISSING_FIELD,
                &join(path, "auto_top_up"),
                "credit_overage auto_top_up needs auto_top_up",
            );
        }
        _ => {}
    }
}

fn check_item(r: &mut Reader, doc: &PriceBookDoc, product: &Product, item: &PlanItem, path: &str, has_seats: bool) {
    check_item_prices(r, product, item, path);
    if let Some(p) = &item.price {
        check_price_fit(r, doc, product, p, &join(path, "price"));
    }
    for (k, p) in item.prices.iter().flatten() {
        check_price_fit(r, doc, product, p, &join(&join(path, "prices"), k));
    }
    check_item_fields(r, product, item, path, has_seats);
    check_item_minimum(r, doc, product, item, path);
}

/// A spending minimum is per period, in the one currency of the item's
/// prices (docs/contract.md §3 "Minimums").
fn check_item_minimum(r: &mut Reader, doc: &PriceBookDoc, product: &Product, item: &PlanItem, path: &str) {
    if item.minimum_amount.is_none() {
        return;
    }
    let p = join(path, "minimum_amount");
    if product.kind == ProductType::OneTime {
        r.err(
            codes::FIELD_NOT_ALLOWED,
            &p,
            "a one-time product is charged once, not per period: it has no minimum",
        );
    } else if item.price_unit(&doc.currency).is_none() {
        r.err(
            codes::FIELD_NOT_ALLOWED,
            &p,
            "the item's prices are in different currencies: a minimum needs one",
        );
    }
}

/// An item has `price` or keyed `prices` as its product needs, and the
/// default key of a `use_default` product is priced.
fn check_item_prices(r: &mut Reader, product: &Product, item: &PlanItem, path: &str) {
    let keyed = product.price_key_label.is_some();
    match (&item.price, &item.prices, keyed) {
        (Some(_), Some(_), _) => r.err(
            codes::MISSING_PRICE,
            &join(path, "prices"),
            "an item has price or prices, not both",
        ),
        (None, None, _) => r.err(
            codes::MISSING_PRICE,
            &join(path, "price"),
            "an item needs a price (or prices, for a keyed product)",
        ),
        (Some(_), None, true) => r.err(
            codes::PRICES_MISMATCH,
            &join(path, "price"),
            format!("product {:?} is keyed: give prices by {}", product.id, "price key"),
        ),
        (None, Some(_), false) => r.err(
            codes::PRICES_MISMATCH,
            &join(path, "prices"),
            format!("product {:?} is not keyed: give one price", product.id),
        ),
        (None, Some(prices), true) => {
            if prices.is_empty() {
                r.err(
                    codes::PRICES_MISMATCH,
                    &join(path, "prices"),
                    "a keyed product needs at least one price",
                );
            }
            if product.policy() == UnmatchedPolicy::UseDefault {
                if let Some(d) = &product.default_price_key {
                    if !prices.contains_key(d) {
                        r.err(
                            codes::UNKNOWN_PRICE_KEY,
                            &join(path, "prices"),
                            format!("the default price key {d:?} is not priced"),
                        );
                    }
                }
            }
        }
        _ => {}
    }
}

/// Allowance, cap and quantity fields fit the product and its price.
fn check_item_fields(r: &mut Reader, product: &Product, item: &PlanItem, path: &str, has_seats: bool) {
    let metered = product.kind == ProductType::Metered;
    for (field, present) in [
        ("included_quantity", item.included_quantity.is_some()),
        ("included_per_seat", item.included_per_seat.is_some()),
        ("rollover", item.rollover),
        ("limit", item.limit.is_some()),
        ("alert_thresholds", !item.alert_thresholds.is_empty()),
    ] {
        if present && !metered {
            r.err(
                codes::FIELD_NOT_ALLOWED,
                &join(path, field),
                format!("{field} applies to metered products only"),
            );
        }
    }
    if item.included_per_seat.is_some() && !has_seats {
        r.err(
            codes::FIELD_NOT_ALLOWED,
            &join(path, "included_per_seat"),
            "included_per_seat needs a seat item in the plan",
        );
    }
    if let (Some(min), Some(max)) = (item.min_quantity, item.max_quantity) {
        if min > max {
            r.err(
                codes::INVALID_RANGE,
                &join(path, "min_quantity"),
                "min_quantity is above max_quantity",
            );
        }
    }
    let percentage = item
        .price
        .iter()
        .chain(item.prices.iter().flat_map(|m| m.values()))
        .any(|p| p.model == PriceModel::Percentage);
    if percentage {
        for (field, present) in [
            ("included_quantity", item.included_quantity.is_some()),
            ("included_per_seat", item.included_per_seat.is_some()),
        ] {
            if present {
                r.err(
                    codes::FIELD_NOT_ALLOWED,
                    &join(path, field),
                    format!("{field} does not apply to a percentage price (fees are per transaction)"),
                );
            }
        }
    }
    let allowance = item.included_quantity.is_some() || item.included_per_seat.is_some();
    if item.rollover && !allowance {
        r.err(
            codes::FIELD_NOT_ALLOWED,
            &join(path, "rollover"),
            "rollover needs an allowance (included_quantity or included_per_seat)",
        );
    }
    if !item.alert_thresholds.is_empty() && metered && !allowance {
        r.err(
            codes::FIELD_NOT_ALLOWED,
            &join(path, "alert_thresholds"),
            "alert_thresholds are percents of an allowance (included_quantity or included_per_seat)",
        );
    }
}

/// Checks that a price suits the product it prices and names known currencies.
fn check_price_fit(r: &mut Reader, doc: &PriceBookDoc, product: &Product, price: &Price, path: &str) {
    if let Some(c) = &price.currency {
        if !known_currency(doc, c) {
            r.err(
                codes::UNKNOWN_CURRENCY,
                &join(path, "currency"),
                format!("{c:?} is neither an ISO 4217 currency nor a declared unit"),
            );
        }
    }
    for code in price.currency_options.keys() {
        if iso_scale(code).is_none() {
            r.err(
                codes::UNKNOWN_CURRENCY,
                &join(&join(path, "currency_options"), code),
                format!("{code:?} is not an ISO 4217 currency"),
            );
        }
    }
    let amount_based = product.kind == ProductType::Metered && product.aggregation() == Aggregation::Amount;
    if uses_percent(price) && !amount_based {
        r.err(
            codes::FIELD_NOT_ALLOWED,
            &join(path, "model"),
            format!(
                "percentage pricing needs a metered product with aggregation \"amount\"; {:?} is not",
                product.id
            ),
        );
    }
    if product.kind == ProductType::OneTime && price.model != PriceModel::Flat && price.model != PriceModel::PerUnit {
        r.err(
            codes::FIELD_NOT_ALLOWED,
            &join(path, "model"),
            "a one-time product is priced flat or per_unit",
        );
    }
}
