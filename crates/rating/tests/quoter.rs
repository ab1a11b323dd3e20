//! The prepared quoter (docs/quote.md "Prepared quotes") against `quote()`:
//! for every example book, every base plan and random quantities of its
//! metered products, set one at a time on one quoter, the quoter's total,
//! lines and whole quote are those of `quote()` on the same request as
//! JSON, and a request `quote()` refuses is refused with the same error.

use proptest::prelude::*;
use proptest::test_runner::Config;
use rating::money::fmt_money;
use rating::price_book::{Aggregation, ProductType};
use rating::quote::{quote, read_request};
use rating::quoter::Quoter;
use rating::{Error, PriceBook};
use serde_json::{json, Map, Value};
use std::path::Path;

fn config(cases: u32) -> Config {
    Config {
        failure_persistence: None,
        ..Config::with_cases(cases)
    }
}

fn book(name: &str) -> PriceBook {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples").join(name);
    let text = std::fs::read_to_string(path).unwrap();
    PriceBook::parse(&text).unwrap()
}

const BOOKS: &[&str] = &[
    "api-gateway.json",
    "credits.json",
    "freemium.json",
    "hybrid.json",
    "marketplace.json",
    "multi-currency.json",
    "registrar.json",
    "saas.json",
    "team.json",
    "telecom.json",
];

/// Every example book's base plans with the unkeyed metered products they price
/// (a keyed or amount-aggregated product's usage is an object, set through
/// `set_usage`; the JS differential test covers those with the vectors).
fn cases() -> Vec<(&'static str, PriceBook, String, Vec<String>)> {
    let mut out = Vec::new();
    for name in BOOKS {
        let b = book(name);
        for plan in b.doc().plans.iter().filter(|p| !p.addon) {
            let products = plan
                .items
                .iter()
                .filter_map(|it| b.product(&it.product))
                .filter(|p| {
                    p.kind == ProductType::Metered
                        && p.price_key_label.is_none()
                        && p.aggregation() != Aggregation::Amount
                })
                .map(|p| p.id.clone())
                .collect();
            out.push((*name, b.clone(), plan.id.clone(), products));
        }
    }
    out
}

/// `quote()` of a request given as JSON: its JSON text, or its error.
fn reference(book: &PriceBook, request: &Value) -> Result<String, Error> {
    let req = read_request(book, request, true)?;
    Ok(serde_json::to_string(&quote(book, &req)?).unwrap())
}

/// Checks the quoter against `quote()` on `request`.
fn same_as_quote(book: &PriceBook, q: &mut Quoter, request: &Value) -> Result<(), TestCaseError> {
    let want = reference(book, request);
    let whole = q.quote(book).map(|x| serde_json::to_string(&x).unwrap());
    prop_assert_eq!(&whole, &want, "request {}", request);
    let priced = q.priced(book).cloned().map_err(Clone::clone);
    match (&want, priced) {
        (Ok(text), Ok(p)) => {
            let v: Value = serde_json::from_str(text).unwrap();
            prop_assert_eq!(
                Value::String(fmt_money(p.total.value, p.total.scale)),
                v["total"].clone()
            );
            let lines = v["lines"].as_array().unwrap();
            prop_assert_eq!(p.lines.len(), lines.len());
            for (mine, theirs) in p.lines.iter().zip(lines) {
                prop_assert_eq!(
                    Value::String(fmt_money(mine.amount.value, mine.amount.scale)),
                    theirs["amount"].clone()
                );
                prop_assert_eq!(Value::String(mine.product.clone()), theirs["product"].clone());
                prop_assert_eq!(serde_json::to_value(mine.kind).unwrap(), theirs["kind"].clone());
            }
        }
        (Err(e), Err(mine)) => prop_assert_eq!(&mine, e),
        (w, p) => prop_assert!(false, "quote() {:?}, quoter {:?}", w, p),
    }
    Ok(())
}

/// A decimal quantity as text: whole, or with up to three places.
fn quantity() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u64..2_000_000).prop_map(|n| n.to_string()),
        (0u64..2_000, 0u32..1000).prop_map(|(n, f)| format!("{n}.{f:03}")),
        (0u64..20).prop_map(|n| n.to_string()),
    ]
}

