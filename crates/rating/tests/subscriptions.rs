//! The shared table of subscription requests (tests/subscriptions/cases.json,
//! docs/subscriptions.md) run through the engine twice: request by request
//! as the Worker's `PUT .../subscription` applies them
//! (`subscription::apply`), and as a `rating replay` of the subscription
//! with its `changes` (`replay::Replay`). The npm package and the Worker
//! run the same table (npm/test/subscriptions.test.js,
//! tests/worker/subscriptions.test.mjs).

use rating::meter::{Invoice, Meter};
use rating::period::{parse_timestamp, Timestamp};
use rating::replay::{read_subscriptions, Replay};
use rating::subscription::{self, Request, View};
use rating::PriceBook;
use serde_json::{json, Map, Value};

fn dir() -> String {
    format!("{}/../../tests/subscriptions", env!("CARGO_MANIFEST_DIR"))
}

fn table() -> (PriceBook, Vec<Value>) {
    let text = std::fs::read_to_string(format!("{}/cases.json", dir())).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let book_file = doc["book"].as_str().unwrap();
    let book = PriceBook::parse(&std::fs::read_to_string(format!("{}/{book_file}", dir())).unwrap()).unwrap();
    (book, doc["cases"].as_array().unwrap().clone())
}

fn time(v: &Value) -> Timestamp {
    parse_timestamp(v.as_str().unwrap()).unwrap()
}

/// An invoice as the table writes it: its total and "kind plan/product amount" lines.
fn brief(invoice: &Value) -> Value {
    let lines: Vec<Value> = invoice["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let s = |k: &str| l[k].as_str().unwrap().to_string();
            Value::String(format!("{} {}/{} {}", s("kind"), s("plan"), s("product"), s("amount")))
        })
        .collect();
    json!({"total": invoice["total"], "lines": lines})
}

fn briefs(invoices: &[Invoice]) -> Vec<Value> {
    invoices
        .iter()
        .map(|i| brief(&serde_json::to_value(i).unwrap()))
        .collect()
}

/// What a target showed of a case: the same keys as `expect`.
#[derive(Default)]
struct Outcome {
    invoices: Vec<Value>,
    subscription: Option<Value>,
    preview: Option<Value>,
    error: Option<Value>,
}

fn error_of(request: usize, e: &rating::Error) -> Value {
    json!({"request": request, "code": e.code, "path": e.path})
}

/// Compares an outcome with the case's `expect`; `sees_view`: whether the
/// target shows the subscription view.
fn check(case: &Value, got: &Outcome, target: &str, sees_view: bool) {
    let name = format!("{target}: {}", case["name"].as_str().unwrap());
    let expect = &case["expect"];
    assert_eq!(got.error.as_ref(), expect.get("error"), "{name}: error");
    if let Some(invoices) = expect.get("invoices") {
        assert_eq!(&Value::from(got.invoices.clone()), invoices, "{name}: invoices");
    }
    if let (Some(want), true) = (expect.get("subscription").and_then(Value::as_object), sees_view) {
        let view = got
            .subscription
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: no subscription"));
        for (k, v) in want {
            let seen = if k == "ended" {
                Value::Bool(view.get("ended_at").is_some())
            } else {
                view.get(k).cloned().unwrap_or(Value::Null)
            };
            assert_eq!(&seen, v, "{name}: subscription.{k}");
        }
    }
    if let Some(want) = expect.get("preview") {
        let preview = got.preview.as_ref().unwrap_or_else(|| panic!("{name}: no preview"));
        let mut seen = brief(preview);
        seen["at"] = want["at"].clone();
        assert_eq!(&seen, want, "{name}: preview");
    }
}

/// Request by request, as the Worker applies them.
fn run_requests(book: &PriceBook, case: &Value) -> Outcome {
    let customer = case["customer"].as_str().unwrap();
    let mut meter: Option<Meter> = None;
    let mut out = Outcome::default();
    for (k, r) in case["requests"].as_array().unwrap().iter().enumerate() {
        let applied = Request::read(&r["body"]).and_then(|req| {
            let before = meter.as_ref().map(|m| serde_json::to_string(m).unwrap());
            let result = subscription::apply(book, customer, &mut meter, &req, time(&r["at"]));
            if result.is_err() {
                // A failed request changes nothing.
                assert_eq!(meter.as_ref().map(|m| serde_json::to_string(m).unwrap()), before);
            }
            result
        });
        if let Err(e) = applied {
            out.error = Some(error_of(k, &e));
            break;
        }
        if let Some(m) = meter.as_mut() {
            out.invoices.extend(briefs(&m.take_invoices()));
        }
    }
    if let Some(m) = &meter {
        out.subscription = Some(serde_json::to_value(View::of(m, book)).unwrap());
        if let Some(p) = case["expect"].get("preview") {
            out.preview = Some(serde_json::to_value(m.preview_invoice(book, time(&p["at"])).unwrap()).unwrap());
        }
    }
    out
}

