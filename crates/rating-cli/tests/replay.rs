//! `rating replay` and `rating diff` on examples/replay, with totals
//! worked out by hand in the comments.

use serde_json::Value;
use std::process::Command;

fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(args: &[&str]) -> (i32, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rating"))
        .current_dir(root())
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let v = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (
        out.status.code().unwrap_or(-1),
        v,
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

const REPLAY: [&str; 7] = [
    "replay",
    "examples/replay/book.json",
    "examples/replay/events.ndjson",
    "--subscriptions",
    "examples/replay/subscriptions.json",
    "--at",
    "2026-03-01T00:00:00Z",
];

fn customer<'a>(v: &'a Value, id: &str) -> &'a Value {
    v["customers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["customer"] == id)
        .unwrap()
}

#[test]
fn replay_prints_invoices_a_finance_person_can_check() {
    let (code, v, err) = run(&REPLAY);
    assert_eq!(code, 0, "{err}");
    let alice = customer(&v, "cus_alice");
    let totals: Vec<&str> = alice["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["total"].as_str().unwrap())
        .collect();
    // Start: 20 platform + 2 × 10 seats. Jan close: builds 1000 over × 0.005 = 5.00,
    // seats 2 → 5 on Jan 13 = 3 × 10 × 19/31 = 18.39, Feb in advance 20 + 50.
    // Feb close: bandwidth 1500 within 1000 + 600 rolled over, March in advance 70.
    assert_eq!(totals, ["40.00", "93.39", "70.00"]);
    let carol = customer(&v, "cus_carol");
    let last = carol["invoices"].as_array().unwrap().last().unwrap();
    // Cancelled Feb 20 with 23 of 28 days unused: -20 × 23/28 - 10 × 23/28.
    assert_eq!(last["total"], "-24.64");
    assert!(carol.get("open_period").is_none());
    let bob = customer(&v, "cus_bob");
    let upgrade = &bob["invoices"][2];
    assert_eq!(upgrade["issued_at"], "2026-02-15T00:00:00Z");
    assert_eq!(upgrade["total"], "15.00"); // half a month of Pro: 10 platform + 5 seat
    let kinds = |c: &Value| -> Vec<String> {
        c["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["type"].as_str().unwrap().to_string())
            .collect()
    };
    // Subscribed (first invoice), January closed, upgraded (its invoice),
    // February closed.
    assert_eq!(
        kinds(bob),
        [
            "subscription.created",
            "invoice.issued",
            "invoice.issued",
            "subscription.plan_changed",
            "invoice.issued",
            "invoice.issued"
        ]
    );
    assert_eq!(bob["records"][3]["at"], "2026-02-15T00:00:00Z");
    assert_eq!(
        (&bob["records"][3]["from"], &bob["records"][3]["to"]),
        (&"hobby".into(), &"pro".into())
    );
    // Every invoice is recorded, with its total.
    for c in v["customers"].as_array().unwrap() {
        let issued: Vec<&Value> = c["records"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["type"] == "invoice.issued")
            .map(|r| &r["total"])
            .collect();
        let totals: Vec<&Value> = c["invoices"].as_array().unwrap().iter().map(|i| &i["total"]).collect();
        assert_eq!(issued, totals, "{}", c["customer"]);
    }
    assert_eq!(kinds(carol)[3], "subscription.canceled");
    assert_eq!(carol["records"][3]["mode"], "immediate");
    assert_eq!(kinds(alice)[2], "allowance.rolled_over");
    assert_eq!(v["receipts"]["accepted"], 8);
    assert_eq!(v["receipts"]["duplicate"], 1);
    assert_eq!(v["receipts"]["rejected"], 2); // an unknown customer, and Bob over the Hobby limit
    assert_eq!(v["totals"]["total"], "388.75");
}

#[test]
fn replay_reads_events_from_stdin_and_writes_receipts() {
    let dir = std::env::temp_dir().join(format!("rating-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let receipts = dir.join("receipts.ndjson");
    let events = std::fs::read(root().join("examples/replay/events.ndjson")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rating"))
        .current_dir(root())
        .args([
            "replay",
            "examples/replay/book.json",
            "-",
            "--subscriptions",
            "examples/replay/subscriptions.json",
        ])
        .args(["--at", "2026-03-01T00:00:00Z", "--receipts", receipts.to_str().unwrap()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&events).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let lines: Vec<Value> = std::fs::read_to_string(&receipts)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 11);
    assert_eq!(lines[1]["amount"], "5.00"); // 1000 build minutes over × 0.005
    assert_eq!(lines[3]["status"], "duplicate");
    assert_eq!(lines[3]["amount"], "5.00");
    assert_eq!(lines[8]["error"]["code"], "unknown_customer");
}

#[test]
fn diff_shows_what_a_price_change_does_to_each_customer() {
    let (code, v, err) = run(&[
        "diff",
        "examples/replay/book.json",
        "examples/replay/book-proposed.json",
        "examples/replay/events.ndjson",
        "--subscriptions",
        "examples/replay/subscriptions.json",
        "--at",
        "2026-03-01T00:00:00Z",
    ]);
    assert_eq!(code, 0, "{err}");
    let diffs: Vec<(&str, &str)> = v["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["customer"].as_str().unwrap(), c["difference"].as_str().unwrap()))
        .collect();
    // Alice: +5 on three platform charges. Bob: +2.50 + 5 for the platform,
    // 200 GB at 0.12 instead of 0.15 = -6. Carol: +5 +5, 500 GB = -15, and
    // a larger cancellation credit (25 vs 20 × 23/28) = -4.11.
    assert_eq!(
        diffs,
        [("cus_alice", "15.00"), ("cus_bob", "1.50"), ("cus_carol", "-9.11")]
    );
    assert_eq!(v["totals"]["difference"], "7.39");
}

#[test]
fn replay_refuses_a_bad_subscription_file_with_a_path() {
    let dir = std::env::temp_dir().join(format!("rating-replay-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let subs = dir.join("subs.json");
    std::fs::write(&subs, r#"[{"customer": "c", "plan": "pro", "start": "yesterday"}]"#).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rating"))
        .current_dir(root())
        .args([
            "replay",
            "examples/replay/book.json",
            "examples/replay/events.ndjson",
            "--subscriptions",
        ])
        .args([subs.to_str().unwrap(), "--at", "2026-03-01T00:00:00Z"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["error"]["code"], "invalid_timestamp");
    assert_eq!(err["error"]["path"], "[0].start");
}

/// A book with alerts: each customer's `records` name the events that
/// crossed its thresholds, and a subscription that starts after `--at`
/// has none yet.
#[test]
fn replay_lists_the_records_of_each_customer_up_to_at() {
    let dir = std::env::temp_dir().join(format!("rating-replay-records-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let book = serde_json::json!({
        "format": "price-book/v1", "id": "alerts", "currency": "USD",
        "products": [{"id": "api", "name": "API calls", "type": "metered"}],
        "plans": [{"id": "pro", "name": "Pro", "period": {"unit": "month", "length": 1},
            "spend_alert_thresholds": ["1.00"],
            "items": [{"product": "api", "included_quantity": "100", "alert_thresholds": ["50", "100"],
                       "price": {"model": "per_unit", "unit_amount": "0.01"}}]}]
    });
    let subs = serde_json::json!([
        {"customer": "a", "plan": "pro", "start": "2026-01-01T00:00:00Z", "spend_alert_thresholds": ["0.50"]},
        {"customer": "later", "plan": "pro", "start": "2026-03-01T00:00:00Z"}
    ]);
    let events = [
        r#"{"specversion":"1.0","id":"e1","source":"s","type":"api","subject":"a","time":"2026-01-02T00:00:00Z","data":{"quantity":"60"}}"#,
        r#"{"specversion":"1.0","id":"e2","source":"s","type":"api","subject":"a","time":"2026-01-03T00:00:00Z","data":{"quantity":"100"}}"#,
        r#"{"specversion":"1.0","id":"e3","source":"s","type":"api","subject":"a","time":"2026-01-04T00:00:00Z","data":{"quantity":"100"}}"#,
    ];
    let (b, s, e) = (dir.join("book.json"), dir.join("subs.json"), dir.join("events.ndjson"));
    std::fs::write(&b, book.to_string()).unwrap();
    std::fs::write(&s, subs.to_string()).unwrap();
    std::fs::write(&e, events.join("\n")).unwrap();
    let (code, v, err) = run(&[
        "replay",
        b.to_str().unwrap(),
        e.to_str().unwrap(),
        "--subscriptions",
        s.to_str().unwrap(),
        "--at",
        "2026-01-15T00:00:00Z",
    ]);
    assert_eq!(code, 0, "{err}");
    let crossings: Vec<(String, String, String)> = customer(&v, "a")["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["type"].as_str().unwrap().ends_with("threshold_reached"))
        .map(|r| {
            (
                r["type"].as_str().unwrap().to_string(),
                r["threshold"].as_str().unwrap().to_string(),
                r["event"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want = [
        ("allowance.threshold_reached", "50", "e1"),
        ("allowance.threshold_reached", "100", "e2"),
        ("spend.threshold_reached", "0.50", "e2"),
        ("spend.threshold_reached", "1.00", "e3"),
    ]
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()));
    assert_eq!(crossings, want);
    assert_eq!(customer(&v, "later")["records"], serde_json::json!([]));
}
