//! Price books: parsing, validation, canonical hash and look-ups.

mod model;
mod parse;
mod schema;
mod validate;

pub use model::*;
pub use parse::{read_thresholds, MAX_THRESHOLDS};
pub use schema::{json_schema, NON_NEGATIVE_DECIMAL_PATTERN, SCHEMA_ID};
pub use validate::model_name;

use crate::error::{codes, Error, Problem};
use crate::json::{parse_json, Reader};
use crate::money::iso_scale;
use rustc_hash::FxHashMap as HashMap;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A parsed, validated price book with its canonical hash and indexes.
#[derive(Debug, Clone)]
pub struct PriceBook {
    doc: PriceBookDoc,
    hash: std::sync::Arc<str>,
    /// The currency code and the hash, for receipts.
    currency_text: crate::text::Text,
    hash_text: crate::text::Text,
    products: HashMap<String, usize>,
    plans: HashMap<String, usize>,
    /// Scale of the book's currency, looked up once.
    currency_scale: u32,
    /// Per plan (in book order): product id → item position.
    items: Vec<HashMap<String, usize>>,
    /// Per product (in book order): the (plan, item) positions pricing it.
    placements: Vec<Vec<(usize, usize)>>,
    /// Whether any plan has `spend_alert_thresholds` (most books have none,
    /// and every event asks).
    spend_alerts: bool,
}

impl PriceBook {
    /// Parses and validates JSON text. Every problem is reported at once.
    pub fn parse(text: &str) -> Result<PriceBook, Error> {
        let value = parse_json(text).map_err(Error::one)?;
        PriceBook::from_value(&value)
    }

    /// Validates an already-parsed JSON value.
    pub fn from_value(value: &Value) -> Result<PriceBook, Error> {
        let mut r = Reader::default();
        let doc = parse::read_book(&mut r, value);
        // The cross-reference rules run whenever every entry could be read
        // (a typo'd field is reported and skipped), so that field problems
        // and rule problems come back together. When an entry had to be
        // left out, positions would no longer match the document's paths.
        if let (Some(doc), 0) = (&doc, r.dropped) {
            validate::check_book(&mut r, doc);
        }
        match doc {
            Some(doc) if !r.failed() => Ok(PriceBook::from_doc_unchecked(doc)),
            _ => Err(Error::many(codes::INVALID_PRICE_BOOK, "the price book", r.problems)),
        }
    }