/// `[0].changes[3].quantities.seats` → (request 4, `quantities.seats`);
/// `[0].plan` → (request 0, `plan`).
fn replay_path(path: &str) -> (usize, String) {
    let rest = path.strip_prefix("[0]").unwrap_or(path);
    let rest = rest.strip_prefix('.').unwrap_or(rest);
    match rest.strip_prefix("changes[") {
        Some(c) => {
            let (j, p) = c.split_once(']').unwrap();
            (j.parse::<usize>().unwrap() + 1, p.trim_start_matches('.').to_string())
        }
        None => (0, rest.to_string()),
    }
}

fn replay_error(e_code: &str, path: Option<&str>) -> Value {
    let (request, path) = replay_path(path.unwrap_or(""));
    json!({"request": request, "code": e_code, "path": path})
}

/// The case as `rating replay` runs it: the first request is the
/// subscription, the others its `changes`; no events.
fn run_replay(book: &PriceBook, case: &Value) -> Outcome {
    let requests = case["requests"].as_array().unwrap();
    let mut entry: Map<String, Value> = requests[0]["body"].as_object().unwrap().clone();
    entry.insert("customer".into(), case["customer"].clone());
    let changes: Vec<Value> = requests[1..]
        .iter()
        .map(|r| {
            let mut c = r["body"].as_object().unwrap().clone();
            c.insert("at".into(), r["at"].clone());
            Value::Object(c)
        })
        .collect();
    if !changes.is_empty() {
        entry.insert("changes".into(), Value::from(changes));
    }
    let last = time(&requests[requests.len() - 1]["at"]);
    let at = case["expect"].get("preview").map_or(last, |p| time(&p["at"]));
    let mut out = Outcome::default();
    let done = read_subscriptions(&json!([entry]))
        .and_then(|subs| Replay::new(book, &subs))
        .and_then(|r| r.finish(at));
    let doc = match done {
        Ok(doc) => doc,
        Err(e) => {
            out.error = Some(replay_error(e.code.as_str(), e.path.as_deref()));
            return out;
        }
    };
    let c = &doc["customers"][0];
    for inv in c["invoices"].as_array().unwrap() {
        // Those the requests issued (a later preview may close periods).
        if time(&inv["issued_at"]) <= last {
            out.invoices.push(brief(inv));
        }
    }
    if let Some(e) = c.get("errors").and_then(|e| e.get(0)) {
        out.error = Some(replay_error(e["code"].as_str().unwrap(), e["path"].as_str()));
    }
    out.preview = c.get("open_period").cloned();
    out
}

#[test]
fn every_case_through_the_engine_as_the_worker_applies_it() {
    let (book, cases) = table();
    assert!(cases.len() >= 15);
    for case in &cases {
        check(case, &run_requests(&book, case), "engine", true);
    }
}

#[test]
fn every_case_through_replay() {
    let (book, cases) = table();
    for case in &cases {
        check(case, &run_replay(&book, case), "replay", false);
    }
}

#[test]
fn replay_path_names_the_request() {
    assert_eq!(
        replay_path("[0].changes[2].quantities.seats"),
        (3, "quantities.seats".into())
    );
    assert_eq!(replay_path("[0].plan"), (0, "plan".into()));
}

#[test]
fn unknown_fields_are_listed_with_their_paths() {
    let e = Request::read(&json!({"plna": "team", "quantities": {"seats": "x"}, "cancel": "soon"})).unwrap_err();
    let found: Vec<(&str, Option<&str>)> = e.errors.iter().map(|p| (p.code.as_str(), p.path.as_deref())).collect();
    assert_eq!(
        found,
        [
            ("invalid_decimal", Some("quantities.seats")),
            ("invalid_value", Some("cancel")),
            ("unknown_field", Some("plna")),
        ]
    );
    assert_eq!(e.code, "invalid_request");
}

#[test]
fn reads_every_field() {
    let r = Request::read(
        &json!({"plan": "pro", "start": "2026-01-01T00:00:00Z", "anchor": "2026-01-01T00:00:00Z",
        "quantities": {"seats": 3}, "addons": ["x"], "transition": "period_end", "cancel": "immediate",
        "purchase_credits": "p"}),
    )
    .unwrap();
    assert_eq!(r.plan.as_deref(), Some("pro"));
    assert_eq!(r.transition, Some(subscription::Mode::PeriodEnd));
    assert_eq!(r.cancel, Some(subscription::Mode::Immediate));
    assert_eq!(r.addons, Some(vec!["x".to_string()]));
    assert_eq!(r.quantities.get("seats"), Some(&rust_decimal::Decimal::from(3)));
    assert_eq!(r.purchase_credits.as_deref(), Some("p"));
    // Every field is optional in a request; a document needs customer, plan and start.
    assert_eq!(Request::read(&json!({})).unwrap(), Request::default());
    let e = subscription::Document::read(&json!({"plan": "pro"})).unwrap_err();
    let missing: Vec<Option<&str>> = e.errors.iter().map(|p| p.path.as_deref()).collect();
    assert_eq!(missing, [Some("customer"), Some("start")]);
    assert_eq!(e.code, "missing_field");
    assert_eq!(Request::read(&json!([])).unwrap_err().code, "invalid_type");
}
