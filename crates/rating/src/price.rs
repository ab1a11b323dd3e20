//! Price models and tiers: what a quantity (or a list of transactions)
//! costs under one price, exactly, before any rounding.
//!
//! Every operation is checked: a quantity so large that the exact decimal
//! range overflows is an error, never a panic.

use crate::price_book::{PriceAmounts, PriceModel, Tier};
use rust_decimal::Decimal;

/// The exact decimal range was exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow;

/// Why a charge could not be computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChargeError {
    /// Arithmetic left the exact decimal range.
    Overflow,
    /// A per-transaction min/max needs the transaction list, not a summary.
    AmountsRequired,
}

impl From<Overflow> for ChargeError {
    fn from(_: Overflow) -> Self {
        ChargeError::Overflow
    }
}

pub(crate) fn add(a: Decimal, b: Decimal) -> Result<Decimal, Overflow> {
    crate::money::checked_add(a, b).ok_or(Overflow)
}

pub(crate) fn sub(a: Decimal, b: Decimal) -> Result<Decimal, Overflow> {
    crate::money::checked_sub(a, b).ok_or(Overflow)
}

pub(crate) fn mul(a: Decimal, b: Decimal) -> Result<Decimal, Overflow> {
    crate::money::checked_mul(a, b).ok_or(Overflow)
}

/// Powers of ten that fit an `i64`.
const POW10: [i64; 19] = {
    let mut p = [1i64; 19];
    let mut i = 1;
    while i < 19 {
        p[i] = p[i - 1] * 10;
        i += 1;
    }
    p
};

/// `a.cmp(b)`, comparing the mantissas as `i128`s (the one with fewer
/// decimals scaled up: a 64 × 64-bit product, which cannot overflow)
/// instead of `Decimal`'s general rescaling; that for larger numbers.
#[inline]
pub(crate) fn dcmp(a: &Decimal, b: &Decimal) -> std::cmp::Ordering {
    let (sa, sb) = (a.scale(), b.scale());
    let (ma, mb) = (a.mantissa(), b.mantissa());
    if sa == sb {
        return ma.cmp(&mb);
    }
    let up = |m: i128, by: u32| -> Option<i128> {
        let p = *POW10.get(by as usize)?;
        Some(i128::from(i64::try_from(m).ok()?) * i128::from(p))
    };
    let scaled = if sa < sb {
        up(ma, sb - sa).map(|x| x.cmp(&mb))
    } else {
        up(mb, sa - sb).map(|y| ma.cmp(&y))
    };
    scaled.unwrap_or_else(|| a.cmp(b))
}

/// The larger of `a` and `b` (by [`dcmp`]; `b` when equal, as `Ord::max`).
#[inline]
pub(crate) fn dmax(a: Decimal, b: Decimal) -> Decimal {
    if dcmp(&a, &b).is_gt() {
        a
    } else {
        b
    }
}

/// The smaller of `a` and `b` (by [`dcmp`]; `a` when equal, as `Ord::min`).
#[inline]
pub(crate) fn dmin(a: Decimal, b: Decimal) -> Decimal {
    if dcmp(&a, &b).is_gt() {
        b
    } else {
        a
    }
}

pub(crate) fn div(a: Decimal, b: Decimal) -> Result<Decimal, Overflow> {
    crate::money::checked_div(a, b).ok_or(Overflow)
}

fn percent_of(amount: Decimal, percent: Decimal) -> Result<Decimal, Overflow> {
    div(mul(amount, percent)?, Decimal::ONE_HUNDRED)
}

/// What one tier contributed.
#[derive(Debug, Clone, PartialEq)]
pub struct TierCharge {
    /// Position of the tier (0-based).
    pub index: usize,
    /// Units priced in this tier.
    pub quantity: Decimal,
    /// The tier's unit price (absent for percent tiers).
    pub unit_amount: Option<Decimal>,
    /// The tier's percent (percent tiers).
    pub percent: Option<Decimal>,
    /// The tier's flat amount charged (zero when none).
    pub flat_amount: Decimal,
    /// Exact amount of this tier.
    pub amount: Decimal,
}

/// An exact charge with, for tiered models, its breakdown.
#[derive(Debug, Clone, PartialEq)]
pub struct Charge {
    /// Exact amount, unrounded.
    pub amount: Decimal,
    /// Tiers reached (graduated, volume).
    pub tiers: Option<Vec<TierCharge>>,
}

