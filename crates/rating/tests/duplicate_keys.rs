//! An object with the same key twice is refused everywhere JSON text comes
//! in (`duplicate_key`, at the repeated key's path): parsers disagree on
//! which of the two counts, so a billing input must not be ambiguous.

use rating::json::parse_json;

fn code_at(text: &str) -> Option<(String, String)> {
    parse_json(text)
        .err()
        .map(|p| (p.code.to_string(), p.path.clone().unwrap_or_default()))
}

#[test]
fn repeated_keys_are_refused_with_their_path() {
    let dup = |path: &str| Some(("duplicate_key".to_string(), path.to_string()));
    assert_eq!(code_at(r#"{"plan":"a","plan":"b"}"#), dup("plan"));
    assert_eq!(
        code_at(r#"[{"x":1},{"customer":"c","plan":"p","plan":"q"}]"#),
        dup("[1].plan")
    );
    assert_eq!(
        code_at(r#"{"data":{"quantity":"1","quantity":"2"}}"#),
        dup("data.quantity")
    );
    // The same key once escaped and once not is the same key.
    assert_eq!(code_at(r#"{"plan":1,"pl\u0061n":2}"#), dup("plan"));
    // Past the small-object path: a set of keys.
    let many: Vec<String> = (0..40).map(|i| format!("\"k{i}\":{i}")).collect();
    assert_eq!(code_at(&format!("{{{},\"k7\":0}}", many.join(","))), dup("k7"));
    // Same keys in different objects, keys inside strings: fine.
    assert_eq!(code_at(r#"{"a":{"x":1},"b":{"x":2},"s":"\"a\":1,\"a\":2"}"#), None);
    assert_eq!(code_at(&format!("{{{}}}", many.join(","))), None);
}

#[test]
fn events_with_repeated_keys_are_refused_on_both_paths() {
    use rating::event::{parse_event, parse_event_text};
    let text = r#"{"specversion":"1.0","id":"a","id":"b","source":"s","type":"t","subject":"c"}"#;
    assert_eq!(parse_event_text(text).unwrap_err().code, "duplicate_key");
    let data = r#"{"specversion":"1.0","id":"a","source":"s","type":"t","subject":"c","data":{"quantity":"1","quantity":"9"}}"#;
    let e = parse_event_text(data).unwrap_err();
    assert_eq!(
        (e.code.as_str(), e.path.as_deref()),
        ("duplicate_key", Some("data.quantity"))
    );
    // A parsed value cannot hold a repeated key: the general path has nothing to refuse.
    assert!(
        parse_event(&serde_json::json!({"specversion":"1.0","id":"a","source":"s","type":"t","subject":"c"})).is_ok()
    );
}
