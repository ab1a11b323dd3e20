//! The price book as a whole (docs/contract.md §3): its canonical hash, reporting
//! every problem at once, and a registrar-sized keyed book.

use rating::price_book::canonical_json;
use rating::quote::quote_value;
use rating::PriceBook;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// The docs/contract.md §3 example, plus a volume price, a credit pack and an override.
fn spec_book() -> Value {
    json!({
      "format": "price-book/v1",
      "id": "acme",
      "currency": "USD",
      "rounding": "half_up",
      "proration": "by_second",
      "late_event_grace": {"unit": "day", "length": 3},
      "units": [{"code": "credits", "scale": 0}],
      "products": [
        {"id": "platform", "name": "Platform fee", "type": "recurring"},
        {"id": "seats", "name": "Seats", "type": "seat"},
        {"id": "bandwidth", "name": "Bandwidth", "type": "metered", "unit": "GB", "aggregation": "sum"},
        {"id": "calls", "name": "API calls", "type": "metered", "aggregation": "count"},
        {"id": "domain", "name": "Domains", "type": "metered",
         "price_key_label": "tld", "unmatched_price_key_policy": "reject", "default_price_key": ".com"},
        {"id": "sales", "name": "Transaction fee", "type": "metered", "aggregation": "amount"}
      ],
      "plans": [
        {"id": "pro", "name": "Pro", "period": {"unit": "month", "length": 1},
         "setup_fee": "10.00",
         "trial_days": 14,
         "advance_discounts": [{"periods": 12, "percent": "20"}],
         "items": [
           {"product": "platform", "price": {"model": "flat", "amount": "20.00"}},
           {"product": "seats", "min_quantity": "3",
            "price": {"model": "per_unit", "unit_amount": "15.00", "currency_options": {"EUR": {"unit_amount": "14.00"}}}},
           {"product": "bandwidth", "included_quantity": "1000", "rollover": true,
            "price": {"model": "graduated", "tiers": [
              {"up_to": "10000", "unit_amount": "0.15"},
              {"up_to": null, "unit_amount": "0.10", "flat_amount": "0"}]}},
           {"product": "calls", "price": {"model": "volume", "tiers": [
              {"up_to": "1000", "flat_amount": "0"},
              {"up_to": null, "unit_amount": "0.002", "flat_amount": "1"}]}},
           {"product": "domain", "prices": {
              ".com": {"model": "per_unit", "unit_amount": "11.50", "display_name": ".com domain"},
              ".io":  {"model": "per_unit", "unit_amount": "35.00"}}},
           {"product": "sales", "price": {"model": "percentage", "percent": "5", "fixed_amount": "0.30",
              "min_amount": "0.50", "max_amount": "10"}}
         ]}
      ],
      "credit_packs": [{"id": "starter", "credits": "1000", "bonus": "100", "price": "9.00",
                        "expires_after": {"unit": "year", "length": 1}}],
      "overrides": [{"customer": "cus_42", "product": "domain", "price_key": ".io",
                     "price": {"model": "per_unit", "unit_amount": "30.00"}, "from": "2026-01-01T00:00:00Z"}]
    })
}

fn hash_of(v: &Value) -> String {
    match PriceBook::from_value(v) {
        Ok(b) => b.hash().to_string(),
        Err(e) => panic!("book rejected: {e:?}"),
    }
}

/// The same value with every object's keys in reverse order.
fn reversed_keys(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().rev().map(|(k, v)| (k.clone(), reversed_keys(v))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(reversed_keys).collect()),
        other => other.clone(),
    }
}

/// The same value with every object's keys rotated by `n` (another order).
fn rotated_keys(v: &Value, n: usize) -> Value {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(String, Value)> = m.iter().map(|(k, v)| (k.clone(), rotated_keys(v, n))).collect();
            if !entries.is_empty() {
                let by = n % entries.len();
                entries.rotate_left(by);
            }
            Value::Object(entries.into_iter().collect::<Map<_, _>>())
        }
        Value::Array(a) => Value::Array(a.iter().map(|e| rotated_keys(e, n)).collect()),
        other => other.clone(),
    }
}

// ----------------------------------------------------------------- hash