    fn from_doc_unchecked(doc: PriceBookDoc) -> PriceBook {
        let hash = canonical_hash(&doc);
        let products = doc
            .products
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.clone(), i))
            .collect();
        let plans = doc.plans.iter().enumerate().map(|(i, p)| (p.id.clone(), i)).collect();
        let currency_scale = iso_scale(&doc.currency).unwrap_or(2);
        let items = doc
            .plans
            .iter()
            .map(|p| {
                p.items
                    .iter()
                    .enumerate()
                    .map(|(i, it)| (it.product.clone(), i))
                    .collect()
            })
            .collect();
        let mut placements: Vec<Vec<(usize, usize)>> = vec![Vec::new(); doc.products.len()];
        for (pi, plan) in doc.plans.iter().enumerate() {
            for (ii, item) in plan.items.iter().enumerate() {
                if let Some(&prod) = HashMap::get(&products, item.product.as_str()) {
                    if let Some(list) = placements.get_mut(prod) {
                        list.push((pi, ii));
                    }
                }
            }
        }
        let hash: std::sync::Arc<str> = hash.into();
        let spend_alerts = doc.plans.iter().any(|p| !p.spend_alert_thresholds.is_empty());
        PriceBook {
            currency_text: crate::text::Text::from(doc.currency.as_str()),
            hash_text: crate::text::Text::shared(&hash),
            doc,
            hash,
            products,
            plans,
            currency_scale,
            items,
            placements,
            spend_alerts,
        }
    }

    /// Whether any plan of the book has spend alert thresholds.
    pub fn has_spend_alerts(&self) -> bool {
        self.spend_alerts
    }

    /// The document.
    pub fn doc(&self) -> &PriceBookDoc {
        &self.doc
    }

    /// `sha256:` of the canonical JSON of the book (keys sorted, no spaces,
    /// decimals as written). Stamps every quote, receipt and invoice.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The book's currency code as a [`crate::text::Text`].
    pub fn currency_text(&self) -> crate::text::Text {
        self.currency_text.clone()
    }

    /// The hash as a [`crate::text::Text`] (shared, not copied).
    pub fn hash_text(&self) -> crate::text::Text {
        self.hash_text.clone()
    }

    /// The book serialized as JSON (parses back to an equal book).
    pub fn to_value(&self) -> Value {
        doc_value(&self.doc)
    }

    /// A product by id.
    pub fn product(&self, id: &str) -> Option<&Product> {
        self.products.get(id).map(|&i| &self.doc.products[i])
    }

    /// A product by id, with its position in the book and the (plan, item)
    /// pairs that price it: one look-up for what rating an event needs of
    /// the book.
    #[allow(clippy::type_complexity)]
    pub fn product_items(
        &self,
        id: &str,
    ) -> Option<(usize, &Product, impl Iterator<Item = (&Plan, &PlanItem)> + Clone)> {
        let &i = self.products.get(id)?;
        let product = self.doc.products.get(i)?;
        let list = self.placements.get(i).map_or(&[][..], Vec::as_slice);
        let items = list.iter().filter_map(|&(p, it)| {
            let plan = self.doc.plans.get(p)?;
            Some((plan, plan.items.get(it)?))
        });
        Some((i, product, items))
    }

    /// A plan by id.
    pub fn plan(&self, id: &str) -> Option<&Plan> {
        self.plans.get(id).map(|&i| &self.doc.plans[i])
    }

    /// A plan's position in the book.
    pub fn plan_index(&self, id: &str) -> Option<usize> {
        self.plans.get(id).copied()
    }

    /// The item of `plan` that prices `product`.
    pub fn plan_item(&self, plan: &str, product: &str) -> Option<(&Plan, &PlanItem)> {
        let p = *self.plans.get(plan)?;
        let i = *self.items[p].get(product)?;
        let plan = &self.doc.plans[p];
        Some((plan, &plan.items[i]))
    }

    /// A credit pack by id.
    pub fn credit_pack(&self, id: &str) -> Option<&CreditPack> {
        self.doc.credit_packs.iter().find(|p| p.id == id)
    }

    /// The scale (decimal places) of a currency or custom unit.
    pub fn scale_of(&self, code: &str) -> Option<u32> {
        if crate::json::same_str(code, &self.doc.currency) {
            return Some(self.currency_scale);
        }
        iso_scale(code).or_else(|| self.doc.units.iter().find(|u| u.code == code).map(|u| u.scale))
    }

    /// Whether the code is a custom unit of this book (not money).
    pub fn is_custom_unit(&self, code: &str) -> bool {
        self.doc.units.iter().any(|u| u.code == code)
    }
}

/// Serializes a value with every object's keys sorted and no whitespace.
pub fn canonical_json(v: &Value) -> String {
    fn sort(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                let mut out = serde_json::Map::new();
                for k in keys {
                    out.insert(k.clone(), sort(&m[k]));
                }
                Value::Object(out)
            }
            Value::Array(a) => Value::Array(a.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    serde_json::to_string(&sort(v)).unwrap_or_default()
}

/// The document as a JSON value: written as JSON text and read back, the
/// same value `serde_json::to_value` builds, without a second serializer
/// of every book type in the WebAssembly builds (docs/architecture.md).
fn doc_value(doc: &PriceBookDoc) -> Value {
    serde_json::to_string(doc)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or(Value::Null)
}

fn canonical_hash(doc: &PriceBookDoc) -> String {
    let v = doc_value(doc);
    let mut hasher = HashWriter(Sha256::new());
    write_canonical(&v, &mut hasher);
    let digest = hasher.0.finalize();
    let mut s = String::with_capacity(71);
    s.push_str("sha256:");
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in digest.iter() {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 15)] as char);
    }
    s
}

struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes exactly what [`canonical_json`] returns, without building a
/// sorted copy of the value.
fn write_canonical(v: &Value, w: &mut HashWriter) {
    use std::io::Write;
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let _ = w.write_all(b"{");
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    let _ = w.write_all(b",");
                }
                let _ = serde_json::to_writer(&mut *w, k);
                let _ = w.write_all(b":");
                write_canonical(&m[k], w);
            }
            let _ = w.write_all(b"}");
        }
        Value::Array(a) => {
            let _ = w.write_all(b"[");
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    let _ = w.write_all(b",");
                }
                write_canonical(x, w);
            }
            let _ = w.write_all(b"]");
        }
        other => {
            let _ = serde_json::to_writer(&mut *w, other);
        }
    }
}

/// Problems found when a value is not the format expected.
pub fn problem(code: crate::error::Code, path: &str, message: &str) -> Problem {
    Problem::at(code, path, message)
}
