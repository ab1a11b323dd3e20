//! Usage state of one period and how an event changes its charge.
//!
//! Every line keeps its exact charge as the sum of the changes its events
//! made (plus, for unkeyed items, the charge at zero usage that the line
//! has from the start of the period), so that rounding the sum of a line's
//! event amounts gives the invoice line exactly.

use crate::period::Timestamp;
use crate::price::{add, charge_quantity, sub, transaction_fee, Overflow};
use crate::price_book::{PriceAmounts, PriceModel};
use indexmap::IndexMap;
use rust_decimal::Decimal;
use rustc_hash::FxBuildHasher;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Aggregated usage of one (product, price key) in a period.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct KeyState {
    /// Aggregated quantity (for `amount` products: the total amount); of
    /// a product with `unit_conversion`, the converted `raw` (what
    /// allowances, limits and tiers see: docs/metering.md "Unit conversion").
    pub quantity: Decimal,
    /// Products with `unit_conversion`: the aggregated quantity before
    /// conversion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<Decimal>,
    /// Number of events (transactions for `amount` products).
    pub events: u64,
    /// `last`: time and id of the latest event (boxed: only `last`
    /// products have it, and a replay holds many lines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<Box<(Timestamp, String)>>,
    /// `unique_count`: the values seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uniques: Option<Box<BTreeSet<String>>>,
    /// Quantity priced (after the allowance).
    pub billable: Decimal,
    /// Exact charge of the line so far.
    pub exact: Decimal,
    /// Priced at the default key under `use_default`.
    #[serde(default)]
    pub remapped: bool,
    /// Unit the line is priced in.
    pub unit: String,
}

/// Usage of one metered product in a period.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ProductState {
    /// Plan included quantity for the period.
    pub included: Decimal,
    /// Allowance rolled over from the previous period.
    pub rolled_over: Decimal,
    /// Whether the item has an allowance at all.
    pub has_allowance: bool,
    /// Lines by price key (`""` for unkeyed products), kept sorted by key
    /// (the allowance is drawn in that order, whatever the arrival order).
    pub keys: IndexMap<String, KeyState, FxBuildHasher>,
}

impl ProductState {
    /// Total allowance of the period.
    pub fn allowance(&self) -> Decimal {
        // Nothing rolled over: the sum is `included`, value and scale.
        if self.rolled_over.is_zero() && self.rolled_over.scale() <= self.included.scale() {
            return self.included;
        }
        crate::money::checked_add(self.included, self.rolled_over).unwrap_or(Decimal::MAX)
    }

    /// Total usage of the product.
    pub fn used(&self) -> Decimal {
        self.keys.values().fold(Decimal::ZERO, |s, k| {
            crate::money::checked_add(s, k.quantity).unwrap_or(Decimal::MAX)
        })
    }

    /// Total exact charge.
    pub fn exact(&self) -> Decimal {
        self.keys.values().fold(Decimal::ZERO, |s, k| {
            crate::money::checked_add(s, k.exact).unwrap_or(Decimal::MAX)
        })
    }
}

/// The price a line is charged with: model and amounts.
#[derive(Clone, Copy)]
pub struct LinePrice<'b> {
    /// Model.
    pub model: PriceModel,
    /// Amounts in the line's unit.
    pub amounts: &'b PriceAmounts,
}

fn charge(p: LinePrice, billable: Decimal) -> Result<Decimal, Overflow> {
    if p.model == PriceModel::Percentage {
        return Ok(Decimal::ZERO);
    }
    Ok(charge_quantity(p.model, p.amounts, billable, false)?.amount)
}

/// The charge of a line at zero usage (first-tier flat fees, volume flat at zero).
pub fn base_charge(p: LinePrice) -> Result<Decimal, Overflow> {
    charge(p, Decimal::ZERO)
}

/// A change `reprice` found: key position, new billable quantity, change of charge.
pub type Change = (usize, Decimal, Decimal);

/// The changes one event makes: nearly always one line, so the first few
/// are kept in place (no allocation per event).
#[derive(Default)]
pub struct Changes {
    inline: [Change; 2],
    len: usize,
    more: Vec<Change>,
}

impl Changes {
    fn push(&mut self, c: Change) {
        if self.len < self.inline.len() {
            self.inline[self.len] = c;
            self.len += 1;
        } else {
            self.more.push(c);
        }
    }

    fn iter(&self) -> impl Iterator<Item = &Change> {
        self.inline[..self.len].iter().chain(self.more.iter())
    }
}

/// Re-draws the allowance over the product's keys (in key order) and
/// returns, without changing anything, each line whose billable quantity
/// changes with the change of its exact charge. `price_of` gives the price
/// of a key.
pub fn reprice<'b>(
    ps: &ProductState,
    price_of: &mut dyn FnMut(&str) -> Option<LinePrice<'b>>,
) -> Result<Changes, Overflow> {
    let mut remaining = if ps.has_allowance {
        ps.allowance()
    } else {
        Decimal::ZERO
    };
    let mut changes = Changes::default();
    let last = ps.keys.len().saturating_sub(1);
    for (i, (key, ks)) in ps.keys.iter().enumerate() {
        let included = if !ps.has_allowance {
            Decimal::ZERO
        } else if crate::price::dcmp(&ks.quantity, &remaining).is_le() {
            ks.quantity
        } else {
            remaining
        };
        if i < last {
            remaining = sub(remaining, included)?;
        }
        let billable = sub(ks.quantity, included)?;
        if crate::price::dcmp(&billable, &ks.billable).is_eq() {
            continue;
        }
        let Some(p) = price_of(key) else { continue };
        let delta = if p.model == PriceModel::Percentage {
            Decimal::ZERO
        } else {
            crate::price::charge_delta(p.model, p.amounts, ks.billable, billable)?
        };
        changes.push((i, billable, delta));
    }
    Ok(changes)
}

