//! Runs the built `rating` binary: exit codes, stdout/stderr JSON, stdin.
//!
//! Quote and compare results are not asserted here (the engine's vectors
//! do that); these tests check the command-line contract of docs/contract.md §9.

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BOOK: &str = r#"{
  "format": "price-book/v1", "id": "acme", "currency": "USD",
  "products": [
    {"id": "platform", "name": "Platform fee", "type": "recurring"},
    {"id": "seats", "name": "Seats", "type": "seat"},
    {"id": "bandwidth", "name": "Bandwidth", "type": "metered", "unit": "GB"}
  ],
  "plans": [
    {"id": "basic", "name": "Basic", "period": {"unit": "month", "length": 1},
     "items": [{"product": "platform", "price": {"model": "flat", "amount": "20.00"}}]},
    {"id": "pro", "name": "Pro", "period": {"unit": "month", "length": 1},
     "items": [
       {"product": "platform", "price": {"model": "flat", "amount": "50.00"}},
       {"product": "seats", "price": {"model": "per_unit", "unit_amount": "15.00"}},
       {"product": "bandwidth", "included_quantity": "1000",
        "price": {"model": "per_unit", "unit_amount": "0.10"}}
     ]}
  ]
}"#;

/// A book with two problems: a misspelt field and a negative amount.
const BAD_BOOK: &str = r#"{
  "format": "price-book/v1", "id": "acme", "currency": "USD",
  "products": [{"id": "platform", "name": "Platform fee", "type": "recurring"}],
  "plans": [
    {"id": "basic", "name": "Basic", "period": {"unit": "month", "length": 1}, "setup_fee": "-5",
     "items": [{"product": "platform", "inclued_quantity": "10",
                "price": {"model": "flat", "amount": "20.00"}}]}
  ]
}"#;

/// A fresh directory for one test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write test file");
    path
}

/// Runs `rating` with `args`, feeding `stdin` (empty when `None`).
fn rating(args: &[&Path], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rating"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run rating");
    {
        let mut input = child.stdin.take().expect("stdin");
        if let Some(text) = stdin {
            // The command may exit before reading (usage errors): a broken pipe is fine.
            let _ = input.write_all(text.as_bytes());
        }
    }
    child.wait_with_output().expect("wait for rating")
}

fn p(s: &str) -> &Path {
    Path::new(s)
}

fn json(bytes: &[u8]) -> Value {
    let text = std::str::from_utf8(bytes).expect("utf-8 output");
    assert!(text.ends_with('\n'), "output ends with a newline: {text:?}");
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Asserts a failed run: exit 1, nothing on stdout, `{"error": {...}}` on stderr; returns the error.
fn error_of(out: &Output) -> Value {
    assert_eq!(
        out.status.code(),
        Some(1),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v = json(&out.stderr);
    let err = v.get("error").cloned().expect("stderr has an error object");
    assert!(err["code"].is_string(), "error.code: {err}");
    assert!(err["message"].is_string(), "error.message: {err}");
    err
}

#[test]
fn check_valid_book_prints_summary() {
    let dir = temp_dir("check_valid");
    let book = write(&dir, "book.json", BOOK);
    let out = rating(&[p("check"), &book], None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stderr.is_empty());
    let v = json(&out.stdout);
    assert_eq!(v["ok"], Value::Bool(true));
    assert_eq!(v["id"], "acme");
    assert!(
        v["price_book"].as_str().is_some_and(|h| h.starts_with("sha256:")),
        "{v}"
    );
    assert_eq!(v["products"], 3);
    assert_eq!(v["plans"], 2);
    assert_eq!(v["credit_packs"], 0);
    assert_eq!(v["overrides"], 0);
    let keys: Vec<&str> = v.as_object().expect("object").keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "ok",
            "id",
            "price_book",
            "products",
            "plans",
            "credit_packs",
            "overrides"
        ]
    );
}

#[test]
fn output_is_pretty_printed_with_two_spaces() {
    let dir = temp_dir("pretty");
    let book = write(&dir, "book.json", BOOK);
    let out = rating(&[p("check"), &book], None);
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(text.starts_with("{\n  \"ok\": true,\n  \"id\": \"acme\",\n"), "{text}");
    assert!(text.ends_with("}\n"), "{text}");
}

#[test]
fn check_invalid_book_lists_every_problem() {
    let dir = temp_dir("check_invalid");
    let book = write(&dir, "book.json", BAD_BOOK);
    let out = rating(&[p("check"), &book], None);
    let err = error_of(&out);
    let errors = err["errors"].as_array().expect("errors list");
    assert!(errors.len() >= 2, "{err}");
    assert!(
        errors.iter().all(|e| e["code"].is_string() && e["path"].is_string()),
        "{err}"
    );
    assert!(
        errors.iter().any(|e| e["path"] == "plans[0].items[0].inclued_quantity"),
        "{err}"
    );
    assert_eq!(err["file"], book.display().to_string());
}

