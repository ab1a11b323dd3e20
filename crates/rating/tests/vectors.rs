//! Shared test vectors: `tests/vectors/*.json` at the repository root.
//!
//! Each file is `{"area", "cases": [...]}`; each case names a price book
//! (a path relative to the repository root, or an inline object), an `op`
//! (`check`, `quote` or `compare`), a `request` (inline, or a path to a JSON
//! file) and either `expect` (the exact output) or `error`
//! (`{"code", "path"?, "errors"?: [{"code", "path"?}]}`).
//!
//! Comparison is structural (object key order is irrelevant) and exact:
//! same key sets, same strings. Three keys are ignored when `expect` does
//! not name them: `description` (text for people), `message` (ditto, in
//! compare errors) and `price_book` (the hash); in an error object inside
//! an output (one with a `code`), `path` too. Every failing case is
//! printed, then the test panics with the count, so one run shows every
//! mismatch.

use rating::quote::{compare_value, quote_value};
use rating::{Error, PriceBook};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// Keys ignored when the expected object does not contain them.
const IGNORABLE: &[&str] = &["description", "message", "price_book"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not valid JSON: {e}", path.display()))
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

/// A value given inline, or as a path (relative to the repository root) to a JSON file.
fn inline_or_file(v: &Value) -> Result<Value, String> {
    match v {
        Value::String(p) => read_json(&root().join(p)),
        other => Ok(other.clone()),
    }
}

/// Structural comparison; returns the path of the first difference.
fn diff(expected: &Value, actual: &Value, path: &str) -> Option<String> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let p = format!("{path}.{k}");
                match a.get(k) {
                    None => return Some(format!("{p}: missing in actual")),
                    Some(av) => {
                        if let Some(d) = diff(ev, av, &p) {
                            return Some(d);
                        }
                    }
                }
            }
            // An error object inside an output (compare) is compared like a
            // case's `error`: its `path` only when the vector gives one.
            let is_error = e.contains_key("code");
            for k in a.keys() {
                let ignorable = IGNORABLE.contains(&k.as_str()) || (is_error && k == "path");
                if !e.contains_key(k) && !ignorable {
                    return Some(format!("{path}.{k}: not expected (actual {})", a[k]));
                }
            }
            None
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                return Some(format!("{path}: expected {} elements, actual {}", e.len(), a.len()));
            }
            e.iter()
                .zip(a)
                .enumerate()
                .find_map(|(i, (ev, av))| diff(ev, av, &format!("{path}[{i}]")))
        }
        // Numbers compare by their literal text (arbitrary_precision).
        (Value::Number(e), Value::Number(a)) => {
            (e.to_string() != a.to_string()).then(|| format!("{path}: expected {e}, actual {a}"))
        }
        (e, a) => (e != a).then(|| format!("{path}: expected {e}, actual {a}")),
    }
}

fn error_value(e: &Error) -> Value {
    serde_json::to_value(e).unwrap_or_else(|_| json!({"code": e.code}))
}

