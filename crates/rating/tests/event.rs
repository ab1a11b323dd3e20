//! Usage events: the fast text path and the general JSON path agree on
//! every event, valid or not, fingerprint included.

use proptest::prelude::*;
use rating::event::{parse_event, parse_event_text};

fn both(
    text: &str,
) -> (
    Result<rating::event::UsageEvent, rating::Problem>,
    Result<rating::event::UsageEvent, rating::Problem>,
) {
    let general = rating::json::parse_json(text).and_then(|v| parse_event(&v));
    (parse_event_text(text), general)
}

#[test]
fn fixed_cases_agree() {
    for text in [
        r#"{"specversion":"1.0","id":"e1","source":"s","type":"bandwidth","subject":"c","time":"2026-11-23T10:00:00Z","data":{"quantity":"12.5"}}"#,
        r#"{"specversion":"1.0","id":"e1","source":"s","type":"bandwidth","subject":"c","data":null}"#,
        r#"{"specversion":"1.0","id":"e1","source":"s","type":"bandwidth","subject":"c","time":null,"data":{}}"#,
        r#"{"specversion":"1.0","id":"e\u00e9","source":"s","type":"t","subject":"c","myext":"kept","data":{"tld":".io","quantity":1}}"#,
        r#"{"specversion":"0.3","id":"e1","source":"s","type":"t","subject":"c"}"#,
        r#"{"specversion":"1.0","id":"","source":"s","type":"t","subject":"c"}"#,
        r#"{"specversion":"1.0","id":7,"source":"s","type":"t","subject":"c"}"#,
        r#"{"specversion":"1.0","id":"e","source":"s","type":"t","subject":"c","time":"yesterday"}"#,
        r#"{"specversion":"1.0","id":"e","source":"s","type":"t","subject":"c","data":{"quantity":"-1"}}"#,
        r#"{"specversion":"1.0","id":"e","source":"s","type":"t","subject":"c","data":5}"#,
        r#"{"specversion":"1.0","id":"e","source":"s","type":"t","subject":"c","datacontenttype":"text/plain"}"#,
        r#"{"specversion":"1.0","id":"e","source":"s","type":"t","subject":"c","data":{"quantity":12.50,"tld":".io"}}"#,
        r#"{"specversion":"1.0","id":"e","source":"s","type":"t","subject":"c","data":{"quantity":"1","quantity":"2"}}"#,
        r#"{"specversion":"1.0","id":"e","source":"s","type":"t","subject":"c","data":{"qu\u0061ntity":"3"}}"#,
        r#"{"specversion":"1.0","id":"e","source":"s","type":"t","subject":"c","data":{"tld":"\u002eio","n":{"x":[1]}}}"#,
        r#"{"specversion":"1.0","id":"e","source":"s","type":"t","subject":"c","data":{"quantity":true}}"#,
        r#"{"specversion":"1.0","id":"e","source":"s","type":"t","subject":"c","data":{"amount":"1e3","ok":null}}"#,
        r#"{"specversion":"1.0","id":"e","source":"s","type":"t","subject":"c","data": { "quantity" : -0 , "x" : "y" } }"#,
        r#"{"specversion":"1.0","id":"e","source":"s","type":"t","subject":"c","data":{ }}"#,
        r#"{"specversion":"1.0","id":"e","source":"s","type":"t","subject":"c","data":{"quantity":1E+3,"b":-0.5e-2}}"#,
        r#"{"specversion":"1.0","id":"e","source":"s","type":"t","subject":"c","data":{"quantity":01}}"#,
        r#"{"specversion":"1.0","id":"e","source":"s","type":"t","subject":"c","data":{"quantity":1.}}"#,
        r#"{"specversion":"1.0","id":"e","source":"s","type":"t","subject":"c","data":{"quantity":"1",}}"#,
        r#"{"specversion":"1.0","id":"e","source":"s","type":"t","subject":"c",}"#,
        r#"{"specversion":"1.0","id":"e","source":"s","type":"t","subject":"c"} x"#,
        r#"{"specversion":"1.0","id":"e","source":"s","type":"t","subject":"c"}  "#,
        "{\"specversion\":\"1.0\",\"id\":\"e\tf\",\"source\":\"s\",\"type\":\"t\",\"subject\":\"c\"}",
        r#"{"specversion":"1.0","id":"e","id":"f","source":"s","type":"t","subject":"c"}"#,
        r#"{}"#,
        r#" { } "#,
        r#"[1,2]"#,
        r#"{"id":"#,
    ] {
        let (fast, general) = both(text);
        assert_eq!(fast, general, "{text}");
        if let (Ok(f), Ok(g)) = (&fast, &general) {
            assert_eq!(f.fingerprint, g.fingerprint, "{text}");
            for k in ["quantity", "tld", "n", "x", "ok"] {
                assert_eq!(f.data.get(k), g.data.get(k), "{text} {k}");
            }
        }
    }
}

