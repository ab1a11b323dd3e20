//! `rating replay` reads an event log export as it is (docs/event-log.md):
//! NDJSON, gzip-compressed NDJSON, or a directory of both; a line that
//! carries its receipt time (`ratingreceived`) is rated at that time.

use flate2::write::GzEncoder;
use flate2::Compression;
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

fn dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("replay_log").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn book() -> Value {
    json!({
        "format": "price-book/v1", "id": "log", "currency": "USD",
        "products": [{"id": "api", "name": "API calls", "type": "metered"}],
        "plans": [{"id": "pro", "name": "Pro", "period": {"unit": "month", "length": 1},
            "items": [{"product": "api", "price": {"model": "per_unit", "unit_amount": "0.01"}}]}]
    })
}

/// Log lines of events sent without `time`: their usage time is their
/// receipt time, which only `ratingreceived` keeps.
fn lines(received: bool) -> Vec<String> {
    (0..4)
        .map(|i| {
            let mut e = json!({"specversion": "1.0", "id": format!("e{i}"), "source": "app", "type": "api",
                "subject": "cus_1", "data": {"quantity": "100"}});
            if received {
                e["ratingreceived"] = json!(format!("2026-01-1{i}T08:00:00Z"));
                e["ratingstatus"] = json!("accepted");
                e["ratingseq"] = json!(i + 1);
            }
            e.to_string()
        })
        .collect()
}

fn gz(text: &str) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(text.as_bytes()).expect("gzip");
    enc.finish().expect("gzip")
}

fn replay(d: &Path, events: &Path) -> Value {
    std::fs::write(d.join("book.json"), book().to_string()).expect("book");
    let subs = json!([{"customer": "cus_1", "plan": "pro", "start": "2026-01-01T00:00:00Z"}]);
    std::fs::write(d.join("subs.json"), subs.to_string()).expect("subs");
    let out = Command::new(env!("CARGO_BIN_EXE_rating"))
        .arg("replay")
        .arg(d.join("book.json"))
        .arg(events)
        .arg("--subscriptions")
        .arg(d.join("subs.json"))
        .args(["--at", "2026-03-15T00:00:00Z"])
        .output()
        .expect("run rating replay");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("replay document")
}

/// The usage the invoice of January bills.
fn january_usage(doc: &Value) -> Value {
    let invoices = doc["customers"][0]["invoices"].as_array().expect("invoices");
    let jan = invoices
        .iter()
        .find(|i| i["period"]["start"] == "2026-01-01T00:00:00Z" && i["issued_at"] == "2026-02-01T00:00:00Z")
        .expect("January's closing invoice");
    jan["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .find(|l| l["product"] == "api")
        .map_or(Value::Null, |l| l["amount"].clone())
}

#[test]
fn a_log_line_is_rated_at_its_receipt_time() {
    let d = dir("received");
    let with = d.join("with.ndjson");
    std::fs::write(&with, lines(true).join("\n")).expect("write");
    assert_eq!(january_usage(&replay(&d, &with)), "4.00");
    // The same events without their receipt time arrive at --at (March).
    let without = d.join("without.ndjson");
    std::fs::write(&without, lines(false).join("\n")).expect("write");
    assert_eq!(january_usage(&replay(&d, &without)), "0.00");
}

#[test]
fn gzip_and_a_directory_of_both_read_as_the_plain_file() {
    let d = dir("forms");
    let all = lines(true);
    let plain = d.join("log.ndjson");
    std::fs::write(&plain, all.join("\n") + "\n").expect("write");
    let expected = replay(&d, &plain);
    let gz_file = d.join("log.ndjson.gz");
    std::fs::write(&gz_file, gz(&(all.join("\n") + "\n"))).expect("write");
    assert_eq!(replay(&d, &gz_file), expected);
    // Two objects of the log, one compressed, one not (and no final newline).
    let parts = d.join("parts");
    std::fs::create_dir_all(&parts).expect("dir");
    std::fs::write(parts.join("2026-01-10.ndjson.gz"), gz(&all[..2].join("\n"))).expect("write");
    std::fs::write(parts.join("2026-01-12.ndjson"), all[2..].join("\n")).expect("write");
    std::fs::write(parts.join("README.txt"), "not an event file").expect("write");
    assert_eq!(replay(&d, &parts), expected);
}

#[test]
fn a_bad_receipt_time_is_a_rejected_event_naming_it() {
    let d = dir("bad");
    let mut e: Value = serde_json::from_str(&lines(true)[0]).expect("line");
    e["ratingreceived"] = json!("yesterday");
    let f = d.join("bad.ndjson");
    std::fs::write(&f, e.to_string()).expect("write");
    let doc = replay(&d, &f);
    assert_eq!(doc["receipts"]["rejected"], 1);
}