/// Compares an engine error with the case's `error` block.
fn diff_error(expected: &Value, actual: &Error) -> Option<String> {
    if let Some(code) = expected.get("code").and_then(Value::as_str) {
        if code != actual.code {
            return Some(format!("code: expected {code}, actual {}", actual.code));
        }
    }
    if let Some(path) = expected.get("path") {
        let want = path.as_str();
        if want != actual.path.as_deref() {
            return Some(format!("path: expected {path}, actual {:?}", actual.path));
        }
    }
    if let Some(list) = expected.get("errors").and_then(Value::as_array) {
        if list.len() != actual.errors.len() {
            return Some(format!(
                "errors: expected {} problems, actual {}",
                list.len(),
                actual.errors.len()
            ));
        }
        for (i, (e, a)) in list.iter().zip(&actual.errors).enumerate() {
            let code = e.get("code").and_then(Value::as_str).unwrap_or_default();
            let path = e.get("path").and_then(Value::as_str);
            if code != a.code || path != a.path.as_deref() {
                return Some(format!(
                    "errors[{i}]: expected {code} at {path:?}, actual {} at {:?}",
                    a.code, a.path
                ));
            }
        }
    }
    None
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// Runs one case; `Err` describes the failure.
fn run_case(case: &Value) -> Result<(), String> {
    let book_json = inline_or_file(case.get("book").ok_or("case has no book")?)?;
    let op = case.get("op").and_then(Value::as_str).ok_or("case has no op")?;
    let parsed = PriceBook::from_value(&book_json);
    let actual: Result<Value, Error> = match op {
        "check" => parsed.map(|_| json!({"ok": true})),
        "quote" | "compare" => {
            let book =
                parsed.map_err(|e| format!("the case's price book is invalid:\n{}", pretty(&error_value(&e))))?;
            let request = inline_or_file(case.get("request").ok_or("case has no request")?)?;
            if op == "quote" {
                quote_value(&book, &request)
            } else {
                compare_value(&book, &request)
            }
        }
        other => return Err(format!("unknown op {other:?}")),
    };
    match (case.get("expect"), case.get("error"), &actual) {
        (Some(expect), None, Ok(out)) => match diff(expect, out, "$") {
            None => Ok(()),
            Some(d) => Err(format!(
                "{d}\n--- expected:\n{}\n--- actual:\n{}",
                pretty(expect),
                pretty(out)
            )),
        },
        (Some(expect), None, Err(e)) => Err(format!(
            "expected a result, got an error\n--- expected:\n{}\n--- actual error:\n{}",
            pretty(expect),
            pretty(&error_value(e))
        )),
        (None, Some(want), Err(e)) => match diff_error(want, e) {
            None => Ok(()),
            Some(d) => Err(format!(
                "{d}\n--- expected error:\n{}\n--- actual error:\n{}",
                pretty(want),
                pretty(&error_value(e))
            )),
        },
        (None, Some(want), Ok(out)) => Err(format!(
            "expected an error, got a result\n--- expected error:\n{}\n--- actual:\n{}",
            pretty(want),
            pretty(out)
        )),
        _ => Err("a case needs exactly one of expect and error".to_string()),
    }
}

#[test]
fn vectors() {
    let dir = root().join("tests/vectors");
    let mut failures = Vec::new();
    let mut total = 0usize;
    for file in json_files(&dir) {
        let name = file.file_name().unwrap_or_default().to_string_lossy().to_string();
        let doc = match read_json(&file) {
            Ok(d) => d,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        let Some(cases) = doc.get("cases").and_then(Value::as_array) else {
            failures.push(format!("{name}: no cases array"));
            continue;
        };
        for (i, case) in cases.iter().enumerate() {
            total += 1;
            let case_name = case.get("name").and_then(Value::as_str).unwrap_or("(unnamed)");
            if let Err(msg) = run_case(case) {
                failures.push(format!("{name} #{i} {case_name:?}: {msg}"));
            }
        }
    }
    for f in &failures {
        eprintln!("FAIL {f}\n");
    }
    assert!(total > 0, "no vectors found in {}", dir.display());
    assert!(
        failures.is_empty(),
        "{} of {} vector cases failed (listed above)",
        failures.len(),
        total
    );
    eprintln!("{total} vector cases passed");
}

#[test]
fn example_price_books_are_valid() {
    let mut failures = Vec::new();
    let mut books = 0usize;
    for file in json_files(&root().join("examples")) {
        let v = match read_json(&file) {
            Ok(v) => v,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        if v.get("format").is_none() {
            continue; // a request, not a price book
        }
        books += 1;
        if let Err(e) = PriceBook::from_value(&v) {
            failures.push(format!("{}:\n{}", file.display(), pretty(&error_value(&e))));
        }
    }
    for f in &failures {
        eprintln!("INVALID {f}\n");
    }
    assert!(books > 0, "no example price books found");
    assert!(
        failures.is_empty(),
        "{} example price books are invalid (listed above)",
        failures.len()
    );
}

#[test]
fn comparison_ignores_key_order_but_not_keys() {
    let a: Value = serde_json::from_str(r#"{"a": "1", "b": {"x": [1, {"y": "2"}]}}"#).unwrap();
    let b: Value = serde_json::from_str(r#"{"b": {"x": [1, {"y": "2"}]}, "a": "1"}"#).unwrap();
    assert_eq!(diff(&a, &b, "$"), None);
    let c: Value = serde_json::from_str(r#"{"a": "1", "b": {"x": [1, {"y": "2", "z": "3"}]}}"#).unwrap();
    assert!(diff(&a, &c, "$").is_some());
    assert!(diff(&c, &a, "$").is_some());
    let d: Value = serde_json::from_str(r#"{"a": "1.0", "b": {"x": [1, {"y": "2"}]}}"#).unwrap();
    assert!(diff(&a, &d, "$").is_some());
    let e: Value = serde_json::from_str(r#"{"a": "1", "description": "x", "b": {"x": [1, {"y": "2"}]}}"#).unwrap();
    assert_eq!(diff(&a, &e, "$"), None);
}

/// docs/quote.md fixes the key order of every object in a quote or a
/// comparison ("Keys appear in exactly this order"); the structural
/// comparison above ignores order, so this test checks it on every
/// successful quote and compare vector.
#[test]
fn outputs_keep_the_documented_key_order() {
    const QUOTE: &[&str] = &[
        "currency",
        "plan",
        "addons",
        "period",
        "periods",
        "lines",
        "subtotal",
        "discount",
        "total",
        "credits",
        "limits",
        "features",
        "dropped",
        "price_book",
    ];
    const LINE: &[&str] = &[
        "plan",
        "product",
        "price_key",
        "price_key_remapped",
        "kind",
        "description",
        "quantity",
        "raw_quantity",
        "unit",
        "transactions",
        "included",
        "billable",
        "amount",
        "currency",
        "tiers",
        "override",
    ];
    const TIER: &[&str] = &["index", "quantity", "unit_amount", "percent", "flat_amount", "amount"];
    const OVERRIDE: &[&str] = &["customer", "from", "until"];
    const DROPPED: &[&str] = &["product", "price_key", "quantity"];
    const PERIOD: &[&str] = &["unit", "length"];
    const COMPARE: &[&str] = &["currency", "plans", "cheapest", "price_book"];
    const COMPARED: &[&str] = &["plan", "name", "total", "error"];

    fn check(v: &Value, order: &[&str], what: &str, out: &mut Vec<String>) {
        let Some(m) = v.as_object() else { return };
        let mut last = 0usize;
        for k in m.keys() {
            match order.iter().position(|o| o == k) {
                Some(i) if i >= last => last = i,
                Some(_) => out.push(format!(
                    "{what}: key {k:?} out of order in {:?}",
                    m.keys().collect::<Vec<_>>()
                )),
                None => out.push(format!("{what}: undocumented key {k:?}")),
            }
        }
    }

    let mut failures = Vec::new();
    for file in json_files(&root().join("tests/vectors")) {
        let name = file.file_name().unwrap_or_default().to_string_lossy().to_string();
        let Ok(doc) = read_json(&file) else { continue };
        for case in doc.get("cases").and_then(Value::as_array).into_iter().flatten() {
            let op = case.get("op").and_then(Value::as_str).unwrap_or_default();
            if case.get("expect").is_none() || !(op == "quote" || op == "compare") {
                continue;
            }
            let (Ok(book_json), Some(Ok(request))) =
                (inline_or_file(&case["book"]), case.get("request").map(inline_or_file))
            else {
                continue;
            };
            let Ok(book) = PriceBook::from_value(&book_json) else {
                continue;
            };
            let what = format!(
                "{name} {:?}",
                case.get("name").and_then(Value::as_str).unwrap_or_default()
            );
            let mut out = Vec::new();
            if op == "quote" {
                let Ok(q) = quote_value(&book, &request) else { continue };
                check(&q, QUOTE, &what, &mut out);
                check(&q["period"], PERIOD, &what, &mut out);
                for line in q["lines"].as_array().into_iter().flatten() {
                    check(line, LINE, &what, &mut out);
                    check(&line["override"], OVERRIDE, &what, &mut out);
                    for t in line["tiers"].as_array().into_iter().flatten() {
                        check(t, TIER, &what, &mut out);
                    }
                }
                for d in q["dropped"].as_array().into_iter().flatten() {
                    check(d, DROPPED, &what, &mut out);
                }
            } else {
                let Ok(c) = compare_value(&book, &request) else {
                    continue;
                };
                check(&c, COMPARE, &what, &mut out);
                for p in c["plans"].as_array().into_iter().flatten() {
                    check(p, COMPARED, &what, &mut out);
                }
            }
            failures.extend(out);
        }
    }
    for f in &failures {
        eprintln!("ORDER {f}");
    }
    assert!(
        failures.is_empty(),
        "{} key-order problems (listed above)",
        failures.len()
    );
}

/// The hand-written JSON writer of the WebAssembly bindings
/// (`rating::quote_json`) gives exactly serde_json's bytes for every
/// vector's quote and comparison.
#[test]
fn quote_json_writes_the_bytes_serde_json_writes() {
    use rating::quote::{compare, quote, read_request};
    use rating::quote_json::{compare_text, quote_text};
    let mut checked = 0;
    for file in json_files(&root().join("tests/vectors")) {
        let Ok(doc) = read_json(&file) else { continue };
        for case in doc.get("cases").and_then(Value::as_array).into_iter().flatten() {
            let op = case.get("op").and_then(Value::as_str).unwrap_or_default();
            if !(op == "quote" || op == "compare") {
                continue;
            }
            let (Ok(book_json), Some(Ok(request))) =
                (inline_or_file(&case["book"]), case.get("request").map(inline_or_file))
            else {
                continue;
            };
            let Ok(book) = PriceBook::from_value(&book_json) else {
                continue;
            };
            let what = format!("{} {:?}", file.display(), case.get("name"));
            let Ok(req) = read_request(&book, &request, op == "quote") else {
                continue;
            };
            if op == "quote" {
                let Ok(q) = quote(&book, &req) else { continue };
                assert_eq!(quote_text(&q), serde_json::to_string(&q).unwrap(), "{what}");
            } else {
                let Ok(c) = compare(&book, &req) else { continue };
                assert_eq!(compare_text(&c), serde_json::to_string(&c).unwrap(), "{what}");
            }
            checked += 1;
        }
    }
    assert!(checked > 150, "only {checked} cases checked");
}

#[test]
fn quote_json_escapes_strings_as_serde_json_does() {
    let mut all = String::new();
    for c in (0u32..0x250).chain([0x2028, 0x2029, 0xfeff, 0x1f600]) {
        all.push(char::from_u32(c).unwrap());
    }
    for s in [all.as_str(), "", "plain", "a\"b\\c\u{7f}", "\u{0}\u{1f}x"] {
        let mut out = String::new();
        rating::quote_json::push_json_str(&mut out, s);
        assert_eq!(out, serde_json::to_string(s).unwrap());
    }
}