/// [`reprice`] and [`commit`] of a product with one line, priced at
/// `price` (the usual unkeyed product): the same result without
/// collecting changes. Returns the change of the line's charge.
pub fn reprice_one(ps: &mut ProductState, price: LinePrice) -> Result<Decimal, Overflow> {
    let allowance = if ps.has_allowance {
        ps.allowance()
    } else {
        Decimal::ZERO
    };
    let has_allowance = ps.has_allowance;
    let Some((_, ks)) = ps.keys.get_index_mut(0) else {
        return Ok(Decimal::ZERO);
    };
    let included = if !has_allowance || crate::price::dcmp(&ks.quantity, &allowance).is_le() {
        if has_allowance {
            ks.quantity
        } else {
            Decimal::ZERO
        }
    } else {
        allowance
    };
    let billable = sub(ks.quantity, included)?;
    if crate::price::dcmp(&billable, &ks.billable).is_eq() {
        return Ok(Decimal::ZERO);
    }
    let delta = if price.model == PriceModel::Percentage {
        Decimal::ZERO
    } else {
        crate::price::charge_delta(price.model, price.amounts, ks.billable, billable)?
    };
    ks.billable = billable;
    ks.exact = add(ks.exact, delta)?;
    add_to(Decimal::ZERO, delta)
}

/// Applies what `reprice` found; returns the total change.
pub fn commit(ps: &mut ProductState, changes: Changes) -> Result<Decimal, Overflow> {
    let mut total = Decimal::ZERO;
    for &(i, billable, delta) in changes.iter() {
        if let Some((_, ks)) = ps.keys.get_index_mut(i) {
            ks.billable = billable;
            ks.exact = add(ks.exact, delta)?;
            total = add_to(total, delta)?;
        }
    }
    Ok(total)
}

/// `sum + x`; when `sum` is a plain zero (scale 0, as a running total
/// starts) that is `x` itself, value and scale, with no arithmetic.
pub(crate) fn add_to(sum: Decimal, x: Decimal) -> Result<Decimal, Overflow> {
    if sum.is_zero() && sum.scale() == 0 && !sum.is_sign_negative() && !x.is_zero() {
        return Ok(x);
    }
    add(sum, x)
}

/// The fee of one transaction under a percentage price.
pub fn percentage_fee(p: LinePrice, amount: Decimal) -> Result<Decimal, Overflow> {
    transaction_fee(p.amounts, amount)
}

#[cfg(test)]
mod add_to_tests {
    use super::add_to;
    use rust_decimal::Decimal;

    #[test]
    fn a_plain_zero_sum_takes_the_value_and_scale_of_what_is_added() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        for (sum, x) in [
            ("0", "1.50"),
            ("0", "-0.0525"),
            ("0", "0.00"),
            ("0.00", "1.5"),
            ("2", "0.5"),
            ("-0", "3"),
        ] {
            let ours = add_to(d(sum), d(x)).unwrap();
            let plain = d(sum).checked_add(d(x)).unwrap();
            assert_eq!(ours.serialize(), plain.serialize(), "{sum} + {x}");
        }
    }
}

#[cfg(test)]
mod reprice_one_tests {
    use super::{commit, reprice, reprice_one, KeyState, LinePrice, ProductState};
    use crate::price_book::{PriceAmounts, PriceModel, Tier};
    use proptest::prelude::*;
    use rust_decimal::Decimal;

    fn dec() -> impl Strategy<Value = Decimal> {
        (0i64..2_000_000, 0u32..4).prop_map(|(m, s)| Decimal::new(m, s))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        /// The one-line path changes the line and returns the amount exactly
        /// as reprice + commit do (value, scale and sign).
        #[test]
        fn one_line_path_equals_the_general_one(
            quantity in dec(), billable in dec(), exact in dec(),
            included in dec(), rolled in dec(), has_allowance in any::<bool>(),
            model in 0u8..4, a in dec(), b in dec(),
        ) {
            let amounts = PriceAmounts {
                unit_amount: Some(a),
                tiers: Some(vec![
                    Tier { up_to: Some(Decimal::new(10_000, 0)), unit_amount: Some(a), flat_amount: None, percent: None },
                    Tier { up_to: None, unit_amount: Some(b), flat_amount: Some(b), percent: None },
                ]),
                package_size: Some(Decimal::new(100, 0)),
                package_amount: Some(b),
                percent: Some(Decimal::new(25, 1)),
                ..Default::default()
            };
            let model = [PriceModel::PerUnit, PriceModel::Graduated, PriceModel::Package, PriceModel::Percentage][model as usize];
            let price = LinePrice { model, amounts: &amounts };
            let mut ps = ProductState { included, rolled_over: rolled, has_allowance, ..Default::default() };
            ps.keys.insert(String::new(), KeyState { quantity, billable, exact, ..Default::default() });
            let mut general = ps.clone();
            let want = reprice(&general, &mut |_| Some(price)).and_then(|c| commit(&mut general, c));
            let got = reprice_one(&mut ps, price);
            match (got, want) {
                (Ok(g), Ok(w)) => {
                    prop_assert_eq!(g.serialize(), w.serialize());
                    let (k1, k2) = (&ps.keys[0], &general.keys[0]);
                    prop_assert_eq!(k1.billable.serialize(), k2.billable.serialize());
                    prop_assert_eq!(k1.exact.serialize(), k2.exact.serialize());
                }
                (Err(_), Err(_)) => {}
                (g, w) => prop_assert!(false, "{g:?} vs {w:?}"),
            }
        }
    }
}