impl Charge {
    fn plain(amount: Decimal) -> Charge {
        Charge { amount, tiers: None }
    }
}

fn tier_unit_amount(t: &Tier, units: Decimal) -> Result<Decimal, Overflow> {
    match (t.unit_amount, t.percent) {
        (Some(u), _) => mul(units, u),
        (None, Some(p)) => percent_of(units, p),
        (None, None) => Ok(Decimal::ZERO),
    }
}

/// The unit amount a breakdown shows: the tier's, or zero for a flat-only tier.
fn shown_unit(t: &Tier) -> Option<Decimal> {
    if t.percent.is_some() {
        None
    } else {
        Some(t.unit_amount.unwrap_or(Decimal::ZERO))
    }
}

/// Graduated: each unit priced in its tier; a tier's flat amount is
/// charged when the quantity reaches into it, the first tier's always.
pub fn graduated(tiers: &[Tier], qty: Decimal, breakdown: bool) -> Result<Charge, Overflow> {
    let mut total = Decimal::ZERO;
    let mut out = if breakdown {
        Some(Vec::with_capacity(tiers.len()))
    } else {
        None
    };
    let mut prev = Decimal::ZERO;
    for (i, t) in tiers.iter().enumerate() {
        if i > 0 && qty <= prev {
            break;
        }
        let upper = t.up_to.map_or(qty, |u| u.min(qty));
        let units = if upper > prev { sub(upper, prev)? } else { Decimal::ZERO };
        let flat = t.flat_amount.unwrap_or(Decimal::ZERO);
        let amount = add(tier_unit_amount(t, units)?, flat)?;
        total = add(total, amount)?;
        if let Some(v) = out.as_mut() {
            v.push(TierCharge {
                index: i,
                quantity: units,
                unit_amount: shown_unit(t),
                percent: t.percent,
                flat_amount: flat,
                amount,
            });
        }
        match t.up_to {
            Some(u) => prev = u,
            None => break,
        }
    }
    Ok(Charge {
        amount: total,
        tiers: out,
    })
}

/// Volume: every unit at the rate of the tier the quantity falls in
/// (`prev_up_to < qty <= up_to`), plus that tier's flat amount, also at zero.
pub fn volume(tiers: &[Tier], qty: Decimal, breakdown: bool) -> Result<Charge, Overflow> {
    let i = tiers
        .iter()
        .position(|t| t.up_to.is_none_or(|u| qty <= u))
        .unwrap_or(tiers.len().saturating_sub(1));
    let Some(t) = tiers.get(i) else {
        return Ok(Charge::plain(Decimal::ZERO));
    };
    let flat = t.flat_amount.unwrap_or(Decimal::ZERO);
    let amount = add(tier_unit_amount(t, qty)?, flat)?;
    let tiers = breakdown.then(|| {
        vec![TierCharge {
            index: i,
            quantity: qty,
            unit_amount: shown_unit(t),
            percent: t.percent,
            flat_amount: flat,
            amount,
        }]
    });
    Ok(Charge { amount, tiers })
}

/// The highest volume charge at any quantity up to `qty`. A volume charge
/// falls where a tier with a lower rate starts; spend alerts measure the
/// highest it has been on the way to `qty`, which does not depend on how
/// the usage was split into events nor on their order. Within a tier the
/// charge grows, so the candidates are `qty` and the tier bounds below it.
pub fn volume_peak(tiers: &[Tier], qty: Decimal) -> Result<Decimal, Overflow> {
    let mut best = volume(tiers, qty, false)?.amount;
    for t in tiers {
        match t.up_to {
            Some(u) if dcmp(&u, &qty).is_lt() => best = dmax(best, volume(tiers, u, false)?.amount),
            _ => break,
        }
    }
    Ok(best)
}