proptest! {
    #![proptest_config(config(48))]

    /// Random usage set product by product, several quotes in a row on the
    /// same quoter, each compared with `quote()` of the same request.
    #[test]
    fn quoter_matches_quote(picks in prop::collection::vec((any::<prop::sample::Index>(), quantity(), any::<bool>()), 1..12)) {
        for (_, book, plan, products) in cases() {
            let mut q = Quoter::new(&book, &json!({"plan": plan})).unwrap();
            let mut usage = Map::new();
            for (pick, qty, unset) in &picks {
                if products.is_empty() {
                    break;
                }
                let product = &products[pick.index(products.len())];
                if *unset && usage.contains_key(product) {
                    q.unset_usage(product);
                    usage.shift_remove(product);
                } else {
                    q.set_usage_text(&book, product, qty).unwrap();
                    usage.insert(product.clone(), Value::String(qty.clone()));
                }
                same_as_quote(&book, &mut q, &json!({"plan": plan, "usage": usage}))?;
            }
        }
    }
}

/// Calls `set_usage_text` and `quote()` on the request with that usage; both
/// must refuse it with the same error.
fn refused_alike(book: &PriceBook, plan: &str, product: &str, text: &str) -> Error {
    let mut q = Quoter::new(book, &json!({"plan": plan})).unwrap();
    let mine = q.set_usage_text(book, product, text).unwrap_err();
    let want = reference(book, &json!({"plan": plan, "usage": {product: text}})).unwrap_err();
    assert_eq!(mine, want);
    mine
}

#[test]
fn bad_values_are_refused_as_quote_refuses_them() {
    let hybrid = book("hybrid.json");
    let e = refused_alike(&hybrid, "starter", "nope", "1");
    assert_eq!(
        (e.code.as_str(), e.path.as_deref()),
        ("unknown_product", Some("usage.nope"))
    );
    let e = refused_alike(&hybrid, "starter", "messages", "12x");
    assert_eq!(
        (e.code.as_str(), e.path.as_deref()),
        ("invalid_decimal", Some("usage.messages"))
    );
    let e = refused_alike(&hybrid, "starter", "messages", "-1");
    assert_eq!(
        (e.code.as_str(), e.path.as_deref()),
        ("negative_value", Some("usage.messages"))
    );
    let e = refused_alike(&hybrid, "starter", "platform", "1");
    assert_eq!(
        (e.code.as_str(), e.path.as_deref()),
        ("invalid_usage", Some("usage.platform"))
    );
    // A refused value leaves the usage as it was.
    let mut q = Quoter::new(&hybrid, &json!({"plan": "starter"})).unwrap();
    q.set_usage_text(&hybrid, "messages", "20000").unwrap();
    assert!(q.set_usage_text(&hybrid, "messages", "lots").is_err());
    let total = q.priced(&hybrid).unwrap().total;
    assert_eq!(fmt_money(total.value, total.scale), "99.00");
}

#[test]
fn pricing_errors_are_those_of_quote() {
    // Over the free plan's project limit.
    let freemium = book("freemium.json");
    let mut q = Quoter::new(&freemium, &json!({"plan": "free"})).unwrap();
    q.set_usage_text(&freemium, "projects", "4").unwrap();
    let want = reference(&freemium, &json!({"plan": "free", "usage": {"projects": "4"}})).unwrap_err();
    let mine = q.priced(&freemium).unwrap_err().clone();
    assert_eq!(mine, want);
    assert_eq!(
        (mine.code.as_str(), mine.path.as_deref()),
        ("limit_exceeded", Some("usage.projects"))
    );
    // The add-on lifts it.
    q.set_addon("unlimited-projects", true);
    same_as_quote(
        &freemium,
        &mut q,
        &json!({"plan": "free", "addons": ["unlimited-projects"], "usage": {"projects": "4"}}),
    )
    .unwrap();
    q.set_addon("unlimited-projects", false);
    assert!(q.priced(&freemium).is_err());
    // An unknown plan is refused when the quoter is made.
    let e = Quoter::new(&freemium, &json!({"plan": "nope"})).unwrap_err();
    let want = reference(&freemium, &json!({"plan": "nope"})).unwrap_err();
    assert_eq!(e, want);
}