#[test]
fn check_not_json_is_an_error() {
    let out = rating(&[p("check"), p("-")], Some("{not json"));
    let err = error_of(&out);
    assert_eq!(err["code"], "invalid_json");
    assert_eq!(err["file"], "-");
}

#[test]
fn check_reads_book_from_stdin() {
    let out = rating(&[p("check"), p("-")], Some(BOOK));
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out.stdout);
    assert_eq!(v["id"], "acme");
}

#[test]
fn stdin_and_file_give_the_same_hash() {
    let dir = temp_dir("same_hash");
    let book = write(&dir, "book.json", BOOK);
    let from_file = json(&rating(&[p("check"), &book], None).stdout);
    let from_stdin = json(&rating(&[p("check"), p("-")], Some(BOOK)).stdout);
    assert_eq!(from_file["price_book"], from_stdin["price_book"]);
}

#[test]
fn missing_file_is_io_error() {
    let dir = temp_dir("missing");
    let missing = dir.join("no-such-book.json");
    let out = rating(&[p("check"), &missing], None);
    let err = error_of(&out);
    assert_eq!(err["code"], "io_error");
    assert!(
        err["message"].as_str().is_some_and(|m| m.contains("no-such-book.json")),
        "{err}"
    );
}

#[test]
fn missing_request_file_is_io_error() {
    let dir = temp_dir("missing_request");
    let book = write(&dir, "book.json", BOOK);
    let out = rating(&[p("quote"), &book, &dir.join("nope.json")], None);
    assert_eq!(error_of(&out)["code"], "io_error");
}

/// Quote and compare: the engine is in flux, so only the shape of the outcome is checked.
fn json_or_error_json(out: &Output) {
    match out.status.code() {
        Some(0) => {
            assert!(json(&out.stdout).is_object());
        }
        Some(1) => {
            error_of(out);
        }
        other => panic!(
            "unexpected exit {other:?}; stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

#[test]
fn quote_runs_with_files_and_stdin() {
    let dir = temp_dir("quote");
    let book = write(&dir, "book.json", BOOK);
    let request = r#"{"plan": "pro", "quantities": {"seats": "5"}, "usage": {"bandwidth": "1200"}}"#;
    let req = write(&dir, "request.json", request);
    json_or_error_json(&rating(&[p("quote"), &book, &req], None));
    json_or_error_json(&rating(&[p("quote"), &book, p("-")], Some(request)));
    json_or_error_json(&rating(&[p("quote"), p("-"), &req], Some(BOOK)));
}

#[test]
fn quote_of_unknown_plan_is_an_error() {
    let dir = temp_dir("quote_unknown");
    let book = write(&dir, "book.json", BOOK);
    let out = rating(&[p("quote"), &book, p("-")], Some(r#"{"plan": "nope"}"#));
    let err = error_of(&out);
    assert_eq!(err["file"], "-");
}

#[test]
fn compare_runs() {
    let dir = temp_dir("compare");
    let book = write(&dir, "book.json", BOOK);
    let usage = write(&dir, "usage.json", r#"{"usage": {"bandwidth": "1200"}}"#);
    json_or_error_json(&rating(&[p("compare"), &book, &usage], None));
    json_or_error_json(&rating(&[p("compare"), &book, p("-")], Some("{}")));
}

#[test]
fn bad_usage_exits_2() {
    let cases: &[&[&str]] = &[
        &[],
        &["frobnicate"],
        &["check"],
        &["check", "a.json", "b.json"],
        &["quote", "book.json"],
        &["compare", "book.json"],
        &["quote", "-", "-"],
        &["check", "--no-such-flag", "book.json"],
    ];
    for args in cases {
        let args: Vec<&Path> = args.iter().map(|a| p(a)).collect();
        let out = rating(&args, Some(BOOK));
        assert_eq!(
            out.status.code(),
            Some(2),
            "args {args:?}; stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "args {args:?}");
    }
}

#[test]
fn help_shows_examples() {
    for sub in ["check", "quote", "compare"] {
        let out = rating(&[p(sub), p("--help")], None);
        assert_eq!(out.status.code(), Some(0));
        let text = String::from_utf8(out.stdout).expect("utf-8");
        assert!(text.contains("Examples:"), "{sub} --help: {text}");
        assert!(text.contains(&format!("rating {sub} ")), "{sub} --help: {text}");
    }
    let out = rating(&[p("--help")], None);
    assert_eq!(out.status.code(), Some(0));
}
