//! Hostile input through every `rating` command (RELIABILITY.md, "Hostile
//! input: CLI and npm"): each case of `tests/hostile/cases.json` is put in
//! the price book, the request, the usage, the subscriptions and an event
//! line, and every run must end cleanly: exit 0, or exit 1 with one
//! `{"error": {"code", ...}}` on stderr whose code is documented
//! (docs/errors.md) and whose path names the field; never a panic, a signal
//! or a hang. The expected code (and path) of each case is in the file, so
//! the npm test (npm/test/hostile.test.js) checks the same table.

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn table() -> Value {
    let text = std::fs::read_to_string(root().join("tests/hostile/cases.json")).expect("tests/hostile/cases.json");
    serde_json::from_str(&text).expect("cases.json is JSON")
}

/// The codes docs/errors.md documents.
fn documented_codes() -> Vec<String> {
    let doc = std::fs::read_to_string(root().join("docs/errors.md")).expect("docs/errors.md");
    doc.lines()
        .filter(|l| l.starts_with("| `"))
        .flat_map(|l| {
            l.split('|')
                .nth(1)
                .unwrap_or_default()
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Builds one input: the slot's template with the case's substitutions,
/// or a whole-document case (`raw`).
fn build(t: &Value, case: &Value, slot: &str) -> Vec<u8> {
    let template = t["templates"][slot].as_str().expect("a template");
    let mut subs: Vec<(String, String)> = t["defaults"]
        .as_object()
        .expect("defaults")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("a default").to_string()))
        .collect();
    if let Some(o) = case["set"].as_object() {
        for (k, v) in o {
            // A substitution is a string, or one string per slot.
            let v = v
                .as_str()
                .or_else(|| v[slot].as_str())
                .expect("a substitution")
                .to_string();
            subs.iter_mut()
                .find(|(key, _)| key == k)
                .expect("a known placeholder")
                .1 = v;
        }
    }
    for (_, v) in subs.iter_mut() {
        // `@repeat:N:s`: big values are made at run time, never committed.
        if let Some(n) = v.strip_prefix("@repeat:") {
            let (count, piece) = n.split_once(':').expect("@repeat:N:piece");
            *v = piece.repeat(count.parse().expect("a count"));
        }
    }
    let mut text = template.to_string();
    for (k, v) in &subs {
        text = text.replace(&format!("%{k}%"), v);
    }
    let mut bytes = text.into_bytes();
    match case["raw"].as_str() {
        Some("empty") => bytes.clear(),
        Some("bom") => bytes.splice(0..0, "\u{feff}".bytes()).for_each(drop),
        Some("truncated") => bytes.truncate(bytes.len() / 2),
        Some("deep") => bytes = "[".repeat(100_000).into_bytes(),
        Some("invalid_utf8") => {
            let at = bytes.iter().position(|&b| b == b'"').expect("a string") + 1;
            bytes.splice(at..at, [0xff, 0xfe, 0xc3]).for_each(drop);
        }
        Some(other) => panic!("unknown raw case {other}"),
        None => {}
    }
    bytes
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

fn rating(args: &[&str]) -> Run {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rating"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run rating");
    let deadline = started + Duration::from_secs(60);
    loop {
        if child.try_wait().expect("wait").is_some() || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    if Instant::now() > deadline {
        let _ = child.kill();
        panic!("rating {args:?} hangs (over 60 s)");
    }
    let out = child.wait_with_output().expect("output");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: started.elapsed(),
    }
}

/// The outcome of one run, as the table writes it: `ok`, or the error's
/// `code` (and `@path`), or for an event line `rejected:code@path` /
/// `accepted`.
fn outcome(run: &Run, what: &str, receipts: Option<&Path>) -> String {
    assert!(
        !run.stderr.contains("panicked") && !run.stderr.contains("RUST_BACKTRACE"),
        "{what}: panic\n{}",
        run.stderr
    );
    match run.code {
        Some(0) => {
            let doc: Value =
                serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{what}: stdout is not JSON: {e}"));
            assert!(doc.is_object(), "{what}: {doc}");
            let Some(path) = receipts else { return "ok".into() };
            // The hostile event is the first line; its receipt says what happened.
            let text = std::fs::read_to_string(path).expect("receipts");
            let first: Value =
                serde_json::from_str(text.lines().next().expect("a receipt")).expect("a receipt is JSON");
            match first["status"].as_str().expect("a status") {
                "rejected" => {
                    let e = &first["error"];
                    match e["path"].as_str() {
                        Some(p) => format!("rejected:{}@{p}", e["code"].as_str().unwrap_or_default()),
                        None => format!("rejected:{}", e["code"].as_str().unwrap_or_default()),
                    }
                }
                s => s.to_string(),
            }
        }
        Some(1) => {
            assert!(run.stdout.is_empty(), "{what}: output on failure: {}", run.stdout);
            let err: Value = serde_json::from_str(&run.stderr)
                .unwrap_or_else(|e| panic!("{what}: stderr is not one JSON document ({e}): {}", run.stderr));
            let e = &err["error"];
            let code = e["code"].as_str().unwrap_or_else(|| panic!("{what}: no code in {err}"));
            assert!(e["message"].is_string(), "{what}: no message in {err}");
            match e["path"].as_str() {
                Some(p) => format!("{code}@{p}"),
                None => code.to_string(),
            }
        }
        other => panic!("{what}: exit {other:?} (a crash or a signal)\n{}", run.stderr),
    }
}

#[test]
fn every_command_rejects_hostile_input_cleanly() {
    let t = table();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("hostile");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::File::create(&p)
            .and_then(|mut f| f.write_all(bytes))
            .expect("write");
        p.to_string_lossy().into_owned()
    };
    let plain = serde_json::json!({});
    let book = write("book.json", &build(&t, &plain, "book"));
    let request = write("request.json", &build(&t, &plain, "request"));
    let subs = write("subs.json", &build(&t, &plain, "subscriptions"));
    let good_event = build(&t, &plain, "event");
    let events = write("events.ndjson", &good_event);
    let at = t["at"].as_str().expect("at");
    let codes = documented_codes();
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for case in t["cases"].as_array().expect("cases") {
        let name = case["name"].as_str().expect("a name");
        let expect = &case["cli"];
        let b = write("h-book.json", &build(&t, case, "book"));
        let r = write("h-request.json", &build(&t, case, "request"));
        let u = write("h-usage.json", &build(&t, case, "usage"));
        let s = write("h-subs.json", &build(&t, case, "subscriptions"));
        let mut ev = build(&t, case, "event");
        ev.push(b'\n');
        ev.extend_from_slice(&good_event);
        let e = write("h-events.ndjson", &ev);
        let receipts = dir.join("receipts.ndjson");
        let rec = receipts.to_string_lossy().into_owned();
        let runs: Vec<(&str, Run, Option<&Path>)> = vec![
            ("check", rating(&["check", &b]), None),
            ("quote", rating(&["quote", &book, &r]), None),
            ("compare", rating(&["compare", &book, &u]), None),
            (
                "replay_subscriptions",
                rating(&["replay", &book, &events, "--subscriptions", &s, "--at", at]),
                None,
            ),
            (
                "replay_events",
                rating(&[
                    "replay",
                    &book,
                    &e,
                    "--subscriptions",
                    &subs,
                    "--at",
                    at,
                    "--receipts",
                    &rec,
                ]),
                Some(receipts.as_path()),
            ),
            (
                "diff",
                rating(&["diff", &book, &b, &events, "--subscriptions", &subs, "--at", at]),
                None,
            ),
        ];
        let _ = &request;
        let mut row = vec![name.to_string()];
        for (slot, run, receipts) in &runs {
            let what = format!("{name} / {slot}");
            assert!(run.elapsed < Duration::from_secs(30), "{what}: took {:?}", run.elapsed);
            let got = outcome(run, &what, *receipts);
            let code = got
                .trim_start_matches("rejected:")
                .split('@')
                .next()
                .unwrap_or_default();
            if got != "ok" && got != "accepted" && !codes.iter().any(|c| c == code) {
                failures.push(format!("{what}: code {code} is not in docs/errors.md"));
            }
            let want = expect[*slot].as_str().unwrap_or("(none)");
            if got != want {
                failures.push(format!("{what}: expected {want}, got {got}"));
            }
            row.push(got);
        }
        report.push(row.join(" | "));
    }
    println!("{}", report.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
