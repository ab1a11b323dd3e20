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
        r#"[1,2]"#,
        r#"{"id":"#,
    ] {
        let (fast, general) = both(text);
        assert_eq!(fast, general, "{text}");
    }
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
