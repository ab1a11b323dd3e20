//! The JSON Schema of `price-book/v1` (docs/schema.md), generated from the
//! types in `model.rs` and tightened where the engine is stricter than
//! what serde alone says.
//!
//! The Rust types carry the per-field rules as schemars attributes (the
//! `format` constant, `up_to` required, the fields each price model needs).
//! What attributes cannot say is applied here, to the whole document:
//!
//! - every decimal of a price book is read as an amount, so the engine
//!   refuses negatives: decimals become a non-negative decimal string or a
//!   number with `minimum: 0`;
//! - `type` lists (`["string", "null"]`) become `anyOf` of single types,
//!   and non-standard integer formats (`uint32`) are dropped in favour of
//!   the `minimum` bound schemars writes beside them, so that validators
//!   in strict mode (ajv's `strictTypes`, unknown formats) compile it.

use super::{model_name, PriceBookDoc, PriceModel};
use serde_json::{json, Map, Value};

/// The `$id` of the committed schema (`schema/price-book.v1.json`).
pub const SCHEMA_ID: &str = "https://rating-engine.dev/schema/price-book.v1.json";

/// The pattern schemars gives `rust_decimal::Decimal`.
const DECIMAL_PATTERN: &str = r"^-?\d+(\.\d+)?([eE]\d+)?$";

/// A decimal string the engine reads as not negative: digits with an
/// optional point and exponent, or a negative zero.
pub const NON_NEGATIVE_DECIMAL_PATTERN: &str = r"^(\+?(\d+(\.\d*)?|\.\d+)|-(0+(\.0*)?|\.0+))([eE][+-]?\d+)?$";

/// The JSON Schema (draft 2020-12) of a price book.
pub fn json_schema() -> schemars::Schema {
    let mut schema = schemars::schema_for!(PriceBookDoc);
    schema.insert("$id".into(), SCHEMA_ID.into());
    let mut value = schema.to_value();
    tighten(&mut value);
    schemars::Schema::try_from(value).unwrap_or_default()
}

/// Applies the document-wide rules to a schema and its subschemas.
fn tighten(v: &mut Value) {
    match v {
        Value::Array(items) => items.iter_mut().for_each(tighten),
        Value::Object(o) => {
            for (key, sub) in o.iter_mut() {
                // `properties`, `$defs`, `items`... hold schemas; `const`,
                // `enum`, `required` and text hold data.
                if !matches!(key.as_str(), "const" | "enum" | "required" | "examples" | "default") {
                    tighten(sub);
                }
            }
            if o.get("pattern").and_then(Value::as_str) == Some(DECIMAL_PATTERN) {
                non_negative_decimal(o);
            } else {
                drop_integer_format(o);
                split_type_list(o);
            }
        }
        _ => {}
    }
}

/// A decimal: a non-negative decimal string or a number `>= 0`, with
/// `null` kept where the field allows it.
fn non_negative_decimal(o: &mut Map<String, Value>) {
    let nullable = matches!(o.get("type"), Some(Value::Array(t)) if t.contains(&json!("null")));
    o.remove("type");
    o.remove("pattern");
    let mut any_of = vec![
        json!({"type": "string", "pattern": NON_NEGATIVE_DECIMAL_PATTERN}),
        json!({"type": "number", "minimum": 0}),
    ];
    if nullable {
        any_of.push(json!({"type": "null"}));
    }
    o.insert("anyOf".into(), Value::Array(any_of));
}

/// `uint32` and friends are not formats JSON Schema defines; the `minimum`
/// beside them already says what they meant.
fn drop_integer_format(o: &mut Map<String, Value>) {
    let is_int_format = o
        .get("format")
        .and_then(Value::as_str)
        .is_some_and(|f| f.starts_with("uint") || f.starts_with("int"));
    if is_int_format {
        o.remove("format");
    }
}

/// `{"type": ["T", "null"], ...T's keywords}` → `{"anyOf": [{"type": "T", ...}, {"type": "null"}]}`.
fn split_type_list(o: &mut Map<String, Value>) {
    let Some(Value::Array(types)) = o.get("type").cloned() else {
        return;
    };
    o.remove("type");
    // Keywords that describe the value stay outside; the rest apply to one type.
    let outer = ["description", "title", "default", "examples", "deprecated"];
    let mut inner = Map::new();
    for key in o.keys().cloned().collect::<Vec<_>>() {
        if !outer.contains(&key.as_str()) {
            if let Some(val) = o.remove(&key) {
                inner.insert(key, val);
            }
        }
    }
    let any_of = types
        .into_iter()
        .map(|t| {
            if t == "null" {
                json!({"type": "null"})
            } else {
                let mut s = inner.clone();
                s.insert("type".into(), t);
                Value::Object(s)
            }
        })
        .collect();
    o.insert("anyOf".into(), Value::Array(any_of));
}

/// The amount fields of a price (`PriceAmounts`).
const AMOUNT_FIELDS: [&str; 9] = [
    "amount",
    "unit_amount",
    "tiers",
    "package_size",
    "package_amount",
    "percent",
    "fixed_amount",
    "min_amount",
    "max_amount",
];

/// On `Price`: which amounts each `model` requires and which it forbids,
/// on the price and on each of its `currency_options`, as one `if`/`then`
/// per model keyed on `model` (from [`PriceModel::fields`], the table the
/// engine's own check reads).
pub(crate) fn model_fields(schema: &mut schemars::Schema) {
    let rules: Vec<Value> = PriceModel::ALL.iter().map(|&m| model_rule(m)).collect();
    schema.insert("allOf".into(), Value::Array(rules));
}

fn model_rule(model: PriceModel) -> Value {
    let (required, optional) = model.fields();
    // A required field must not be null; one the model does not take may
    // only be null (the engine reads null as absent).
    let fields: Map<String, Value> = AMOUNT_FIELDS
        .iter()
        .filter(|f| !optional.contains(f))
        .map(|f| {
            let rule = if required.contains(f) {
                json!({"not": {"type": "null"}})
            } else {
                json!({"type": "null"})
            };
            (f.to_string(), rule)
        })
        .collect();
    let amounts = json!({"type": "object", "required": required, "properties": fields});
    let mut then = amounts.clone();
    if let Some(props) = then.get_mut("properties").and_then(Value::as_object_mut) {
        props.insert(
            "currency_options".into(),
            json!({"type": "object", "additionalProperties": amounts}),
        );
    }
    let name = model_name(model);
    let spelling = if model == PriceModel::Graduated {
        json!({"enum": [name, "staircase"]})
    } else {
        json!({"const": name})
    };
    json!({
        "if": {"type": "object", "properties": {"model": spelling}, "required": ["model"]},
        "then": then,
    })
}

/// On `UnitConversion`: a rounding `round` (`up`, `down`, `half_up`)
/// needs `precision`; without one (`none`, the default) `precision` may
/// only be null (the engine reads null as absent).
pub(crate) fn unit_conversion_rules(schema: &mut schemars::Schema) {
    let rounding = json!({"type": "string", "enum": ["up", "down", "half_up"]});
    schema.insert(
        "if".into(),
        json!({"type": "object", "properties": {"round": rounding}, "required": ["round"]}),
    );
    schema.insert(
        "then".into(),
        json!({"type": "object", "required": ["precision"], "properties": {"precision": {"not": {"type": "null"}}}}),
    );
    schema.insert(
        "else".into(),
        json!({"type": "object", "properties": {"precision": {"type": "null"}}}),
    );
}
