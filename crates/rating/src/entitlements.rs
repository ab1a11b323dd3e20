//! What the plans in force grant and limit: the one place where quotes and
//! meters read allowances, caps, seats and features (docs/metering.md
//! "Entitlements").
//!
//! The plans in force are the base plan followed by its add-ons in the
//! order they were given. Every function here takes them as such a list,
//! so a quote (which has the plans of its request) and a meter (which has
//! the plans of its subscription) get the same answer.

use crate::money;
use crate::price_book::{Plan, PlanItem, PriceBook, ProductType, Unlock};
use indexmap::IndexMap;
use rust_decimal::Decimal;

/// The item that prices `product` among the plans in force, given by id
/// (base first): the base plan's, else the first add-on's that has one. A
/// product priced by two of the plans is metered once, by this item.
pub fn item_for<'b, 'i>(
    book: &'b PriceBook,
    plans: impl IntoIterator<Item = &'i str>,
    product: &str,
) -> Option<(&'b Plan, &'b PlanItem)> {
    plans.into_iter().find_map(|p| book.plan_item(p, product))
}

/// The seat count that scales a plan's per-seat allowances: the sum of the
/// quantities of the plan's seat items (a missing quantity counts as the
/// item's `min_quantity`, else 0). `quantity` gives the subscribed or
/// requested quantity of a product.
pub fn seats(book: &PriceBook, plan: &Plan, quantity: impl Fn(&str) -> Option<Decimal>) -> Decimal {
    plan.items
        .iter()
        .filter(|it| book.product(&it.product).is_some_and(|p| p.kind == ProductType::Seat))
        .map(|it| quantity(&it.product).or(it.min_quantity).unwrap_or(Decimal::ZERO))
        .fold(Decimal::ZERO, |a, b| money::checked_add(a, b).unwrap_or(Decimal::MAX))
}

/// An item's allowance for one period with `seats` seats:
/// `included_quantity + included_per_seat × seats`; `None` when the item
/// has no allowance at all (its usage lines then show no `included`).
/// `Err` when the product does not fit the exact decimal range.
pub fn allowance(item: &PlanItem, seats: Decimal) -> Result<Option<Decimal>, crate::price::Overflow> {
    if item.included_quantity.is_none() && item.included_per_seat.is_none() {
        return Ok(None);
    }
    let mut total = item.included_quantity.unwrap_or(Decimal::ZERO);
    if let Some(per) = item.included_per_seat {
        total = money::checked_mul(per, seats)
            .and_then(|v| money::checked_add(v, total))
            .ok_or(crate::price::Overflow)?;
    }
    Ok(Some(total))
}

/// The part of a period's allowance left to roll over into the next one:
/// usage draws the rolled-over part first, so only the period's own
/// `included` quantity less the usage beyond `rolled_over` carries.
pub fn rollover_left(included: Decimal, rolled_over: Decimal, used: Decimal) -> Decimal {
    let used_included = used - used.min(rolled_over);
    if included > used_included {
        included - used_included
    } else {
        Decimal::ZERO
    }
}

/// Raises `cap` by an add-on's unlock (`None` is unlimited).
fn unlock(cap: Option<Decimal>, u: &Unlock) -> Option<Decimal> {
    match (cap, u) {
        (None, _) | (_, Unlock::Unlimited(_)) => None,
        (Some(a), Unlock::By(b)) => Some(money::checked_add(a, *b).unwrap_or(Decimal::MAX)),
    }
}

/// The hard cap on a metered product's usage in a period (`None`:
/// unlimited), for the item that prices it.
///
/// A named limit (`limits`) of the product's id comes from the first plan
/// in force that declares one — the base plan, else an add-on, so an
/// add-on that brings a product may cap it. Without a named limit the
/// item's own `limit` is the cap. Either way, every add-on's `unlocks`
/// entry for the product then raises it (by a quantity, or to unlimited).
pub fn usage_cap(plans: &[&Plan], product: &str, item: &PlanItem) -> Option<Decimal> {
    let named = plans.iter().find_map(|p| p.limits.get(product)).copied();
    let mut cap = Some(named.or(item.limit)?);
    for p in plans.iter().skip(1) {
        if let Some(u) = p.unlocks.get(product) {
            cap = unlock(cap, u);
        }
    }
    cap
}

/// The named limits in force (`None`: unlimited): each name's first
/// declaration among the plans, raised by the add-ons' unlocks, in the
/// order the names first appear.
pub fn named_limits<'b>(plans: &[&'b Plan]) -> IndexMap<&'b str, Option<Decimal>> {
    let mut named: IndexMap<&str, Option<Decimal>> = IndexMap::new();
    for p in plans {
        for (k, v) in &p.limits {
            named.entry(k.as_str()).or_insert(Some(*v));
        }
    }
    for p in plans.iter().skip(1) {
        for (k, u) in &p.unlocks {
            if let Some(cap) = named.get_mut(k.as_str()) {
                *cap = unlock(*cap, u);
            }
        }
    }
    named
}

/// The features the plans grant, each once, in plan then declaration order.
pub fn features<'b>(plans: &[&'b Plan]) -> Vec<&'b str> {
    let mut out: Vec<&str> = Vec::new();
    for p in plans {
        for f in &p.features {
            if !out.contains(&f.as_str()) {
                out.push(f);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollover_draws_the_rolled_over_part_first() {
        let d = |s: &str| s.parse::<Decimal>().unwrap_or_default();
        assert_eq!(rollover_left(d("100"), d("30"), d("20")), d("100"));
        assert_eq!(rollover_left(d("100"), d("30"), d("50")), d("80"));
        assert_eq!(rollover_left(d("100"), d("0"), d("150")), d("0"));
    }
}