#[test]
fn data_lookup_reads_strings_and_numbers() {
    use rating::event::Scalar;
    let text = r#"{"specversion":"1.0","id":"e","source":"s","type":"t","subject":"c","data":{"tld":".io","n":7.50,"esc":"a\"b","o":{}}}"#;
    let e = parse_event_text(text).unwrap();
    assert_eq!(e.data.get("tld").unwrap().text(), Some(".io"));
    assert_eq!(e.data.get("n").unwrap().text(), Some("7.50"));
    assert_eq!(e.data.get("esc").unwrap().text(), Some("a\"b"));
    assert_eq!(e.data.get("o"), Some(Scalar::Other));
    assert_eq!(e.data.get("missing"), None);
    assert_eq!(
        rating::event::price_key(&e.data, &["tld", "n"]).as_deref(),
        Some(".io/7.50")
    );
}

#[test]
fn datacontenttype_is_any_json_media_type() {
    use rating::event::is_json_media_type;
    for ct in [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/vnd.acme.usage+json",
        "application/cloudevents+JSON ; charset=utf-8",
    ] {
        assert!(is_json_media_type(ct), "{ct}");
        let text = format!(
            r#"{{"specversion":"1.0","id":"e","source":"s","type":"t","subject":"c","datacontenttype":"{ct}","data":{{"quantity":"1"}}}}"#
        );
        let (fast, general) = both(&text);
        assert_eq!(fast, general, "{ct}");
        assert!(fast.is_ok(), "{ct}");
    }
    for ct in [
        "text/plain",
        "application/octet-stream",
        "application/jsonl",
        "+json",
        "",
        "é+json",
    ] {
        assert!(!is_json_media_type(ct), "{ct}");
    }
    let text = r#"{"specversion":"1.0","id":"e","source":"s","type":"t","subject":"c","datacontenttype":"text/plain","data":"1"}"#;
    let p = parse_event_text(text).unwrap_err();
    assert_eq!(p.path.as_deref(), Some("datacontenttype"));
    assert!(p.message.contains("\"text/plain\""), "{}", p.message);
}

fn attr() -> impl Strategy<Value = Option<serde_json::Value>> {
    prop_oneof![
        Just(None),
        Just(Some(serde_json::Value::Null)),
        "[a-z0-9 é\"\\\\]{0,6}".prop_map(|s| Some(serde_json::Value::String(s))),
        (0i64..100).prop_map(|n| Some(serde_json::json!(n))),
    ]
}

proptest! {
    #[test]
    fn random_events_agree(
        attrs in prop::collection::vec(attr(), 7),
        quantity in prop_oneof![Just(None), "-?[0-9]{1,3}(\\.[0-9]{1,3})?".prop_map(Some)],
        ext in any::<bool>(),
        reorder in any::<bool>(),
    ) {
        let names = ["specversion", "id", "source", "type", "subject", "time", "datacontenttype"];
        let mut o = serde_json::Map::new();
        if reorder {
            o.insert("data".into(), serde_json::json!({"quantity": quantity.clone(), "k": "v"}));
        }
        for (n, v) in names.iter().zip(attrs.iter()) {
            if let Some(v) = v {
                let v = if *n == "specversion" && v.is_string() { serde_json::json!("1.0") } else { v.clone() };
                o.insert((*n).into(), v);
            }
        }
        if !reorder {
            o.insert("data".into(), serde_json::json!({"k": "v", "quantity": quantity}));
        }
        if ext {
            o.insert("traceparent".into(), serde_json::json!("00-abc"));
        }
        let text = serde_json::to_string(&serde_json::Value::Object(o)).unwrap();
        let (fast, general) = both(&text);
        prop_assert_eq!(fast, general, "{}", text);
    }
}

fn data_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "-?(0|[1-9][0-9]{0,3})(\\.[0-9]{1,3})?([eE][+-]?[0-9]{1,2})?",
        "\"[a-z0-9.é\\\\\"]{0,5}\"",
        Just("null".to_string()),
        Just("true".to_string()),
        Just("[1]".to_string()),
        Just("{\"a\":1}".to_string()),
        "0[0-9]",
    ]
}

proptest! {
    /// Raw `data` text (numbers in every form, escapes, other types, repeated
    /// keys, odd spacing): the fast reader and the general path agree.
    #[test]
    fn random_data_text_agrees(
        entries in prop::collection::vec((prop_oneof![Just("quantity"), Just("amount"), Just("tld"), Just("k")], data_value()), 0..5),
        space in prop_oneof![Just(""), Just(" "), Just("\n\t")],
    ) {
        let body: Vec<String> = entries.iter().map(|(k, v)| format!("{space}\"{k}\"{space}:{space}{v}{space}")).collect();
        let text = format!(
            r#"{{"specversion":"1.0","id":"e","source":"s","type":"t","subject":"c","data":{{{}}}}}"#,
            body.join(",")
        );
        let (fast, general) = both(&text);
        prop_assert_eq!(&fast, &general, "{}", text);
        if let (Ok(f), Ok(g)) = (&fast, &general) {
            prop_assert_eq!(f.fingerprint, g.fingerprint);
            for k in ["quantity", "amount", "tld", "k"] {
                prop_assert_eq!(f.data.get(k), g.data.get(k));
            }
        }
    }
}
