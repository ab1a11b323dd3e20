//! An add-on's own limit (tests/addon-limit/README.md): `rating quote`
//! refuses the usage above it and `rating replay` rejects the event that
//! would pass it, with the same code; what is within it costs the same.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn case(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/addon-limit")
        .join(file)
}

fn rating(args: &[&Path]) -> (bool, Value, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_rating"))
        .args(args)
        .output()
        .expect("run rating");
    let parse = |b: &[u8]| serde_json::from_slice(b).unwrap_or(Value::Null);
    (out.status.success(), parse(&out.stdout), parse(&out.stderr))
}

#[test]
fn quote_refuses_usage_above_an_addon_limit() {
    let (ok, _, err) = rating(&[Path::new("quote"), &case("book.json"), &case("quote-over.json")]);
    assert!(!ok);
    assert_eq!(err["error"]["code"], "limit_exceeded");
    assert_eq!(err["error"]["path"], "usage.projects");
    let (ok, q, _) = rating(&[Path::new("quote"), &case("book.json"), &case("quote-at.json")]);
    assert!(ok);
    // Platform 10.00 + 10 projects at 1.00.
    assert_eq!(q["total"], "20.00");
}

#[test]
fn replay_rejects_the_event_above_an_addon_limit() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("addon_limit");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let receipts = dir.join("receipts.ndjson");
    let out = Command::new(env!("CARGO_BIN_EXE_rating"))
        .arg("replay")
        .arg(case("book.json"))
        .arg(case("events.ndjson"))
        .arg("--subscriptions")
        .arg(case("subscriptions.json"))
        .args(["--at", "2026-01-20T00:00:00Z", "--receipts"])
        .arg(&receipts)
        .output()
        .expect("run rating replay");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("replay document");
    let lines: Vec<Value> = std::fs::read_to_string(&receipts)
        .expect("receipts")
        .lines()
        .map(|l| serde_json::from_str(l).expect("receipt"))
        .collect();
    assert_eq!(lines[0]["status"], "rejected");
    assert_eq!(lines[0]["error"]["code"], "limit_exceeded");
    assert_eq!(lines[1]["status"], "accepted");
    assert_eq!(doc["receipts"]["rejected"], 1);
    // The 10 projects within the limit bill as the quote priced them.
    let open = &doc["customers"][0]["open_period"];
    assert_eq!(open["lines"][0]["product"], "projects");
    assert_eq!(open["lines"][0]["amount"], "10.00");
}