/// The charge for a quantity under any model but `percentage` (which
/// prices transactions; for it, a quantity is treated as one transaction total
/// with no fixed fee).
pub fn charge_quantity(model: PriceModel, a: &PriceAmounts, qty: Decimal, breakdown: bool) -> Result<Charge, Overflow> {
    let zero = Decimal::ZERO;
    Ok(match model {
        PriceModel::Flat => Charge::plain(a.amount.unwrap_or(zero)),
        PriceModel::PerUnit => Charge::plain(mul(qty, a.unit_amount.unwrap_or(zero))?),
        PriceModel::Graduated => return graduated(a.tiers.as_deref().unwrap_or(&[]), qty, breakdown),
        PriceModel::Volume => return volume(a.tiers.as_deref().unwrap_or(&[]), qty, breakdown),
        PriceModel::Package => {
            let size = a.package_size.unwrap_or(Decimal::ONE);
            if qty.is_zero() || size.is_zero() {
                Charge::plain(zero)
            } else {
                // `ceil`, with its `+ 1` through the out-of-line `add`
                // (docs/architecture.md, "Bundle size").
                let exact = div(qty, size)?;
                let whole = exact.trunc();
                let packages = if exact > whole {
                    add(whole, Decimal::ONE)?
                } else {
                    whole
                };
                Charge::plain(mul(packages, a.package_amount.unwrap_or(zero))?)
            }
        }
        PriceModel::Percentage => Charge::plain(percent_of(qty, a.percent.unwrap_or(zero))?),
    })
}

/// `charge(new) − charge(old)` for the same price, computed directly for
/// per-unit and graduated prices (one pass over the tiers between the two
/// quantities) and by difference otherwise. Used on every metered event.
pub fn charge_delta(model: PriceModel, a: &PriceAmounts, old: Decimal, new: Decimal) -> Result<Decimal, Overflow> {
    match model {
        PriceModel::Percentage => Ok(Decimal::ZERO),
        PriceModel::PerUnit => mul(sub(new, old)?, a.unit_amount.unwrap_or(Decimal::ZERO)),
        PriceModel::Graduated if dcmp(&new, &old).is_ge() => {
            graduated_between(a.tiers.as_deref().unwrap_or(&[]), old, new)
        }
        PriceModel::Graduated => Ok(-graduated_between(a.tiers.as_deref().unwrap_or(&[]), new, old)?),
        _ => sub(
            charge_quantity(model, a, new, false)?.amount,
            charge_quantity(model, a, old, false)?.amount,
        ),
    }
}

/// The graduated charge of the units in `(lo, hi]`, with the flat amounts
/// of the tiers the quantity newly reaches into (`lo <= hi`).
fn graduated_between(tiers: &[Tier], lo: Decimal, hi: Decimal) -> Result<Decimal, Overflow> {
    // The usual event: (lo, hi] inside one tier, past its lower bound (no
    // flat amount reached): one multiplication.
    let mut lower = Decimal::ZERO;
    for (i, t) in tiers.iter().enumerate() {
        match t.up_to {
            Some(u) if dcmp(&lo, &u).is_ge() => lower = u,
            up_to => {
                let above = dcmp(&lo, &lower);
                if (above.is_gt() || (i == 0 && above.is_eq())) && up_to.is_none_or(|u| dcmp(&hi, &u).is_le()) {
                    return tier_unit_amount(t, sub(hi, lo)?);
                }
                break;
            }
        }
    }
    let mut total = Decimal::ZERO;
    let mut prev = Decimal::ZERO;
    for (i, t) in tiers.iter().enumerate() {
        if dcmp(&prev, &hi).is_ge() {
            break;
        }
        let upper = t.up_to.map_or(hi, |u| dmin(u, hi));
        let from = dmax(prev, lo);
        if dcmp(&upper, &from).is_gt() {
            total = add(total, tier_unit_amount(t, sub(upper, from)?)?)?;
        }
        // A tier's flat amount is charged when the quantity first passes its
        // lower bound (the first tier's is charged at zero, not by events).
        if i > 0 && dcmp(&lo, &prev).is_le() && dcmp(&prev, &hi).is_lt() {
            total = add(total, t.flat_amount.unwrap_or(Decimal::ZERO))?;
        }
        match t.up_to {
            Some(u) => prev = u,
            None => break,
        }
    }
    Ok(total)
}

/// The fee on one transaction under a `percentage` price:
/// `amount × percent / 100 + fixed_amount`, clamped to `[min_amount, max_amount]`.
pub fn transaction_fee(a: &PriceAmounts, amount: Decimal) -> Result<Decimal, Overflow> {
    let mut fee = add(
        percent_of(amount, a.percent.unwrap_or(Decimal::ZERO))?,
        a.fixed_amount.unwrap_or(Decimal::ZERO),
    )?;
    if let Some(min) = a.min_amount {
        fee = fee.max(min);
    }
    if let Some(max) = a.max_amount {
        fee = fee.min(max);
    }
    Ok(fee)
}

