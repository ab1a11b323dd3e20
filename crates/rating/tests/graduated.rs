//! The per-event change of a graduated charge (`charge_delta`, with its
//! one-tier fast path) is exactly the difference of the charges at the two
//! quantities, flat amounts of the tiers reached included.

use proptest::prelude::*;
use rating::price::{charge_delta, charge_quantity};
use rating::price_book::{PriceAmounts, PriceModel, Tier};
use rust_decimal::Decimal;

fn tiers() -> impl Strategy<Value = Vec<Tier>> {
    prop::collection::vec((1i64..5_000, 0i64..2_000, prop::option::of(0i64..5_000)), 1..5).prop_map(|raw| {
        let mut bound = 0i64;
        let n = raw.len();
        raw.into_iter()
            .enumerate()
            .map(|(i, (step, unit, flat))| {
                bound += step;
                Tier {
                    up_to: (i + 1 < n).then(|| Decimal::new(bound, 2)),
                    unit_amount: Some(Decimal::new(unit, 4)),
                    flat_amount: flat.map(|f| Decimal::new(f, 2)),
                    percent: None,
                }
            })
            .collect()
    })
}

proptest! {
    #[test]
    fn delta_is_the_difference_of_charges(tiers in tiers(), a in 0i64..30_000, b in 0i64..30_000) {
        let amounts = PriceAmounts { tiers: Some(tiers), ..Default::default() };
        let (old, new) = (Decimal::new(a, 2), Decimal::new(b, 2));
        let charge = |q| charge_quantity(PriceModel::Graduated, &amounts, q, false).unwrap().amount;
        let delta = charge_delta(PriceModel::Graduated, &amounts, old, new).unwrap();
        prop_assert_eq!(delta, charge(new) - charge(old), "{} -> {}", old, new);
    }
}