#[test]
fn hash_is_sha256_with_64_hex_digits() {
    let b = PriceBook::from_value(&spec_book()).unwrap();
    let h = b.hash();
    let hex = h.strip_prefix("sha256:").expect("starts with sha256:");
    assert_eq!(hex.len(), 64, "{h}");
    assert!(
        hex.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)),
        "lowercase hex: {h}"
    );
}

#[test]
fn hash_is_the_sha256_of_the_canonical_json() {
    let b = PriceBook::from_value(&spec_book()).unwrap();
    let canonical = canonical_json(&b.to_value());
    // Canonical JSON: no whitespace outside strings, keys sorted.
    assert!(!canonical.contains(": ") && !canonical.contains(", ") && !canonical.contains('\n'));
    assert!(canonical.starts_with(r#"{"credit_packs":"#), "{canonical}");
    let digest = Sha256::digest(canonical.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(b.hash(), format!("sha256:{hex}"));
}

#[test]
fn hash_is_stable_across_key_order_and_whitespace() {
    let v = spec_book();
    let h = hash_of(&v);
    let compact = serde_json::to_string(&v).unwrap();
    let pretty = serde_json::to_string_pretty(&v).unwrap();
    let spaced = pretty.replace(": ", " :\t ").replace(",\n", "\r\n ,  ");
    for text in [&compact, &pretty, &spaced] {
        assert_eq!(PriceBook::parse(text).unwrap().hash(), h, "{text}");
    }
    assert_eq!(hash_of(&reversed_keys(&v)), h);
    for n in 1..5 {
        assert_eq!(hash_of(&rotated_keys(&v, n)), h, "rotation {n}");
    }
    assert_eq!(
        PriceBook::parse(&serde_json::to_string_pretty(&reversed_keys(&v)).unwrap())
            .unwrap()
            .hash(),
        h
    );
    // Hashing the serialized book gives the same hash again.
    let b = PriceBook::from_value(&v).unwrap();
    assert_eq!(hash_of(&b.to_value()), h);
}

#[test]
fn hash_reads_numbers_by_their_text() {
    // "20.00" as a string or as the JSON number 20.00 is the same book.
    let v = spec_book();
    let mut as_number = v.clone();
    as_number["plans"][0]["items"][0]["price"]["amount"] = serde_json::from_str("20.00").unwrap();
    as_number["plans"][0]["trial_days"] = json!("14");
    assert_eq!(hash_of(&as_number), hash_of(&v));
}

/// Every path in `v` whose key names a money amount or a tier bound.
fn price_paths(v: &Value, here: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    const PRICE_FIELDS: &[&str] = &[
        "amount",
        "unit_amount",
        "flat_amount",
        "up_to",
        "package_size",
        "package_amount",
        "percent",
        "fixed_amount",
        "min_amount",
        "max_amount",
        "setup_fee",
        "price",
        "credits",
        "bonus",
        "included_quantity",
        "min_quantity",
    ];
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                here.push(json!(k));
                if PRICE_FIELDS.contains(&k.as_str()) && c.is_string() {
                    out.push(here.clone());
                }
                price_paths(c, here, out);
                here.pop();
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                here.push(json!(i));
                price_paths(c, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

fn at<'a>(v: &'a mut Value, path: &[Value]) -> &'a mut Value {
    path.iter().fold(v, |v, seg| match seg {
        Value::String(k) => &mut v[k.as_str()],
        Value::Number(i) => &mut v[i.as_u64().unwrap() as usize],
        _ => unreachable!(),
    })
}

#[test]
fn hash_changes_when_any_price_changes() {
    let v = spec_book();
    let original = hash_of(&v);
    let mut paths = Vec::new();
    price_paths(&v, &mut Vec::new(), &mut paths);
    assert!(paths.len() >= 25, "found {} price fields", paths.len());
    let mut seen = std::collections::HashSet::from([original.clone()]);
    for path in &paths {
        let mut changed = v.clone();
        let field = at(&mut changed, path);
        let old: rust_decimal::Decimal = field.as_str().unwrap().parse().unwrap();
        // A small raise keeps tiers in order and minimums below maximums.
        *field = json!((old + rust_decimal::Decimal::new(1, 2)).to_string());
        let h = hash_of(&changed);
        assert!(
            seen.insert(h),
            "changing {path:?} from {old} left the hash unchanged or equal to another change's"
        );
    }
    // Other fields are part of the book too.
    for (path, new) in [
        (vec![json!("products"), json!(0), json!("name")], json!("Platform")),
        (vec![json!("plans"), json!(0), json!("trial_days")], json!(7)),
        (vec![json!("rounding")], json!("half_even")),
        (
            vec![
                json!("plans"),
                json!(0),
                json!("items"),
                json!(3),
                json!("price"),
                json!("model"),
            ],
            json!("graduated"),
        ),
    ] {
        let mut changed = v.clone();
        *at(&mut changed, &path) = new;
        assert!(
            seen.insert(hash_of(&changed)),
            "changing {path:?} left the hash unchanged"
        );
    }
}

// ------------------------------------------------------------- problems

fn problems(v: &Value) -> Vec<(String, String)> {
    let e = PriceBook::from_value(v).unwrap_err();
    e.errors
        .iter()
        .map(|p| (p.code.to_string(), p.path.clone().unwrap_or_default()))
        .collect()
}

fn has(list: &[(String, String)], code: &str, path: &str) -> bool {
    list.iter().any(|(c, p)| c == code && p == path)
}

#[test]
fn every_field_problem_is_reported_at_once() {
    let mut v = spec_book();
    let item =
        |v: &mut Value, i: usize| -> Map<String, Value> { v["plans"][0]["items"][i].as_object().unwrap().clone() };
    // 1. a typo that must not silently drop an allowance
    let mut bw = item(&mut v, 2);
    let iq = bw.shift_remove("included_quantity").unwrap();
    bw.insert("inclued_quantity".into(), iq);
    v["plans"][0]["items"][2] = Value::Object(bw);
    // 2. a negative amount
    v["plans"][0]["items"][0]["price"]["amount"] = json!("-20");
    // 3. not a decimal
    v["plans"][0]["items"][1]["price"]["unit_amount"] = json!("fifteen");
    // 4. more than 28 significant digits
    v["plans"][0]["items"][4]["prices"][".io"]["unit_amount"] = json!("1234567890123456789012345678901234567890");
    // 5. a wrong type
    v["plans"][0]["trial_days"] = json!(true);
    // 6. a value outside its set
    v["rounding"] = json!("bankers");
    // 7. a missing required field
    v["products"][1].as_object_mut().unwrap().shift_remove("name");
    // 8. a tier without up_to
    v["plans"][0]["items"][2]["price"]["tiers"][0]
        .as_object_mut()
        .unwrap()
        .shift_remove("up_to");
    // 9. an unknown model
    v["plans"][0]["items"][3]["price"]["model"] = json!("tiered");
    // 10. a bad timestamp
    v["overrides"][0]["from"] = json!("2026-01-01");
    let e = PriceBook::from_value(&v).unwrap_err();
    assert_eq!(e.code, "invalid_price_book");
    assert_eq!(e.path, None);
    let p = problems(&v);
    for (code, path) in [
        ("unknown_field", "plans[0].items[2].inclued_quantity"),
        ("negative_value", "plans[0].items[0].price.amount"),
        ("invalid_decimal", "plans[0].items[1].price.unit_amount"),
        ("out_of_range", "plans[0].items[4].prices[\".io\"].unit_amount"),
        ("invalid_type", "plans[0].trial_days"),
        ("invalid_value", "rounding"),
        ("missing_field", "products[1].name"),
        ("missing_field", "plans[0].items[2].price.tiers[0].up_to"),
        ("invalid_value", "plans[0].items[3].price.model"),
        ("invalid_timestamp", "overrides[0].from"),
    ] {
        assert!(has(&p, code, path), "{code} at {path} missing from {p:#?}");
    }
    assert_eq!(p.len(), 10, "one problem per mistake: {p:#?}");
    // Every problem names a path; the message names the error count.
    assert!(e.errors.iter().all(|p| p.path.is_some() && !p.message.is_empty()));
    assert!(e.message.contains("10"), "{}", e.message);
}

#[test]
fn every_rule_problem_is_reported_at_once() {
    let mut v = spec_book();
    // 1. duplicate product id
    v["products"][3]["id"] = json!("bandwidth");
    // 2. an item for an unknown product
    v["plans"][0]["items"][0]["product"] = json!("platfrom");
    // 3. an item for a product that another plan item already prices
    v["plans"][0]["items"][3]["product"] = json!("seats");
    // 4. a keyed product priced without keys
    v["plans"][0]["items"][4] = json!({"product": "domain", "price": {"model": "per_unit", "unit_amount": "1"}});
    // 5. an unknown currency option
    v["plans"][0]["items"][1]["price"]["currency_options"] = json!({"EURO": {"unit_amount": "1"}});
    // 6. percentage pricing on a product that is not amount-aggregated
    v["products"][5]["aggregation"] = json!("sum");
    // 7. min_quantity above max_quantity
    v["plans"][0]["items"][1]["max_quantity"] = json!("2");
    // 8. two discounts for the same periods
    v["plans"][0]["advance_discounts"] = json!([{"periods": 12, "percent": "20"}, {"periods": 12, "percent": "25"}]);
    // 9. an override of an unknown product
    v["overrides"][0]["product"] = json!("domains");
    // 10. an unknown book currency
    v["currency"] = json!("USX");
    let e = PriceBook::from_value(&v).unwrap_err();
    assert_eq!(e.code, "invalid_price_book");
    let p = problems(&v);
    for (code, path) in [
        ("duplicate_id", "products[3].id"),
        ("unknown_product", "plans[0].items[0].product"),
        ("duplicate_id", "plans[0].items[3].product"),
        ("prices_mismatch", "plans[0].items[4].price"),
        ("unknown_currency", "plans[0].items[1].price.currency_options.EURO"),
        ("field_not_allowed", "plans[0].items[5].price.model"),
        ("invalid_range", "plans[0].items[1].min_quantity"),
        ("duplicate_id", "plans[0].advance_discounts[1].periods"),
        ("unknown_product", "overrides[0].product"),
        ("unknown_currency", "currency"),
    ] {
        assert!(has(&p, code, path), "{code} at {path} missing from {p:#?}");
    }
    assert!(e.errors.iter().all(|p| p.path.is_some() && !p.message.is_empty()));
}

/// docs/contract.md §3: a book is "rejected as a whole with every problem listed". A
/// problem found while reading fields (a typo, tiers out of order) stops
/// the cross-reference rules from running, so their problems go unreported
/// until the first ones are fixed.
#[test]
fn field_and_rule_problems_are_reported_together() {
    let mut v = spec_book();
    v["plans"][0]["items"][2]["inclued_quantity"] = json!("5");
    v["plans"][0]["items"][0]["product"] = json!("platfrom");
    let p = problems(&v);
    assert!(has(&p, "unknown_field", "plans[0].items[2].inclued_quantity"), "{p:?}");
    assert!(has(&p, "unknown_product", "plans[0].items[0].product"), "{p:?}");

    let mut v = spec_book();
    v["plans"][0]["items"][2]["price"]["tiers"][1]["up_to"] = json!("5");
    v["overrides"][0]["product"] = json!("domains");
    let p = problems(&v);
    assert!(
        has(&p, "last_tier_not_open", "plans[0].items[2].price.tiers[1].up_to"),
        "{p:?}"
    );
    assert!(has(&p, "unknown_product", "overrides[0].product"), "{p:?}");
}

#[test]
fn two_open_tiers_and_a_closed_last_tier_are_named() {
    let mut v = spec_book();
    v["plans"][0]["items"][2]["price"]["tiers"] =
        json!([{"up_to": null, "unit_amount": "1"}, {"up_to": null, "unit_amount": "1"}]);
    v["plans"][0]["items"][3]["price"]["tiers"] =
        json!([{"up_to": "10", "unit_amount": "1"}, {"up_to": "20", "unit_amount": "1"}]);
    let p = problems(&v);
    assert!(
        has(&p, "open_tier_not_last", "plans[0].items[2].price.tiers[0].up_to"),
        "{p:?}"
    );
    assert!(
        has(&p, "last_tier_not_open", "plans[0].items[3].price.tiers[1].up_to"),
        "{p:?}"
    );
}

#[test]
fn one_problem_is_reported_as_itself() {
    let mut v = spec_book();
    v["plans"][0]["items"][2]["inclued_quantity"] = json!("5");
    let e = PriceBook::from_value(&v).unwrap_err();
    assert_eq!(e.code, "unknown_field");
    assert_eq!(e.path.as_deref(), Some("plans[0].items[2].inclued_quantity"));
    assert_eq!(e.errors.len(), 1);
}

#[test]
fn text_that_is_not_json_is_one_problem() {
    let e = PriceBook::parse("{\"format\": \"price-book/v1\",").unwrap_err();
    assert_eq!(e.code, "invalid_json");
    assert_eq!(e.errors.len(), 1);
    let e = PriceBook::parse("[]").unwrap_err();
    assert_eq!(e.code, "invalid_type");
}

// ------------------------------------------------------------ registrar

/// A registrar's book: one keyed product with `n` TLD prices, every third
/// graduated (a cheaper rate from the 10th domain), the rest per unit.
fn registrar_book(n: usize) -> Value {
    let mut prices = Map::new();
    for i in 0..n {
        let key = format!(".t{i:04}");
        let cents = 800 + (i * 37) % 9000;
        let price = if i % 3 == 0 {
            json!({"model": "graduated", "tiers": [
                {"up_to": "10", "unit_amount": format!("{}.{:02}", cents / 100, cents % 100)},
                {"up_to": null, "unit_amount": format!("{}.{:02}", cents / 200, (cents / 2) % 100)}]})
        } else {
            json!({"model": "per_unit", "unit_amount": format!("{}.{:02}", cents / 100, cents % 100)})
        };
        prices.insert(key, price);
    }
    json!({
        "format": "price-book/v1", "id": "registrar", "currency": "USD",
        "products": [{"id": "domain", "name": "Domain registration", "type": "metered",
                      "price_key_label": "tld", "unmatched_price_key_policy": "use_default", "default_price_key": ".t0001"}],
        "plans": [{"id": "retail", "name": "Retail", "period": {"unit": "year"},
                   "items": [{"product": "domain", "prices": prices}]}]
    })
}

#[test]
fn a_1500_key_registrar_book_parses() {
    let v = registrar_book(1500);
    let text = serde_json::to_string(&v).unwrap();
    let b = PriceBook::parse(&text).unwrap();
    let prices = b.doc().plans[0].items[0].prices.as_ref().unwrap();
    assert_eq!(prices.len(), 1500);
    // Keys keep the book's order.
    assert_eq!(prices.get_index(0).unwrap().0, ".t0000");
    assert_eq!(prices.get_index(1499).unwrap().0, ".t1499");
    // .t0002: 8.74 per unit; .t0003: graduated 9.11 up to 10, then 4.55.
    let q = quote_value(
        &b,
        &json!({"plan": "retail", "usage": {"domain": {".t0002": "2", ".t0003": "12", ".zzz": "1"}}}),
    )
    .unwrap();
    let lines = q["lines"].as_array().unwrap();
    assert_eq!(lines[0]["amount"], "17.48");
    // 10 × 9.11 + 2 × 4.55 = 100.20.
    assert_eq!(lines[1]["amount"], "100.20");
    // An unpriced key is priced at the default, .t0001 (8.37), and says so.
    assert_eq!(lines[2]["amount"], "8.37");
    assert_eq!(lines[2]["price_key_remapped"], true);
    assert_eq!(q["total"], "126.05");
    // It round-trips and hashes the same either way.
    let again = PriceBook::from_value(&b.to_value()).unwrap();
    assert_eq!(again.hash(), b.hash());
    assert_eq!(again.doc(), b.doc());
}

#[test]
fn a_bad_price_among_1500_keys_is_found_by_its_path() {
    let mut v = registrar_book(1500);
    v["plans"][0]["items"][0]["prices"][".t1234"]["unit_amount"] = json!("-1");
    v["plans"][0]["items"][0]["prices"][".t0999"]["tiers"][0]["up_to"] = json!("0");
    let p = problems(&v);
    assert!(
        has(&p, "negative_value", "plans[0].items[0].prices[\".t1234\"].unit_amount"),
        "{p:?}"
    );
    // .t0999 is graduated (999 % 3 == 0): a first bound of zero is out of order.
    assert!(
        has(
            &p,
            "tiers_out_of_order",
            "plans[0].items[0].prices[\".t0999\"].tiers[0].up_to"
        ),
        "{p:?}"
    );
    assert_eq!(p.len(), 2, "{p:?}");
}
