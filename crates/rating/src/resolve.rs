//! Which price applies: customer overrides, keyed prices, the default key,
//! and the currency option (docs/contract.md §3 "Overrides", "Keyed products").

use crate::period::Timestamp;
use crate::price_book::{Override, PlanItem, Price, PriceAmounts, PriceBook, Product, UnmatchedPolicy};

/// Where a price came from.
#[derive(Debug, Clone, Copy)]
pub enum Source<'b> {
    /// The plan item's price (or keyed price).
    Item,
    /// A customer override.
    Override(&'b Override),
}

/// The outcome of resolving a price for a product and price key.
#[derive(Debug, Clone, Copy)]
pub enum Resolution<'b> {
    /// Priced.
    Priced {
        /// The price.
        price: &'b Price,
        /// Override or item.
        source: Source<'b>,
        /// The key was unmatched and `use_default` priced it at the default key.
        remapped: bool,
    },
    /// Unmatched key under `drop`: accepted, not billed.
    Dropped,
    /// Unmatched key under `reject`.
    Rejected,
}

/// Whether an override is active at `at` (`from` inclusive, `until`
/// exclusive). Without `at`, only overrides without a window are.
pub fn override_active(o: &Override, at: Option<Timestamp>) -> bool {
    match at {
        None => o.from.is_none() && o.until.is_none(),
        Some(t) => o.from.is_none_or(|f| f <= t) && o.until.is_none_or(|u| t < u),
    }
}

/// The most specific override active for (customer, product, key) at `at`:
/// one naming the key beats one that does not; then the later `from`;
/// then the later in the book.
pub fn find_override<'b>(
    book: &'b PriceBook,
    customer: Option<&str>,
    product: &str,
    key: Option<&str>,
    at: Option<Timestamp>,
) -> Option<&'b Override> {
    let customer = customer?;
    let overrides = &book.doc().overrides;
    if overrides.is_empty() {
        return None;
    }
    let mut best: Option<&Override> = None;
    for o in overrides {
        if o.customer != customer || o.product != product || !override_active(o, at) {
            continue;
        }
        match (&o.price_key, key) {
            (Some(k), Some(want)) if k == want => {}
            (Some(_), _) => continue,
            (None, _) => {}
        }
        let better = match best {
            None => true,
            Some(b) => {
                let rank = |x: &Override| (x.price_key.is_some(), x.from);
                rank(o) >= rank(b)
            }
        };
        if better {
            best = Some(o);
        }
    }
    best
}

/// Resolves the price of `item` (of `product`) for price key `key` (keyed
/// products) for `customer` at `at`.
pub fn resolve<'b>(
    book: &'b PriceBook,
    product: &'b Product,
    item: &'b PlanItem,
    key: Option<&str>,
    customer: Option<&str>,
    at: Option<Timestamp>,
) -> Resolution<'b> {
    if let Some(o) = find_override(book, customer, &product.id, key, at) {
        return Resolution::Priced {
            price: &o.price,
            source: Source::Override(o),
            remapped: false,
        };
    }
    if let Some(p) = &item.price {
        return Resolution::Priced {
            price: p,
            source: Source::Item,
            remapped: false,
        };
    }
    let Some(prices) = &item.prices else {
        return Resolution::Rejected;
    };
    if let Some(p) = key.and_then(|k| prices.get(k)) {
        return Resolution::Priced {
            price: p,
            source: Source::Item,
            remapped: false,
        };
    }
    match product.policy() {
        UnmatchedPolicy::Reject => Resolution::Rejected,
        UnmatchedPolicy::Drop => Resolution::Dropped,
        UnmatchedPolicy::UseDefault => match product.default_price_key.as_ref().and_then(|d| prices.get(d)) {
            Some(p) => Resolution::Priced {
                price: p,
                source: Source::Item,
                remapped: true,
            },
            None => Resolution::Rejected,
        },
    }
}

/// The amounts of `price` in `currency`, with the code they are in: a
/// price in a custom unit is always in that unit; otherwise the price's own
/// currency when it matches, else its `currency_options` entry.
pub fn amounts_in<'b>(book: &'b PriceBook, price: &'b Price, currency: &'b str) -> Option<(&'b PriceAmounts, &'b str)> {
    let own = price.currency.as_deref().unwrap_or(book.doc().currency.as_str());
    if crate::json::same_str(own, currency) || book.is_custom_unit(own) {
        return Some((&price.amounts, own));
    }
    price
        .currency_options
        .get_key_value(currency)
        .map(|(k, a)| (a, k.as_str()))
}