/// Transactions of an amount-aggregated product.
#[derive(Debug, Clone, PartialEq)]
pub enum Transactions {
    /// Each transaction's amount.
    Amounts(Vec<Decimal>),
    /// Only the count and the total.
    Summary {
        /// Number of transactions.
        count: Decimal,
        /// Sum of their amounts.
        total: Decimal,
    },
}

impl Transactions {
    /// Sum of the amounts.
    pub fn total(&self) -> Result<Decimal, Overflow> {
        match self {
            Transactions::Amounts(v) => v.iter().try_fold(Decimal::ZERO, |s, a| add(s, *a)),
            Transactions::Summary { total, .. } => Ok(*total),
        }
    }

    /// Number of transactions.
    pub fn count(&self) -> Decimal {
        match self {
            Transactions::Amounts(v) => Decimal::from(v.len()),
            Transactions::Summary { count, .. } => *count,
        }
    }
}

/// The charge for transactions: per-transaction fees under `percentage`,
/// otherwise the model applied to `billable_total` (the total less any allowance).
pub fn charge_transactions(
    model: PriceModel,
    a: &PriceAmounts,
    tx: &Transactions,
    billable_total: Decimal,
    breakdown: bool,
) -> Result<Charge, ChargeError> {
    if model != PriceModel::Percentage {
        return Ok(charge_quantity(model, a, billable_total, breakdown)?);
    }
    match tx {
        Transactions::Amounts(v) => {
            let mut sum = Decimal::ZERO;
            for amt in v {
                sum = add(sum, transaction_fee(a, *amt)?)?;
            }
            Ok(Charge::plain(sum))
        }
        Transactions::Summary { count, total } => {
            if a.min_amount.is_some() || a.max_amount.is_some() {
                return Err(ChargeError::AmountsRequired);
            }
            let pct = percent_of(*total, a.percent.unwrap_or(Decimal::ZERO))?;
            let fixed = mul(*count, a.fixed_amount.unwrap_or(Decimal::ZERO))?;
            Ok(Charge::plain(add(pct, fixed)?))
        }
    }
}

#[cfg(test)]
mod fast_compare {
    use super::{dcmp, dmax, dmin};
    use proptest::prelude::*;
    use rust_decimal::Decimal;

    fn decimal() -> impl Strategy<Value = Decimal> {
        let mantissa = prop_oneof![
            -1000i128..1000,
            any::<i64>().prop_map(i128::from),
            (-(1i128 << 95)..(1i128 << 95)),
            Just(i128::from(i64::MAX)),
            Just(i128::from(i64::MIN)),
            Just((1i128 << 96) - 1),
        ];
        (mantissa, 0u32..=28).prop_map(|(m, s)| Decimal::from_i128_with_scale(m, s))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        #[test]
        fn dcmp_equals_rust_decimal(a in decimal(), b in decimal()) {
            prop_assert_eq!(dcmp(&a, &b), a.cmp(&b), "{} cmp {}", a, b);
            // The same value and scale as `Ord::max`/`Ord::min` pick.
            prop_assert_eq!(dmax(a, b).serialize(), a.max(b).serialize());
            prop_assert_eq!(dmin(a, b).serialize(), a.min(b).serialize());
        }
    }

    #[test]
    fn equal_values_of_different_scales() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert!(dcmp(&d("1.50"), &d("1.5")).is_eq());
        assert_eq!(dmax(d("1.50"), d("1.5")).to_string(), "1.5");
        assert_eq!(dmin(d("1.50"), d("1.5")).to_string(), "1.50");
        assert!(dcmp(&d("-0.005"), &d("0")).is_lt());
        assert!(dcmp(&d("1000"), &d("148.41")).is_gt());
    }

    #[test]
    fn package_count_is_ceil() {
        use super::charge_quantity;
        use crate::price_book::{PriceAmounts, PriceModel};
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        let size = d("3");
        for q in [
            "0.001",
            "1",
            "2.5",
            "3",
            "3.000",
            "3.0001",
            "7",
            "9",
            "10",
            "1000000000000000000000000000",
            "7.9",
        ] {
            let a = PriceAmounts {
                package_size: Some(size),
                package_amount: Some(Decimal::ONE),
                ..PriceAmounts::default()
            };
            let got = charge_quantity(PriceModel::Package, &a, d(q), false).unwrap().amount;
            assert_eq!(got.to_string(), (d(q) / size).ceil().to_string(), "{q}");
        }
    }
}
