//! The committed JSON Schema of `price-book/v1` must be what the Rust types
//! generate. Regenerate with `UPDATE_SCHEMA=1 cargo test -p rating --test schema`.

use rating::price_book::json_schema;

#[test]
fn committed_schema_is_current() {
    let schema = json_schema();
    let text = serde_json::to_string_pretty(&schema).unwrap() + "\n";
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schema/price-book.v1.json");
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(path, &text).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == text,
        "schema/price-book.v1.json is stale: run UPDATE_SCHEMA=1 cargo test -p rating --test schema"
    );
}
