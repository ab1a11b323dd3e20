//! `rating replay` honours the price book's `dedup_window`: an event
//! re-sent inside the window is a duplicate, re-sent after it is rated
//! again. Replay receives each event at its own `time` (or `--at`, when
//! that is earlier), so the events' times set the receipt times.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

fn temp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dedup_window").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

fn book(window: Option<Value>) -> Value {
    let mut b = json!({
        "format": "price-book/v1", "id": "dedup", "currency": "USD",
        "products": [{"id": "api", "name": "API calls", "type": "metered"}],
        "plans": [{"id": "pro", "name": "Pro", "period": {"unit": "month", "length": 1},
            "items": [{"product": "api", "price": {"model": "per_unit", "unit_amount": "0.01"}}]}]
    });
    if let Some(w) = window {
        b["dedup_window"] = w;
    }
    b
}

fn event(id: &str, time: &str) -> String {
    json!({"specversion": "1.0", "id": id, "source": "app", "type": "api", "subject": "cus_1",
        "time": time, "data": {"quantity": "100"}})
    .to_string()
}

/// Replays the same resends under `window`; answers the receipt counts and
/// the open period's total.
fn replay(name: &str, window: Option<Value>) -> (Value, Value) {
    let dir = temp_dir(name);
    let book_path = dir.join("book.json");
    std::fs::write(&book_path, book(window).to_string()).expect("write book");
    let events = [
        event("e1", "2026-01-05T10:00:00Z"),
        // 30 minutes later: inside a one-hour window.
        event("e1", "2026-01-05T10:30:00Z"),
        // 90 minutes after the first: past a one-hour window.
        event("e1", "2026-01-05T11:30:00Z"),
    ]
    .join("\n");
    let events_path = dir.join("events.ndjson");
    std::fs::write(&events_path, events + "\n").expect("write events");
    let subs_path = dir.join("subs.json");
    let subs = json!([{"customer": "cus_1", "plan": "pro", "start": "2026-01-01T00:00:00Z"}]);
    std::fs::write(&subs_path, subs.to_string()).expect("write subscriptions");
    let out = Command::new(env!("CARGO_BIN_EXE_rating"))
        .args(["replay"])
        .arg(&book_path)
        .arg(&events_path)
        .arg("--subscriptions")
        .arg(&subs_path)
        .args(["--at", "2026-01-10T00:00:00Z"])
        .output()
        .expect("run rating");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    (v["receipts"].clone(), v["customers"][0]["open_period"]["total"].clone())
}

#[test]
fn replay_rates_a_resend_after_the_books_window_again() {
    let (receipts, total) = replay("hour", Some(json!({"unit": "hour", "length": 1})));
    assert_eq!(receipts["accepted"], 2, "{receipts}");
    assert_eq!(receipts["duplicate"], 1, "{receipts}");
    // Two rated sends of 100 calls at 0.01.
    assert_eq!(total, "2.00");
}

#[test]
fn replay_keeps_the_default_35_day_window() {
    let (receipts, total) = replay("default", None);
    assert_eq!(receipts["accepted"], 1, "{receipts}");
    assert_eq!(receipts["duplicate"], 2, "{receipts}");
    assert_eq!(total, "1.00");
}
